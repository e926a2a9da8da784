//! Request bodies into domain types: the parsing every POST route runs
//! (`certificate_recovery::http::requests`, over `http::body::JsonBody` and the domain
//! `parse` functions). The first byte picks the route, the rest is the body.
//!
//! Invariants: never a panic; a refusal is `payload_too_large` (over 4 KiB only) or
//! `invalid_request` naming at least one field, every unknown field among them; an accepted
//! body is a JSON object (or blank) with known fields only, and each value is the normal form
//! of what was sent.
#![no_main]

use certificate_recovery::domain::Language;
use certificate_recovery::http::body::MAX_BODY_BYTES;
use certificate_recovery::assistance_desk::Resolution;
use certificate_recovery::http::requests::{
    InvoiceRequest, LookupRequest, RawBody, SendCodeRequest, VerifyRequest,
};
use certificate_recovery::recovery::assistance::AssistanceAsk;
use certificate_recovery::http::problem::{ErrorCode, FieldReason, Problem};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use time::macros::date;

const TODAY: time::Date = date!(2026 - 11 - 29);

/// A registry number as `docs/rules.md#numbers` compares it: separators dropped, ASCII upper-cased.
fn registry_form(raw: &str) -> String {
    raw.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect()
}

fn object(raw: &[u8]) -> Option<Map<String, Value>> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Some(Map::new());
    }
    match serde_json::from_slice(raw) {
        Ok(Value::Object(o)) => Some(o),
        _ => None,
    }
}

fn text<'a>(o: &'a Map<String, Value>, field: &str) -> &'a str {
    o.get(field).and_then(Value::as_str).expect("an accepted field was a string")
}

fn refused(raw: &[u8], allowed: &[&str], problem: &Problem) {
    match problem.code {
        ErrorCode::PayloadTooLarge => assert!(raw.len() > MAX_BODY_BYTES, "413 for {} bytes", raw.len()),
        ErrorCode::InvalidRequest => {
            assert!(raw.len() <= MAX_BODY_BYTES);
            assert!(!problem.errors.is_empty(), "a 400 names the bad fields");
            if let Some(o) = object(raw) {
                for key in o.keys().filter(|k| !allowed.contains(&k.as_str())) {
                    assert!(
                        problem.errors.iter().any(|e| &e.field == key && e.reason == FieldReason::UnknownField),
                        "unknown field {key:?} not named"
                    );
                }
            } else {
                assert_eq!(problem.errors.len(), 1);
                assert_eq!(problem.errors[0].field, "body");
            }
        }
        other => panic!("a body refused with {other:?}"),
    }
    // The problem renders in both languages, with its status.
    for language in [Language::Fr, Language::En] {
        assert_eq!(problem.body(language)["status"], problem.status());
    }
}

fn accepted(raw: &[u8], allowed: &[&str]) -> Map<String, Value> {
    assert!(raw.len() <= MAX_BODY_BYTES);
    let o = object(raw).expect("an accepted body is a JSON object or blank");
    assert!(o.keys().all(|k| allowed.contains(&k.as_str())), "an unknown field was accepted");
    o
}

fuzz_target!(|data: &[u8]| {
    let Some((&route, raw)) = data.split_first() else { return };
    match route % 6 {
        0 => {
            const F: &[&str] = LookupRequest::FIELDS;
            match LookupRequest::try_from(RawBody::new(raw, TODAY)) {
                Ok(body) => {
                    let o = accepted(raw, F);
                    let number = body.certificate_number.as_str();
                    assert!((1..=20).contains(&number.len()));
                    assert!(number.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
                    assert_eq!(number, registry_form(text(&o, "certificateNumber")));
                    let dob = body.date_of_birth.date();
                    assert!(dob >= date!(1900 - 01 - 01) && dob <= TODAY);
                    assert_eq!(certificate_recovery::time_format::date::format(&dob), text(&o, "dateOfBirth").trim());
                }
                Err(p) => refused(raw, F, &p),
            }
        }
        1 => match SendCodeRequest::try_from(RawBody::new(raw, TODAY)).map(|_| ()) {
            Ok(()) => assert!(accepted(raw, &[]).is_empty()),
            Err(p) => refused(raw, &[], &p),
        },
        2 => match VerifyRequest::try_from(RawBody::new(raw, TODAY)) {
            Ok(body) => {
                let o = accepted(raw, VerifyRequest::FIELDS);
                let code = body.code.expose();
                assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()));
                let sent: String = text(&o, "code").trim().chars().filter(|c| *c != ' ').collect();
                assert_eq!(code, sent);
            }
            Err(p) => refused(raw, VerifyRequest::FIELDS, &p),
        },
        3 => match InvoiceRequest::try_from(RawBody::new(raw, TODAY)) {
            Ok(body) => {
                let o = accepted(raw, InvoiceRequest::FIELDS);
                let number = body.invoice_number.as_str();
                assert!((1..=30).contains(&number.len()));
                assert!(number.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
                assert_eq!(number, registry_form(text(&o, "invoiceNumber")));
            }
            Err(p) => refused(raw, InvoiceRequest::FIELDS, &p),
        },
        4 => {
            const F: &[&str] = &["preferredTime", "language", "message"];
            match AssistanceAsk::try_from(RawBody::new(raw, TODAY)) {
                Ok(ask) => {
                    let o = accepted(raw, F);
                    assert_eq!(ask.preferred_time.as_str(), text(&o, "preferredTime"));
                    assert_eq!(ask.language.code(), text(&o, "language"));
                    if let Some(message) = &ask.message {
                        assert!(!message.is_empty() && message.chars().count() <= 1000);
                        assert_eq!(message, text(&o, "message").trim());
                        assert!(!message.chars().any(|c| c.is_control() && !"\n\r\t".contains(c)));
                    }
                }
                Err(p) => refused(raw, F, &p),
            }
        }
        _ => {
            const F: &[&str] = &["outcome", "newEmail"];
            match Resolution::try_from(RawBody::new(raw, TODAY)) {
                Ok(resolution) => {
                    let o = accepted(raw, F);
                    assert_eq!(resolution.outcome(), text(&o, "outcome"));
                    if let Resolution::EmailUpdated(email) = &resolution {
                        let again = certificate_recovery::domain::EmailAddress::parse(email.as_str());
                        assert_eq!(again.as_ref(), Ok(email), "an email's normal form parses to itself");
                        assert!(email.masked().contains("•••@"));
                    } else {
                        assert!(!o.contains_key("newEmail"), "newEmail only with email_updated");
                    }
                }
                Err(p) => refused(raw, F, &p),
            }
        }
    }
});
