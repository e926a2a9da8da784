//! One request type per route, built from the raw body by `TryFrom` (as zero2prod builds a
//! `NewSubscriber` from its form): a value in hand is always valid. Pure functions of the raw
//! bytes (and today's date), so the handlers, the property tests and the fuzz targets run the
//! very same parsing. Each refuses with `payload_too_large` (over 4 KiB) or `invalid_request`
//! naming every bad field — never anything else, and never a panic.

use super::body::JsonBody;
use super::problem::{FieldReason, Problem};
use crate::assistance_desk::Resolution;
use crate::domain::{
    AssistanceRequest, CertificateNumber, DateOfBirth, EmailAddress, InvoiceNumber, Language, PreferredTime,
    SecurityCode,
};
use crate::recovery::assistance::AssistanceAsk;
use time::Date;

/// A request's raw body, and the day it arrived (a date of birth is judged against it).
#[derive(Debug, Clone, Copy)]
pub struct RawBody<'a> {
    pub bytes: &'a [u8],
    pub today: Date,
}

impl<'a> RawBody<'a> {
    pub fn new(bytes: &'a [u8], today: Date) -> Self {
        Self { bytes, today }
    }
}

/// `POST /recovery/lookup`: `{"certificateNumber","dateOfBirth"}`.
#[derive(Debug)]
pub struct LookupRequest {
    pub certificate_number: CertificateNumber,
    pub date_of_birth: DateOfBirth,
}

impl LookupRequest {
    pub const FIELDS: &[&str] = &["certificateNumber", "dateOfBirth"];
}

impl TryFrom<RawBody<'_>> for LookupRequest {
    type Error = Problem;

    fn try_from(raw: RawBody<'_>) -> Result<Self, Problem> {
        let mut body = JsonBody::parse(raw.bytes, Self::FIELDS)?;
        let certificate_number = body.required("certificateNumber", CertificateNumber::parse);
        let date_of_birth = body.required("dateOfBirth", |value| DateOfBirth::parse(value, raw.today));
        body.finish(
            certificate_number
                .zip(date_of_birth)
                .map(|(certificate_number, date_of_birth)| Self { certificate_number, date_of_birth }),
        )
    }
}

/// `{}` (or no body): `POST /recovery/code`, `POST /report/{token}`.
#[derive(Debug)]
pub struct EmptyBody;

/// `POST /recovery/code`: `{}` (or no body).
pub type SendCodeRequest = EmptyBody;

impl TryFrom<RawBody<'_>> for EmptyBody {
    type Error = Problem;

    fn try_from(raw: RawBody<'_>) -> Result<Self, Problem> {
        JsonBody::parse(raw.bytes, &[])?.finish(Some(Self))
    }
}

/// `POST /recovery/verify`: `{"code"}`.
#[derive(Debug)]
pub struct VerifyRequest {
    pub code: SecurityCode,
}

impl VerifyRequest {
    pub const FIELDS: &[&str] = &["code"];
}

impl TryFrom<RawBody<'_>> for VerifyRequest {
    type Error = Problem;

    fn try_from(raw: RawBody<'_>) -> Result<Self, Problem> {
        let mut body = JsonBody::parse(raw.bytes, Self::FIELDS)?;
        let code = body.required("code", SecurityCode::parse);
        body.finish(code.map(|code| Self { code }))
    }
}

/// `POST /recovery/invoice`: `{"invoiceNumber"}`.
#[derive(Debug)]
pub struct InvoiceRequest {
    pub invoice_number: InvoiceNumber,
}

impl InvoiceRequest {
    pub const FIELDS: &[&str] = &["invoiceNumber"];
}

impl TryFrom<RawBody<'_>> for InvoiceRequest {
    type Error = Problem;

    fn try_from(raw: RawBody<'_>) -> Result<Self, Problem> {
        let mut body = JsonBody::parse(raw.bytes, Self::FIELDS)?;
        let invoice_number = body.required("invoiceNumber", InvoiceNumber::parse);
        body.finish(invoice_number.map(|invoice_number| Self { invoice_number }))
    }
}

/// `POST /recovery/assistance`: `{"preferredTime","language","message"?}`. The closed sets
/// are matched exactly, as `openapi.yaml` lists them.
impl TryFrom<RawBody<'_>> for AssistanceAsk {
    type Error = Problem;

    fn try_from(raw: RawBody<'_>) -> Result<Self, Problem> {
        let mut body = JsonBody::parse(raw.bytes, Self::FIELDS)?;
        let preferred_time = body.choice("preferredTime", PreferredTime::parse);
        let language = body.choice("language", |value| match value {
            "fr" => Some(Language::Fr),
            "en" => Some(Language::En),
            _ => None,
        });
        let message = body.optional_text("message", AssistanceRequest::MAX_MESSAGE_CHARS);
        body.finish(preferred_time.zip(language).map(|(preferred_time, language)| Self {
            preferred_time,
            language,
            message,
        }))
    }
}

impl AssistanceAsk {
    pub const FIELDS: &[&str] = &["preferredTime", "language", "message"];
}

/// `POST /agent/assistance-requests/{reference}/resolve`: `{"outcome":"email_updated",
/// "newEmail"}` or `{"outcome":"identity_not_confirmed"|"unreachable"}`.
impl TryFrom<RawBody<'_>> for Resolution {
    type Error = Problem;

    fn try_from(raw: RawBody<'_>) -> Result<Self, Problem> {
        let mut body = JsonBody::parse(raw.bytes, &["outcome", "newEmail"])?;
        let outcome = body.choice("outcome", |o| {
            ["email_updated", "identity_not_confirmed", "unreachable"].contains(&o).then(|| o.to_owned())
        });
        let has_email = body.has("newEmail");
        let resolution = match outcome.as_deref() {
            Some("email_updated") => body.required("newEmail", EmailAddress::parse).map(Resolution::EmailUpdated),
            Some(other) => {
                if has_email {
                    body.refuse("newEmail", FieldReason::NotAllowed);
                }
                Some(if other == "unreachable" { Resolution::Unreachable } else { Resolution::IdentityNotConfirmed })
            }
            None => None,
        };
        body.finish(resolution)
    }
}
