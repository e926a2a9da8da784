//! The opaque cursors of the paged staff routes: base64url (no padding) of a small JSON
//! object. A cursor comes back from outside, so decoding refuses anything that is not a
//! position this API could have given (`None`, which the handlers answer with a 400
//! `invalid_request` naming the parameter) — it never panics, and what it accepts encodes
//! back to a cursor that decodes to the same position.

use crate::store::{AuditPosition, QueuePosition};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::json;

/// The longest cursor either route gives is well under this; longer input is refused unread.
pub const MAX_CURSOR_LEN: usize = 512;

fn decode_object(cursor: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    if cursor.len() > MAX_CURSOR_LEN {
        return None;
    }
    match serde_json::from_slice(&URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()? {
        serde_json::Value::Object(object) => Some(object),
        _ => None,
    }
}

/// An assistance request reference as [`crate::ids::assistance_reference`] makes them:
/// `AR-XXXX-XXXX`, upper-case letters and digits.
pub fn is_assistance_reference(reference: &str) -> bool {
    let b = reference.as_bytes();
    b.len() == 12
        && b.starts_with(b"AR-")
        && b[7] == b'-'
        && b[3..7].iter().chain(&b[8..]).all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
}

/// The queue's `next`: whether the last request was a report, its creation time
/// (milliseconds) and reference.
pub fn encode_queue(position: &QueuePosition) -> String {
    let raw = json!({"p": position.reported, "t": position.created_at.unix_timestamp_nanos() / 1_000_000, "r": position.reference});
    URL_SAFE_NO_PAD.encode(raw.to_string())
}

/// `None` unless `p` is a boolean, `t` a time from 1970 on (milliseconds) and `r` a request
/// reference.
pub fn decode_queue(cursor: &str) -> Option<QueuePosition> {
    let raw = decode_object(cursor)?;
    let reported = raw.get("p")?.as_bool()?;
    let millis = raw.get("t")?.as_i64().filter(|t| *t >= 0)?;
    let created_at = time::OffsetDateTime::from_unix_timestamp_nanos(millis as i128 * 1_000_000).ok()?;
    let reference = raw.get("r")?.as_str().filter(|r| is_assistance_reference(r))?;
    Some(QueuePosition { reported, created_at, reference: reference.to_owned() })
}

/// The audit trail's `next`: the event's time (nanoseconds) and id.
pub fn encode_audit(position: &AuditPosition) -> String {
    URL_SAFE_NO_PAD.encode(json!({"t": position.at_nanos(), "i": position.id()}).to_string())
}

/// `None` for anything that is not a cursor this API gave: a tampered one is a 400.
pub fn decode_audit(cursor: &str) -> Option<AuditPosition> {
    let raw = decode_object(cursor)?;
    AuditPosition::new(raw.get("t")?.as_u64()?, raw.get("i")?.as_str()?)
}
