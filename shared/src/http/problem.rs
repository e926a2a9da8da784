//! RFC 9457 problems: a stable `code`, a `title` in the request's language, the status.
//! Every error of every use case becomes a [`Problem`] at the edge, in `super::errors`.

use crate::domain::{Language, ParseError};
pub use crate::error_code::ErrorCode;
use serde::Serialize;
use std::borrow::Cow;
use std::time::Duration;

/// The HTTP status of each code.
pub fn status(code: ErrorCode) -> u16 {
    use ErrorCode::*;
    match code {
        InvalidRequest => 400,
        Unauthorized => 401,
        Forbidden => 403,
        NotFound | NotLinked => 404,
        NoRecoverySession | NoEmailOnFile | AlreadyLinked | AlreadyClosed | EmailChangePending => 409,
        CodeExpired | ReportExpired => 410,
        PayloadTooLarge => 413,
        NoMatch | WrongCode | InvoiceNotAccepted | InvoiceTooOld => 422,
        RecoveryFrozen => 423,
        Locked | ResendTooSoon | TooManyCodes | TooManyAttempts => 429,
        ServiceUnavailable => 503,
    }
}

/// The sentence a person reads, French first. A title that names a setting follows it
/// (`invoice_max_age_years`: the invoice rule's age limit, when the problem carries it).
pub fn title(code: ErrorCode, language: Language, invoice_max_age_years: Option<u32>) -> Cow<'static, str> {
    use ErrorCode::*;
    use Language::*;
    let fixed = match (code, language) {
        (InvalidRequest, Fr) => "La demande contient des renseignements invalides.",
        (InvalidRequest, En) => "The request contains invalid information.",
        (Unauthorized, Fr) => "Vous devez vous connecter pour continuer.",
        (Unauthorized, En) => "You must sign in to continue.",
        (Forbidden, Fr) => "Vous n’avez pas l’autorisation d’accéder à cette ressource.",
        (Forbidden, En) => "You are not allowed to access this resource.",
        (NoMatch, Fr) => "Le numéro de certificat et la date de naissance ne correspondent à aucun dossier.",
        (NoMatch, En) => "The certificate number and date of birth do not match any file.",
        (Locked, Fr) => "Trop de tentatives infructueuses. Réessayez plus tard ou demandez de l’aide.",
        (Locked, En) => "Too many unsuccessful attempts. Try again later or ask for assistance.",
        (NoRecoverySession, Fr) => {
            "Votre démarche a expiré. Entrez de nouveau votre numéro de certificat et votre date de naissance."
        }
        (NoRecoverySession, En) => "Your session has expired. Enter your certificate number and date of birth again.",
        (NoEmailOnFile, Fr) => {
            "Aucune adresse courriel n’est inscrite à votre dossier. Utilisez une facture ou demandez de l’aide."
        }
        (NoEmailOnFile, En) => "No email address is on file. Use an invoice or ask for assistance.",
        (ResendTooSoon, Fr) => "Veuillez patienter avant de demander un nouveau code.",
        (ResendTooSoon, En) => "Please wait before asking for a new code.",
        (TooManyCodes, Fr) => {
            "Le nombre maximal de codes envoyés est atteint. Utilisez une facture ou demandez de l’aide."
        }
        (TooManyCodes, En) => {
            "The maximum number of codes sent has been reached. Use an invoice or ask for assistance."
        }
        (WrongCode, Fr) => "Le code de sécurité est incorrect.",
        (WrongCode, En) => "The security code is incorrect.",
        (CodeExpired, Fr) => "Ce code de sécurité n’est plus valide. Demandez un nouveau code.",
        (CodeExpired, En) => "This security code is no longer valid. Ask for a new code.",
        (TooManyAttempts, Fr) => {
            "Trop de tentatives incorrectes. Demandez un nouveau code, utilisez une autre option ou demandez de l’aide."
        }
        (TooManyAttempts, En) => {
            "Too many incorrect attempts. Ask for a new code, use another option or ask for assistance."
        }
        (InvoiceNotAccepted, Fr) => "Ce numéro de facture n’est pas accepté pour ce dossier.",
        (InvoiceNotAccepted, En) => "This invoice number is not accepted for this file.",
        (InvoiceTooOld, Fr) => match invoice_max_age_years {
            Some(years) => {
                let unit = if years == 1 { "an" } else { "ans" };
                return Cow::Owned(format!(
                    "Cette facture date de {years} {unit} ou plus. Utilisez une facture plus récente ou demandez de l’aide."
                ));
            }
            None => "Cette facture est trop ancienne. Utilisez une facture plus récente ou demandez de l’aide.",
        },
        (InvoiceTooOld, En) => match invoice_max_age_years {
            Some(years) => {
                let unit = if years == 1 { "year" } else { "years" };
                return Cow::Owned(format!(
                    "This invoice is {years} {unit} old or more. Use a more recent invoice or ask for assistance."
                ));
            }
            None => "This invoice is too old. Use a more recent invoice or ask for assistance.",
        },
        (AlreadyLinked, Fr) => {
            "Ce dossier est déjà associé à un autre compte. Utilisez le code de sécurité ou demandez de l’aide."
        }
        (AlreadyLinked, En) => {
            "This file is already linked to another account. Use the security code or ask for assistance."
        }
        (AlreadyClosed, Fr) => "Cette demande est déjà fermée.",
        (AlreadyClosed, En) => "This request is already closed.",
        (NotFound, Fr) => "La ressource demandée est introuvable.",
        (NotFound, En) => "The requested resource was not found.",
        (NotLinked, Fr) => "Votre compte n’est associé à aucun dossier de certificat.",
        (NotLinked, En) => "Your account is not linked to a certificate file.",
        (PayloadTooLarge, Fr) => "La demande est trop volumineuse.",
        (PayloadTooLarge, En) => "The request is too large.",
        (EmailChangePending, Fr) => {
            "Votre adresse courriel vient d’être modifiée par l’Office. Par sécurité, un code pourra y être envoyé seulement à compter de la date indiquée. Vous pouvez aussi utiliser une facture ou demander de l’aide."
        }
        (EmailChangePending, En) => {
            "Your email address was just changed by the Office. For your security, a code can be sent to it only from the date shown. You can also use an invoice or ask for assistance."
        }
        (RecoveryFrozen, Fr) => {
            "La récupération en ligne de ce dossier est suspendue à la suite d’un signalement. Un membre du personnel de l’Office vous appellera au numéro inscrit à votre dossier."
        }
        (RecoveryFrozen, En) => {
            "Online recovery of this file is suspended after a report. An Office employee will call you at the phone number on file."
        }
        (ReportExpired, Fr) => {
            "Ce lien n’est plus valide : il a déjà servi ou il date de plus de 10 jours. Communiquez avec l’Office si vous avez besoin d’aide."
        }
        (ReportExpired, En) => {
            "This link is no longer valid: it was already used or is more than 10 days old. Contact the Office if you need help."
        }
        (ServiceUnavailable, Fr) => "Le service est temporairement indisponible. Réessayez dans quelques minutes.",
        (ServiceUnavailable, En) => "The service is temporarily unavailable. Try again in a few minutes.",
    };
    Cow::Borrowed(fixed)
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
    /// The invoice rule's age limit, for a title that names it.
    pub invoice_max_age_years: Option<u32>,
    /// When what was refused becomes possible (`email_change_pending`).
    pub available_at: Option<time::OffsetDateTime>,
}

