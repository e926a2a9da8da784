//! The cursors of the paged staff routes: the queue's `next` and the audit trail's `cursor`
//! (`http::cursor`), as the handlers decode them from the query string. The first byte picks
//! the cursor, the rest is the string (or, for mode 2 and 3, the parts of a position).
//!
//! Invariants: never a panic; a decoded cursor is a position the API could have given (a
//! queue reference `AR-XXXX-XXXX` at a time from 1970 on; an audit id of 1–64 letters and
//! digits) and encodes back to a cursor that decodes to the same position; every position
//! the API gives round-trips.
#![no_main]

use certificate_recovery::http::cursor::{self, is_assistance_reference};
use certificate_recovery::store::{AuditPosition, QueuePosition};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 4 {
        0 => {
            let Ok(raw) = std::str::from_utf8(rest) else { return };
            if let Some(position) = cursor::decode_queue(raw) {
                assert!(is_assistance_reference(&position.reference));
                assert!(position.created_at.unix_timestamp() >= 0);
                let again = cursor::decode_queue(&cursor::encode_queue(&position));
                assert_eq!(again.as_ref(), Some(&position));
            }
        }
        1 => {
            let Ok(raw) = std::str::from_utf8(rest) else { return };
            if let Some(position) = cursor::decode_audit(raw) {
                assert!(!position.id().is_empty() && position.id().len() <= 64);
                assert!(position.id().bytes().all(|b| b.is_ascii_alphanumeric()));
                assert_eq!(cursor::decode_audit(&cursor::encode_audit(&position)).as_ref(), Some(&position));
                assert_eq!(AuditPosition::from_sort_key(&position.sort_key()).as_ref(), Some(&position));
            }
        }
        2 => {
            // A queue position as the store gives it: milliseconds since 1970, a reference.
            if rest.len() < 13 {
                return;
            }
            let millis = u64::from_le_bytes(rest[..8].try_into().unwrap()) % 8_000_000_000_000;
            let alphabet = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
            let pick = |b: u8| alphabet[b as usize % 32] as char;
            let chars: String = rest[8..13].iter().chain(&rest[8..11]).map(|b| pick(*b)).collect();
            let reference = format!("AR-{}-{}", &chars[..4], &chars[4..]);
            let created_at = time::OffsetDateTime::from_unix_timestamp_nanos(millis as i128 * 1_000_000).unwrap();
            let position = QueuePosition { reported: false, created_at, reference };
            assert_eq!(cursor::decode_queue(&cursor::encode_queue(&position)).as_ref(), Some(&position));
        }
        _ => {
            if rest.len() < 8 {
                return;
            }
            let nanos = u64::from_le_bytes(rest[..8].try_into().unwrap());
            let Ok(id) = std::str::from_utf8(&rest[8..]) else { return };
            match AuditPosition::new(nanos, id) {
                Some(position) => {
                    assert_eq!(cursor::decode_audit(&cursor::encode_audit(&position)).as_ref(), Some(&position));
                }
                None => assert!(id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric())),
            }
        }
    }
});
