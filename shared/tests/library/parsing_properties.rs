//! Hostile input, as property tests: the invariants of the fuzz targets in `fuzz/` (run with
//! `scripts/fuzz.sh`, not in CI), held here in CI. Request bodies into domain types, registry
//! numbers and codes, the staff routes' cursors and the import's CSV rows.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use certificate_recovery::assistance_desk::Resolution;
use certificate_recovery::domain::{CertificateNumber, InvoiceNumber, SecurityCode};
use certificate_recovery::http::body::MAX_BODY_BYTES;
use certificate_recovery::http::cursor::{self, is_assistance_reference};
use certificate_recovery::http::problem::{ErrorCode, FieldReason, Problem};
use certificate_recovery::http::requests::{InvoiceRequest, LookupRequest, RawBody, SendCodeRequest, VerifyRequest};
use certificate_recovery::recovery::assistance::AssistanceAsk;
use certificate_recovery::seed;
use certificate_recovery::store::{AuditPosition, QueuePosition};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use time::macros::date;

const TODAY: time::Date = date!(2026 - 11 - 29);

/// A registry number as `docs/rules.md#numbers` compares it: whitespace and hyphens dropped, ASCII
/// upper-cased.
fn registry_form(raw: &str) -> String {
    raw.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect()
}

fn is_registry_number(form: &str, max: usize) -> bool {
    (1..=max).contains(&form.len()) && form.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Strings a holder could type, and strings nobody would: separators, Unicode letters whose
/// upper case is ASCII (ß, ſ, ı, ﬁ), digits of other scripts, controls.
fn registry_input() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ \\-]{0,3}[A-Za-z0-9]{1,25}([ \\-\u{a0}\u{3000}][A-Za-z0-9]{1,6}){0,4}[ \\-\t]{0,3}",
        prop::collection::vec(
            prop::sample::select(vec!['a', 'Z', '7', '-', ' ', '\t', 'ß', 'ſ', 'ı', 'ﬁ', 'é', '١', '\u{0}', '#']),
            0..30
        )
        .prop_map(|chars| chars.into_iter().collect()),
        any::<String>(),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::from),
        registry_input().prop_map(Value::from),
        prop::sample::select(vec![
            "AG-100001",
            "1980-02-29",
            "2030-01-01",
            "1899-12-31",
            "042917",
            "04 29 17",
            "F-2026-0101",
            "morning",
            "any",
            "fr",
            "en",
            "EN",
            "email_updated",
            "unreachable",
            "identity_not_confirmed",
            "a@b.ca",
            "",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-zA-Z]{0,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const KEYS: &[&str] = &[
    "certificateNumber",
    "dateOfBirth",
    "code",
    "invoiceNumber",
    "preferredTime",
    "language",
    "message",
    "outcome",
    "newEmail",
    "extra",
    "CODE",
    "",
];

/// Bodies: objects of known and unknown keys with any values, any JSON, and any bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::btree_map(prop::sample::select(KEYS), json_value(), 0..5)
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()).to_string().into_bytes()),
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => (0usize..3).prop_map(|pad| {
            let mut big = br#"{"message":""#.to_vec();
            big.resize(MAX_BODY_BYTES - 1 + pad, b'a');
            big.extend_from_slice(br#""}"#);
            big
        }),
    ]
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

/// A refusal is a 413 (over 4 KiB only) or a 400 naming at least one field, every unknown
/// field among them.
fn check_refused(raw: &[u8], allowed: &[&str], problem: &Problem) -> Result<(), TestCaseError> {
    match problem.code {
        ErrorCode::PayloadTooLarge => prop_assert!(raw.len() > MAX_BODY_BYTES),
        ErrorCode::InvalidRequest => {
            prop_assert!(raw.len() <= MAX_BODY_BYTES);
            prop_assert!(!problem.errors.is_empty());
            match object(raw) {
                Some(o) => {
                    for key in o.keys().filter(|k| !allowed.contains(&k.as_str())) {
                        prop_assert!(
                            problem.errors.iter().any(|e| &e.field == key && e.reason == FieldReason::UnknownField),
                            "unknown field {:?} not named in {:?}",
                            key,
                            problem.errors
                        );
                    }
                }
                None => prop_assert_eq!(problem.errors[0].field.as_str(), "body"),
            }
        }
        other => prop_assert!(false, "a body refused with {:?}", other),
    }
    Ok(())
}

