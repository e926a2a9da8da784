//! Request bodies: at most 4 KiB of a JSON object with known fields only; every refused
//! field is named.

use super::problem::{ErrorCode, FieldError, FieldReason, Problem};
use crate::domain::ParseError;

pub const MAX_BODY_BYTES: usize = 4 * 1024;

pub struct JsonBody {
    object: serde_json::Map<String, serde_json::Value>,
    errors: Vec<FieldError>,
}

fn field_error(field: &str, reason: FieldReason) -> FieldError {
    FieldError { field: field.to_owned(), reason }
}

impl JsonBody {
    /// Parses a body that must be a JSON object whose keys are all in `allowed`. An empty
    /// body reads as `{}`.
    pub fn parse(raw: &[u8], allowed: &[&str]) -> Result<Self, Problem> {
        if raw.len() > MAX_BODY_BYTES {
            return Err(ErrorCode::PayloadTooLarge.into());
        }
        let object = if raw.iter().all(u8::is_ascii_whitespace) {
            serde_json::Map::new()
        } else {
            match serde_json::from_slice::<serde_json::Value>(raw) {
                Ok(serde_json::Value::Object(object)) => object,
                Ok(_) => {
                    return Err(Problem::invalid(vec![field_error("body", FieldReason::WrongType)]));
                }
                Err(_) => {
                    return Err(Problem::invalid(vec![field_error("body", FieldReason::InvalidFormat)]));
                }
            }
        };
        let errors = object
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .map(|k| field_error(k, FieldReason::UnknownField))
            .collect();
        Ok(Self { object, errors })
    }

    /// A required string field parsed into its domain type.
    pub fn required<T>(&mut self, name: &str, parse: impl FnOnce(&str) -> Result<T, ParseError>) -> Option<T> {
        match self.object.get(name) {
            None | Some(serde_json::Value::Null) => {
                self.errors.push(field_error(name, FieldReason::Required));
                None
            }
            Some(serde_json::Value::String(raw)) => match parse(raw) {
                Ok(value) => Some(value),
                Err(e) => {
                    self.errors.push(field_error(name, e.into()));
                    None
                }
            },
            Some(_) => {
                self.errors.push(field_error(name, FieldReason::WrongType));
                None
            }
        }
    }

    /// A required string field that must be one of a closed set.
    pub fn choice<T>(&mut self, name: &str, parse: impl FnOnce(&str) -> Option<T>) -> Option<T> {
        let mut not_allowed = false;
        let value = self.required(name, |raw| {
            parse(raw).ok_or_else(|| {
                not_allowed = true;
                ParseError::InvalidFormat
            })
        });
        if not_allowed && let Some(last) = self.errors.last_mut() {
            last.reason = FieldReason::NotAllowed;
        }
        value
    }

    /// An optional free-text field of at most `max_chars` characters; blank reads as absent.
    pub fn optional_text(&mut self, name: &str, max_chars: usize) -> Option<String> {
        match self.object.get(name) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(raw)) => {
                let text = raw.trim();
                if text.chars().count() > max_chars {
                    self.errors.push(field_error(name, FieldReason::TooLong));
                    None
                } else if text.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
                    self.errors.push(field_error(name, FieldReason::InvalidFormat));
                    None
                } else {
                    (!text.is_empty()).then(|| text.to_owned())
                }
            }
            Some(_) => {
                self.errors.push(field_error(name, FieldReason::WrongType));
                None
            }
        }
    }

    /// Whether the body has this field (even null).
    pub fn has(&self, name: &str) -> bool {
        self.object.contains_key(name)
    }

    /// Refuses a field for a reason found by the caller.
    pub fn refuse(&mut self, name: &str, reason: FieldReason) {
        self.errors.push(field_error(name, reason));
    }

    /// The request built from the fields, or every field error found, in order. A value is
    /// answered only when no field was refused; a missing value always comes with the field
    /// errors that caused it (and would, were a parser ever to forget one, still answer 400).
    pub fn finish<T>(self, value: Option<T>) -> Result<T, Problem> {
        match value {
            Some(value) if self.errors.is_empty() => Ok(value),
            _ => Err(Problem::invalid(self.errors)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CertificateNumber;

    #[test]
    fn names_every_bad_field() {
        let mut body =
            JsonBody::parse(br#"{"certificateNumber": 12, "extra": true}"#, &["certificateNumber", "dateOfBirth"])
                .unwrap();
        assert!(body.required("certificateNumber", CertificateNumber::parse).is_none());
        assert!(body.required("dateOfBirth", CertificateNumber::parse).is_none());
        let problem = body.finish(None::<()>).unwrap_err();
        let fields: Vec<_> = problem.errors.iter().map(|e| (e.field.as_str(), e.reason)).collect();
        assert_eq!(
            fields,
            vec![
                ("extra", FieldReason::UnknownField),
                ("certificateNumber", FieldReason::WrongType),
                ("dateOfBirth", FieldReason::Required)
            ]
        );
    }

    #[test]
    fn refuses_non_objects_and_big_bodies() {
        assert_eq!(JsonBody::parse(b"[1]", &[]).err().unwrap().code, ErrorCode::InvalidRequest);
        assert_eq!(JsonBody::parse(b"{", &[]).err().unwrap().code, ErrorCode::InvalidRequest);
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(JsonBody::parse(&big, &[]).err().unwrap().code, ErrorCode::PayloadTooLarge);
        assert!(JsonBody::parse(b"", &[]).unwrap().finish(Some(())).is_ok());
    }
}
