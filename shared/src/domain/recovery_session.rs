//! A recovery session and the security code it sent, as stored.

use super::{AccountSubject, CertificateNumber};
use time::OffsetDateTime;

/// A recovery session: one per account, opened by a match, replaced by the next match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoverySession {
    pub id: String,
    pub account: AccountSubject,
    pub certificate_number: CertificateNumber,
    pub opened_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub code: Option<IssuedCode>,
    pub sends: u32,
    pub last_sent_at: Option<OffsetDateTime>,
    pub invoice_attempts: u32,
    /// Keyed hashes of the codes this session sent before the current one: typing one of
    /// them answers `code_expired` (replaced) rather than `wrong_code`.
    pub replaced_code_hashes: Vec<String>,
}

/// The security code of a session, as stored: its keyed hash only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCode {
    pub id: String,
    pub hash: String,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub attempts: u32,
    /// What SES reported about the email that carried it (`docs/rules.md#delivery`).
    pub delivery: super::Delivery,
}
