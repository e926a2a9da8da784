//! "This wasn't me" links and their confirmation ([`ReportStore`]): the report item
//! (`REPORT#<token hash>`), and filing a report in one `TransactWriteItems` — the report used,
//! the link undone or the email put back while each still stands as read, the file frozen,
//! the `reported` request opened, the audit events.

use super::DynamoStore;
use super::items::*;
use super::transact::{Condition, check, delete, key, put, update};
use crate::domain::Report;
use crate::store::{FileReport, ReportFiled, ReportStore, StoreError, StoreResult};
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

/// What each item of a filing's transaction stands for, to read its cancellation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The report item: used or expired since it was read.
    Report,
    /// The file's registry item: a report of a file that does not exist.
    File,
    /// The file's owner, the account's link, the file's email: changed since it was read.
    AsRead,
    /// The request's item: its reference was drawn twice.
    Request,
    /// Writes without a condition.
    Write,
}

#[async_trait::async_trait]
impl ReportStore for DynamoStore {
    async fn report(&self, token_hash: &str, now: OffsetDateTime) -> StoreResult<Option<Report>> {
        let Some(item) = self.get(report_pk(token_hash), REPORT_SK).await? else {
            return Ok(None);
        };
        Ok(Some(report_from_item(&item)?).filter(|r| r.expires_at > now))
    }

    async fn file_report(&self, filing: &FileReport) -> StoreResult<ReportFiled> {
        let table = &self.table;
        let report = &filing.report;
        let now = filing.now;
        let reference = &filing.request.reference;
        let number = &report.certificate_number;
        let mut parts: Vec<(Part, _)> = Vec::new();
        let usable =
            Condition::new("attribute_exists(pk) AND attribute_not_exists(used_ms) AND report_expires_ms > :now")
                .values([(":now", ms(now)), (":used", ms(now)), (":reference", s(reference))]);
        parts.push((
            Part::Report,
            update(
                table,
                key(report_pk(&report.token_hash), REPORT_SK),
                "SET used_ms = :used, used_reference = :reference",
                usable,
            )?,
        ));
        parts.push((Part::File, check(table, key(cert_pk(number), FILE_SK), Condition::new("attribute_exists(pk)"))?));
        if filing.unlink {
            // The link the notice told of, while it stands: the file's owner and the account's link.
            let owner = Condition::new("linked_account = :account").value(":account", s(report.account.as_str()));
            parts.push((Part::AsRead, delete(table, key(cert_pk(number), OWNER_SK), owner)?));
            let link = Condition::new("certificate_number = :cert").value(":cert", s(number.as_str()));
            parts.push((Part::AsRead, delete(table, key(account_pk(&report.account), LINK_SK), link)?));
        }
        if filing.restore_email {
            // That very change, during its hold: the address before it is back (the registry's
            // to replace again), the hold ends, and its time kills every code sent before.
            let on_hold =
                Condition::new("changed_ms = :occurred AND hold_until_ms > :now AND attribute_exists(previous_email)")
                    .name("#restored", RESTORED_BY_REPORT)
                    .values([(":occurred", ms(report.occurred_at)), (":now", ms(now)), (":reference", s(reference))]);
            parts.push((
                Part::AsRead,
                update(
                    table,
                    key(cert_pk(number), EMPLOYEE_EMAIL_SK),
                    "SET email = previous_email, changed_ms = :now, #restored = :reference REMOVE hold_until_ms, previous_email, changed_by",
                    on_hold,
                )?,
            ));
            // A bounce of the address that goes is not the restored address's.
            parts.push((Part::Write, delete(table, key(cert_pk(number), FILE_DELIVERY_SK), Condition::none())?));
        }
        let freeze = Condition::none().value(":reference", AttributeValue::Ss(vec![reference.clone()]));
        parts.push((
            Part::Write,
            update(table, key(cert_pk(number), FROZEN_SK), "ADD open_reports :reference", freeze)?,
        ));
        // On the open queue (reported first); no account's marker: the account's own request stays.
        parts.push((
            Part::Request,
            put(table, assistance_item(&filing.request), Condition::new("attribute_not_exists(pk)"))?,
        ));
        for event in &filing.audit {
            parts.push((Part::Write, self.put_item(audit_item(event))?));
        }
        let (kinds, items): (Vec<Part>, Vec<_>) = parts.into_iter().unzip();
        let failed = match self.transact(items).await? {
            Ok(()) => return Ok(ReportFiled::Filed),
            Err(failed) => failed,
        };
        let failed: Vec<Part> = kinds.into_iter().zip(failed).filter(|(_, f)| *f).map(|(part, _)| part).collect();
        if failed.contains(&Part::Report) {
            Ok(ReportFiled::Unusable)
        } else if failed.contains(&Part::File) {
            Err(StoreError::Corrupt("a report of a file that does not exist".into()))
        } else if failed.contains(&Part::Request) {
            Err(StoreError::Corrupt("an assistance reference was drawn twice".into()))
        } else if failed.contains(&Part::AsRead) {
            Ok(ReportFiled::FileChanged)
        } else {
            Err(StoreError::Unavailable("the report's transaction was cancelled without a reason".into()))
        }
    }
}
