//! The registry's files and invoices ([`RegistryStore`]).

use super::MemoryStore;
use crate::domain::{CertificateFile, CertificateNumber, Invoice, InvoiceNumber};
use crate::store::{EmployeeEmail, RegistryStore, StoreResult};

#[async_trait::async_trait]
impl RegistryStore for MemoryStore {
    async fn certificate(&self, number: &CertificateNumber) -> StoreResult<Option<CertificateFile>> {
        Ok(self.state().files.get(number).cloned())
    }

    async fn invoice(&self, number: &InvoiceNumber) -> StoreResult<Option<Invoice>> {
        Ok(self.state().invoices.get(number).cloned())
    }

    async fn certificates(&self, numbers: &[CertificateNumber]) -> StoreResult<Vec<CertificateFile>> {
        let state = self.state();
        Ok(numbers.iter().filter_map(|n| state.files.get(n).cloned()).collect())
    }

    async fn upsert_certificate(&self, file: &CertificateFile, employee_email: EmployeeEmail) -> StoreResult<bool> {
        let mut state = self.state();
        let existing = state.files.get(&file.number).cloned();
        let linked_account = existing.as_ref().and_then(|f| f.linked_account.clone());
        // When an employee changed the email stays whatever: codes sent before stay dead.
        let email_changed_at = existing.as_ref().and_then(|f| f.email_changed_at);
        // What guards the file (reports, hold, a bounce) is not the registry's: it stays.
        let protection = existing.as_ref().map(|f| f.protection.clone()).unwrap_or_default();
        let mut updated = CertificateFile { linked_account, email_changed_at, protection, ..file.clone() };
        let mut kept = false;
        if state.employee_emails.contains(&file.number) {
            match employee_email {
                EmployeeEmail::Keep => {
                    let employee = existing.and_then(|f| f.email);
                    kept = employee != file.email;
                    updated.email = employee;
                }
                EmployeeEmail::Replace => {
                    // The employee's email is gone, and its hold with it.
                    updated.protection.email_hold_until = None;
                    updated.protection.previous_email = None;
                    state.employee_emails.remove(&file.number);
                }
            }
        }
        state.files.insert(file.number.clone(), updated);
        Ok(kept)
    }

    async fn upsert_invoice(&self, invoice: &Invoice) -> StoreResult<()> {
        self.state().invoices.insert(invoice.number.clone(), invoice.clone());
        Ok(())
    }
}
