//! One contract for the store port, run against the memory store and against Amazon's
//! DynamoDB Local: both adapters must give the same answers.

use certificate_recovery::audit::{Actor, AuditAction, AuditEvent};
use certificate_recovery::domain::*;
use certificate_recovery::iam_recording::RecordingStore;
use certificate_recovery::recovery::assistance_request::{AssistanceRequest, AssistanceStatus, PreferredTime};
use certificate_recovery::store::dynamodb::DynamoStore;
use certificate_recovery::store::memory::MemoryStore;
use certificate_recovery::store::*;
use std::time::Duration;
use time::OffsetDateTime;
use time::macros::{date, datetime};

const NOW: OffsetDateTime = datetime!(2026-11-29 12:00:00 UTC);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// DynamoDB Local, each call's store method named for the IAM recording.
async fn dynamodb() -> Option<RecordingStore<DynamoStore>> {
    let Ok(endpoint) = std::env::var("DYNAMODB_ENDPOINT") else {
        assert!(std::env::var("REQUIRE_EMULATORS").is_err(), "REQUIRE_EMULATORS is set but DYNAMODB_ENDPOINT is not");
        eprintln!("DynamoDB Local run left out: DYNAMODB_ENDPOINT is not set (plain cargo test)");
        return None;
    };
    let config = certificate_recovery::local_aws::sdk_config().await;
    let client = certificate_recovery::local_aws::dynamodb(&config, Some(&endpoint));
    let store = DynamoStore::new(client, format!("contract-{}", certificate_recovery::ids::random_hex(6)));
    store.create_table_if_missing().await.expect("table created");
    Some(RecordingStore::new(store))
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => { $(
        mod $name {
            #[tokio::test]
            async fn memory() { super::$name(&certificate_recovery::store::memory::MemoryStore::new()).await }
            #[tokio::test]
            async fn dynamodb_local() {
                if let Some(store) = super::dynamodb().await { super::$name(&store).await }
            }
        }
    )* };
}

contract!(
    files_and_invoices_round_trip,
    a_reimport_keeps_the_link,
    lookup_reservations_lock_and_release,
    sessions_replace_and_expire,
    code_sends_respect_every_limit,
    an_undone_send_restores_the_session,
    wrong_codes_count_up_to_the_limit,
    invoice_failures_count_up_to_the_limit,
    links_are_atomic_and_move,
    one_open_assistance_request_per_account,
    audit_trail_is_newest_first,
    the_queue_pages_oldest_first,
    closing_a_request_with_a_new_email_is_atomic,
    files_are_read_in_batches,
);

fn number(n: &str) -> CertificateNumber {
    CertificateNumber::parse(n).unwrap()
}

fn account(a: &str) -> AccountSubject {
    AccountSubject::parse(a).unwrap()
}

fn file(n: &str, email: Option<&str>) -> CertificateFile {
    CertificateFile {
        number: number(n),
        holder_name: "Jeanne Tremblay".into(),
        date_of_birth: DateOfBirth::from_date(date!(1980 - 02 - 29)),
        email: email.map(|e| EmailAddress::parse(e).unwrap()),
        phone: "514-555-0101".into(),
        language: Language::Fr,
        status: CertificateStatus::Active,
        expires_on: date!(2027 - 06 - 30),
        linked_account: None,
    }
}

fn event(n: &str, at: OffsetDateTime, outcome: &str) -> AuditEvent {
    AuditEvent::new(&number(n), at, Actor::Account("someone".into()), AuditAction::Lookup, outcome)
}

fn session(a: &str, n: &str) -> RecoverySession {
    RecoverySession {
        id: certificate_recovery::ids::session_id(),
        account: account(a),
        certificate_number: number(n),
        opened_at: NOW,
        expires_at: NOW + Duration::from_secs(1800),
        code: None,
        sends: 0,
        last_sent_at: None,
        invoice_attempts: 0,
        replaced_code_hashes: Vec::new(),
    }
}

fn code(id: &str, hash: &str) -> IssuedCode {
    IssuedCode {
        id: id.into(),
        hash: hash.into(),
        issued_at: NOW,
        expires_at: NOW + Duration::from_secs(900),
        attempts: 0,
    }
}

