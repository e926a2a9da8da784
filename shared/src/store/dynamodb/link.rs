//! The link of an account to its file: one `TransactWriteItems` over the session, the file, its
//! owner, the account's link, a previous owner's link, the file's freeze (none), the link
//! notice's report and the audit events.

use super::DynamoStore;
use super::items::*;
use super::transact::{Condition, check, delete, key, put};
use crate::store::{LinkCommand, LinkOutcome, LinkProof, StoreResult};

impl DynamoStore {
    /// [`RecoveryStore::link`](crate::store::RecoveryStore::link): every item under the
    /// condition that what was read is still so; a refusal of any is a conflict.
    pub(super) async fn link_transaction(&self, command: &LinkCommand) -> StoreResult<LinkOutcome> {
        let now = command.now;
        let account = &command.account;
        let number = &command.certificate_number;
        let mut session_values =
            vec![(":sid", s(&command.session_id)), (":cert", s(number.as_str())), (":now", ms(now))];
        let session_condition = match &command.proof {
            // The try that proves it was counted before the comparison: within the limit.
            LinkProof::SecurityCode { code_id, max_attempts, .. } => {
                session_values.push((":cid", s(code_id)));
                session_values.push((":max", n(*max_attempts as i64)));
                "session_id = :sid AND certificate_number = :cert AND session_expires_ms > :now AND code_id = :cid AND code_attempts <= :max AND code_expires_ms > :now"
            }
            LinkProof::Invoice { max_attempts } => {
                session_values.push((":max", n(*max_attempts as i64)));
                "session_id = :sid AND certificate_number = :cert AND session_expires_ms > :now AND invoice_attempts <= :max"
            }
        };
        let table = &self.table;
        let session = Condition::new(session_condition).values(session_values);
        let mut items = vec![
            delete(table, key(account_pk(account), SESSION_SK), session)?,
            check(table, key(cert_pk(number), FILE_SK), Condition::new("attribute_exists(pk)"))?,
            // Never while a "this wasn't me" report froze the file's recovery.
            check(table, key(cert_pk(number), FROZEN_SK), Condition::new("attribute_not_exists(open_reports)"))?,
        ];
        // A code sent before an employee changed the file's email is dead.
        if let LinkProof::SecurityCode { issued_at, .. } = &command.proof {
            let after_email_change =
                Condition::new("attribute_not_exists(pk) OR changed_ms <= :issued").value(":issued", ms(*issued_at));
            items.push(check(table, key(cert_pk(number), EMPLOYEE_EMAIL_SK), after_email_change)?);
        }
        // Invoices never move a link: with one, the file must be unlinked whatever was read.
        let owner_as_read = match (&command.proof, &command.file_linked_account) {
            (LinkProof::Invoice { .. }, _) | (_, None) => Condition::new("attribute_not_exists(pk)"),
            (_, Some(previous)) => {
                Condition::new("linked_account = :previous").value(":previous", s(previous.as_str()))
            }
        };
        items.push(put(table, owner_item(number, account, now), owner_as_read)?);
        let link_as_read = match &command.account_linked_certificate {
            None => Condition::new("attribute_not_exists(pk)"),
            Some(old) => Condition::new("certificate_number = :old").value(":old", s(old.as_str())),
        };
        items.push(put(table, link_item(account, number, now), link_as_read)?);
        if let Some(previous) = command.file_linked_account.as_ref().filter(|p| *p != account) {
            let still_this_file = Condition::new("certificate_number = :cert").value(":cert", s(number.as_str()));
            items.push(delete(table, key(account_pk(previous), LINK_SK), still_this_file)?);
        }
        if let Some(old) = command.account_linked_certificate.as_ref().filter(|old| *old != number) {
            let still_this_account = Condition::new("linked_account = :account").value(":account", s(account.as_str()));
            items.push(delete(table, key(cert_pk(old), OWNER_SK), still_this_account)?);
        }
        for report in &command.reports {
            items.push(put(table, report_item(report), Condition::none())?);
        }
        for event in &command.audit {
            items.push(self.put_item(audit_item(event))?);
        }
        Ok(match self.transact(items).await? {
            Ok(()) => LinkOutcome::Linked,
            Err(_) => LinkOutcome::Conflict,
        })
    }
}
