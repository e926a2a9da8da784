//! The registry's CSV format (the README's "Demo data"; numbers compared as `docs/rules.md#numbers` says), read row by row: `certificates.csv` and
//! `invoices.csv`. Used by the local API's `--seed` and by the registry import.

use crate::domain::{
    CertificateFile, CertificateNumber, CertificateStatus, DateOfBirth, EmailAddress, Invoice, InvoiceNumber, Language,
};
use crate::store::Store;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};
use time::Date;

pub const CERTIFICATE_HEADER: [&str; 8] =
    ["certificate_number", "holder_name", "date_of_birth", "email", "phone", "language", "status", "expires_on"];
pub const INVOICE_HEADER: [&str; 4] = ["invoice_number", "certificate_number", "issued_on", "amount"];

/// A refused row: its line in the file and why (never the refused value: it may be personal).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct RowError {
    pub line: u64,
    pub reason: String,
}

/// The bytes the CSV reader has taken but not yet left behind a record, and the line breaks
/// before them: a record's line is counted from the bytes themselves. (The csv crate's own
/// positions are taken before the blank lines it skips, and lag a line behind on CRLF files.)
/// Holds at most the reader's buffer and one record: memory stays flat.
#[derive(Default)]
struct Window {
    /// Offset in the input of `bytes[0]`.
    start: u64,
    bytes: std::collections::VecDeque<u8>,
    breaks_before_start: u64,
    /// The byte before `bytes[0]`.
    previous: u8,
}

/// A line break ends at `b`: `\n`, `\r\n` or a lone `\r`, as the CSV reader splits records.
fn ends_line(b: u8, previous: u8) -> bool {
    b == b'\r' || (b == b'\n' && previous != b'\r')
}

impl Window {
    /// The line of the record that the reader started at byte `from`: the first line at or
    /// after it that is not blank. Bytes before `from` are let go.
    fn line_of_record_at(&mut self, from: u64) -> u64 {
        while self.start < from {
            let Some(b) = self.bytes.pop_front() else { break };
            self.breaks_before_start += u64::from(ends_line(b, self.previous));
            self.previous = b;
            self.start += 1;
        }
        let (mut previous, mut blank) = (self.previous, 0);
        for &b in self.bytes.iter().take_while(|b| matches!(b, b'\r' | b'\n')) {
            blank += u64::from(ends_line(b, previous));
            previous = b;
        }
        1 + self.breaks_before_start + blank
    }
}

/// The input, copying what is read into the shared [`Window`].
struct Tracked<R> {
    inner: R,
    window: Arc<Mutex<Window>>,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.window.lock().unwrap_or_else(|p| p.into_inner()).bytes.extend(&buf[..n]);
        Ok(n)
    }
}

struct Lines<R> {
    reader: csv::Reader<Tracked<R>>,
    window: Arc<Mutex<Window>>,
}

/// The line of the record (or header) the reader started at `position`.
fn line_at(window: &Mutex<Window>, position: Option<&csv::Position>) -> u64 {
    let from = position.map_or(0, csv::Position::byte);
    window.lock().unwrap_or_else(|p| p.into_inner()).line_of_record_at(from)
}

fn reader<R: Read>(input: R, header: &[&str]) -> Result<Lines<R>, RowError> {
    let window = Arc::new(Mutex::new(Window::default()));
    let tracked = Tracked { inner: input, window: window.clone() };
    let mut lines =
        Lines { reader: csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(true).from_reader(tracked), window };
    let found = match lines.reader.headers() {
        Ok(found) => found.clone(),
        Err(e) => {
            let line = line_at(&lines.window, e.position());
            return Err(RowError { line, reason: format!("unreadable header: {e}") });
        }
    };
    if found.iter().collect::<Vec<_>>() != header {
        let line = line_at(&lines.window, found.position());
        return Err(RowError { line, reason: format!("the header must be: {}", header.join(",")) });
    }
    Ok(lines)
}

