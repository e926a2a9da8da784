//! The stable codes of every refusal and failure: what the audit trail records as an outcome,
//! and what an HTTP problem carries as its `code`. No HTTP here: the status and the titles a
//! person reads are the edge's (`crate::http::problem`).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    Unauthorized,
    Forbidden,
    NoMatch,
    Locked,
    NoRecoverySession,
    NoEmailOnFile,
    ResendTooSoon,
    TooManyCodes,
    WrongCode,
    CodeExpired,
    TooManyAttempts,
    InvoiceNotAccepted,
    InvoiceTooOld,
    AlreadyLinked,
    AlreadyClosed,
    NotFound,
    NotLinked,
    PayloadTooLarge,
    EmailChangePending,
    RecoveryFrozen,
    ReportExpired,
    ServiceUnavailable,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 23] = [
        Self::InvalidRequest,
        Self::Unauthorized,
        Self::Forbidden,
        Self::NoMatch,
        Self::Locked,
        Self::NoRecoverySession,
        Self::NoEmailOnFile,
        Self::ResendTooSoon,
        Self::TooManyCodes,
        Self::WrongCode,
        Self::CodeExpired,
        Self::TooManyAttempts,
        Self::InvoiceNotAccepted,
        Self::InvoiceTooOld,
        Self::AlreadyLinked,
        Self::AlreadyClosed,
        Self::NotFound,
        Self::NotLinked,
        Self::PayloadTooLarge,
        Self::EmailChangePending,
        Self::RecoveryFrozen,
        Self::ReportExpired,
        Self::ServiceUnavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NoMatch => "no_match",
            Self::Locked => "locked",
            Self::NoRecoverySession => "no_recovery_session",
            Self::NoEmailOnFile => "no_email_on_file",
            Self::ResendTooSoon => "resend_too_soon",
            Self::TooManyCodes => "too_many_codes",
            Self::WrongCode => "wrong_code",
            Self::CodeExpired => "code_expired",
            Self::TooManyAttempts => "too_many_attempts",
            Self::InvoiceNotAccepted => "invoice_not_accepted",
            Self::InvoiceTooOld => "invoice_too_old",
            Self::AlreadyLinked => "already_linked",
            Self::AlreadyClosed => "already_closed",
            Self::NotFound => "not_found",
            Self::NotLinked => "not_linked",
            Self::PayloadTooLarge => "payload_too_large",
            Self::EmailChangePending => "email_change_pending",
            Self::RecoveryFrozen => "recovery_frozen",
            Self::ReportExpired => "report_expired",
            Self::ServiceUnavailable => "service_unavailable",
        }
    }
}
