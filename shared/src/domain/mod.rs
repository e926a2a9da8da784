//! Domain types that validate on parse (a value in hand is always valid), and the entities
//! the rules and the store share: recovery sessions and assistance requests.

mod account;
mod assistance_request;
mod certificate_file;
mod certificate_number;
mod date_of_birth;
mod delivery;
mod email;
mod invoice;
mod language;
mod recovery_session;
mod report;
mod security_code;

pub use account::AccountSubject;
pub use assistance_request::{AssistanceRequest, AssistanceStatus, PreferredTime};
pub use certificate_file::{CertificateFile, CertificateStatus, CertificateSummary, FileProtection};
pub use certificate_number::CertificateNumber;
pub use date_of_birth::DateOfBirth;
pub use delivery::{Delivery, EmailDeliveryProblem, MessagePurpose, SentMessage};
pub use email::EmailAddress;
pub use invoice::{Invoice, InvoiceNumber};
pub use language::Language;
pub use recovery_session::{IssuedCode, RecoverySession};
pub use report::{REPORT_TOKEN_LIFETIME, Report, ReportKind, ReportToken};
pub use security_code::SecurityCode;

/// Why a value was refused when parsed. The message is for developers; people read the
/// localized text chosen from the field name and this kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the value is empty")]
    Empty,
    #[error("the value is too long")]
    TooLong,
    #[error("the value has an invalid format")]
    InvalidFormat,
    #[error("the date is out of range")]
    OutOfRange,
}

/// Registry numbers (certificate, invoice) are compared after trimming, dropping spaces and
/// hyphens and upper-casing (`docs/rules.md#numbers`). Only ASCII is upper-cased: a letter whose Unicode upper
/// case happens to be ASCII (`ß` → `SS`, `ſ` → `S`, `ﬁ` → `FI`) is no letter of a number.
pub(crate) fn normalize_registry_number(raw: &str) -> String {
    raw.trim().chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect()
}

pub(crate) fn parse_registry_number(raw: &str, max_len: usize) -> Result<String, ParseError> {
    let normalized = normalize_registry_number(raw);
    if normalized.is_empty() {
        return Err(ParseError::Empty);
    }
    if !normalized.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(ParseError::InvalidFormat);
    }
    if normalized.len() > max_len {
        return Err(ParseError::TooLong);
    }
    Ok(normalized)
}
