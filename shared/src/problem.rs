//! RFC 9457 problems: a stable `code`, a `title` in the request's language, the status.
//! Every error of every use case becomes a [`Problem`] here and nowhere else.

use crate::domain::{Language, ParseError};
use serde::Serialize;
use std::time::Duration;

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
    ServiceUnavailable,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 20] = [
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
        Self::ServiceUnavailable,
    ];

    pub fn status(self) -> u16 {
        match self {
            Self::InvalidRequest => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound | Self::NotLinked => 404,
            Self::NoRecoverySession | Self::NoEmailOnFile | Self::AlreadyLinked | Self::AlreadyClosed => 409,
            Self::CodeExpired => 410,
            Self::PayloadTooLarge => 413,
            Self::NoMatch | Self::WrongCode | Self::InvoiceNotAccepted | Self::InvoiceTooOld => 422,
            Self::Locked | Self::ResendTooSoon | Self::TooManyCodes | Self::TooManyAttempts => 429,
            Self::ServiceUnavailable => 503,
        }
    }

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
            Self::ServiceUnavailable => "service_unavailable",
        }
    }

    /// The sentence a person reads, French first.
    pub fn title(self, language: Language) -> &'static str {
        use Language::*;
        match (self, language) {
            (Self::InvalidRequest, Fr) => "La demande contient des renseignements invalides.",
            (Self::InvalidRequest, En) => "The request contains invalid information.",
            (Self::Unauthorized, Fr) => "Vous devez vous connecter pour continuer.",
            (Self::Unauthorized, En) => "You must sign in to continue.",
            (Self::Forbidden, Fr) => "Vous n’avez pas l’autorisation d’accéder à cette ressource.",
            (Self::Forbidden, En) => "You are not allowed to access this resource.",
            (Self::NoMatch, Fr) => "Le numéro de certificat et la date de naissance ne correspondent à aucun dossier.",
            (Self::NoMatch, En) => "The certificate number and date of birth do not match any file.",
            (Self::Locked, Fr) => "Trop de tentatives infructueuses. Réessayez plus tard ou demandez de l’aide.",
            (Self::Locked, En) => "Too many unsuccessful attempts. Try again later or ask for assistance.",
            (Self::NoRecoverySession, Fr) => {
                "Votre démarche a expiré. Entrez de nouveau votre numéro de certificat et votre date de naissance."
            }
            (Self::NoRecoverySession, En) => {
                "Your session has expired. Enter your certificate number and date of birth again."
            }
            (Self::NoEmailOnFile, Fr) => {
                "Aucune adresse courriel n’est inscrite à votre dossier. Utilisez une facture ou demandez de l’aide."
            }
            (Self::NoEmailOnFile, En) => "No email address is on file. Use an invoice or ask for assistance.",
            (Self::ResendTooSoon, Fr) => "Veuillez patienter avant de demander un nouveau code.",
            (Self::ResendTooSoon, En) => "Please wait before asking for a new code.",
            (Self::TooManyCodes, Fr) => {
                "Le nombre maximal de codes envoyés est atteint. Utilisez une facture ou demandez de l’aide."
            }
            (Self::TooManyCodes, En) => {
                "The maximum number of codes sent has been reached. Use an invoice or ask for assistance."
            }
            (Self::WrongCode, Fr) => "Le code de sécurité est incorrect.",
            (Self::WrongCode, En) => "The security code is incorrect.",
            (Self::CodeExpired, Fr) => "Ce code de sécurité n’est plus valide. Demandez un nouveau code.",
            (Self::CodeExpired, En) => "This security code is no longer valid. Ask for a new code.",
            (Self::TooManyAttempts, Fr) => {
                "Trop de tentatives incorrectes. Demandez un nouveau code, utilisez une autre option ou demandez de l’aide."
            }
            (Self::TooManyAttempts, En) => {
                "Too many incorrect attempts. Ask for a new code, use another option or ask for assistance."
            }
            (Self::InvoiceNotAccepted, Fr) => "Ce numéro de facture n’est pas accepté pour ce dossier.",
            (Self::InvoiceNotAccepted, En) => "This invoice number is not accepted for this file.",
            (Self::InvoiceTooOld, Fr) => {
                "Cette facture date de 3 ans ou plus. Utilisez une facture plus récente ou demandez de l’aide."
            }
            (Self::InvoiceTooOld, En) => {
                "This invoice is 3 years old or more. Use a more recent invoice or ask for assistance."
            }
            (Self::AlreadyLinked, Fr) => {
                "Ce dossier est déjà associé à un autre compte. Utilisez le code de sécurité ou demandez de l’aide."
            }
            (Self::AlreadyLinked, En) => {
                "This file is already linked to another account. Use the security code or ask for assistance."
            }
            (Self::AlreadyClosed, Fr) => "Cette demande est déjà fermée.",
            (Self::AlreadyClosed, En) => "This request is already closed.",
            (Self::NotFound, Fr) => "La ressource demandée est introuvable.",
            (Self::NotFound, En) => "The requested resource was not found.",
            (Self::NotLinked, Fr) => "Votre compte n’est associé à aucun dossier de certificat.",
            (Self::NotLinked, En) => "Your account is not linked to a certificate file.",
            (Self::PayloadTooLarge, Fr) => "La demande est trop volumineuse.",
            (Self::PayloadTooLarge, En) => "The request is too large.",
            (Self::ServiceUnavailable, Fr) => {
                "Le service est temporairement indisponible. Réessayez dans quelques minutes."
            }
            (Self::ServiceUnavailable, En) => "The service is temporarily unavailable. Try again in a few minutes.",
        }
    }
}

