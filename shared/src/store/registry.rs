//! The registry's files and invoices: every use case reads a file; the registry import and
//! the seed write them.

use super::StoreResult;
use crate::domain::{CertificateFile, CertificateNumber, Invoice, InvoiceNumber};
use std::sync::Arc;

/// What a registry import does with an email an employee set on a file after a phone call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmployeeEmail {
    /// The employee's email stays (the default: the registry may be older than the call).
    #[default]
    Keep,
    /// The registry's email wins and the employee's is dropped.
    Replace,
}

/// The registry's files and invoices.
#[async_trait::async_trait]
pub trait RegistryStore: Send + Sync {
    async fn certificate(&self, number: &CertificateNumber) -> StoreResult<Option<CertificateFile>>;

    async fn invoice(&self, number: &InvoiceNumber) -> StoreResult<Option<Invoice>>;

    /// Several files at once (the staff queue shows names and phones); missing ones are left
    /// out. At most 100 numbers.
    async fn certificates(&self, numbers: &[CertificateNumber]) -> StoreResult<Vec<CertificateFile>>;

    /// Registry import: creates or updates a file's registry fields, keeping its link. An
    /// email an employee set is kept unless `employee_email` is `Replace`; answers whether one
    /// was kept over a different registry email.
    async fn upsert_certificate(&self, file: &CertificateFile, employee_email: EmployeeEmail) -> StoreResult<bool>;

    async fn upsert_invoice(&self, invoice: &Invoice) -> StoreResult<()>;
}

/// A shared store forwards to the store it shares (see [`super::Store`]).
#[async_trait::async_trait]
impl<S: RegistryStore + ?Sized> RegistryStore for Arc<S> {
    async fn certificate(&self, number: &CertificateNumber) -> StoreResult<Option<CertificateFile>> {
        (**self).certificate(number).await
    }
    async fn invoice(&self, number: &InvoiceNumber) -> StoreResult<Option<Invoice>> {
        (**self).invoice(number).await
    }
    async fn certificates(&self, numbers: &[CertificateNumber]) -> StoreResult<Vec<CertificateFile>> {
        (**self).certificates(numbers).await
    }
    async fn upsert_certificate(&self, file: &CertificateFile, employee_email: EmployeeEmail) -> StoreResult<bool> {
        (**self).upsert_certificate(file, employee_email).await
    }
    async fn upsert_invoice(&self, invoice: &Invoice) -> StoreResult<()> {
        (**self).upsert_invoice(invoice).await
    }
}