impl Problem {
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            errors: Vec::new(),
            attempts_left: None,
            retry_after: None,
            invoice_max_age_years: None,
            available_at: None,
        }
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

    /// The HTTP status it answers with.
    pub fn status(&self) -> u16 {
        status(self.code)
    }

    /// The `application/problem+json` body in `language`.
    pub fn body(&self, language: Language) -> serde_json::Value {
        let mut body = serde_json::json!({
            "type": format!("urn:opc:certificate-recovery:problem:{}", self.code.as_str()),
            "code": self.code.as_str(),
            "title": title(self.code, language, self.invoice_max_age_years),
            "status": status(self.code),
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
        if let Some(at) = self.available_at {
            body["availableAt"] = crate::time_format::instant::format(&at).into();
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
            assert_ne!(title(code, Language::Fr, None), title(code, Language::En, None), "{code:?}");
            assert_ne!(title(code, Language::Fr, Some(2)), title(code, Language::En, Some(2)), "{code:?}");
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str());
        }
        assert_eq!(status(ErrorCode::NoMatch), 422);
        assert_eq!(status(ErrorCode::CodeExpired), 410);
        assert_eq!(status(ErrorCode::PayloadTooLarge), 413);
    }

    #[test]
    fn the_invoice_age_title_follows_the_setting() {
        let fr = |years| title(ErrorCode::InvoiceTooOld, Language::Fr, Some(years));
        let en = |years| title(ErrorCode::InvoiceTooOld, Language::En, Some(years));
        assert!(fr(5).starts_with("Cette facture date de 5 ans ou plus."), "{}", fr(5));
        assert!(fr(1).starts_with("Cette facture date de 1 an ou plus."), "{}", fr(1));
        assert!(en(5).starts_with("This invoice is 5 years old or more."), "{}", en(5));
        assert!(en(1).starts_with("This invoice is 1 year old or more."), "{}", en(1));
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