/// One refused field of a request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub reason: FieldReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldReason {
    Required,
    WrongType,
    UnknownField,
    InvalidFormat,
    TooLong,
    OutOfRange,
    NotAllowed,
    /// A page size (`limit`) that is not a whole number from 1 to 100.
    InvalidPageSize,
}

impl From<ParseError> for FieldReason {
    fn from(e: ParseError) -> Self {
        match e {
            ParseError::Empty => Self::Required,
            ParseError::TooLong => Self::TooLong,
            ParseError::InvalidFormat => Self::InvalidFormat,
            ParseError::OutOfRange => Self::OutOfRange,
        }
    }
}

impl FieldReason {
    pub fn message(self, language: Language) -> &'static str {
        use Language::*;
        match (self, language) {
            (Self::Required, Fr) => "Ce champ est obligatoire.",
            (Self::Required, En) => "This field is required.",
            (Self::WrongType, Fr) => "Ce champ doit être une chaîne de caractères.",
            (Self::WrongType, En) => "This field must be a string.",
            (Self::UnknownField, Fr) => "Ce champ n’est pas attendu.",
            (Self::UnknownField, En) => "This field is not expected.",
            (Self::InvalidFormat, Fr) => "Le format de ce champ est invalide.",
            (Self::InvalidFormat, En) => "This field's format is invalid.",
            (Self::TooLong, Fr) => "Ce champ est trop long.",
            (Self::TooLong, En) => "This field is too long.",
            (Self::OutOfRange, Fr) => "Cette date n’est pas plausible.",
            (Self::OutOfRange, En) => "This date is not plausible.",
            (Self::NotAllowed, Fr) => "Cette valeur n’est pas permise.",
            (Self::NotAllowed, En) => "This value is not allowed.",
            (Self::InvalidPageSize, Fr) => "Un nombre entier de 1 à 100 est attendu.",
            (Self::InvalidPageSize, En) => "A whole number from 1 to 100 is expected.",
        }
    }
}

/// A problem ready to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub code: ErrorCode,
    pub errors: Vec<FieldError>,
    pub attempts_left: Option<u32>,
    pub retry_after: Option<Duration>,
}

impl Problem {
    pub fn new(code: ErrorCode) -> Self {
        Self { code, errors: Vec::new(), attempts_left: None, retry_after: None }
    }

    pub fn invalid(errors: Vec<FieldError>) -> Self {
        Self { errors, ..Self::new(ErrorCode::InvalidRequest) }
    }

    pub fn with_attempts_left(mut self, n: u32) -> Self {
        self.attempts_left = Some(n);
        self
    }

    /// Whole seconds, rounded up: a client that waits what it is told is never early.
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        let seconds = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        self.retry_after = Some(Duration::from_secs(seconds.max(1)));
        self
    }

    /// The `application/problem+json` body in `language`.
    pub fn body(&self, language: Language) -> serde_json::Value {
        let mut body = serde_json::json!({
            "type": format!("urn:opc:certificate-recovery:problem:{}", self.code.as_str()),
            "code": self.code.as_str(),
            "title": self.code.title(language),
            "status": self.code.status(),
        });
        if !self.errors.is_empty() {
            body["errors"] = self
                .errors
                .iter()
                .map(
                    |e| serde_json::json!({"field": e.field, "reason": e.reason, "detail": e.reason.message(language)}),
                )
                .collect();
        }
        if let Some(n) = self.attempts_left {
            body["attemptsLeft"] = n.into();
        }
        if let Some(after) = self.retry_after {
            body["retryAfter"] = after.as_secs().into();
        }
        body
    }
}

impl From<ErrorCode> for Problem {
    fn from(code: ErrorCode) -> Self {
        Self::new(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_both_titles_and_the_spec_status() {
        for code in ErrorCode::ALL {
            assert_ne!(code.title(Language::Fr), code.title(Language::En), "{code:?}");
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str());
        }
        assert_eq!(ErrorCode::NoMatch.status(), 422);
        assert_eq!(ErrorCode::CodeExpired.status(), 410);
        assert_eq!(ErrorCode::PayloadTooLarge.status(), 413);
    }

    #[test]
    fn retry_after_is_rounded_up_to_a_whole_second() {
        let after = |d: Duration| Problem::new(ErrorCode::Locked).with_retry_after(d).retry_after;
        assert_eq!(after(Duration::from_millis(71_999_500)), Some(Duration::from_secs(72_000)));
        assert_eq!(after(Duration::from_secs(60)), Some(Duration::from_secs(60)));
        assert_eq!(after(Duration::from_nanos(1)), Some(Duration::from_secs(1)));
        assert_eq!(after(Duration::ZERO), Some(Duration::from_secs(1)));
    }
}
