//! A file's audit trail ([`AuditStore`]): events and the markers of refusals already in it.

use super::items::*;
use super::transact::{Condition, key, put};
use super::{DynamoStore, Item, unavailable};
use crate::audit::AuditEvent;
use crate::domain::CertificateNumber;
use crate::store::{AuditPosition, AuditStore, StoreError, StoreResult};
use time::OffsetDateTime;

#[async_trait::async_trait]
impl AuditStore for DynamoStore {
    async fn append_audit(&self, event: &AuditEvent) -> StoreResult<()> {
        self.put(audit_item(event)).await
    }

    async fn append_audit_once(&self, event: &AuditEvent, until: OffsetDateTime) -> StoreResult<bool> {
        let marker = Item::from([
            ("pk".to_owned(), s(refusal_pk(&event.certificate_number, &event.actor))),
            ("sk".to_owned(), s(format!("{}#{}", event.action.as_str(), event.outcome))),
            ("until_ms".to_owned(), ms(until)),
            (TTL_ATTRIBUTE.to_owned(), ttl(until)),
        ]);
        let not_recorded_since =
            Condition::new("attribute_not_exists(pk) OR until_ms <= :now").value(":now", ms(event.at));
        let marker = put(&self.table, marker, not_recorded_since)?;
        Ok(self.transact(vec![marker, self.put_item(audit_item(event))?]).await?.is_ok())
    }

    async fn audit_trail(
        &self,
        certificate: &CertificateNumber,
        limit: usize,
        after: Option<&AuditPosition>,
        now: OffsetDateTime,
    ) -> StoreResult<(Vec<AuditEvent>, Option<AuditPosition>)> {
        let limit = limit.clamp(1, 100);
        // Only live events, by their sort key: expired ones read as absent before the TTL
        // sweep, and a page is never short for them.
        let (oldest, newest) = audit_key_range(now, self.audit_retention);
        let start = match after.map(AuditPosition::sort_key) {
            Some(after) if after <= oldest => return Ok((Vec::new(), None)),
            Some(after) => Some(key(cert_pk(certificate), after)),
            None => None,
        };
        // One more than the page: whether more follow, without an empty last page.
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("pk = :pk AND sk BETWEEN :oldest AND :newest")
            .expression_attribute_values(":pk", s(cert_pk(certificate)))
            .expression_attribute_values(":oldest", s(oldest))
            .expression_attribute_values(":newest", s(newest))
            .scan_index_forward(false)
            .limit(limit as i32 + 1)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable)?;
        let items = out.items.unwrap_or_default();
        // A query also stops at 1 MB: then the last item read is where the next page starts.
        let cut_short = out.last_evaluated_key.is_some_and(|k| !k.is_empty());
        let last = match items.len() {
            n if n > limit => Some(&items[limit - 1]),
            n if n > 0 && cut_short => items.last(),
            _ => None,
        };
        let next = last
            .map(|item| {
                AuditPosition::from_sort_key(sk_of(item)).ok_or_else(|| StoreError::Corrupt("an audit sort key".into()))
            })
            .transpose()?;
        let events = items.iter().take(limit).map(audit_from_item).collect::<StoreResult<_>>()?;
        Ok((events, next))
    }
}
