//! The assistance desk's queue and its requests ([`DeskStore`]).

use super::MemoryStore;
use crate::domain::{AssistanceRequest, AssistanceStatus};
use crate::store::{CloseOutcome, CloseRequest, Counter, DeskStore, QueuePosition, StoreError, StoreResult};

#[async_trait::async_trait]
impl DeskStore for MemoryStore {
    async fn open_assistance_requests(
        &self,
        limit: usize,
        after: Option<&QueuePosition>,
    ) -> StoreResult<(Vec<AssistanceRequest>, Option<QueuePosition>)> {
        let state = self.state();
        // Ordered as DynamoDB's index orders them: by the millisecond, then the reference. A
        // position comes back from a cursor in milliseconds, so a finer time here would put a
        // request after its own position and show it twice.
        // Reported requests come first.
        let position = |reported: bool, at: time::OffsetDateTime, reference: &str| {
            (!reported, at.unix_timestamp_nanos() / 1_000_000, reference.to_owned())
        };
        let mut open: Vec<&AssistanceRequest> = state.assistance.values().filter(|r| r.is_open()).collect();
        open.sort_by_key(|r| position(r.reported.is_some(), r.created_at, &r.reference));
        let page: Vec<AssistanceRequest> = open
            .into_iter()
            .filter(|r| {
                after.is_none_or(|p| {
                    position(r.reported.is_some(), r.created_at, &r.reference)
                        > position(p.reported, p.created_at, &p.reference)
                })
            })
            .take(limit)
            .cloned()
            .collect();
        let next = (page.len() == limit)
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
        Ok(self.state().assistance.get(reference).cloned())
    }

    async fn close_assistance_request(&self, close: &CloseRequest) -> StoreResult<CloseOutcome> {
        let mut state = self.state();
        let Some(request) = state.assistance.get(&close.reference) else {
            return Err(StoreError::Corrupt("closing an assistance request that does not exist".into()));
        };
        if !request.is_open() {
            return Ok(CloseOutcome::AlreadyClosed);
        }
        if close.new_email.is_some() && !state.files.contains_key(&close.certificate_number) {
            return Err(StoreError::Corrupt("the request's certificate file does not exist".into()));
        }
        if close.new_email.is_some()
            && state.files.get(&close.certificate_number).and_then(|f| f.email_changed_at)
                != close.email_changed_at_as_read
        {
            return Err(StoreError::Corrupt("the file's email changed while closing".into()));
        }
        let request = state.assistance.get_mut(&close.reference).expect("checked above");
        request.status =
            AssistanceStatus::Closed { outcome: close.outcome.clone(), by: close.agent.clone(), at: close.now };
        if state.open_assistance.get(&close.account) == Some(&close.reference) {
            state.open_assistance.remove(&close.account);
        }
        if close.reported
            && let Some(file) = state.files.get_mut(&close.certificate_number)
        {
            file.protection.open_reports.retain(|r| r != &close.reference);
        }
        if let Some(email) = &close.new_email {
            let file = state.files.get_mut(&close.certificate_number).expect("checked above");
            file.email = Some(email.clone());
            file.email_changed_at = Some(close.now);
            file.protection.email_hold_until = close.hold.as_ref().map(|h| h.until);
            file.protection.previous_email = close.hold.as_ref().map(|h| h.previous_email.clone());
            file.protection.email_delivery = None;
            state.employee_emails.insert(close.certificate_number.clone());
            state
                .counters
                .remove(&(Counter::LookupFailuresOfCertificate, close.certificate_number.as_str().to_owned()));
            if !close.reported {
                state.counters.remove(&(Counter::LookupFailuresOfAccount, close.account.as_str().to_owned()));
            }
            for report in &close.reports {
                state.reports.insert(report.token_hash.clone(), report.clone());
            }
        }
        for event in &close.audit {
            state.audit(event.clone());
        }
        Ok(CloseOutcome::Closed)
    }
}
