//! The registry import against Amazon's DynamoDB Local: good, bad and mixed files, re-import
//! idempotence, links and audit events kept, dry run.

use certificate_recovery::audit::{Actor, AuditAction, AuditEvent};
use certificate_recovery::domain::{AccountSubject, CertificateNumber, InvoiceNumber, RecoverySession};
use certificate_recovery::store::dynamodb::DynamoStore;
use certificate_recovery::store::{AuditStore, LinkCommand, LinkOutcome, LinkProof, RecoveryStore, RegistryStore};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const HEADER: &str = "certificate_number,holder_name,date_of_birth,email,phone,language,status,expires_on\n";
const INVOICES: &str = "invoice_number,certificate_number,issued_on,amount\n";

struct Fixture {
    endpoint: String,
    table: String,
    dir: PathBuf,
    store: DynamoStore,
}

async fn fixture() -> Option<Fixture> {
    let Ok(endpoint) = std::env::var("DYNAMODB_ENDPOINT") else {
        assert!(std::env::var("REQUIRE_EMULATORS").is_err(), "REQUIRE_EMULATORS is set but DYNAMODB_ENDPOINT is not");
        eprintln!("import run left out: DYNAMODB_ENDPOINT is not set (plain cargo test)");
        return None;
    };
    let tag = certificate_recovery::ids::random_hex(6);
    let config = certificate_recovery::local_aws::sdk_config().await;
    let client = certificate_recovery::local_aws::dynamodb(&config, Some(&endpoint));
    let store = DynamoStore::new(client, format!("import-{tag}"));
    store.create_table_if_missing().await.unwrap();
    let dir = std::env::temp_dir().join(format!("import-{tag}"));
    std::fs::create_dir_all(&dir).unwrap();
    Some(Fixture { endpoint, table: store.table().to_owned(), dir, store })
}

