//! The messages sent and what SES reports about them ([`DeliveryStore`]): the message item
//! (`MESSAGE#<id>`), and a report put on the message, on a code's session and on the file in
//! one `TransactWriteItems` — each part under its own condition; a part whose condition no
//! longer holds is left out and the rest sent again.

use super::DynamoStore;
use super::items::*;
use super::transact::{Condition, check, key, update};
use crate::audit::AuditEvent;
use crate::domain::{MessagePurpose, SentMessage};
use crate::store::{DeliveryStore, DeliveryUpdate, MESSAGE_RETENTION, StoreError, StoreResult};
use aws_sdk_dynamodb::types::TransactWriteItem;
use time::OffsetDateTime;

/// The parts of a delivery report's write, each under its own condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The message's state moves on; refused when the message is gone or already that far
    /// (then there is nothing new to put anywhere).
    Message,
    /// The code's state on its session, while the session holds that code.
    Code,
    /// A failure on the file (and its audit event), while the file exists and its email is the
    /// one the message went to.
    File,
}

#[async_trait::async_trait]
impl DeliveryStore for DynamoStore {
    async fn record_message(&self, message: &SentMessage, audit: &AuditEvent) -> StoreResult<()> {
        let items = vec![self.put_item(message_item(message))?, self.put_item(audit_item(audit))?];
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::Unavailable("unconditional message write was cancelled".into())),
        }
    }

    async fn message(&self, message_id: &str, now: OffsetDateTime) -> StoreResult<Option<SentMessage>> {
        let Some(item) = self.get(message_pk(message_id), MESSAGE_SK).await? else {
            return Ok(None);
        };
        Ok(Some(message_from_item(&item)?).filter(|m| m.sent_at + MESSAGE_RETENTION > now))
    }

    async fn record_delivery(&self, update: &DeliveryUpdate) -> StoreResult<()> {
        let mut parts = self.delivery_parts(update)?;
        // Each refusal leaves a part out: at most one more try per part.
        for _ in 0..=parts.len() {
            if parts.is_empty() {
                return Ok(());
            }
            let items: Vec<TransactWriteItem> = parts.iter().flat_map(|(_, items)| items.iter().cloned()).collect();
            let failed = match self.transact(items).await? {
                Ok(()) => return Ok(()),
                Err(failed) => failed,
            };
            let mut refused = Vec::new();
            let mut first = 0;
            for (part, items) in &parts {
                if failed.iter().skip(first).take(items.len()).any(|f| *f) {
                    refused.push(*part);
                }
                first += items.len();
            }
            if refused.is_empty() {
                return Err(StoreError::Unavailable("a delivery's transaction was cancelled without a reason".into()));
            }
            if refused.contains(&Part::Message) {
                // Gone, or another report took it this far already: nothing new.
                return Ok(());
            }
            parts.retain(|(part, _)| !refused.contains(part));
        }
        Err(StoreError::Unavailable("a delivery's transaction kept being refused".into()))
    }
}

impl DynamoStore {
    /// The write of `update`, part by part (see [`Part`]); none when it is no news.
    fn delivery_parts(&self, report: &DeliveryUpdate) -> StoreResult<Vec<(Part, Vec<TransactWriteItem>)>> {
        let table = &self.table;
        let message = &report.message;
        let delivery = report.delivery;
        let before = states_before(delivery);
        if before.is_empty() {
            return Ok(Vec::new());
        }
        // `:b0, :b1, …`: the states `delivery` may replace.
        let placeholders: Vec<String> = (0..before.len()).map(|i| format!(":b{i}")).collect();
        let earlier = placeholders.join(", ");
        let before_values: Vec<(&str, _)> =
            placeholders.iter().map(String::as_str).zip(before.iter().map(|d| s(d.as_str()))).collect();
        let mut parts = Vec::new();
        let moves_on = Condition::new(format!("attribute_exists(pk) AND delivery IN ({earlier})"))
            .values(before_values.clone())
            .value(":delivery", s(delivery.as_str()));
        parts.push((
            Part::Message,
            vec![update(
                table,
                key(message_pk(&message.message_id), MESSAGE_SK),
                "SET delivery = :delivery",
                moves_on,
            )?],
        ));
        if let MessagePurpose::SecurityCode { account, session_id, code_id } = &message.purpose {
            let that_code = Condition::new(format!(
                "session_id = :sid AND code_id = :cid AND (attribute_not_exists(code_delivery) OR code_delivery IN ({earlier}))"
            ))
            .values(before_values)
            .values([(":sid", s(session_id)), (":cid", s(code_id)), (":delivery", s(delivery.as_str()))]);
            parts.push((
                Part::Code,
                vec![update(table, key(account_pk(account), SESSION_SK), "SET code_delivery = :delivery", that_code)?],
            ));
        }
        if report.on_file && delivery.failed() && !matches!(message.purpose, MessagePurpose::NoticeToOldAddress) {
            let number = &message.certificate_number;
            let same_email = match message.file_email_changed_at {
                Some(at) => Condition::new("changed_ms = :changed").value(":changed", ms(at)),
                None => Condition::new("attribute_not_exists(changed_ms)"),
            };
            let mut items = vec![
                check(table, key(cert_pk(number), FILE_SK), Condition::new("attribute_exists(pk)"))?,
                check(table, key(cert_pk(number), EMPLOYEE_EMAIL_SK), same_email)?,
                self.put_item(file_delivery_item(number, delivery, report.at))?,
            ];
            if let Some(event) = &report.audit {
                items.push(self.put_item(audit_item(event))?);
            }
            parts.push((Part::File, items));
        }
        Ok(parts)
    }
}
