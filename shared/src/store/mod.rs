//! The store port: every read and atomic write the rules need, in the product's words.
//! Two adapters with the same semantics: [`memory::MemoryStore`] and
//! [`dynamodb::DynamoStore`]. Expired items read as absent in both.
//!
//! The port is six traits, one per concern, grouped by the use cases that need them:
//! - [`RegistryStore`] (`registry.rs`): the registry's files and invoices. The holders' use
//!   cases and the desk read files; the registry import and the seed write them.
//! - [`RecoveryStore`] (`recovery.rs`): what the holders' use cases (`crate::recovery`) need
//!   beyond a file: the 24 h limits and their counters, the recovery session and its security
//!   code, the link, and opening the holder's assistance request.
//! - [`DeskStore`] (`desk.rs`): what the employees' assistance desk
//!   (`crate::assistance_desk`) needs: the queue of open requests, one request, closing it.
//! - [`AuditStore`] (`audit.rs`): the audit trail. Every use case appends to it; the desk
//!   reads it.
//! - [`ReportStore`] (`report.rs`): "this wasn't me" — the report links' records, and
//!   confirming one (undo, freeze, `reported` request) in one write.
//! - [`DeliveryStore`] (`delivery.rs`): the messages sent and what SES reports about them.
//!
//! Each file holds its trait with the commands and answers of its methods. [`Store`] is all
//! six, for every type that implements them: the [`crate::App`] holds an `Arc<dyn Store>`,
//! and a module brings into scope the traits whose methods it calls. Each trait is also
//! implemented for `Arc<S>`: a shared store is a store (the local API hands its store to
//! wrappers — the tests' fault layer, [`crate::iam_recording::RecordingStore`] — as an
//! `Arc<dyn Store>`).

mod audit;
mod delivery;
mod desk;
pub mod dynamodb;
pub mod memory;
mod recovery;
mod registry;
mod report;

pub use audit::{AuditPosition, AuditStore};
pub use delivery::{DeliveryStore, DeliveryUpdate, MESSAGE_RETENTION};
pub use desk::{CloseOutcome, CloseRequest, DeskStore, EmailHold, QueuePosition};
pub use recovery::{
    AccountView, AssistanceOpened, CodeSend, CodeSendRefused, CodeSendUndo, CodeTry, CodeTryCounted,
    CodeTryReservation, Counter, InvoiceTry, InvoiceTryCounted, InvoiceTryReservation, LinkCommand, LinkOutcome,
    LinkProof, LookupLimits, LookupReservation, RecoveryStore, SessionContext, WindowCount,
};
pub use registry::{EmployeeEmail, RegistryStore};
pub use report::{FileReport, ReportFiled, ReportStore};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error("the store holds an item it cannot read: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The whole store port: every store is one, and the [`crate::App`] holds an `Arc<dyn Store>`.
pub trait Store: RegistryStore + RecoveryStore + DeskStore + AuditStore + ReportStore + DeliveryStore {}

impl<S: RegistryStore + RecoveryStore + DeskStore + AuditStore + ReportStore + DeliveryStore + ?Sized> Store for S {}