fn send(s: &RecoverySession, code: IssuedCode, sends_before: u32, now: OffsetDateTime) -> CodeSend {
    CodeSend {
        account: s.account.clone(),
        session_id: s.id.clone(),
        certificate_number: s.certificate_number.clone(),
        code,
        replaced_hash: None,
        sends_before,
        certificate_sends: None,
        max_sends: 3,
        cooldown: Duration::from_secs(60),
        max_sends_per_certificate: 4,
        window: DAY,
        now,
        audit: event(s.certificate_number.as_str(), now, "sent"),
    }
}

async fn setup(store: &dyn Store, n: &str) {
    store.upsert_certificate(&file(n, Some("jeanne@exemple.ca"))).await.unwrap();
}

async fn files_and_invoices_round_trip(store: &dyn Store) {
    let with_email = file("C-1", Some("jeanne@exemple.ca"));
    store.upsert_certificate(&with_email).await.unwrap();
    assert_eq!(store.certificate(&number("C1")).await.unwrap(), Some(with_email));
    let without_email = file("C-1", None);
    store.upsert_certificate(&without_email).await.unwrap();
    assert_eq!(store.certificate(&number("C1")).await.unwrap(), Some(without_email));
    assert_eq!(store.certificate(&number("C2")).await.unwrap(), None);
    let invoice = Invoice {
        number: InvoiceNumber::parse("F-1").unwrap(),
        certificate_number: number("C1"),
        issued_on: date!(2026 - 01 - 02),
        amount_cents: 24500,
    };
    store.upsert_invoice(&invoice).await.unwrap();
    assert_eq!(store.invoice(&InvoiceNumber::parse("f1").unwrap()).await.unwrap(), Some(invoice));
    assert_eq!(store.invoice(&InvoiceNumber::parse("F2").unwrap()).await.unwrap(), None);
}

async fn a_reimport_keeps_the_link(store: &dyn Store) {
    setup(store, "C1").await;
    let s = session("acct", "C1");
    store.open_session(&s, event("C1", NOW, "matched")).await.unwrap();
    let link = LinkCommand {
        account: account("acct"),
        certificate_number: number("C1"),
        session_id: s.id.clone(),
        proof: LinkProof::Invoice { max_attempts: 5 },
        file_linked_account: None,
        account_linked_certificate: None,
        now: NOW,
        audit: vec![event("C1", NOW, "linked")],
    };
    assert_eq!(store.link(&link).await.unwrap(), LinkOutcome::Linked);
    let mut renamed = file("C1", Some("nouveau@exemple.ca"));
    renamed.holder_name = "Jeanne Tremblay-Roy".into();
    store.upsert_certificate(&renamed).await.unwrap();
    let read = store.certificate(&number("C1")).await.unwrap().unwrap();
    assert_eq!(read.holder_name, "Jeanne Tremblay-Roy");
    assert_eq!(read.linked_account, Some(account("acct")));
    assert_eq!(store.account_view(&account("acct"), NOW).await.unwrap().link, Some(number("C1")));
    assert_eq!(store.audit_trail(&number("C1")).await.unwrap().len(), 2);
}

async fn lookup_reservations_lock_and_release(store: &dyn Store) {
    let limits = LookupLimits { per_account: 2, per_certificate: 3, window: DAY };
    let (a, b) = (account("a"), account("b"));
    let c = number("C1");
    let first = store.reserve_lookup(&a, &c, limits, NOW).await.unwrap().unwrap();
    assert_eq!(first.account_window_ends, NOW + DAY);
    store.reserve_lookup(&a, &c, limits, NOW).await.unwrap().unwrap();
    // The account is used up; nothing more is counted.
    assert_eq!(store.reserve_lookup(&a, &c, limits, NOW).await.unwrap(), Err(NOW + DAY));
    assert_eq!(store.counter(Counter::LookupFailuresOfCertificate, "C1", NOW).await.unwrap().unwrap().count, 2);
    // A match gives its try back.
    store.release_lookup(&first).await.unwrap();
    assert_eq!(store.counter(Counter::LookupFailuresOfAccount, "a", NOW).await.unwrap().unwrap().count, 1);
    store.reserve_lookup(&a, &c, limits, NOW).await.unwrap().unwrap();
    // The certificate's limit spans accounts; a refused try takes nothing from the account.
    store.reserve_lookup(&b, &c, limits, NOW).await.unwrap().unwrap();
    assert_eq!(store.reserve_lookup(&b, &c, limits, NOW).await.unwrap(), Err(NOW + DAY));
    assert_eq!(store.counter(Counter::LookupFailuresOfAccount, "b", NOW).await.unwrap().unwrap().count, 1);
    assert_eq!(store.counter(Counter::LookupFailuresOfCertificate, "C1", NOW).await.unwrap().unwrap().count, 3);
    // A new window starts after 24 h.
    let later = NOW + DAY;
    assert!(store.reserve_lookup(&a, &c, limits, later).await.unwrap().is_ok());
    assert_eq!(store.counter(Counter::LookupFailuresOfAccount, "a", later).await.unwrap().unwrap().count, 1);
}

