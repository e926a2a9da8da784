//! A file's audit trail ([`AuditStore`]).

use super::MemoryStore;
use crate::audit::AuditEvent;
use crate::domain::CertificateNumber;
use crate::store::{AuditPosition, AuditStore, StoreResult};
use time::OffsetDateTime;

#[async_trait::async_trait]
impl AuditStore for MemoryStore {
    async fn append_audit(&self, event: &AuditEvent) -> StoreResult<()> {
        self.state().audit(event.clone());
        Ok(())
    }

    async fn append_audit_once(&self, event: &AuditEvent, until: OffsetDateTime) -> StoreResult<bool> {
        let mut state = self.state();
        let key = (
            event.certificate_number.clone(),
            format!("{}#{}", event.actor.kind(), event.actor.id()),
            format!("{}#{}", event.action.as_str(), event.outcome),
        );
        if state.refusals.get(&key).is_some_and(|recorded_until| *recorded_until > event.at) {
            return Ok(false);
        }
        state.refusals.insert(key, until);
        state.audit(event.clone());
        Ok(true)
    }

    async fn audit_trail(
        &self,
        certificate: &CertificateNumber,
        limit: usize,
        after: Option<&AuditPosition>,
        now: OffsetDateTime,
    ) -> StoreResult<(Vec<AuditEvent>, Option<AuditPosition>)> {
        let limit = limit.clamp(1, 100);
        let after = after.map(AuditPosition::sort_key);
        let mut events: Vec<AuditEvent> = self
            .state()
            .audit
            .get(certificate)
            .into_iter()
            .flatten()
            .filter(|e| e.expires_at(self.audit_retention) > now)
            .filter(|e| after.as_ref().is_none_or(|after| e.sort_key() < *after))
            .cloned()
            .collect();
        events.sort_by_key(|e| std::cmp::Reverse(e.sort_key()));
        events.truncate(limit + 1);
        let next = (events.len() > limit).then(|| AuditPosition::of(&events[limit - 1]));
        events.truncate(limit);
        Ok((events, next))
    }
}
