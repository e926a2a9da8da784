//! "This wasn't me" links and their confirmation ([`ReportStore`]).

use super::MemoryStore;
use crate::domain::Report;
use crate::store::{FileReport, ReportFiled, ReportStore, StoreError, StoreResult};
use time::OffsetDateTime;

#[async_trait::async_trait]
impl ReportStore for MemoryStore {
    async fn report(&self, token_hash: &str, now: OffsetDateTime) -> StoreResult<Option<Report>> {
        Ok(self.state().reports.get(token_hash).filter(|r| r.expires_at > now).cloned())
    }

    async fn file_report(&self, filing: &FileReport) -> StoreResult<ReportFiled> {
        let mut state = self.state();
        let now = filing.now;
        let report = &filing.report;
        if !state.reports.get(&report.token_hash).is_some_and(|r| r.usable(now)) {
            return Ok(ReportFiled::Unusable);
        }
        let Some(file) = state.files.get(&report.certificate_number) else {
            return Err(StoreError::Corrupt("a report of a file that does not exist".into()));
        };
        let link_stands = file.linked_account.as_ref() == Some(&report.account)
            && state.links.get(&report.account) == Some(&report.certificate_number);
        let change_on_hold = file.email_changed_at == Some(report.occurred_at)
            && file.protection.email_on_hold(now).is_some()
            && file.protection.previous_email.is_some();
        if (filing.unlink && !link_stands) || (filing.restore_email && !change_on_hold) {
            return Ok(ReportFiled::FileChanged);
        }
        if state.assistance.contains_key(&filing.request.reference) {
            return Err(StoreError::Corrupt("an assistance reference was drawn twice".into()));
        }
        let reference = filing.request.reference.clone();
        let file = state.files.get_mut(&report.certificate_number).expect("checked above");
        if filing.unlink {
            file.linked_account = None;
        }
        if filing.restore_email {
            file.email = file.protection.previous_email.take();
            file.email_changed_at = Some(now);
            file.protection.email_hold_until = None;
            file.protection.email_delivery = None;
        }
        file.protection.open_reports.push(reference.clone());
        if filing.unlink {
            state.links.remove(&report.account);
        }
        if filing.restore_email {
            // The address from before the change is back: a later import may change it again.
            state.employee_emails.remove(&report.certificate_number);
        }
        state.reports.get_mut(&report.token_hash).expect("checked above").used = Some((now, reference.clone()));
        state.assistance.insert(reference, filing.request.clone());
        for event in &filing.audit {
            state.audit(event.clone());
        }
        Ok(ReportFiled::Filed)
    }
}