async fn sessions_replace_and_expire(store: &dyn Store) {
    setup(store, "C1").await;
    setup(store, "C2").await;
    let first = session("acct", "C1");
    store.open_session(&first, event("C1", NOW, "matched")).await.unwrap();
    let second = session("acct", "C2");
    store.open_session(&second, event("C2", NOW, "matched")).await.unwrap();
    let context = store.session_context(&account("acct"), NOW).await.unwrap().unwrap();
    assert_eq!(context.session, second);
    assert_eq!(context.file.unwrap().number, number("C2"));
    assert_eq!(context.account_link, None);
    // Expired items read as absent even before the TTL sweep.
    assert!(store.session_context(&account("acct"), second.expires_at).await.unwrap().is_none());
    assert!(store.account_view(&account("acct"), second.expires_at).await.unwrap().session.is_none());
    assert!(store.session_context(&account("nobody"), NOW).await.unwrap().is_none());
}

async fn code_sends_respect_every_limit(store: &dyn Store) {
    setup(store, "C1").await;
    let s = session("acct", "C1");
    store.open_session(&s, event("C1", NOW, "matched")).await.unwrap();
    assert_eq!(store.record_code_sent(&send(&s, code("k1", "h1"), 0, NOW)).await.unwrap(), Ok(()));
    // The count as read must be current.
    assert_eq!(
        store.record_code_sent(&send(&s, code("k2", "h2"), 0, NOW + Duration::from_secs(61))).await.unwrap(),
        Err(CodeSendRefused::SessionChanged)
    );
    assert_eq!(
        store.record_code_sent(&send(&s, code("k2", "h2"), 1, NOW + Duration::from_secs(30))).await.unwrap(),
        Err(CodeSendRefused::TooSoon)
    );
    let mut second = send(&s, code("k2", "h2"), 1, NOW + Duration::from_secs(61));
    second.replaced_hash = Some("h1".into());
    assert_eq!(store.record_code_sent(&second).await.unwrap(), Ok(()));
    let context = store.session_context(&account("acct"), NOW + Duration::from_secs(61)).await.unwrap().unwrap();
    assert_eq!(context.session.code.as_ref().unwrap().id, "k2");
    assert_eq!(context.session.replaced_code_hashes, vec!["h1".to_owned()]);
    assert_eq!(context.session.sends, 2);
    assert_eq!(context.code_sends_of_certificate.unwrap().count, 2);
    let third = send(&s, code("k3", "h3"), 2, NOW + Duration::from_secs(122));
    assert_eq!(store.record_code_sent(&third).await.unwrap(), Ok(()));
    let fourth = send(&s, code("k4", "h4"), 3, NOW + Duration::from_secs(183));
    assert_eq!(store.record_code_sent(&fourth).await.unwrap(), Err(CodeSendRefused::SessionSendsUsedUp));
    // The certificate's sends span sessions: a new session gets one more (4 per certificate).
    let other = session("other", "C1");
    store.open_session(&other, event("C1", NOW, "matched")).await.unwrap();
    assert_eq!(store.record_code_sent(&send(&other, code("o1", "x"), 0, NOW)).await.unwrap(), Ok(()));
    let refused = send(&other, code("o2", "y"), 1, NOW + Duration::from_secs(61));
    assert_eq!(store.record_code_sent(&refused).await.unwrap(), Err(CodeSendRefused::CertificateSendsUsedUp));
}