fn rows<R: Read, T>(
    lines: Lines<R>,
    width: usize,
    parse: impl Fn(&csv::StringRecord) -> Result<T, String>,
) -> impl Iterator<Item = Result<T, RowError>> {
    let Lines { reader, window } = lines;
    reader.into_records().map(move |record| {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                return Err(RowError { line: line_at(&window, e.position()), reason: "unreadable row".to_owned() });
            }
        };
        let line = line_at(&window, record.position());
        if record.len() != width {
            return Err(RowError { line, reason: format!("expected {width} columns, found {}", record.len()) });
        }
        parse(&record).map_err(|reason| RowError { line, reason })
    })
}

fn date(raw: &str, column: &str) -> Result<Date, String> {
    crate::time_format::date::parse(raw).ok_or_else(|| format!("{column} is not a YYYY-MM-DD date"))
}

/// Certificate files, one per row.
pub fn certificates<R: Read>(
    input: R,
    today: Date,
) -> Result<impl Iterator<Item = Result<CertificateFile, RowError>>, RowError> {
    let reader = reader(input, &CERTIFICATE_HEADER)?;
    Ok(rows(reader, CERTIFICATE_HEADER.len(), move |r| {
        let number = CertificateNumber::parse(&r[0]).map_err(|e| format!("certificate_number: {e}"))?;
        let holder_name = r[1].to_owned();
        if holder_name.is_empty() || holder_name.chars().count() > 200 {
            return Err("holder_name is empty or longer than 200 characters".into());
        }
        let date_of_birth = DateOfBirth::parse(&r[2], today).map_err(|e| format!("date_of_birth: {e}"))?;
        let email = match &r[3] {
            "" => None,
            raw => Some(EmailAddress::parse(raw).map_err(|e| format!("email: {e}"))?),
        };
        let phone = r[4].to_owned();
        if phone.chars().count() > 40 || !phone.chars().all(|c| c.is_ascii_digit() || " +-().x".contains(c)) {
            return Err("phone has characters other than digits, spaces and + - ( ) . x".into());
        }
        let language = Language::parse(&r[5]).ok_or("language must be fr or en")?;
        let status = CertificateStatus::parse(&r[6]).ok_or("status must be active, suspended, expired or revoked")?;
        let expires_on = date(&r[7], "expires_on")?;
        Ok(CertificateFile {
            number,
            holder_name,
            date_of_birth,
            email,
            phone,
            language,
            status,
            expires_on,
            linked_account: None,
            email_changed_at: None,
            protection: Default::default(),
        })
    }))
}

/// Amounts in dollars with at most two decimals, as cents.
fn cents(raw: &str) -> Result<i64, String> {
    let error = || "amount must be a number of dollars with at most two decimals".to_owned();
    let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
    if whole.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || fraction.len() > 2
        || !fraction.chars().all(|c| c.is_ascii_digit())
    {
        return Err(error());
    }
    let whole: i64 = whole.parse().map_err(|_| error())?;
    let fraction: i64 = format!("{fraction:0<2}").parse().map_err(|_| error())?;
    whole.checked_mul(100).and_then(|w| w.checked_add(fraction)).ok_or_else(error)
}

