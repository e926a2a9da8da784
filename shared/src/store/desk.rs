//! The employees' assistance desk: the queue of open assistance requests, one request, and
//! closing it (with the file's new email, when the call gave one).

use super::StoreResult;
use crate::audit::AuditEvent;
use crate::domain::{AccountSubject, AssistanceRequest, CertificateNumber};
use std::sync::Arc;
use time::OffsetDateTime;

/// Where a page of the open assistance requests ends: the last request's place — reported
/// requests first, then oldest first — its creation time and reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePosition {
    pub reported: bool,
    pub created_at: OffsetDateTime,
    pub reference: String,
}

/// An employee closes an assistance request; with a new email, the file's email changes and
/// the lookup locks of the certificate and of the requesting account are cleared — all at once.
#[derive(Debug, Clone)]
pub struct CloseRequest {
    pub reference: String,
    /// The requesting account and the file, as read.
    pub account: AccountSubject,
    pub certificate_number: CertificateNumber,
    pub outcome: String,
    pub agent: String,
    pub new_email: Option<crate::domain::EmailAddress>,
    /// With a new email on a file that had one: codes go to it only from then on, and the
    /// address before is kept until then (`docs/rules.md#email-change-hold`).
    pub hold: Option<EmailHold>,
    /// The "this wasn't me" links of the email change's notices, stored with it.
    pub reports: Vec<crate::domain::Report>,
    /// When the file's email last changed, as read: the new email is written only if it is
    /// unchanged (a report's restore or another employee's change in between refuses it).
    pub email_changed_at_as_read: Option<OffsetDateTime>,
    /// The request is a "this wasn't me" report: closing it lifts the file's freeze (its
    /// reference leaves the file's open reports), and the account it names is not the
    /// caller's, so its lookup lock stays.
    pub reported: bool,
    pub now: OffsetDateTime,
    pub audit: Vec<AuditEvent>,
}

/// The email-change hold: until when, and the address it replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailHold {
    pub until: OffsetDateTime,
    pub previous_email: crate::domain::EmailAddress,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseOutcome {
    Closed,
    /// It was closed already: nothing changed.
    AlreadyClosed,
}

/// The assistance desk's queue and its requests.
#[async_trait::async_trait]
pub trait DeskStore: Send + Sync {
    /// Open assistance requests, reported ones first, then oldest first, at most `limit`, after `after`; and where the
    /// page ends when more may follow.
    async fn open_assistance_requests(
        &self,
        limit: usize,
        after: Option<&QueuePosition>,
    ) -> StoreResult<(Vec<AssistanceRequest>, Option<QueuePosition>)>;

    async fn assistance_request(&self, reference: &str) -> StoreResult<Option<AssistanceRequest>>;

    async fn close_assistance_request(&self, close: &CloseRequest) -> StoreResult<CloseOutcome>;
}

/// A shared store forwards to the store it shares (see [`super::Store`]).
#[async_trait::async_trait]
impl<S: DeskStore + ?Sized> DeskStore for Arc<S> {
    async fn open_assistance_requests(
        &self,
        limit: usize,
        after: Option<&QueuePosition>,
    ) -> StoreResult<(Vec<AssistanceRequest>, Option<QueuePosition>)> {
        (**self).open_assistance_requests(limit, after).await
    }
    async fn assistance_request(&self, reference: &str) -> StoreResult<Option<AssistanceRequest>> {
        (**self).assistance_request(reference).await
    }
    async fn close_assistance_request(&self, close: &CloseRequest) -> StoreResult<CloseOutcome> {
        (**self).close_assistance_request(close).await
    }
}