async fn an_undone_send_restores_the_session(store: &dyn Store) {
    setup(store, "C1").await;
    let s = session("acct", "C1");
    store.open_session(&s, event("C1", NOW, "matched")).await.unwrap();
    store.record_code_sent(&send(&s, code("k1", "h1"), 0, NOW)).await.unwrap().unwrap();
    let later = NOW + Duration::from_secs(61);
    let mut second = send(&s, code("k2", "h2"), 1, later);
    second.replaced_hash = Some("h1".into());
    store.record_code_sent(&second).await.unwrap().unwrap();
    let undo = CodeSendUndo {
        account: account("acct"),
        session_id: s.id.clone(),
        certificate_number: number("C1"),
        code_id: "k2".into(),
        previous_code: Some(code("k1", "h1")),
        previous_last_sent_at: Some(NOW),
        previous_replaced_code_hashes: Vec::new(),
    };
    store.undo_code_sent(&undo).await.unwrap();
    let context = store.session_context(&account("acct"), later).await.unwrap().unwrap();
    assert_eq!(context.session.code, Some(code("k1", "h1")));
    assert_eq!(context.session.sends, 1);
    assert_eq!(context.session.last_sent_at, Some(NOW));
    assert!(context.session.replaced_code_hashes.is_empty());
    assert_eq!(context.code_sends_of_certificate.unwrap().count, 1);
}

async fn wrong_codes_count_up_to_the_limit(store: &dyn Store) {
    setup(store, "C1").await;
    let s = session("acct", "C1");
    store.open_session(&s, event("C1", NOW, "matched")).await.unwrap();
    store.record_code_sent(&send(&s, code("k1", "h1"), 0, NOW)).await.unwrap().unwrap();
    let wrong = |code_id: &str| WrongCode {
        account: account("acct"),
        session_id: s.id.clone(),
        code_id: code_id.into(),
        certificate_number: number("C1"),
        max_attempts: 2,
        window: DAY,
        now: NOW,
        audit: event("C1", NOW, "wrong_code"),
    };
    assert_eq!(store.record_wrong_code(&wrong("k1")).await.unwrap(), WrongCodeCounted::Attempts(1));
    assert_eq!(store.record_wrong_code(&wrong("k1")).await.unwrap(), WrongCodeCounted::Attempts(2));
    assert_eq!(store.record_wrong_code(&wrong("k1")).await.unwrap(), WrongCodeCounted::AttemptsUsedUp);
    assert_eq!(store.record_wrong_code(&wrong("old")).await.unwrap(), WrongCodeCounted::CodeGone);
    assert_eq!(store.counter(Counter::WrongCodesOfCertificate, "C1", NOW).await.unwrap().unwrap().count, 2);
    let context = store.session_context(&account("acct"), NOW).await.unwrap().unwrap();
    assert_eq!(context.session.code.unwrap().attempts, 2);
    assert_eq!(context.wrong_codes_of_certificate.unwrap().count, 2);
}

async fn invoice_failures_count_up_to_the_limit(store: &dyn Store) {
    setup(store, "C1").await;
    let s = session("acct", "C1");
    store.open_session(&s, event("C1", NOW, "matched")).await.unwrap();
    let failure = InvoiceFailure {
        account: account("acct"),
        session_id: s.id.clone(),
        max_attempts: 2,
        now: NOW,
        audit: event("C1", NOW, "invoice_not_accepted"),
    };
    assert_eq!(store.record_invoice_failure(&failure).await.unwrap(), Some(1));
    assert_eq!(store.record_invoice_failure(&failure).await.unwrap(), Some(2));
    assert_eq!(store.record_invoice_failure(&failure).await.unwrap(), None);
    let gone = InvoiceFailure { session_id: "another".into(), ..failure };
    assert_eq!(store.record_invoice_failure(&gone).await.unwrap(), None);
}

