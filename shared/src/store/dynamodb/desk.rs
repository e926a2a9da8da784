//! The assistance desk's queue and its requests ([`DeskStore`]).

use super::items::*;
use super::transact::{Condition, check, delete, key, put, update};
use super::{DynamoStore, unavailable};
use crate::domain::AssistanceRequest;
use crate::store::{CloseOutcome, CloseRequest, DeskStore, QueuePosition, StoreError, StoreResult};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

#[async_trait::async_trait]
impl DeskStore for DynamoStore {
    async fn open_assistance_requests(
        &self,
        limit: usize,
        after: Option<&QueuePosition>,
    ) -> StoreResult<(Vec<AssistanceRequest>, Option<QueuePosition>)> {
        let start = after.map(|p| {
            HashMap::from([
                ("gsi1pk".to_owned(), s(OPEN_ASSISTANCE_PK)),
                ("gsi1sk".to_owned(), s(queue_sort_key(p.reported, p.created_at, &p.reference))),
                ("pk".to_owned(), s(assistance_pk(&p.reference))),
                ("sk".to_owned(), s(REQUEST_SK)),
            ])
        });
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI_OPEN_ASSISTANCE)
            .key_condition_expression("gsi1pk = :open")
            .expression_attribute_values(":open", s(OPEN_ASSISTANCE_PK))
            .scan_index_forward(true)
            .limit(limit.clamp(1, 100) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable)?;
        let page: Vec<AssistanceRequest> =
            out.items.unwrap_or_default().iter().map(assistance_from_item).collect::<StoreResult<_>>()?;
        let more = out.last_evaluated_key.is_some_and(|k| !k.is_empty());
        let next = more
            .then(|| {
                page.last().map(|r| QueuePosition {
                    reported: r.reported.is_some(),
                    created_at: r.created_at,
                    reference: r.reference.clone(),
                })
            })
            .flatten();
        Ok((page, next))
    }

    async fn assistance_request(&self, reference: &str) -> StoreResult<Option<AssistanceRequest>> {
        self.get(assistance_pk(reference), REQUEST_SK).await?.as_ref().map(assistance_from_item).transpose()
    }

    async fn close_assistance_request(&self, close: &CloseRequest) -> StoreResult<CloseOutcome> {
        let table = &self.table;
        let still_open = Condition::new("#status = :open").name("#status", "status").values([
            (":closed", s("closed")),
            (":open", s("open")),
            (":outcome", s(&close.outcome)),
            (":agent", s(&close.agent)),
            (":now", ms(close.now)),
        ]);
        let mut items = vec![update(
            table,
            key(assistance_pk(&close.reference), REQUEST_SK),
            "SET #status = :closed, outcome = :outcome, closed_by = :agent, closed_ms = :now REMOVE gsi1pk, gsi1sk",
            still_open,
        )?];
        if close.reported {
            // A report's request is no account's own (it has no marker): its reference leaves
            // the file's open reports, and the freeze lifts with the last one.
            let reference = Condition::none().value(":reference", AttributeValue::Ss(vec![close.reference.clone()]));
            let frozen = key(cert_pk(&close.certificate_number), FROZEN_SK);
            items.push(update(table, frozen, "DELETE open_reports :reference", reference)?);
        } else {
            let marker_of_this_request = Condition::new("attribute_not_exists(pk) OR #reference = :reference")
                .name("#reference", "reference")
                .value(":reference", s(&close.reference));
            items.push(delete(table, key(account_pk(&close.account), ASSISTANCE_SK), marker_of_this_request)?);
        }
        if let Some(email) = &close.new_email {
            // The employee's email is an item of its own (a registry import keeps it), with its
            // hold when there is one; its time kills every code sent before (see `link`).
            let number = &close.certificate_number;
            let file = key(cert_pk(number), FILE_SK);
            items.push(check(table, file, Condition::new("attribute_exists(pk)"))?);
            // Only over the email as read: a report's restore or another change in between
            // refuses the close (a 503; the employee's retry reads the file again).
            let as_read = match close.email_changed_at_as_read {
                Some(at) => Condition::new("changed_ms = :read").value(":read", ms(at)),
                None => Condition::new("attribute_not_exists(changed_ms)"),
            };
            items.push(put(
                table,
                employee_email_item(number, email, close.now, &close.agent, close.hold.as_ref()),
                as_read,
            )?);
            // The new address has no failed delivery.
            items.push(delete(table, key(cert_pk(number), FILE_DELIVERY_SK), Condition::none())?);
            for report in &close.reports {
                items.push(put(table, report_item(report), Condition::none())?);
            }
            // The lookup locks go: the certificate's failures and, unless the request is a
            // report (whose account is not the caller's), the requesting account's — under
            // the one sort key they share.
            items.push(delete(table, key(cert_pk(number), LOOKUP_FAILURES_SK), Condition::none())?);
            if !close.reported {
                items.push(delete(table, key(account_pk(&close.account), LOOKUP_FAILURES_SK), Condition::none())?);
            }
        }
        for event in &close.audit {
            items.push(self.put_item(audit_item(event))?);
        }
        match self.transact(items).await? {
            Ok(()) => Ok(CloseOutcome::Closed),
            Err(_) => match self.assistance_request(&close.reference).await? {
                Some(request) if !request.is_open() => Ok(CloseOutcome::AlreadyClosed),
                _ => Err(StoreError::Corrupt("the request or its file changed while closing".into())),
            },
        }
    }
}
