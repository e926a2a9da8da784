//! CSV rows of the registry import (`seed::certificates` / `seed::invoices`, which
//! `import-registry` and the local API's `--seed` read). The first byte picks the file, the
//! rest is its content.
//!
//! Invariants: never a panic; a bad header gives the header's line; every refused row gives
//! its line (after the header, increasing) and one of the known reasons, none of which
//! quotes a value of the row (it may be personal: a date of birth, an email, a phone); every
//! accepted row, written back as CSV, reads back the same.
#![no_main]

use certificate_recovery::domain::{CertificateFile, Invoice};
use certificate_recovery::seed::{self, RowError};
use certificate_recovery::time_format::date;
use libfuzzer_sys::fuzz_target;
use time::macros::date as d;

const TODAY: time::Date = d!(2026 - 11 - 29);
const MAX_ROWS: usize = 2_000;

fn certificate_csv(file: &CertificateFile) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(seed::CERTIFICATE_HEADER).unwrap();
    w.write_record([
        file.number.as_str(),
        &file.holder_name,
        &date::format(&file.date_of_birth.date()),
        file.email.as_ref().map_or("", |e| e.as_str()),
        &file.phone,
        file.language.code(),
        file.status.as_str(),
        &date::format(&file.expires_on),
    ])
    .unwrap();
    w.into_inner().unwrap()
}

fn invoice_csv(invoice: &Invoice) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(seed::INVOICE_HEADER).unwrap();
    let amount = format!("{}.{:02}", invoice.amount_cents / 100, invoice.amount_cents % 100);
    w.write_record([
        invoice.number.as_str(),
        invoice.certificate_number.as_str(),
        &date::format(&invoice.issued_on),
        &amount,
    ])
    .unwrap();
    w.into_inner().unwrap()
}

/// Every reason a row may be refused for, numbers as `N`: none quotes a value of the row.
fn is_known_reason(reason: &str) -> bool {
    let mut shape = String::new();
    for c in reason.chars() {
        if !c.is_ascii_digit() {
            shape.push(c);
        } else if !shape.ends_with('N') {
            shape.push('N');
        }
    }
    let parse_errors =
        ["the value is empty", "the value is too long", "the value has an invalid format", "the date is out of range"];
    let fields = ["certificate_number", "date_of_birth", "email", "invoice_number", "account"];
    let fixed = [
        "expected N columns, found N",
        "unreadable row",
        "holder_name is empty or longer than N characters",
        "phone has characters other than digits, spaces and + - ( ) . x",
        "language must be fr or en",
        "status must be active, suspended, expired or revoked",
        "expires_on is not a YYYY-MM-DD date",
        "issued_on is not a YYYY-MM-DD date",
        "amount must be a number of dollars with at most two decimals",
    ];
    fixed.contains(&shape.as_str()) || fields.iter().any(|f| parse_errors.iter().any(|e| shape == format!("{f}: {e}")))
}

/// The header's line: the first that is not blank (line breaks as the CSV reader splits
/// records: `\n`, `\r\n`, a lone `\r`).
fn header_line(input: &[u8]) -> u64 {
    let mut previous = 0u8;
    let mut breaks = 0;
    for &b in input.iter().take_while(|b| matches!(b, b'\r' | b'\n')) {
        breaks += u64::from(b == b'\r' || previous != b'\r');
        previous = b;
    }
    1 + breaks
}

fn check_refusal(error: &RowError, last_line: &mut u64) {
    assert!(error.line >= 2, "a row refused at line {}: {}", error.line, error.reason);
    assert!(error.line > *last_line, "line {} after line {}", error.line, last_line);
    *last_line = error.line;
    assert!(is_known_reason(&error.reason), "the reason {:?} is none of the known ones", error.reason);
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, input)) = data.split_first() else { return };
    let mut last_line = 1;
    if which % 2 == 0 {
        match seed::certificates(input, TODAY) {
            Err(e) => assert_eq!(e.line, header_line(input), "a header refusal names the header's line: {e}"),
            Ok(rows) => {
                for row in rows.take(MAX_ROWS) {
                    match row {
                        Ok(file) => {
                            assert!(file.date_of_birth.date() <= TODAY);
                            let again: Vec<_> =
                                seed::certificates(&certificate_csv(&file)[..], TODAY).unwrap().collect();
                            assert_eq!(again.len(), 1);
                            assert_eq!(again[0].as_ref(), Ok(&file), "a row does not read back the same");
                        }
                        Err(e) => check_refusal(&e, &mut last_line),
                    }
                }
            }
        }
    } else {
        match seed::invoices(input) {
            Err(e) => assert_eq!(e.line, header_line(input), "a header refusal names the header's line: {e}"),
            Ok(rows) => {
                for row in rows.take(MAX_ROWS) {
                    match row {
                        Ok(invoice) => {
                            assert!(invoice.amount_cents >= 0);
                            let again: Vec<_> = seed::invoices(&invoice_csv(&invoice)[..]).unwrap().collect();
                            assert_eq!(again.len(), 1);
                            assert_eq!(again[0].as_ref(), Ok(&invoice), "a row does not read back the same");
                        }
                        Err(e) => check_refusal(&e, &mut last_line),
                    }
                }
            }
        }
    }
});