async fn links_are_atomic_and_move(store: &dyn Store) {
    setup(store, "C1").await;
    setup(store, "C2").await;
    // First owner links C1 by invoice.
    let first = session("first", "C1");
    store.open_session(&first, event("C1", NOW, "matched")).await.unwrap();
    let by_invoice = |s: &RecoverySession, owner: Option<&str>| LinkCommand {
        account: s.account.clone(),
        certificate_number: s.certificate_number.clone(),
        session_id: s.id.clone(),
        proof: LinkProof::Invoice { max_attempts: 5 },
        file_linked_account: owner.map(account),
        account_linked_certificate: None,
        now: NOW,
        audit: vec![event(s.certificate_number.as_str(), NOW, "linked")],
    };
    assert_eq!(store.link(&by_invoice(&first, None)).await.unwrap(), LinkOutcome::Linked);
    assert!(store.session_context(&account("first"), NOW).await.unwrap().is_none(), "the session is consumed");

    // An invoice never moves a link.
    let second = session("second", "C1");
    store.open_session(&second, event("C1", NOW, "matched")).await.unwrap();
    assert_eq!(store.link(&by_invoice(&second, Some("first"))).await.unwrap(), LinkOutcome::Conflict);
    // A stale read of the owner is refused.
    store.record_code_sent(&send(&second, code("k1", "h1"), 0, NOW)).await.unwrap().unwrap();
    let by_code = |owner: Option<&str>, code_id: &str| LinkCommand {
        proof: LinkProof::SecurityCode { code_id: code_id.into(), max_attempts: 5 },
        ..by_invoice(&second, owner)
    };
    assert_eq!(store.link(&by_code(None, "k1")).await.unwrap(), LinkOutcome::Conflict);
    assert_eq!(store.link(&by_code(Some("first"), "replaced")).await.unwrap(), LinkOutcome::Conflict);
    // The right code moves it; the first owner loses it; nothing half-done before.
    assert_eq!(store.link(&by_code(Some("first"), "k1")).await.unwrap(), LinkOutcome::Linked);
    assert_eq!(store.certificate(&number("C1")).await.unwrap().unwrap().linked_account, Some(account("second")));
    assert_eq!(store.account_view(&account("first"), NOW).await.unwrap().link, None);
    assert_eq!(store.account_view(&account("second"), NOW).await.unwrap().link, Some(number("C1")));
    // Single use: the same code cannot link again.
    assert_eq!(store.link(&by_code(Some("second"), "k1")).await.unwrap(), LinkOutcome::Conflict);

    // The account then links C2: C1 is released.
    let third = session("second", "C2");
    store.open_session(&third, event("C2", NOW, "matched")).await.unwrap();
    let mut move_account = by_invoice(&third, None);
    move_account.account_linked_certificate = Some(number("C1"));
    assert_eq!(store.link(&move_account).await.unwrap(), LinkOutcome::Linked);
    assert_eq!(store.certificate(&number("C1")).await.unwrap().unwrap().linked_account, None);
    assert_eq!(store.account_view(&account("second"), NOW).await.unwrap().link, Some(number("C2")));
}

async fn one_open_assistance_request_per_account(store: &dyn Store) {
    let request = AssistanceRequest {
        reference: "AR-0000-0001".into(),
        account: account("acct"),
        certificate_number: number("C1"),
        preferred_time: PreferredTime::Morning,
        language: Language::En,
        message: Some("Call me".into()),
        created_at: NOW,
        status: AssistanceStatus::Open,
    };
    assert_eq!(
        store.open_assistance_request(&request, event("C1", NOW, "opened")).await.unwrap(),
        AssistanceOpened::Created
    );
    let again = AssistanceRequest { reference: "AR-0000-0002".into(), message: None, ..request.clone() };
    assert_eq!(
        store.open_assistance_request(&again, event("C1", NOW, "opened")).await.unwrap(),
        AssistanceOpened::AlreadyOpen(request.clone())
    );
    assert_eq!(store.account_view(&account("acct"), NOW).await.unwrap().open_assistance, Some(request));
    assert_eq!(store.audit_trail(&number("C1")).await.unwrap().len(), 1);
}

async fn audit_trail_is_newest_first(store: &dyn Store) {
    for (i, outcome) in ["first", "second", "third"].iter().enumerate() {
        store.append_audit(&event("C1", NOW + Duration::from_secs(i as u64), outcome)).await.unwrap();
    }
    store.append_audit(&event("C2", NOW, "elsewhere")).await.unwrap();
    let outcomes: Vec<_> = store.audit_trail(&number("C1")).await.unwrap().into_iter().map(|e| e.outcome).collect();
    assert_eq!(outcomes, ["third", "second", "first"]);
}

fn request(reference: &str, account_id: &str, n: &str, at: OffsetDateTime) -> AssistanceRequest {
    AssistanceRequest {
        reference: reference.into(),
        account: account(account_id),
        certificate_number: number(n),
        preferred_time: PreferredTime::Any,
        language: Language::Fr,
        message: None,
        created_at: at,
        status: AssistanceStatus::Open,
    }
}

