//! A file's audit trail: every use case appends to it (a repeated refusal once per window),
//! the assistance desk reads it a page at a time.

use super::StoreResult;
use crate::audit::AuditEvent;
use crate::domain::CertificateNumber;
use std::sync::Arc;
use time::OffsetDateTime;

/// Where a page of a file's audit trail ends: the last event's place in the trail (its time
/// in nanoseconds and its id, as in its sort key). Events are read newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPosition {
    at_nanos: u64,
    id: String,
}

impl AuditPosition {
    /// A position from its parts, when they can be one: an id of 1 to 64 ASCII letters and
    /// digits (a cursor comes from outside).
    pub fn new(at_nanos: u64, id: &str) -> Option<Self> {
        let valid = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric());
        valid.then(|| Self { at_nanos, id: id.to_owned() })
    }

    pub fn of(event: &AuditEvent) -> Self {
        Self::from_sort_key(&event.sort_key()).expect("an event's own sort key")
    }

    /// The position of a stored sort key (`AUDIT#<20-digit ns>#<id>`).
    pub fn from_sort_key(sort_key: &str) -> Option<Self> {
        let (nanos, id) = sort_key.strip_prefix("AUDIT#")?.split_once('#')?;
        if nanos.len() != 20 || !nanos.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Self::new(nanos.parse().ok()?, id)
    }

    pub fn sort_key(&self) -> String {
        format!("AUDIT#{:020}#{}", self.at_nanos, self.id)
    }

    pub fn at_nanos(&self) -> u64 {
        self.at_nanos
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

/// A file's audit trail.
#[async_trait::async_trait]
pub trait AuditStore: Send + Sync {
    async fn append_audit(&self, event: &AuditEvent) -> StoreResult<()>;

    /// Appends `event` unless the same refusal (action and outcome, by the same actor, on the
    /// same file) was recorded since and `until` has not passed: repeated refusals cannot flood
    /// a file's trail. Answers whether it was written.
    async fn append_audit_once(&self, event: &AuditEvent, until: OffsetDateTime) -> StoreResult<bool>;

    /// A page of the file's audit events, newest first: at most `limit` (1 to 100) of those
    /// older than `after`, and where the page ends when more follow. Events past the store's
    /// audit retention at `now` read as absent.
    async fn audit_trail(
        &self,
        certificate: &CertificateNumber,
        limit: usize,
        after: Option<&AuditPosition>,
        now: OffsetDateTime,
    ) -> StoreResult<(Vec<AuditEvent>, Option<AuditPosition>)>;
}

/// A shared store forwards to the store it shares (see [`super::Store`]).
#[async_trait::async_trait]
impl<S: AuditStore + ?Sized> AuditStore for Arc<S> {
    async fn append_audit(&self, event: &AuditEvent) -> StoreResult<()> {
        (**self).append_audit(event).await
    }
    async fn append_audit_once(&self, event: &AuditEvent, until: OffsetDateTime) -> StoreResult<bool> {
        (**self).append_audit_once(event, until).await
    }
    async fn audit_trail(
        &self,
        certificate: &CertificateNumber,
        limit: usize,
        after: Option<&AuditPosition>,
        now: OffsetDateTime,
    ) -> StoreResult<(Vec<AuditEvent>, Option<AuditPosition>)> {
        (**self).audit_trail(certificate, limit, after, now).await
    }
}
