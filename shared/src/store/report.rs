//! "This wasn't me" (`docs/rules.md#this-wasnt-me`): a report link's record, and confirming it
//! — what the notice told of undone if it still stands, the file's recovery frozen, a
//! `reported` assistance request opened — in one atomic write.

use super::StoreResult;
use crate::audit::AuditEvent;
use crate::domain::{AssistanceRequest, Report};
use std::sync::Arc;
use time::OffsetDateTime;

/// Confirming a report link, as decided from what was read: every part happens, or none.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// The report as read: usable at `now`. Marked used with the request's reference, unless
    /// it was used or expired since (then nothing happens).
    pub report: Report,
    /// A link notice's report while that link stands (as read): the file's link to
    /// `report.account` and the account's link go, unless the link changed since.
    pub unlink: bool,
    /// An email change's report during its hold (as read): the email before the change is
    /// back, the hold ends and every code sent before dies — unless the file's email changed
    /// again or the hold ended since.
    pub restore_email: bool,
    /// The `reported` request; its reference freezes the file's self-service recovery until
    /// it is resolved. It is no account's own request (the account's open request stays).
    pub request: AssistanceRequest,
    pub now: OffsetDateTime,
    pub audit: Vec<AuditEvent>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFiled {
    Filed,
    /// The link was used (or expired) since it was read: nothing changed.
    Unusable,
    /// The file's link or email changed since it was read: nothing changed; read again.
    FileChanged,
}

/// The report links' records.
#[async_trait::async_trait]
pub trait ReportStore: Send + Sync {
    /// The report stored under `token_hash`, used or not, while it is unexpired.
    async fn report(&self, token_hash: &str, now: OffsetDateTime) -> StoreResult<Option<Report>>;

    async fn file_report(&self, filing: &FileReport) -> StoreResult<ReportFiled>;
}

/// A shared store forwards to the store it shares (see [`super::Store`]).
#[async_trait::async_trait]
impl<S: ReportStore + ?Sized> ReportStore for Arc<S> {
    async fn report(&self, token_hash: &str, now: OffsetDateTime) -> StoreResult<Option<Report>> {
        (**self).report(token_hash, now).await
    }
    async fn file_report(&self, filing: &FileReport) -> StoreResult<ReportFiled> {
        (**self).file_report(filing).await
    }
}