async fn the_queue_pages_oldest_first(store: &dyn Store) {
    for i in 0..5u64 {
        let r = request(&format!("AR-0000-000{i}"), &format!("acct-{i}"), "C1", NOW + Duration::from_secs(10 - i));
        store.open_assistance_request(&r, event("C1", NOW, "opened")).await.unwrap();
    }
    let (first, next) = store.open_assistance_requests(2, None).await.unwrap();
    let refs = |page: &[AssistanceRequest]| page.iter().map(|r| r.reference.clone()).collect::<Vec<_>>();
    assert_eq!(refs(&first), ["AR-0000-0004", "AR-0000-0003"]);
    let next = next.expect("more to come");
    let (second, next) = store.open_assistance_requests(2, Some(&next)).await.unwrap();
    assert_eq!(refs(&second), ["AR-0000-0002", "AR-0000-0001"]);
    let (third, _) = store.open_assistance_requests(2, next.as_ref()).await.unwrap();
    assert_eq!(refs(&third), ["AR-0000-0000"]);
    assert_eq!(store.assistance_request("AR-0000-0002").await.unwrap().unwrap().account, account("acct-2"));
    assert_eq!(store.assistance_request("AR-NONE").await.unwrap(), None);
}

async fn closing_a_request_with_a_new_email_is_atomic(store: &dyn Store) {
    setup(store, "C1").await;
    let r = request("AR-0000-0001", "acct", "C1", NOW);
    store.open_assistance_request(&r, event("C1", NOW, "opened")).await.unwrap();
    let limits = LookupLimits { per_account: 1, per_certificate: 5, window: DAY };
    store.reserve_lookup(&account("acct"), &number("C1"), limits, NOW).await.unwrap().unwrap();
    assert!(store.reserve_lookup(&account("acct"), &number("C1"), limits, NOW).await.unwrap().is_err(), "locked");
    let close = CloseRequest {
        reference: r.reference.clone(),
        account: account("acct"),
        certificate_number: number("C1"),
        outcome: "email_updated".into(),
        agent: "agent-1".into(),
        new_email: Some(EmailAddress::parse("nouvelle@exemple.ca").unwrap()),
        now: NOW,
        audit: vec![event("C1", NOW, "email_updated")],
    };
    assert_eq!(store.close_assistance_request(&close).await.unwrap(), CloseOutcome::Closed);
    let file = store.certificate(&number("C1")).await.unwrap().unwrap();
    assert_eq!(file.email.unwrap().as_str(), "nouvelle@exemple.ca");
    assert_eq!(store.counter(Counter::LookupFailuresOfAccount, "acct", NOW).await.unwrap(), None);
    assert_eq!(store.counter(Counter::LookupFailuresOfCertificate, "C1", NOW).await.unwrap(), None);
    assert!(store.reserve_lookup(&account("acct"), &number("C1"), limits, NOW).await.unwrap().is_ok(), "unlocked");
    let closed = store.assistance_request(&r.reference).await.unwrap().unwrap();
    assert_eq!(
        closed.status,
        AssistanceStatus::Closed { outcome: "email_updated".into(), by: "agent-1".into(), at: NOW }
    );
    assert!(store.open_assistance_requests(10, None).await.unwrap().0.is_empty());
    assert_eq!(store.account_view(&account("acct"), NOW).await.unwrap().open_assistance, None);
    // Closing again changes nothing.
    let again = CloseRequest { new_email: Some(EmailAddress::parse("autre@exemple.ca").unwrap()), ..close };
    assert_eq!(store.close_assistance_request(&again).await.unwrap(), CloseOutcome::AlreadyClosed);
    assert_eq!(store.certificate(&number("C1")).await.unwrap().unwrap().email.unwrap().as_str(), "nouvelle@exemple.ca");
    assert_eq!(store.audit_trail(&number("C1")).await.unwrap().len(), 2);
    // The account may ask again.
    let second = request("AR-0000-0002", "acct", "C1", NOW);
    assert_eq!(
        store.open_assistance_request(&second, event("C1", NOW, "opened")).await.unwrap(),
        AssistanceOpened::Created
    );
}

async fn files_are_read_in_batches(store: &dyn Store) {
    for n in ["C1", "C2", "C3"] {
        setup(store, n).await;
    }
    let files = store.certificates(&[number("C3"), number("C9"), number("C1")]).await.unwrap();
    let numbers: Vec<_> = files.iter().map(|f| f.number.as_str().to_owned()).collect();
    assert_eq!(numbers, ["C3", "C1"]);
}

#[test]
fn memory_store_is_a_store() {
    fn is_store<T: Store>() {}
    is_store::<MemoryStore>();
    is_store::<DynamoStore>();
}