/// An accepted body is a JSON object (or blank) of known fields only.
fn check_accepted(raw: &[u8], allowed: &[&str]) -> Result<Map<String, Value>, TestCaseError> {
    prop_assert!(raw.len() <= MAX_BODY_BYTES);
    let o = object(raw);
    prop_assert!(o.is_some(), "accepted a body that is not an object");
    let o = o.unwrap();
    prop_assert!(o.keys().all(|k| allowed.contains(&k.as_str())), "accepted unknown fields: {:?}", o.keys());
    Ok(o)
}

fn text<'a>(o: &'a Map<String, Value>, field: &str) -> &'a str {
    o.get(field).and_then(Value::as_str).unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn body_parsing_never_panics_and_refuses_unknown_fields(raw in body()) {
        match LookupRequest::try_from(RawBody::new(&raw, TODAY)) {
            Ok(b) => {
                let o = check_accepted(&raw, LookupRequest::FIELDS)?;
                prop_assert_eq!(b.certificate_number.as_str(), registry_form(text(&o, "certificateNumber")));
                prop_assert!(b.date_of_birth.date() <= TODAY && b.date_of_birth.date() >= date!(1900 - 01 - 01));
            }
            Err(p) => check_refused(&raw, LookupRequest::FIELDS, &p)?,
        }
        match SendCodeRequest::try_from(RawBody::new(&raw, TODAY)).map(|_| ()) {
            Ok(()) => prop_assert!(check_accepted(&raw, &[])?.is_empty()),
            Err(p) => check_refused(&raw, &[], &p)?,
        }
        match VerifyRequest::try_from(RawBody::new(&raw, TODAY)) {
            Ok(b) => {
                let o = check_accepted(&raw, VerifyRequest::FIELDS)?;
                let sent: String = text(&o, "code").trim().chars().filter(|c| *c != ' ').collect();
                prop_assert_eq!(b.code.expose(), sent);
            }
            Err(p) => check_refused(&raw, VerifyRequest::FIELDS, &p)?,
        }
        match InvoiceRequest::try_from(RawBody::new(&raw, TODAY)) {
            Ok(b) => {
                let o = check_accepted(&raw, InvoiceRequest::FIELDS)?;
                prop_assert_eq!(b.invoice_number.as_str(), registry_form(text(&o, "invoiceNumber")));
            }
            Err(p) => check_refused(&raw, InvoiceRequest::FIELDS, &p)?,
        }
        let assistance = ["preferredTime", "language", "message"];
        match AssistanceAsk::try_from(RawBody::new(&raw, TODAY)) {
            Ok(ask) => {
                let o = check_accepted(&raw, &assistance)?;
                prop_assert_eq!(ask.language.code(), text(&o, "language"));
                prop_assert_eq!(ask.preferred_time.as_str(), text(&o, "preferredTime"));
                if let Some(message) = &ask.message {
                    prop_assert!(!message.is_empty() && message.chars().count() <= 1000);
                }
            }
            Err(p) => check_refused(&raw, &assistance, &p)?,
        }
        let resolve = ["outcome", "newEmail"];
        match Resolution::try_from(RawBody::new(&raw, TODAY)) {
            Ok(r) => {
                let o = check_accepted(&raw, &resolve)?;
                prop_assert_eq!(r.outcome(), text(&o, "outcome"));
            }
            Err(p) => check_refused(&raw, &resolve, &p)?,
        }
    }

    #[test]
    fn a_parsed_registry_number_round_trips_normalisation(raw in registry_input()) {
        let form = registry_form(&raw);
        match CertificateNumber::parse(&raw) {
            Ok(n) => {
                prop_assert_eq!(n.as_str(), form.as_str());
                prop_assert_eq!(CertificateNumber::parse(n.as_str()), Ok(n.clone()));
            }
            Err(_) => prop_assert!(!is_registry_number(&form, CertificateNumber::MAX_LEN), "{:?} refused", raw),
        }
        prop_assert_eq!(CertificateNumber::parse(&raw).is_ok(), is_registry_number(&form, CertificateNumber::MAX_LEN));
        match InvoiceNumber::parse(&raw) {
            Ok(n) => {
                prop_assert_eq!(n.as_str(), form.as_str());
                prop_assert_eq!(InvoiceNumber::parse(n.as_str()), Ok(n.clone()));
            }
            Err(_) => prop_assert!(!is_registry_number(&form, InvoiceNumber::MAX_LEN)),
        }
    }

    #[test]
    fn a_code_is_six_digits_whatever_the_spaces(raw in prop_oneof![
        "[ \t]{0,2}[0-9]( ?[0-9]){5}[ \n]{0,2}",
        "[0-9 \t\u{a0}a-]{0,12}",
        any::<String>(),
    ]) {
        let digits: String = raw.trim().chars().filter(|c| *c != ' ').collect();
        let expected = digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit());
        match SecurityCode::parse(&raw) {
            Ok(code) => prop_assert_eq!(code.expose(), digits.as_str()),
            Err(_) => prop_assert!(!expected, "{:?} refused", raw),
        }
        prop_assert_eq!(SecurityCode::parse(&raw).is_ok(), expected);
    }

    #[test]
    fn any_cursor_string_decodes_to_a_position_the_api_gives_or_is_refused(raw in prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_-]{0,120}",
        json_value().prop_map(|v| URL_SAFE_NO_PAD.encode(v.to_string())),
        (any::<i64>(), prop_oneof![Just("AR-0000-0000".to_owned()), "AR-[0-9A-Z]{4}-[0-9A-Z]{4}", any::<String>(), "[A-Za-z0-9]{0,70}"])
            .prop_flat_map(|(t, s)| prop::sample::select(vec![
                URL_SAFE_NO_PAD.encode(json!({"t": t, "r": s}).to_string()),
                URL_SAFE_NO_PAD.encode(json!({"t": t, "i": s}).to_string()),
                URL_SAFE_NO_PAD.encode(json!({"t": t as f64 / 3.0, "i": s}).to_string()),
            ])),
    ]) {
        if let Some(p) = cursor::decode_queue(&raw) {
            prop_assert!(is_assistance_reference(&p.reference));
            prop_assert!(p.created_at.unix_timestamp() >= 0);
            prop_assert_eq!(cursor::decode_queue(&cursor::encode_queue(&p)), Some(p));
        }
        if let Some(p) = cursor::decode_audit(&raw) {
            prop_assert!(!p.id().is_empty() && p.id().len() <= 64 && p.id().bytes().all(|b| b.is_ascii_alphanumeric()));
            prop_assert_eq!(cursor::decode_audit(&cursor::encode_audit(&p)), Some(p));
        }
    }

    #[test]
    fn every_cursor_the_api_gives_decodes_to_its_position(
        millis in 0i64..8_000_000_000_000,
        reference in "AR-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}",
        nanos in any::<u64>(),
        id in "[A-Za-z0-9]{1,64}",
    ) {
        let created_at = time::OffsetDateTime::from_unix_timestamp_nanos(millis as i128 * 1_000_000).unwrap();
        let queue = QueuePosition { reported: false, created_at, reference };
        prop_assert_eq!(cursor::decode_queue(&cursor::encode_queue(&queue)), Some(queue));
        let audit = AuditPosition::new(nanos, &id).unwrap();
        prop_assert_eq!(cursor::decode_audit(&cursor::encode_audit(&audit)), Some(audit));
    }
}