/// Invoices, one per row.
pub fn invoices<R: Read>(input: R) -> Result<impl Iterator<Item = Result<Invoice, RowError>>, RowError> {
    let reader = reader(input, &INVOICE_HEADER)?;
    Ok(rows(reader, INVOICE_HEADER.len(), |r| {
        Ok(Invoice {
            number: InvoiceNumber::parse(&r[0]).map_err(|e| format!("invoice_number: {e}"))?,
            certificate_number: CertificateNumber::parse(&r[1]).map_err(|e| format!("certificate_number: {e}"))?,
            issued_on: date(&r[2], "issued_on")?,
            amount_cents: cents(&r[3])?,
        })
    }))
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{file}: {source}")]
    Io { file: String, source: std::io::Error },
    #[error("{file}: {errors:?}")]
    Rows { file: String, errors: Vec<RowError> },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// A registry extract to seed: `certificates.csv`, `invoices.csv` and, optionally,
/// `links.csv` (demo links).
pub struct SeedFiles<R> {
    pub certificates: R,
    pub invoices: R,
    pub links: Option<R>,
}

/// Loads a registry extract into the store: every certificate and invoice row is checked
/// before any is written; the links are checked before any link is written.
/// Answers how many certificate files, invoices and links were loaded.
pub async fn load<R: Read>(
    store: &dyn Store,
    files: SeedFiles<R>,
    now: time::OffsetDateTime,
) -> Result<(usize, usize, usize), SeedError> {
    let rows_error = |file: &str, errors| SeedError::Rows { file: file.to_owned(), errors };
    let certificate_files: Vec<_> = certificates(files.certificates, now.date())
        .map_err(|e| rows_error("certificates.csv", vec![e]))?
        .collect::<Result<_, _>>()
        .map_err(|e| rows_error("certificates.csv", vec![e]))?;
    let bills: Vec<_> = invoices(files.invoices)
        .map_err(|e| rows_error("invoices.csv", vec![e]))?
        .collect::<Result<_, _>>()
        .map_err(|e| rows_error("invoices.csv", vec![e]))?;
    for file in &certificate_files {
        store.upsert_certificate(file, crate::store::EmployeeEmail::Keep).await?;
    }
    for invoice in &bills {
        store.upsert_invoice(invoice).await?;
    }
    let links = match files.links {
        Some(links) => load_links(store, links, now).await?,
        None => 0,
    };
    Ok((certificate_files.len(), bills.len(), links))
}

/// [`load`] from a folder (`links.csv` when present).
pub async fn load_dir(
    store: &dyn Store,
    dir: &Path,
    now: time::OffsetDateTime,
) -> Result<(usize, usize, usize), SeedError> {
    let open = |name: &str| {
        let path = dir.join(name);
        std::fs::File::open(&path).map_err(|source| SeedError::Io { file: path.display().to_string(), source })
    };
    let links = dir.join("links.csv").exists().then(|| open("links.csv")).transpose()?;
    load(store, SeedFiles { certificates: open("certificates.csv")?, invoices: open("invoices.csv")?, links }, now)
        .await
}

/// Demo links (local API only, `links.csv`: `certificate_number,account`): each file is
/// linked to the account through the store's own link write, with an audit event.
pub async fn load_links<R: Read>(store: &dyn Store, input: R, now: time::OffsetDateTime) -> Result<usize, SeedError> {
    use crate::audit::{Actor, AuditAction, AuditEvent};
    use crate::domain::{AccountSubject, RecoverySession};
    use crate::store::{LinkCommand, LinkOutcome, LinkProof};
    let reader = reader(input, &["certificate_number", "account"])
        .map_err(|e| SeedError::Rows { file: "links.csv".into(), errors: vec![e] })?;
    let links: Vec<(CertificateNumber, AccountSubject)> = rows(reader, 2, |r| {
        Ok((
            CertificateNumber::parse(&r[0]).map_err(|e| format!("certificate_number: {e}"))?,
            AccountSubject::parse(&r[1]).map_err(|e| format!("account: {e}"))?,
        ))
    })
    .collect::<Result<_, _>>()
    .map_err(|e| SeedError::Rows { file: "links.csv".into(), errors: vec![e] })?;
    for (number, account) in &links {
        let session = RecoverySession {
            id: crate::ids::session_id(),
            account: account.clone(),
            certificate_number: number.clone(),
            opened_at: now,
            expires_at: now + std::time::Duration::from_secs(60),
            code: None,
            sends: 0,
            last_sent_at: None,
            invoice_attempts: 0,
            replaced_code_hashes: Vec::new(),
        };
        let event = |action, outcome: &str| AuditEvent::new(number, now, Actor::account(account), action, outcome);
        store.open_session(&session, event(AuditAction::Lookup, "seeded")).await?;
        let current = store.certificate(number).await?;
        let command = LinkCommand {
            account: account.clone(),
            certificate_number: number.clone(),
            session_id: session.id.clone(),
            proof: LinkProof::Invoice { max_attempts: 1 },
            file_linked_account: current.and_then(|f| f.linked_account),
            account_linked_certificate: None,
            reports: Vec::new(),
            now,
            audit: vec![event(AuditAction::Link, "seeded")],
        };
        if store.link(&command).await? != LinkOutcome::Linked {
            return Err(SeedError::Rows {
                file: "links.csv".into(),
                errors: vec![RowError { line: 0, reason: format!("{number} could not be linked") }],
            });
        }
    }
    Ok(links.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn reads_good_rows_and_names_bad_lines() {
        let csv = "certificate_number,holder_name,date_of_birth,email,phone,language,status,expires_on\n\
                   AG-1001,Jeanne Tremblay,1980-02-29,jeanne@exemple.ca,514-555-0101,fr,active,2027-06-30\n\
                   AG-1002,Sam Roy,1975-13-01,,514-555-0102,en,active,2027-06-30\n\
                   AG-1003,Léa Côté,1990-01-01,,,xx,active,2027-06-30\n\
                   AG-1004,Short row\n";
        let rows: Vec<_> = certificates(csv.as_bytes(), date!(2026 - 11 - 29)).unwrap().collect();
        assert!(rows[0].as_ref().is_ok_and(|f| f.email.is_some() && f.number.as_str() == "AG1001"));
        assert_eq!(rows[1].as_ref().unwrap_err().line, 3);
        assert!(rows[1].as_ref().unwrap_err().reason.starts_with("date_of_birth"));
        assert!(!rows[1].as_ref().unwrap_err().reason.contains("1975"));
        assert_eq!(rows[2].as_ref().unwrap_err().line, 4);
        assert_eq!(rows[3].as_ref().unwrap_err().line, 5);
    }

    #[test]
    fn a_refused_row_names_its_own_line_after_blank_lines_and_on_crlf_files() {
        // Found by the property test `csv_rows_either_parse_or_give_their_line_and_a_reason`:
        // the csv crate's positions are taken before the blank lines it skips, and lag a line
        // behind on CRLF files (a Windows export named every row one line too early).
        let header = CERTIFICATE_HEADER.join(",");
        let bad = "AG-1002,Sam Roy,1975-13-01,,514-555-0102,en,active,2027-06-30";
        let multi = "AG-1003,\"Léa\nCôté\",1990-01-01,,,xx,active,2027-06-30";
        let line_of = |csv: &str| -> Vec<u64> {
            certificates(csv.as_bytes(), date!(2026 - 11 - 29))
                .unwrap()
                .filter_map(Result::err)
                .map(|e| e.line)
                .collect()
        };
        assert_eq!(line_of(&format!("{header}\n{bad}\n{bad}\n")), [2, 3]);
        assert_eq!(line_of(&format!("{header}\n\n{bad}\n\n\n{bad}")), [3, 6]);
        assert_eq!(line_of(&format!("{header}\r\n{bad}\r\n{bad}\r\n")), [2, 3]);
        assert_eq!(line_of(&format!("{header}\r\n\r\n{bad}\r\n\r\n{bad}\r\n")), [3, 5]);
        assert_eq!(line_of(&format!("{header}\n{multi}\n{bad}\n")), [2, 4]);
        assert_eq!(line_of(&format!("{header}\r{bad}\r\r{bad}\r")), [2, 4]);
        let header_late = invoices("\n\nnumber,cert\n".as_bytes()).err().unwrap();
        assert_eq!(header_late.line, 3);
    }

    #[test]
    fn refuses_a_wrong_header() {
        assert_eq!(invoices("number,cert\n".as_bytes()).err().unwrap().line, 1);
    }

    #[test]
    fn amounts_are_cents() {
        assert_eq!(cents("123.4"), Ok(12340));
        assert_eq!(cents("7"), Ok(700));
        assert!(cents("1.234").is_err() && cents("-1").is_err() && cents("").is_err());
    }
}