impl Fixture {
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Runs the tool; its exit success and what it printed.
    fn import(&self, extra: &[&str]) -> (bool, String) {
        let output = Command::new(env!("CARGO_BIN_EXE_import-registry"))
            .args(["--dynamodb-endpoint", &self.endpoint, "--table", &self.table])
            .args(extra)
            .env_remove("AWS_ACCESS_KEY_ID")
            .output()
            .unwrap();
        (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

fn number(n: &str) -> CertificateNumber {
    CertificateNumber::parse(n).unwrap()
}

fn many_certificates(n: usize) -> String {
    let mut text = HEADER.to_owned();
    for i in 0..n {
        text.push_str(&format!(
            "AG-{i:06},Holder {i},1970-01-01,holder{i}@exemple.ca,514-555-0000,fr,active,2027-01-01\n"
        ));
    }
    text
}

#[tokio::test]
async fn good_files_import_and_reimport_without_losing_links_or_audit() {
    let Some(f) = fixture().await else { return };
    let certificates = f.write("certificates.csv", &many_certificates(60));
    let invoices =
        f.write("invoices.csv", &format!("{INVOICES}F-1,AG-000001,2026-01-02,245.00\nF-2,AG-000002,2025-05-06,12.5\n"));
    let (ok, out) =
        f.import(&["--certificates", certificates.to_str().unwrap(), "--invoices", invoices.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(out.contains("rows read: 62, imported: 62, rejected: 0"), "{out}");
    let file = f.store.certificate(&number("AG-000059")).await.unwrap().expect("imported");
    assert_eq!(file.holder_name, "Holder 59");
    let invoice = f.store.invoice(&InvoiceNumber::parse("F-2").unwrap()).await.unwrap().unwrap();
    assert_eq!(invoice.amount_cents, 1250);

    // Link a file and give it an audit event, then import again with a changed name.
    let account = AccountSubject::parse("linked-holder").unwrap();
    let now = time::OffsetDateTime::now_utc();
    let session = RecoverySession {
        id: "s".into(),
        account: account.clone(),
        certificate_number: number("AG-000001"),
        opened_at: now,
        expires_at: now + Duration::from_secs(600),
        code: None,
        sends: 0,
        last_sent_at: None,
        invoice_attempts: 0,
        replaced_code_hashes: Vec::new(),
    };
    let event = |outcome: &str| {
        AuditEvent::new(&number("AG-000001"), now, Actor::account(&account), AuditAction::Link, outcome)
    };
    f.store.open_session(&session, event("matched")).await.unwrap();
    let link = LinkCommand {
        account: account.clone(),
        certificate_number: number("AG-000001"),
        session_id: "s".into(),
        proof: LinkProof::Invoice { max_attempts: 5 },
        file_linked_account: None,
        account_linked_certificate: None,
        reports: Vec::new(),
        now,
        audit: vec![event("linked")],
    };
    assert_eq!(f.store.link(&link).await.unwrap(), LinkOutcome::Linked);
    let renamed = many_certificates(60).replace("Holder 1,", "Holder One,");
    let certificates = f.write("certificates.csv", &renamed);
    let (ok, out) = f.import(&["--certificates", certificates.to_str().unwrap()]);
    assert!(ok, "{out}");
    let file = f.store.certificate(&number("AG-000001")).await.unwrap().unwrap();
    assert_eq!(file.holder_name, "Holder One");
    assert_eq!(file.linked_account, Some(account), "the link is kept");
    let (trail, _) = f.store.audit_trail(&number("AG-000001"), 100, None, now).await.unwrap();
    assert_eq!(trail.len(), 2, "audit events are kept");
    // The same import again changes nothing.
    let (ok, _) = f.import(&["--certificates", certificates.to_str().unwrap()]);
    assert!(ok);
    assert_eq!(f.store.certificate(&number("AG-000001")).await.unwrap().unwrap(), file);
}

#[tokio::test]
async fn bad_rows_are_reported_by_line_and_not_written() {
    let Some(f) = fixture().await else { return };
    let text = format!(
        "{HEADER}AG-1,Bon Dossier,1980-02-29,,514-555-0101,fr,active,2027-06-30\n\
         AG-2,Mauvaise Date,1980-02-30,,514,fr,active,2027-06-30\n\
         AG-3,Mauvaise Langue,1980-01-01,,514,de,active,2027-06-30\n\
         AG-4,Courriel,1980-01-01,pas-un-courriel,514,fr,active,2027-06-30\n\
         AG-5,Court\n\
         AG-6,Bon Aussi,1981-03-03,b@exemple.ca,514,en,expired,2025-01-01\n"
    );
    let certificates = f.write("mixed.csv", &text);
    let (ok, out) = f.import(&["--certificates", certificates.to_str().unwrap()]);
    assert!(!ok, "rejected rows make the exit non-zero");
    for line in ["line 3: date_of_birth", "line 4: language", "line 5: email", "line 6: expected 8 columns"] {
        assert!(out.contains(line), "{line} missing from: {out}");
    }
    assert!(!out.contains("1980-02-30") && !out.contains("pas-un-courriel"), "values are not echoed: {out}");
    assert!(out.contains("rows read: 6, imported: 2, rejected: 4"), "{out}");
    assert!(f.store.certificate(&number("AG-1")).await.unwrap().is_some());
    assert!(f.store.certificate(&number("AG-6")).await.unwrap().is_some());
    for bad in ["AG-2", "AG-3", "AG-4", "AG-5"] {
        assert!(f.store.certificate(&number(bad)).await.unwrap().is_none(), "{bad}");
    }
    // A wrong header rejects the file.
    let wrong = f.write("wrong.csv", "number,name\nAG-9,X\n");
    let (ok, out) = f.import(&["--invoices", wrong.to_str().unwrap()]);
    assert!(!ok && out.contains("line 1: the header must be"), "{out}");
}

#[tokio::test]
async fn a_dry_run_writes_nothing() {
    let Some(f) = fixture().await else { return };
    let certificates = f.write("certificates.csv", &many_certificates(30));
    let (ok, out) = f.import(&["--certificates", certificates.to_str().unwrap(), "--dry-run"]);
    assert!(ok, "{out}");
    assert!(out.contains("rows read: 30, valid (dry run, nothing written): 30"), "{out}");
    assert!(f.store.certificate(&number("AG-000000")).await.unwrap().is_none());
}

#[tokio::test]
async fn repeated_rows_in_one_file_keep_the_last() {
    let Some(f) = fixture().await else { return };
    // The repeat comes in the next batch and far later, while earlier batches are in flight.
    let mut text = format!(
        "{HEADER}AG-7,Premier,1980-01-01,,514,fr,active,2027-01-01\nAG 7,Deuxième,1980-01-01,,514,fr,active,2027-01-01\n"
    );
    text.push_str(&many_certificates(300).replace(HEADER, ""));
    text.push_str("AG-7,Dernier,1980-01-01,,514,fr,active,2027-01-01\n");
    let certificates = f.write("repeated.csv", &text);
    let (ok, out) = f.import(&["--certificates", certificates.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert_eq!(f.store.certificate(&number("AG7")).await.unwrap().unwrap().holder_name, "Dernier");
}

#[tokio::test]
async fn a_reimport_keeps_an_employees_email_unless_told_otherwise() {
    use certificate_recovery::domain::{AssistanceRequest, AssistanceStatus, EmailAddress, PreferredTime};
    use certificate_recovery::store::{CloseOutcome, CloseRequest, DeskStore};
    let Some(f) = fixture().await else { return };
    let registry = f.write(
        "certificates.csv",
        &format!(
            "{HEADER}AG-700001,Jeanne Tremblay,1980-02-29,ancienne@exemple.ca,514-555-0101,fr,active,2027-06-30\n"
        ),
    );
    let registry = registry.to_str().unwrap();
    assert!(f.import(&["--certificates", registry]).0);
    // An employee calls the holder back and sets a new email.
    let now = time::OffsetDateTime::now_utc();
    let holder = AccountSubject::parse("holder").unwrap();
    let request = AssistanceRequest {
        reference: "R-IMPORT".into(),
        account: holder.clone(),
        certificate_number: number("AG-700001"),
        preferred_time: PreferredTime::Any,
        language: certificate_recovery::domain::Language::Fr,
        message: None,
        created_at: now,
        status: AssistanceStatus::Open,
        reported: None,
    };
    let opened =
        AuditEvent::new(&number("AG-700001"), now, Actor::account(&holder), AuditAction::AssistanceRequest, "opened");
    f.store.open_assistance_request(&request, opened).await.unwrap();
    let close = CloseRequest {
        reference: "R-IMPORT".into(),
        account: holder,
        certificate_number: number("AG-700001"),
        outcome: "email_updated".into(),
        agent: "agent-007".into(),
        new_email: Some(EmailAddress::parse("nouvelle@exemple.ca").unwrap()),
        hold: None,
        reports: Vec::new(),
        reported: false,
        email_changed_at_as_read: None,
        now,
        audit: vec![],
    };
    assert_eq!(f.store.close_assistance_request(&close).await.unwrap(), CloseOutcome::Closed);
    let email = || async { f.store.certificate(&number("AG-700001")).await.unwrap().unwrap().email.unwrap() };

    // The registry still has the old address: the re-import keeps the employee's and says so.
    let (ok, summary) = f.import(&["--certificates", registry]);
    assert!(ok, "{summary}");
    assert!(summary.contains("employee emails kept: 1"), "{summary}");
    assert_eq!(email().await.as_str(), "nouvelle@exemple.ca");
    // Told otherwise, the registry's email wins.
    let (ok, summary) = f.import(&["--certificates", registry, "--replace-employee-emails"]);
    assert!(ok, "{summary}");
    assert!(summary.contains("employee emails kept: 0"), "{summary}");
    assert_eq!(email().await.as_str(), "ancienne@exemple.ca");
}
