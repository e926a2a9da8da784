//! The request bodies of the routes, parsed into domain types: pure functions of the raw
//! bytes (and today's date), so the handlers, the property tests and the fuzz targets run the
//! very same parsing. Each refuses with `payload_too_large` (over 4 KiB) or `invalid_request`
//! naming every bad field — never anything else, and never a panic.

use super::body::JsonBody;
use crate::assistance_desk::Resolution;
use crate::domain::{
    AssistanceRequest, CertificateNumber, DateOfBirth, EmailAddress, InvoiceNumber, Language, PreferredTime,
    SecurityCode,
};
use crate::problem::{FieldReason, Problem};
use crate::recovery::assistance::AssistanceAsk;
use time::Date;

/// `POST /recovery/lookup`: `{"certificateNumber","dateOfBirth"}`.
#[derive(Debug)]
pub struct LookupBody {
    pub certificate_number: CertificateNumber,
    pub date_of_birth: DateOfBirth,
}

impl LookupBody {
    pub const FIELDS: &[&str] = &["certificateNumber", "dateOfBirth"];

    pub fn parse(raw: &[u8], today: Date) -> Result<Self, Problem> {
        let mut body = JsonBody::parse(raw, Self::FIELDS)?;
        let certificate_number = body.required("certificateNumber", CertificateNumber::parse);
        let date_of_birth = body.required("dateOfBirth", |raw| DateOfBirth::parse(raw, today));
        body.finish()?;
        Ok(Self {
            certificate_number: certificate_number.expect("finish() refuses a body without a certificate number"),
            date_of_birth: date_of_birth.expect("finish() refuses a body without a date of birth"),
        })
    }
}

/// `POST /recovery/code`: `{}` (or no body).
pub fn parse_empty(raw: &[u8]) -> Result<(), Problem> {
    JsonBody::parse(raw, &[])?.finish()
}

/// `POST /recovery/verify`: `{"code"}`.
#[derive(Debug)]
pub struct VerifyBody {
    pub code: SecurityCode,
}

impl VerifyBody {
    pub const FIELDS: &[&str] = &["code"];

    pub fn parse(raw: &[u8]) -> Result<Self, Problem> {
        let mut body = JsonBody::parse(raw, Self::FIELDS)?;
        let code = body.required("code", SecurityCode::parse);
        body.finish()?;
        Ok(Self { code: code.expect("finish() refuses a body without a code") })
    }
}

/// `POST /recovery/invoice`: `{"invoiceNumber"}`.
#[derive(Debug)]
pub struct InvoiceBody {
    pub invoice_number: InvoiceNumber,
}

impl InvoiceBody {
    pub const FIELDS: &[&str] = &["invoiceNumber"];

    pub fn parse(raw: &[u8]) -> Result<Self, Problem> {
        let mut body = JsonBody::parse(raw, Self::FIELDS)?;
        let invoice_number = body.required("invoiceNumber", InvoiceNumber::parse);
        body.finish()?;
        Ok(Self { invoice_number: invoice_number.expect("finish() refuses a body without an invoice number") })
    }
}

/// `POST /recovery/assistance`: `{"preferredTime","language","message"?}`. The closed sets
/// are matched exactly, as `openapi.yaml` lists them.
pub fn parse_assistance_ask(raw: &[u8]) -> Result<AssistanceAsk, Problem> {
    let mut body = JsonBody::parse(raw, &["preferredTime", "language", "message"])?;
    let preferred_time = body.choice("preferredTime", PreferredTime::parse);
    let language = body.choice("language", |raw| match raw {
        "fr" => Some(Language::Fr),
        "en" => Some(Language::En),
        _ => None,
    });
    let message = body.optional_text("message", AssistanceRequest::MAX_MESSAGE_CHARS);
    body.finish()?;
    Ok(AssistanceAsk {
        preferred_time: preferred_time.expect("finish() refuses a body without a preferred time"),
        language: language.expect("finish() refuses a body without a language"),
        message,
    })
}

/// `POST /agent/assistance-requests/{reference}/resolve`: `{"outcome":"email_updated",
/// "newEmail"}` or `{"outcome":"identity_not_confirmed"|"unreachable"}`.
pub fn parse_resolution(raw: &[u8]) -> Result<Resolution, Problem> {
    let mut body = JsonBody::parse(raw, &["outcome", "newEmail"])?;
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
    body.finish()?;
    Ok(resolution.expect("finish() refuses a body without a valid outcome"))
}