/// One certificate row: each field right or wrong.
fn certificate_row() -> impl Strategy<Value = (Vec<String>, bool)> {
    let field = |good: Vec<&'static str>, bad: Vec<&'static str>| {
        prop_oneof![
            3 => prop::sample::select(good).prop_map(|s| (s.to_owned(), true)),
            1 => prop::sample::select(bad).prop_map(|s| (s.to_owned(), false)),
        ]
    };
    (
        field(vec!["AG-1001", "ag 1002", "X9"], vec!["", "AG#1", "ß-1", "123456789012345678901"]),
        field(vec!["Jeanne Tremblay", "Léa Côté", "\"Roy, Sam\""], vec![""]),
        field(
            vec!["1980-02-29", "2000-01-01", " 1975-06-15 "],
            vec!["1981-02-29", "1899-12-31", "2030-01-01", "29/02/1980"],
        ),
        field(vec!["", "jeanne@exemple.ca", "Zoé@Courriel.Gouv.QC.CA"], vec!["no-at", "a@b", "a@c.c0m"]),
        field(vec!["514-555-0101", "", "+1 (514) 555.0101 x12"], vec!["call me", "514#555"]),
        field(vec!["fr", "en", "FR"], vec!["de", ""]),
        field(vec!["active", "suspended", "Expired", "revoked"], vec!["gone"]),
        field(vec!["2027-06-30", "2020-01-01"], vec!["2027-02-30", "soon"]),
    )
        .prop_map(|(a, b, c, d, e, f, g, h)| {
            let fields = [a, b, c, d, e, f, g, h];
            let ok = fields.iter().all(|(_, good)| *good);
            (fields.into_iter().map(|(s, _)| s).collect(), ok)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn csv_rows_either_parse_or_give_their_line_and_a_reason(
        rows in prop::collection::vec(prop_oneof![
            8 => certificate_row(),
            1 => prop::collection::vec("[a-z0-9]{0,4}", 0..10).prop_map(|cells| (cells, false)),
        ], 0..12)
    ) {
        let mut csv = seed::CERTIFICATE_HEADER.join(",") + "\n";
        for (cells, _) in &rows {
            csv += &cells.join(",");
            csv += "\n";
        }
        let parsed: Vec<_> = seed::certificates(csv.as_bytes(), TODAY).unwrap().collect();
        // A row of one empty cell is a blank line, which CSV skips.
        let expected: Vec<(usize, bool)> = rows
            .iter()
            .enumerate()
            .filter(|(_, (cells, _))| !(cells.len() <= 1 && cells.iter().all(String::is_empty)))
            .map(|(i, (cells, ok))| (i + 2, *ok && cells.len() == 8))
            .collect();
        prop_assert_eq!(parsed.len(), expected.len());
        for (result, (line, ok)) in parsed.iter().zip(expected) {
            match result {
                Ok(file) => {
                    prop_assert!(ok, "line {} accepted", line);
                    prop_assert!(file.date_of_birth.date() <= TODAY);
                }
                Err(e) => {
                    prop_assert!(!ok, "line {} refused: {}", line, e);
                    prop_assert_eq!(e.line, line as u64);
                    prop_assert!(!e.reason.is_empty());
                    for personal in ["1981-02-29", "2030-01-01", "29/02/1980", "no-at", "a@c.c0m", "call me"] {
                        prop_assert!(!e.reason.contains(personal), "line {}: {} quotes a value", line, e.reason);
                    }
                }
            }
        }
    }

    #[test]
    fn any_csv_bytes_give_rows_or_line_numbered_reasons(input in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        prop::collection::vec(prop::sample::select(b"\r\nab,".to_vec()), 0..40),
        prop::collection::vec(prop::sample::select(b"ab1-,\"\n\r \xff".to_vec()), 0..200)
            .prop_map(|body| [b"invoice_number,certificate_number,issued_on,amount\n".to_vec(), body].concat()),
        prop::collection::vec(prop::sample::select(b"ab1-,\"\n\r \xff".to_vec()), 0..200)
            .prop_map(|body| [seed::CERTIFICATE_HEADER.join(",").into_bytes(), b"\n".to_vec(), body].concat()),
    ]) {
        let check = |results: Vec<Result<(), seed::RowError>>| -> Result<(), TestCaseError> {
            let mut last = 1;
            for e in results.into_iter().filter_map(Result::err) {
                prop_assert!(e.line > last, "line {} after {}: {}", e.line, last, e.reason);
                last = e.line;
            }
            Ok(())
        };
        // The header is the first line that is not blank.
        let blank: String = input.iter().take_while(|b| matches!(b, b'\r' | b'\n')).map(|b| *b as char).collect();
        let header_line = 1 + blank.replace("\r\n", "\n").len() as u64;
        match seed::invoices(&input[..]) {
            Err(e) => prop_assert_eq!(e.line, header_line),
            Ok(rows) => check(rows.map(|r| r.map(|_| ())).collect())?,
        }
        match seed::certificates(&input[..], TODAY) {
            Err(e) => prop_assert_eq!(e.line, header_line),
            Ok(rows) => check(rows.map(|r| r.map(|_| ())).collect())?,
        }
    }
}
