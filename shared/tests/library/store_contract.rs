//! One contract for the store port, run against the memory store and against Amazon's
//! DynamoDB Local: both adapters must give the same answers.

use certificate_recovery::audit::{Actor, AuditAction, AuditEvent};
use certificate_recovery::domain::*;
use certificate_recovery::iam_recording::RecordingStore;
use certificate_recovery::store::dynamodb::{DynamoStore, TTL_ATTRIBUTE};
use certificate_recovery::store::memory::MemoryStore;
use certificate_recovery::store::*;
use std::time::Duration;
use time::OffsetDateTime;
use time::macros::{date, datetime};

const NOW: OffsetDateTime = datetime!(2026-11-29 12:00:00 UTC);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// DynamoDB Local, each call's store method named for the IAM recording.
async fn dynamodb() -> Option<RecordingStore<DynamoStore>> {
    let endpoint = crate::emulators::dynamodb_endpoint()?;
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
    wrong_codes_of_a_certificate_are_limited_across_accounts,
    code_tries_given_back_free_their_place,
    invoice_failures_count_up_to_the_limit,
    refused_invoices_are_limited_across_sessions_and_accounts,
    repeated_refusals_reach_the_trail_once_per_window,
    when_both_limits_are_used_up_the_later_end_is_told,
    an_employee_email_outlives_a_reimport_and_kills_older_codes,
    links_are_atomic_and_move,
    one_open_assistance_request_per_account,
    audit_trail_is_newest_first,
    the_audit_trail_pages_without_duplicates_or_gaps,
    audit_events_expire_after_the_retention,
    the_queue_pages_oldest_first,
    closing_a_request_with_a_new_email_is_atomic,
    files_are_read_in_batches,
    reports_are_stored_with_the_link_and_the_email_change,
    a_link_report_unlinks_only_while_that_link_stands_and_freezes_the_file,
    an_email_change_report_restores_the_email_only_during_that_changes_hold,
    closing_a_reported_request_lifts_the_freeze_and_keeps_the_accounts_lock,
    the_email_change_hold_is_set_and_cleared,
    reported_requests_come_first_in_the_queue,
    what_ses_reports_of_a_code_reaches_its_session_while_it_holds_that_code,
    a_failed_delivery_lands_on_the_file_only_while_its_email_is_unchanged,
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
        email_changed_at: None,
        protection: Default::default(),
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
        delivery: Default::default(),
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
        certificate_last_sent: None,
        max_sends: 3,
        cooldown: Duration::from_secs(60),
        max_sends_per_certificate: 4,
        window: DAY,
        now,
    }
}

async fn setup(store: &dyn Store, n: &str) {
    store.upsert_certificate(&file(n, Some("jeanne@exemple.ca")), EmployeeEmail::Keep).await.unwrap();
}

async fn files_and_invoices_round_trip(store: &dyn Store) {
    let with_email = file("C-1", Some("jeanne@exemple.ca"));
    store.upsert_certificate(&with_email, EmployeeEmail::Keep).await.unwrap();
    assert_eq!(store.certificate(&number("C1")).await.unwrap(), Some(with_email));
    let without_email = file("C-1", None);
    store.upsert_certificate(&without_email, EmployeeEmail::Keep).await.unwrap();
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
        reports: Vec::new(),
        now: NOW,
        audit: vec![event("C1", NOW, "linked")],
    };
    assert_eq!(store.link(&link).await.unwrap(), LinkOutcome::Linked);
    let mut renamed = file("C1", Some("nouveau@exemple.ca"));
    renamed.holder_name = "Jeanne Tremblay-Roy".into();
    store.upsert_certificate(&renamed, EmployeeEmail::Keep).await.unwrap();
    let read = store.certificate(&number("C1")).await.unwrap().unwrap();
    assert_eq!(read.holder_name, "Jeanne Tremblay-Roy");
    assert_eq!(read.linked_account, Some(account("acct")));
    assert_eq!(store.account_view(&account("acct"), NOW).await.unwrap().link, Some(number("C1")));
    assert_eq!(trail(store, "C1").await.len(), 2);
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
    // The cooldown is the certificate's too: a new session of another account waits for it.
    assert_eq!(
        store.record_code_sent(&send(&other, code("o1", "x"), 0, NOW + Duration::from_secs(150))).await.unwrap(),
        Err(CodeSendRefused::TooSoon)
    );
    assert_eq!(
        store.record_code_sent(&send(&other, code("o1", "x"), 0, NOW + Duration::from_secs(183))).await.unwrap(),
        Ok(())
    );
    let refused = send(&other, code("o2", "y"), 1, NOW + Duration::from_secs(244));
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
        sent_at: later,
        previous_certificate_last_sent: Some(NOW),
    };
    store.undo_code_sent(&undo).await.unwrap();
    let context = store.session_context(&account("acct"), later).await.unwrap().unwrap();
    assert_eq!(context.session.code, Some(code("k1", "h1")));
    assert_eq!(context.session.sends, 1);
    assert_eq!(context.session.last_sent_at, Some(NOW));
    assert!(context.session.replaced_code_hashes.is_empty());
    assert_eq!(context.code_sends_of_certificate.unwrap().count, 1);
    // The failed send burnt no cooldown: the certificate's last send is the first one again.
    assert_eq!(context.last_code_sent_for_certificate, Some(NOW));
}

fn code_try(s: &RecoverySession, code_id: &str, now: OffsetDateTime) -> CodeTry {
    CodeTry {
        account: s.account.clone(),
        session_id: s.id.clone(),
        code_id: code_id.into(),
        certificate_number: s.certificate_number.clone(),
        max_attempts: 2,
        max_wrong_per_certificate: 3,
        window: DAY,
        now,
    }
}

async fn wrong_codes_count_up_to_the_limit(store: &dyn Store) {
    setup(store, "C1").await;
    let s = session("acct", "C1");
    store.open_session(&s, event("C1", NOW, "matched")).await.unwrap();
    store.record_code_sent(&send(&s, code("k1", "h1"), 0, NOW)).await.unwrap().unwrap();
    let reserved = |attempts| {
        move |counted: CodeTryCounted| match counted {
            CodeTryCounted::Reserved(r) => assert_eq!(r.attempts, attempts),
            other => panic!("expected a reserved try, got {other:?}"),
        }
    };
    reserved(1)(store.reserve_code_try(&code_try(&s, "k1", NOW)).await.unwrap());
    reserved(2)(store.reserve_code_try(&code_try(&s, "k1", NOW)).await.unwrap());
    assert_eq!(store.reserve_code_try(&code_try(&s, "k1", NOW)).await.unwrap(), CodeTryCounted::AttemptsUsedUp);
    assert_eq!(store.reserve_code_try(&code_try(&s, "old", NOW)).await.unwrap(), CodeTryCounted::CodeGone);
    assert_eq!(store.counter(Counter::WrongCodesOfCertificate, "C1", NOW).await.unwrap().unwrap().count, 2);
    let context = store.session_context(&account("acct"), NOW).await.unwrap().unwrap();
    assert_eq!(context.session.code.unwrap().attempts, 2);
    assert_eq!(context.wrong_codes_of_certificate.unwrap().count, 2);
}

async fn wrong_codes_of_a_certificate_are_limited_across_accounts(store: &dyn Store) {
    setup(store, "C1").await;
    let (a, b) = (session("a", "C1"), session("b", "C1"));
    for s in [&a, &b] {
        store.open_session(s, event("C1", NOW, "matched")).await.unwrap();
    }
    store.record_code_sent(&send(&a, code("ka", "h1"), 0, NOW)).await.unwrap().unwrap();
    store.record_code_sent(&send(&b, code("kb", "h2"), 0, NOW + Duration::from_secs(61))).await.unwrap().unwrap();
    let later = NOW + Duration::from_secs(62);
    // Three per certificate (max_wrong_per_certificate): two by a, one by b, then b is refused
    // before any comparison, and told until when.
    for (s, id) in [(&a, "ka"), (&a, "ka"), (&b, "kb")] {
        assert!(matches!(store.reserve_code_try(&code_try(s, id, later)).await.unwrap(), CodeTryCounted::Reserved(_)));
    }
    let refused = store.reserve_code_try(&code_try(&b, "kb", later)).await.unwrap();
    let CodeTryCounted::CertificateUsedUp { until } = refused else {
        panic!("expected the certificate limit: {refused:?}")
    };
    assert_eq!(until, later + DAY, "the window is fixed from its first wrong code");
    // The refused try counted nowhere: b's code still has both its tries.
    assert_eq!(store.session_context(&account("b"), later).await.unwrap().unwrap().session.code.unwrap().attempts, 1);
    assert_eq!(store.counter(Counter::WrongCodesOfCertificate, "C1", later).await.unwrap().unwrap().count, 3);
    // A third account's new session is refused too, its code untouched.
    let c = session("c", "C1");
    store.open_session(&c, event("C1", NOW, "matched")).await.unwrap();
    store.record_code_sent(&send(&c, code("kc", "h3"), 0, NOW + Duration::from_secs(130))).await.unwrap().unwrap();
    let at = NOW + Duration::from_secs(131);
    let blocked = store.reserve_code_try(&code_try(&c, "kc", at)).await.unwrap();
    assert!(matches!(blocked, CodeTryCounted::CertificateUsedUp { .. }));
    assert_eq!(store.session_context(&account("c"), at).await.unwrap().unwrap().session.code.unwrap().attempts, 0);
}

async fn code_tries_given_back_free_their_place(store: &dyn Store) {
    setup(store, "C1").await;
    let s = session("acct", "C1");
    store.open_session(&s, event("C1", NOW, "matched")).await.unwrap();
    store.record_code_sent(&send(&s, code("k1", "h1"), 0, NOW)).await.unwrap().unwrap();
    let t = code_try(&s, "k1", NOW);
    let CodeTryCounted::Reserved(r) = store.reserve_code_try(&t).await.unwrap() else { panic!("reserved") };
    store.release_code_try(&t, &r, true).await.unwrap();
    assert_eq!(store.counter(Counter::WrongCodesOfCertificate, "C1", NOW).await.unwrap().unwrap().count, 0);
    assert_eq!(store.session_context(&account("acct"), NOW).await.unwrap().unwrap().session.code.unwrap().attempts, 0);
}

fn invoice_try(s: &RecoverySession, now: OffsetDateTime) -> InvoiceTry {
    InvoiceTry {
        account: s.account.clone(),
        session_id: s.id.clone(),
        certificate_number: s.certificate_number.clone(),
        max_per_session: 2,
        max_per_account: 3,
        max_per_certificate: 4,
        window: DAY,
        now,
    }
}

async fn invoice_failures_count_up_to_the_limit(store: &dyn Store) {
    setup(store, "C1").await;
    let s = session("acct", "C1");
    store.open_session(&s, event("C1", NOW, "matched")).await.unwrap();
    let t = invoice_try(&s, NOW);
    let InvoiceTryCounted::Reserved(first) = store.reserve_invoice_try(&t).await.unwrap() else { panic!("reserved") };
    assert_eq!((first.session_attempts, first.of_account.count, first.of_certificate.count), (1, 1, 1));
    assert_eq!(first.attempts_left(&t), 1);
    assert!(matches!(store.reserve_invoice_try(&t).await.unwrap(), InvoiceTryCounted::Reserved(_)));
    assert_eq!(store.reserve_invoice_try(&t).await.unwrap(), InvoiceTryCounted::SessionUsedUp);
    let gone = InvoiceTry { session_id: "another".into(), ..t.clone() };
    assert_eq!(store.reserve_invoice_try(&gone).await.unwrap(), InvoiceTryCounted::SessionGone);
    // Refused tries counted nowhere.
    assert_eq!(store.counter(Counter::RefusedInvoicesOfCertificate, "C1", NOW).await.unwrap().unwrap().count, 2);
    assert_eq!(store.counter(Counter::RefusedInvoicesOfAccount, "acct", NOW).await.unwrap().unwrap().count, 2);
    // Given back without the session's try (after a link, which consumed the session): the
    // session keeps its count.
    store.release_invoice_try(&t, &first, false).await.unwrap();
    assert_eq!(store.account_view(&account("acct"), NOW).await.unwrap().session.unwrap().invoice_attempts, 2);
    assert_eq!(store.counter(Counter::RefusedInvoicesOfAccount, "acct", NOW).await.unwrap().unwrap().count, 1);
    // A try given back (accepted, or never compared) frees its place in the session too.
    store.release_invoice_try(&t, &first, true).await.unwrap();
    assert_eq!(store.account_view(&account("acct"), NOW).await.unwrap().session.unwrap().invoice_attempts, 1);
    assert_eq!(store.counter(Counter::RefusedInvoicesOfAccount, "acct", NOW).await.unwrap().unwrap().count, 0);
    assert!(matches!(store.reserve_invoice_try(&t).await.unwrap(), InvoiceTryCounted::Reserved(_)));
    // Not in another session of the account.
    let next = session("acct", "C1");
    store.open_session(&next, event("C1", NOW, "matched")).await.unwrap();
    store.release_invoice_try(&t, &first, true).await.unwrap();
    assert_eq!(store.account_view(&account("acct"), NOW).await.unwrap().session.unwrap().invoice_attempts, 0);
}

async fn refused_invoices_are_limited_across_sessions_and_accounts(store: &dyn Store) {
    setup(store, "C1").await;
    // The account's limit (3) holds across its sessions: a new lookup gives no tries back.
    let first = session("acct", "C1");
    store.open_session(&first, event("C1", NOW, "matched")).await.unwrap();
    for _ in 0..2 {
        assert!(matches!(
            store.reserve_invoice_try(&invoice_try(&first, NOW)).await.unwrap(),
            InvoiceTryCounted::Reserved(_)
        ));
    }
    let second = session("acct", "C1");
    store.open_session(&second, event("C1", NOW, "matched")).await.unwrap();
    assert!(matches!(
        store.reserve_invoice_try(&invoice_try(&second, NOW)).await.unwrap(),
        InvoiceTryCounted::Reserved(_)
    ));
    assert_eq!(
        store.reserve_invoice_try(&invoice_try(&second, NOW)).await.unwrap(),
        InvoiceTryCounted::Locked { until: NOW + DAY }
    );
    // The certificate's limit (4) holds across accounts.
    let other = session("other", "C1");
    store.open_session(&other, event("C1", NOW, "matched")).await.unwrap();
    let InvoiceTryCounted::Reserved(r) = store.reserve_invoice_try(&invoice_try(&other, NOW)).await.unwrap() else {
        panic!("reserved")
    };
    assert_eq!(r.of_certificate.count, 4);
    assert_eq!(
        store.reserve_invoice_try(&invoice_try(&other, NOW)).await.unwrap(),
        InvoiceTryCounted::Locked { until: NOW + DAY }
    );
    // Given back when accepted: the place is free again.
    store.release_invoice_try(&invoice_try(&other, NOW), &r, false).await.unwrap();
    assert!(matches!(
        store.reserve_invoice_try(&invoice_try(&other, NOW)).await.unwrap(),
        InvoiceTryCounted::Reserved(_)
    ));
    // The window is fixed from its first event: after it, the limits start over.
    let next_day = NOW + DAY + Duration::from_secs(1);
    let fresh = RecoverySession { expires_at: next_day + Duration::from_secs(1800), ..session("acct", "C1") };
    store.open_session(&fresh, event("C1", next_day, "matched")).await.unwrap();
    assert!(matches!(
        store.reserve_invoice_try(&invoice_try(&fresh, next_day)).await.unwrap(),
        InvoiceTryCounted::Reserved(_)
    ));
}

async fn repeated_refusals_reach_the_trail_once_per_window(store: &dyn Store) {
    setup(store, "C1").await;
    let until = NOW + Duration::from_secs(3600);
    for i in 0..5 {
        let at = NOW + Duration::from_secs(i * 60);
        assert_eq!(store.append_audit_once(&event("C1", at, "locked"), until).await.unwrap(), i == 0);
    }
    // Another account's refusal is its own.
    let by_other = AuditEvent::new(&number("C1"), NOW, Actor::Account("other".into()), AuditAction::Lookup, "locked");
    assert!(store.append_audit_once(&by_other, until).await.unwrap());
    // After the window, once more.
    assert!(store.append_audit_once(&event("C1", until, "locked"), until + DAY).await.unwrap());
    assert_eq!(trail(store, "C1").await.len(), 3);
}

async fn an_employee_email_outlives_a_reimport_and_kills_older_codes(store: &dyn Store) {
    setup(store, "C1").await;
    let s = session("acct", "C1");
    store.open_session(&s, event("C1", NOW, "matched")).await.unwrap();
    store.record_code_sent(&send(&s, code("k1", "h1"), 0, NOW)).await.unwrap().unwrap();
    let request = AssistanceRequest {
        reference: "R-1".into(),
        account: account("acct"),
        certificate_number: number("C1"),
        preferred_time: PreferredTime::Any,
        language: Language::Fr,
        message: None,
        created_at: NOW,
        status: AssistanceStatus::Open,
        reported: None,
    };
    store.open_assistance_request(&request, event("C1", NOW, "opened")).await.unwrap();
    let changed_at = NOW + Duration::from_secs(60);
    let close = CloseRequest {
        reference: "R-1".into(),
        account: account("acct"),
        certificate_number: number("C1"),
        outcome: "email_updated".into(),
        agent: "agent-1".into(),
        new_email: Some(EmailAddress::parse("nouveau@exemple.ca").unwrap()),
        hold: None,
        reports: Vec::new(),
        reported: false,
        email_changed_at_as_read: None,
        now: changed_at,
        audit: vec![],
    };
    assert_eq!(store.close_assistance_request(&close).await.unwrap(), CloseOutcome::Closed);
    let read = store.certificate(&number("C1")).await.unwrap().unwrap();
    assert_eq!(read.email.as_ref().map(|e| e.as_str()), Some("nouveau@exemple.ca"));
    assert_eq!(read.email_changed_at, Some(changed_at));
    // The code sent to the old address before the change cannot link any more.
    let by_code = LinkCommand {
        account: account("acct"),
        certificate_number: number("C1"),
        session_id: s.id.clone(),
        proof: LinkProof::SecurityCode { code_id: "k1".into(), max_attempts: 5, issued_at: NOW },
        file_linked_account: None,
        account_linked_certificate: None,
        reports: Vec::new(),
        now: changed_at,
        audit: vec![],
    };
    assert_eq!(store.link(&by_code).await.unwrap(), LinkOutcome::Conflict);
    // A re-import with the registry's old email keeps the employee's, and says so.
    assert!(store.upsert_certificate(&file("C1", Some("jeanne@exemple.ca")), EmployeeEmail::Keep).await.unwrap());
    let read = store.certificate(&number("C1")).await.unwrap().unwrap();
    assert_eq!(read.email.as_ref().map(|e| e.as_str()), Some("nouveau@exemple.ca"));
    let batch = store.certificates(&[number("C1")]).await.unwrap();
    assert_eq!(batch[0].email.as_ref().map(|e| e.as_str()), Some("nouveau@exemple.ca"));
    // Told otherwise, the registry's email wins.
    assert!(!store.upsert_certificate(&file("C1", Some("jeanne@exemple.ca")), EmployeeEmail::Replace).await.unwrap());
    let read = store.certificate(&number("C1")).await.unwrap().unwrap();
    assert_eq!(read.email.as_ref().map(|e| e.as_str()), Some("jeanne@exemple.ca"));
    // …but the code sent before the employee's change stays dead.
    assert_eq!(read.email_changed_at, Some(changed_at));
    assert_eq!(store.link(&by_code).await.unwrap(), LinkOutcome::Conflict);
    // And a later import keeps the registry's email: nothing of the employee's is left to keep.
    assert!(!store.upsert_certificate(&file("C1", Some("autre@exemple.ca")), EmployeeEmail::Keep).await.unwrap());
    let read = store.certificate(&number("C1")).await.unwrap().unwrap();
    assert_eq!(read.email.as_ref().map(|e| e.as_str()), Some("autre@exemple.ca"));
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
        reports: Vec::new(),
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
        proof: LinkProof::SecurityCode { code_id: code_id.into(), max_attempts: 5, issued_at: NOW },
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
        reported: None,
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
    assert_eq!(trail(store, "C1").await.len(), 1);
}

async fn audit_trail_is_newest_first(store: &dyn Store) {
    for (i, outcome) in ["first", "second", "third"].iter().enumerate() {
        store.append_audit(&event("C1", NOW + Duration::from_secs(i as u64), outcome)).await.unwrap();
    }
    store.append_audit(&event("C2", NOW, "elsewhere")).await.unwrap();
    let outcomes: Vec<_> = trail(store, "C1").await.into_iter().map(|e| e.outcome).collect();
    assert_eq!(outcomes, ["third", "second", "first"]);
}

/// Every page of a file's trail at `now` in pages of `limit`.
async fn pages(store: &dyn Store, n: &str, limit: usize, now: OffsetDateTime) -> Vec<Vec<AuditEvent>> {
    let mut pages = Vec::new();
    let mut after: Option<AuditPosition> = None;
    loop {
        let (page, next) = store.audit_trail(&number(n), limit, after.as_ref(), now).await.unwrap();
        pages.push(page);
        match next {
            Some(next) => after = Some(next),
            None => return pages,
        }
        assert!(pages.len() < 200, "the pages never end");
    }
}

/// A file's whole trail at `NOW`, newest first.
async fn trail(store: &dyn Store, n: &str) -> Vec<AuditEvent> {
    pages(store, n, 100, NOW).await.into_iter().flatten().collect()
}

fn ids(events: &[AuditEvent]) -> Vec<String> {
    events.iter().map(|e| e.id.clone()).collect()
}

async fn the_audit_trail_pages_without_duplicates_or_gaps(store: &dyn Store) {
    // 105 events: a second apart, and five at the very same instant (their ids decide).
    let mut written = Vec::new();
    for i in 0..100 {
        written.push(event("C1", NOW - Duration::from_secs(1000 - i), &format!("e{i}")));
    }
    for i in 0..5 {
        written.push(event("C1", NOW - Duration::from_secs(500), &format!("same-instant-{i}")));
    }
    for e in &written {
        store.append_audit(e).await.unwrap();
    }
    store.append_audit(&event("C2", NOW, "another file")).await.unwrap();
    written.sort_by_key(|e| std::cmp::Reverse(e.sort_key()));
    let newest_first = ids(&written);

    // At most 100 a page, whatever is asked.
    for (limit, page) in [(1, 1), (7, 7), (35, 35), (100, 100), (500, 100)] {
        let pages = pages(store, "C1", limit, NOW).await;
        let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
        let mut expected = vec![page; 105 / page];
        if 105 % page != 0 {
            expected.push(105 % page);
        }
        assert_eq!(sizes, expected, "pages of {limit}: full pages, no empty last one");
        let walked: Vec<AuditEvent> = pages.into_iter().flatten().collect();
        assert_eq!(ids(&walked), newest_first, "pages of {limit}: every event once, newest first");
    }
    // A position between two events (a cursor of an event since gone) reads on from there.
    let middle = &written[40];
    let between = AuditPosition::new(AuditPosition::of(middle).at_nanos() + 1, "0").unwrap();
    let (page, _) = store.audit_trail(&number("C1"), 3, Some(&between), NOW).await.unwrap();
    assert_eq!(ids(&page), newest_first[40..43]);
    // A position older than every event: nothing more.
    let oldest = AuditPosition::new(0, "0").unwrap();
    assert_eq!(store.audit_trail(&number("C1"), 3, Some(&oldest), NOW).await.unwrap(), (Vec::new(), None));
    // The other file's trail is its own.
    assert_eq!(trail(store, "C2").await.len(), 1);
    assert_eq!(trail(store, "C3").await, []);
}

/// The default retention: 730 days (`docs/rules.md#audit-retention`).
const RETENTION: Duration = Duration::from_secs(730 * 24 * 3600);

async fn audit_events_expire_after_the_retention(store: &dyn Store) {
    let ms = Duration::from_millis(1);
    let old = event("C1", NOW - RETENTION, "expires at NOW");
    let edge = event("C1", NOW - RETENTION + ms, "expires a millisecond after NOW");
    let new = event("C1", NOW, "new");
    for e in [&old, &edge, &new] {
        store.append_audit(e).await.unwrap();
    }
    let outcomes_at = |now: OffsetDateTime, limit: usize| async move {
        pages(store, "C1", limit, now).await.into_iter().flatten().map(|e| e.outcome).collect::<Vec<_>>()
    };
    assert_eq!(outcomes_at(NOW - ms, 10).await, [new.outcome.as_str(), edge.outcome.as_str(), old.outcome.as_str()]);
    // At its time plus the retention an event reads as absent, before any TTL sweep.
    assert_eq!(outcomes_at(NOW, 10).await, [new.outcome.as_str(), edge.outcome.as_str()]);
    assert_eq!(
        outcomes_at(NOW, 1).await,
        [new.outcome.as_str(), edge.outcome.as_str()],
        "paging ends at the last live event"
    );
    assert_eq!(outcomes_at(NOW + ms, 10).await, [new.outcome.as_str()]);
    assert_eq!(outcomes_at(NOW + RETENTION, 10).await, Vec::<String>::new());
    // A cursor into the expired part reads nothing.
    let (page, next) = store.audit_trail(&number("C1"), 10, Some(&AuditPosition::of(&edge)), NOW + ms).await.unwrap();
    assert_eq!((page, next), (Vec::new(), None));
}

/// The retention a store is built with is the one it applies (both stores), and DynamoDB
/// items carry it as their TTL attribute, whichever write put them there.
async fn a_configured_retention_applies(store: &dyn Store) {
    let kept = event("C1", NOW - DAY + Duration::from_secs(1), "kept");
    store.append_audit(&event("C1", NOW - DAY, "gone")).await.unwrap();
    store.append_audit(&kept).await.unwrap();
    store.open_session(&session("acct", "C1"), event("C1", NOW, "matched")).await.unwrap();
    let outcomes: Vec<String> = trail(store, "C1").await.into_iter().map(|e| e.outcome).collect();
    assert_eq!(outcomes, ["matched", "kept"]);
}

#[tokio::test]
async fn a_configured_retention_applies_memory() {
    a_configured_retention_applies(&MemoryStore::new().with_audit_retention(DAY)).await;
}

#[tokio::test]
async fn a_configured_retention_applies_dynamodb_local() {
    let Some(store) = dynamodb().await else { return };
    let store = RecordingStore::new(store.inner().clone().with_audit_retention(DAY));
    a_configured_retention_applies(&store).await;
    let store = store.inner();
    let items = store
        .client()
        .query()
        .table_name(store.table())
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S("CERT#C1".into()))
        .send()
        .await
        .unwrap()
        .items
        .unwrap();
    let ttl = |item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>| {
        item.get(TTL_ATTRIBUTE).map(|v| v.as_n().unwrap().parse::<i64>().unwrap())
    };
    let mut expiries: Vec<(String, Option<i64>)> =
        items.iter().map(|i| (i["outcome"].as_s().unwrap().clone(), ttl(i))).collect();
    expiries.sort();
    let day = DAY.as_secs() as i64;
    let now = NOW.unix_timestamp();
    assert_eq!(
        expiries,
        [
            ("gone".to_owned(), Some(now)),
            ("kept".to_owned(), Some(now + 1)),
            // Written in the session's transaction: the same TTL rule.
            ("matched".to_owned(), Some(now + day)),
        ]
    );
    // The session item keeps its own TTL: the session's end.
    let session = store
        .client()
        .query()
        .table_name(store.table())
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S("ACCOUNT#acct".into()))
        .send()
        .await
        .unwrap()
        .items
        .unwrap();
    assert_eq!(ttl(&session[0]), Some(now + 1800));
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
        reported: None,
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

    // Requests a fraction of a millisecond apart, and a position that comes back from the
    // HTTP cursor in whole milliseconds: no request shows twice, none is skipped.
    for i in 0..3u64 {
        let at = NOW + Duration::from_secs(60) + Duration::from_micros(100 * i + 50);
        let r = request(&format!("AR-0000-001{i}"), &format!("acct-1{i}"), "C1", at);
        store.open_assistance_request(&r, event("C1", at, "opened")).await.unwrap();
    }
    let (all, _) = store.open_assistance_requests(100, None).await.unwrap();
    let mut seen = Vec::new();
    let mut after: Option<QueuePosition> = None;
    for _ in 0..all.len() {
        let (page, next) = store.open_assistance_requests(2, after.as_ref()).await.unwrap();
        seen.extend(refs(&page));
        let Some(next) = next else { break };
        let millis = next.created_at.unix_timestamp_nanos() / 1_000_000 * 1_000_000;
        after = Some(QueuePosition {
            reported: false,
            created_at: time::OffsetDateTime::from_unix_timestamp_nanos(millis).unwrap(),
            reference: next.reference,
        });
    }
    assert_eq!(seen, refs(&all), "each open request once, in order");
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
        hold: None,
        reports: Vec::new(),
        reported: false,
        email_changed_at_as_read: None,
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
    assert_eq!(trail(store, "C1").await.len(), 2);
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

async fn when_both_limits_are_used_up_the_later_end_is_told(store: &dyn Store) {
    setup(store, "C1").await;
    setup(store, "C2").await;
    let limits = LookupLimits { per_account: 2, per_certificate: 2, window: DAY };
    let at = |s: u64| NOW + Duration::from_secs(s);
    // x's window starts at NOW (on C2); C1's window starts 100 s later.
    store.reserve_lookup(&account("x"), &number("C2"), limits, at(0)).await.unwrap().unwrap();
    store.reserve_lookup(&account("x"), &number("C1"), limits, at(100)).await.unwrap().unwrap();
    store.reserve_lookup(&account("y"), &number("C1"), limits, at(200)).await.unwrap().unwrap();
    // x is locked until NOW + 24 h, C1 until 100 s after: x is told the later.
    assert_eq!(store.reserve_lookup(&account("x"), &number("C1"), limits, at(300)).await.unwrap(), Err(at(100) + DAY));
    // The same for invoices: x's refused invoices from NOW, C1's from 100 s later.
    let s = |who: &str, n: &str| RecoverySession { expires_at: at(100_000), ..session(who, n) };
    let try_of = |sess: &RecoverySession, now| InvoiceTry {
        max_per_session: 9,
        max_per_account: 1,
        max_per_certificate: 1,
        ..invoice_try(sess, now)
    };
    let (x2, y1) = (s("ix", "C2"), s("iy", "C1"));
    store.open_session(&x2, event("C2", at(0), "matched")).await.unwrap();
    assert!(matches!(store.reserve_invoice_try(&try_of(&x2, at(0))).await.unwrap(), InvoiceTryCounted::Reserved(_)));
    store.open_session(&y1, event("C1", at(100), "matched")).await.unwrap();
    assert!(matches!(store.reserve_invoice_try(&try_of(&y1, at(100))).await.unwrap(), InvoiceTryCounted::Reserved(_)));
    let x1 = s("ix", "C1");
    store.open_session(&x1, event("C1", at(200), "matched")).await.unwrap();
    assert_eq!(
        store.reserve_invoice_try(&try_of(&x1, at(200))).await.unwrap(),
        InvoiceTryCounted::Locked { until: at(100) + DAY }
    );
}

// "This wasn't me" (`docs/rules.md#this-wasnt-me`), the email-change hold and delivery.

const HOUR: Duration = Duration::from_secs(3600);

/// The items of one partition, raw.
async fn raw_partition(
    store: &DynamoStore,
    pk: &str,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    store
        .client()
        .query()
        .table_name(store.table())
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.into()))
        .send()
        .await
        .unwrap()
        .items
        .unwrap()
}

/// The report and message items expire by DynamoDB's TTL (240 h after the event; 30 days after
/// the send), and the audit events written with them carry theirs.
#[tokio::test]
async fn report_and_message_items_carry_their_ttl_dynamodb_local() {
    let Some(store) = dynamodb().await else { return };
    setup(&store, "C1").await;
    let link = link_with_report(&store, "holder", "C1", "hash-ttl", NOW).await;
    let message = SentMessage {
        message_id: "m-ttl".into(),
        certificate_number: number("C1"),
        purpose: MessagePurpose::NoticeToFileAddress,
        file_email_changed_at: None,
        sent_at: NOW,
        delivery: Delivery::Sent,
    };
    store.record_message(&message, &event("C1", NOW, "sent")).await.unwrap();
    let bounced = DeliveryUpdate {
        message,
        delivery: Delivery::Bounced,
        at: NOW + HOUR,
        on_file: true,
        audit: Some(event("C1", NOW + HOUR, "bounced")),
    };
    store.record_delivery(&bounced).await.unwrap();
    assert_eq!(store.file_report(&filing(&link, "AR-TTL", true, false, NOW + HOUR)).await.unwrap(), ReportFiled::Filed);
    let store = store.inner();
    let ttl = |item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>| {
        item.get(TTL_ATTRIBUTE).map(|v| v.as_n().unwrap().parse::<i64>().unwrap())
    };
    let report = raw_partition(store, "REPORT#hash-ttl").await;
    assert_eq!(report.iter().map(ttl).collect::<Vec<_>>(), [Some((NOW + REPORT_TOKEN_LIFETIME).unix_timestamp())]);
    let message = raw_partition(store, "MESSAGE#m-ttl").await;
    assert_eq!(message.iter().map(ttl).collect::<Vec<_>>(), [Some((NOW + MESSAGE_RETENTION).unix_timestamp())]);
    let file = raw_partition(store, "CERT#C1").await;
    let audit: Vec<_> = file.iter().filter(|i| i["sk"].as_s().unwrap().starts_with("AUDIT#")).collect();
    assert_eq!(audit.len(), 5, "matched, linked, sent, bounced, filed");
    assert!(audit.iter().all(|i| ttl(i).is_some()), "every audit event expires");
    let others: Vec<_> = file.iter().filter(|i| !i["sk"].as_s().unwrap().starts_with("AUDIT#")).collect();
    assert!(others.iter().all(|i| ttl(i).is_none()), "the file's own items never expire");
}

fn report(hash: &str, kind: ReportKind, n: &str, a: &str, at: OffsetDateTime) -> Report {
    Report {
        token_hash: hash.into(),
        kind,
        certificate_number: number(n),
        account: account(a),
        occurred_at: at,
        expires_at: at + REPORT_TOKEN_LIFETIME,
        used: None,
    }
}

/// Links `a` to `n` by invoice at `at`, with the link notice's report `hash`.
async fn link_with_report(store: &dyn Store, a: &str, n: &str, hash: &str, at: OffsetDateTime) -> Report {
    let r = report(hash, ReportKind::Link, n, a, at);
    let outcome = link_by_invoice(store, a, n, at, vec![r.clone()], vec![event(n, at, "linked")]).await;
    assert_eq!(outcome, LinkOutcome::Linked);
    r
}

/// Links `a` to `n` by invoice at `at`, without a report: `Linked` or `Conflict`.
async fn try_to_link(store: &dyn Store, a: &str, n: &str, at: OffsetDateTime) -> LinkOutcome {
    link_by_invoice(store, a, n, at, Vec::new(), vec![]).await
}

/// Opens a session of `a` on `n` at `at` and links them by invoice, as the file and the account
/// stand, with `reports` and `audit`.
async fn link_by_invoice(
    store: &dyn Store,
    a: &str,
    n: &str,
    at: OffsetDateTime,
    reports: Vec<Report>,
    audit: Vec<AuditEvent>,
) -> LinkOutcome {
    let s = RecoverySession { opened_at: at, expires_at: at + HOUR, ..session(a, n) };
    store.open_session(&s, event(n, at, "matched")).await.unwrap();
    let linked = store.certificate(&number(n)).await.unwrap().unwrap().linked_account;
    let account_link = store.account_view(&account(a), at).await.unwrap().link;
    let command = LinkCommand {
        account: account(a),
        certificate_number: number(n),
        session_id: s.id.clone(),
        proof: LinkProof::Invoice { max_attempts: 5 },
        file_linked_account: linked,
        account_linked_certificate: account_link,
        reports,
        now: at,
        audit,
    };
    store.link(&command).await.unwrap()
}

/// Confirming `report` at `now`, opening the reported request `reference`.
fn filing(report: &Report, reference: &str, unlink: bool, restore_email: bool, now: OffsetDateTime) -> FileReport {
    let n = report.certificate_number.as_str();
    FileReport {
        report: report.clone(),
        unlink,
        restore_email,
        request: AssistanceRequest {
            reported: Some(report.kind),
            ..request(reference, report.account.as_str(), n, now)
        },
        now,
        audit: vec![event(n, now, "filed")],
    }
}

/// An employee closes `r` at `now`, with a new email (and its hold and reports) or without.
fn close_of(r: &AssistanceRequest, now: OffsetDateTime, new_email: Option<&str>) -> CloseRequest {
    CloseRequest {
        reference: r.reference.clone(),
        account: r.account.clone(),
        certificate_number: r.certificate_number.clone(),
        outcome: if new_email.is_some() { "email_updated" } else { "unreachable" }.into(),
        agent: "agent-1".into(),
        new_email: new_email.map(|e| EmailAddress::parse(e).unwrap()),
        hold: None,
        reports: Vec::new(),
        reported: r.reported.is_some(),
        email_changed_at_as_read: None,
        now,
        audit: vec![event(r.certificate_number.as_str(), now, "closed")],
    }
}

fn email(e: &str) -> EmailAddress {
    EmailAddress::parse(e).unwrap()
}

async fn file_of(store: &dyn Store, n: &str) -> CertificateFile {
    store.certificate(&number(n)).await.unwrap().unwrap()
}

async fn open_reports(store: &dyn Store, n: &str) -> Vec<String> {
    let mut references = file_of(store, n).await.protection.open_reports;
    references.sort();
    references
}

async fn reports_are_stored_with_the_link_and_the_email_change(store: &dyn Store) {
    setup(store, "C1").await;
    let link = link_with_report(store, "holder", "C1", "hash-link", NOW).await;
    assert_eq!(store.report("hash-link", NOW).await.unwrap(), Some(link.clone()));
    assert_eq!(store.report("hash-none", NOW).await.unwrap(), None);
    let r = request("AR-0000-0001", "holder", "C1", NOW);
    store.open_assistance_request(&r, event("C1", NOW, "opened")).await.unwrap();
    let changed = NOW + HOUR;
    let reports = vec![
        report("hash-new", ReportKind::EmailChange, "C1", "holder", changed),
        report("hash-old", ReportKind::EmailChange, "C1", "holder", changed),
    ];
    let close = CloseRequest { reports: reports.clone(), ..close_of(&r, changed, Some("nouvelle@exemple.ca")) };
    assert_eq!(store.close_assistance_request(&close).await.unwrap(), CloseOutcome::Closed);
    for stored in &reports {
        assert_eq!(store.report(&stored.token_hash, changed).await.unwrap().as_ref(), Some(stored));
    }
    // Valid 240 h: then it reads as absent (before any TTL sweep), and cannot be filed.
    let last = link.expires_at - Duration::from_millis(1);
    assert_eq!(store.report("hash-link", last).await.unwrap(), Some(link.clone()));
    assert_eq!(store.report("hash-link", link.expires_at).await.unwrap(), None);
    let too_late = filing(&link, "AR-0000-0002", true, false, link.expires_at);
    assert_eq!(store.file_report(&too_late).await.unwrap(), ReportFiled::Unusable);
    assert_eq!(file_of(store, "C1").await.linked_account, Some(account("holder")));
    assert!(store.open_assistance_requests(10, None).await.unwrap().0.is_empty());
}

async fn a_link_report_unlinks_only_while_that_link_stands_and_freezes_the_file(store: &dyn Store) {
    setup(store, "C1").await;
    let first = link_with_report(store, "first", "C1", "hash-first", NOW).await;
    // The second account moves the link with a code: its own report.
    let s = session("second", "C1");
    store.open_session(&s, event("C1", NOW, "matched")).await.unwrap();
    store.record_code_sent(&send(&s, code("k1", "h1"), 0, NOW)).await.unwrap().unwrap();
    let moved_at = NOW + Duration::from_secs(60);
    let second = report("hash-second", ReportKind::Link, "C1", "second", moved_at);
    let by_code = LinkCommand {
        account: account("second"),
        certificate_number: number("C1"),
        session_id: s.id.clone(),
        proof: LinkProof::SecurityCode { code_id: "k1".into(), max_attempts: 5, issued_at: NOW },
        file_linked_account: Some(account("first")),
        account_linked_certificate: None,
        reports: vec![second.clone()],
        now: moved_at,
        audit: vec![],
    };
    assert_eq!(store.link(&by_code).await.unwrap(), LinkOutcome::Linked);

    // The first link no longer stands: as read before the move, nothing happens.
    let at = NOW + HOUR;
    let stale = filing(&first, "AR-0000-0001", true, false, at);
    assert_eq!(store.file_report(&stale).await.unwrap(), ReportFiled::FileChanged);
    assert_eq!(store.report("hash-first", at).await.unwrap(), Some(first.clone()), "still usable");
    assert_eq!(file_of(store, "C1").await.linked_account, Some(account("second")));
    assert_eq!(store.account_view(&account("second"), at).await.unwrap().link, Some(number("C1")));
    assert!(open_reports(store, "C1").await.is_empty());
    assert!(store.open_assistance_requests(10, None).await.unwrap().0.is_empty());
    assert_eq!(store.assistance_request("AR-0000-0001").await.unwrap(), None);

    // The standing link: undone, the file frozen, a reported request opened — no account's own.
    let trail_before = trail(store, "C1").await.len();
    let filed = filing(&second, "AR-0000-0002", true, false, at);
    assert_eq!(store.file_report(&filed).await.unwrap(), ReportFiled::Filed);
    let file = file_of(store, "C1").await;
    assert_eq!(file.linked_account, None);
    assert_eq!(file.protection.open_reports, ["AR-0000-0002"]);
    assert!(file.protection.frozen());
    let view = store.account_view(&account("second"), at).await.unwrap();
    assert_eq!((view.link, view.open_assistance), (None, None));
    assert_eq!(store.report("hash-second", at).await.unwrap().unwrap().used, Some((at, "AR-0000-0002".to_owned())));
    let (queue, _) = store.open_assistance_requests(10, None).await.unwrap();
    assert_eq!(queue, std::slice::from_ref(&filed.request));
    assert_eq!(queue[0].reported, Some(ReportKind::Link));
    assert_eq!(store.assistance_request("AR-0000-0002").await.unwrap(), Some(filed.request.clone()));
    assert_eq!(trail(store, "C1").await.len(), trail_before + 1);
    // Single use (used tells first, though its link is gone too).
    let again = filing(&second, "AR-0000-0003", true, false, at);
    assert_eq!(store.file_report(&again).await.unwrap(), ReportFiled::Unusable);
    // The first report, read again (its link is gone): filed without undoing anything.
    let first_filed = filing(&first, "AR-0000-0004", false, false, at);
    assert_eq!(store.file_report(&first_filed).await.unwrap(), ReportFiled::Filed);
    assert_eq!(open_reports(store, "C1").await, ["AR-0000-0002", "AR-0000-0004"]);

    // Frozen: no self-service link, until every report is resolved.
    assert_eq!(try_to_link(store, "third", "C1", at).await, LinkOutcome::Conflict);
    let close = close_of(&filed.request, at, None);
    assert_eq!(store.close_assistance_request(&close).await.unwrap(), CloseOutcome::Closed);
    assert_eq!(open_reports(store, "C1").await, ["AR-0000-0004"]);
    assert_eq!(try_to_link(store, "third", "C1", at).await, LinkOutcome::Conflict);
    let close = close_of(&first_filed.request, at, None);
    assert_eq!(store.close_assistance_request(&close).await.unwrap(), CloseOutcome::Closed);
    assert!(!file_of(store, "C1").await.protection.frozen());
    assert_eq!(try_to_link(store, "third", "C1", at).await, LinkOutcome::Linked);
}

async fn an_email_change_report_restores_the_email_only_during_that_changes_hold(store: &dyn Store) {
    setup(store, "C1").await;
    let r = request("AR-0000-0001", "holder", "C1", NOW);
    store.open_assistance_request(&r, event("C1", NOW, "opened")).await.unwrap();
    let changed = NOW + Duration::from_secs(60);
    let of_change = |hash: &str, at| report(hash, ReportKind::EmailChange, "C1", "holder", at);
    let (to_new, to_old, of_another_change) =
        (of_change("hash-new", changed), of_change("hash-old", changed), of_change("hash-other", NOW));
    let close = CloseRequest {
        hold: Some(EmailHold { until: changed + DAY, previous_email: email("jeanne@exemple.ca") }),
        reports: vec![to_new.clone(), to_old.clone(), of_another_change.clone()],
        ..close_of(&r, changed, Some("nouvelle@exemple.ca"))
    };
    assert_eq!(store.close_assistance_request(&close).await.unwrap(), CloseOutcome::Closed);
    // The new address bounces: on the file.
    let notice = SentMessage {
        message_id: "m-notice".into(),
        certificate_number: number("C1"),
        purpose: MessagePurpose::NoticeToFileAddress,
        file_email_changed_at: Some(changed),
        sent_at: changed,
        delivery: Delivery::Sent,
    };
    store.record_message(&notice, &event("C1", changed, "new_address_sent")).await.unwrap();
    let bounced =
        DeliveryUpdate { message: notice, delivery: Delivery::Bounced, at: changed + HOUR, on_file: true, audit: None };
    store.record_delivery(&bounced).await.unwrap();
    let file = file_of(store, "C1").await;
    assert_eq!(file.email, Some(email("nouvelle@exemple.ca")));
    assert_eq!(file.protection.email_hold_until, Some(changed + DAY));
    assert_eq!(file.protection.previous_email, Some(email("jeanne@exemple.ca")));
    assert!(file.protection.email_delivery.is_some());

    // Not that change (a report of another), or after the hold: nothing happens.
    let during = changed + 2 * HOUR;
    let other = filing(&of_another_change, "AR-0000-0002", false, true, during);
    assert_eq!(store.file_report(&other).await.unwrap(), ReportFiled::FileChanged);
    let after_hold = filing(&to_old, "AR-0000-0002", false, true, changed + DAY);
    assert_eq!(store.file_report(&after_hold).await.unwrap(), ReportFiled::FileChanged);
    assert_eq!(file_of(store, "C1").await, file, "nothing changed");
    assert_eq!(store.report("hash-old", during).await.unwrap(), Some(to_old.clone()));

    // During the hold: the address before is back, the hold ends, the file is frozen.
    let restored = filing(&to_old, "AR-0000-0003", false, true, during);
    assert_eq!(store.file_report(&restored).await.unwrap(), ReportFiled::Filed);
    let file = file_of(store, "C1").await;
    assert_eq!(file.email, Some(email("jeanne@exemple.ca")));
    assert_eq!(file.email_changed_at, Some(during), "every code sent before dies");
    assert_eq!(file.protection.email_hold_until, None);
    assert_eq!(file.protection.previous_email, None);
    assert_eq!(file.protection.email_delivery, None, "the bounce was the other address's");
    assert_eq!(file.protection.open_reports, ["AR-0000-0003"]);
    // The other notice's report of the same change: nothing left to restore.
    let late = filing(&to_new, "AR-0000-0004", false, true, during);
    assert_eq!(store.file_report(&late).await.unwrap(), ReportFiled::FileChanged);
    let late = filing(&to_new, "AR-0000-0004", false, false, during);
    assert_eq!(store.file_report(&late).await.unwrap(), ReportFiled::Filed);
    assert_eq!(open_reports(store, "C1").await, ["AR-0000-0003", "AR-0000-0004"]);
    assert_eq!(file_of(store, "C1").await.email, Some(email("jeanne@exemple.ca")));
    // The address a report put back is no employee's: a registry import replaces it.
    let registry = self::file("C1", Some("registre@exemple.ca"));
    assert!(!store.upsert_certificate(&registry, EmployeeEmail::Keep).await.unwrap());
    let file = file_of(store, "C1").await;
    assert_eq!(file.email, Some(email("registre@exemple.ca")));
    assert_eq!(file.email_changed_at, Some(during));
    assert_eq!(open_reports(store, "C1").await, ["AR-0000-0003", "AR-0000-0004"], "an import keeps the freeze");
}

async fn closing_a_reported_request_lifts_the_freeze_and_keeps_the_accounts_lock(store: &dyn Store) {
    setup(store, "C1").await;
    // The holder asked for help, then someone else's lookups locked the holder's account.
    let own = request("AR-0000-0001", "holder", "C1", NOW);
    store.open_assistance_request(&own, event("C1", NOW, "opened")).await.unwrap();
    let link = link_with_report(store, "holder", "C1", "hash-link", NOW).await;
    let limits = LookupLimits { per_account: 1, per_certificate: 5, window: DAY };
    store.reserve_lookup(&account("holder"), &number("C1"), limits, NOW).await.unwrap().unwrap();
    let at = NOW + HOUR;
    let filed = filing(&link, "AR-0000-0002", true, false, at);
    assert_eq!(store.file_report(&filed).await.unwrap(), ReportFiled::Filed);
    assert_eq!(store.account_view(&account("holder"), at).await.unwrap().open_assistance, Some(own.clone()));
    let (queue, _) = store.open_assistance_requests(10, None).await.unwrap();
    let refs: Vec<&str> = queue.iter().map(|r| r.reference.as_str()).collect();
    assert_eq!(refs, ["AR-0000-0002", "AR-0000-0001"], "the report first");

    let close = close_of(&filed.request, at, Some("nouvelle@exemple.ca"));
    assert!(close.reported);
    assert_eq!(store.close_assistance_request(&close).await.unwrap(), CloseOutcome::Closed);
    let file = file_of(store, "C1").await;
    assert_eq!(file.email, Some(email("nouvelle@exemple.ca")));
    assert!(!file.protection.frozen());
    // The certificate's lock is cleared; the account the report names is not the caller's: its stays.
    assert_eq!(store.counter(Counter::LookupFailuresOfCertificate, "C1", at).await.unwrap(), None);
    assert_eq!(store.counter(Counter::LookupFailuresOfAccount, "holder", at).await.unwrap().unwrap().count, 1);
    // The holder's own request is untouched.
    assert_eq!(store.account_view(&account("holder"), at).await.unwrap().open_assistance, Some(own.clone()));
    assert_eq!(store.open_assistance_requests(10, None).await.unwrap().0, [own]);
    assert_eq!(try_to_link(store, "holder", "C1", at).await, LinkOutcome::Linked);
}

async fn the_email_change_hold_is_set_and_cleared(store: &dyn Store) {
    setup(store, "C1").await;
    let mut at = NOW;
    let mut next_request = 0;
    let mut last_change = None;
    let mut change = |new_email: &str, hold: Option<EmailHold>| {
        next_request += 1;
        at += HOUR;
        let r = request(&format!("AR-0000-000{next_request}"), "holder", "C1", at);
        // Each change is written over the one before, as read.
        let as_read = last_change.replace(at);
        (r.clone(), CloseRequest { hold, email_changed_at_as_read: as_read, ..close_of(&r, at, Some(new_email)) })
    };
    let held = |until, previous: &str| Some(EmailHold { until, previous_email: email(previous) });
    let (r, close) = change("a@exemple.ca", held(NOW + DAY, "jeanne@exemple.ca"));
    store.open_assistance_request(&r, event("C1", NOW, "opened")).await.unwrap();
    store.close_assistance_request(&close).await.unwrap();
    let file = file_of(store, "C1").await;
    assert_eq!(file.protection.email_hold_until, Some(NOW + DAY));
    assert_eq!(file.protection.previous_email, Some(email("jeanne@exemple.ca")));
    assert_eq!(store.certificates(&[number("C1")]).await.unwrap(), std::slice::from_ref(&file), "a batch read too");
    // A registry import keeps the employee's email, and its hold with it.
    assert!(store.upsert_certificate(&self::file("C1", Some("jeanne@exemple.ca")), EmployeeEmail::Keep).await.unwrap());
    assert_eq!(file_of(store, "C1").await, file);
    // A change without a hold has none.
    let (r, close) = change("b@exemple.ca", None);
    store.open_assistance_request(&r, event("C1", NOW, "opened")).await.unwrap();
    store.close_assistance_request(&close).await.unwrap();
    let file = file_of(store, "C1").await;
    assert_eq!(file.email, Some(email("b@exemple.ca")));
    assert_eq!((file.protection.email_hold_until, file.protection.previous_email), (None, None));
    // Told otherwise, an import drops the employee's email and its hold.
    let (r, close) = change("c@exemple.ca", held(NOW + 2 * DAY, "b@exemple.ca"));
    store.open_assistance_request(&r, event("C1", NOW, "opened")).await.unwrap();
    store.close_assistance_request(&close).await.unwrap();
    assert_eq!(file_of(store, "C1").await.protection.email_hold_until, Some(NOW + 2 * DAY));
    assert!(
        !store.upsert_certificate(&self::file("C1", Some("jeanne@exemple.ca")), EmployeeEmail::Replace).await.unwrap()
    );
    let file = file_of(store, "C1").await;
    assert_eq!(file.email, Some(email("jeanne@exemple.ca")));
    assert_eq!((file.protection.email_hold_until, &file.protection.previous_email), (None, &None));
    assert_eq!(store.certificates(&[number("C1")]).await.unwrap(), std::slice::from_ref(&file));
    // A close written over a change it did not read (a report's restore, another employee's
    // change in between) is refused, and changes nothing.
    let later = NOW + 10 * HOUR;
    let r = request("AR-0000-0009", "holder", "C1", later);
    store.open_assistance_request(&r, event("C1", later, "opened")).await.unwrap();
    let stale = CloseRequest { email_changed_at_as_read: Some(NOW), ..close_of(&r, later, Some("d@exemple.ca")) };
    assert!(store.close_assistance_request(&stale).await.is_err());
    assert_eq!(file_of(store, "C1").await, file);
    assert!(store.assistance_request("AR-0000-0009").await.unwrap().unwrap().is_open());
}

async fn reported_requests_come_first_in_the_queue(store: &dyn Store) {
    // Three requests of holders, then two reports, newer.
    for i in 0..3u64 {
        let r = request(&format!("AR-0000-000{i}"), &format!("acct-{i}"), "C1", NOW + Duration::from_secs(i));
        store.open_assistance_request(&r, event("C1", NOW, "opened")).await.unwrap();
    }
    for (i, n) in ["C7", "C8"].into_iter().enumerate() {
        setup(store, n).await;
        let at = NOW + HOUR + Duration::from_secs(i as u64);
        let link = link_with_report(store, &format!("linked-{i}"), n, &format!("hash-{i}"), at).await;
        let filed = filing(&link, &format!("AR-0000-100{i}"), true, false, at);
        assert_eq!(store.file_report(&filed).await.unwrap(), ReportFiled::Filed);
    }
    let expected = ["AR-0000-1000", "AR-0000-1001", "AR-0000-0000", "AR-0000-0001", "AR-0000-0002"];
    let refs = |page: &[AssistanceRequest]| page.iter().map(|r| r.reference.clone()).collect::<Vec<_>>();
    let (all, next) = store.open_assistance_requests(100, None).await.unwrap();
    assert_eq!((refs(&all), next), (expected.map(String::from).to_vec(), None));
    assert_eq!(all[0].reported, Some(ReportKind::Link));
    assert_eq!(all[2].reported, None);
    // Every page size walks across the boundary once, with positions through the cursor's
    // milliseconds.
    for limit in 1..=5 {
        let mut seen = Vec::new();
        let mut after: Option<QueuePosition> = None;
        for _ in 0..10 {
            let (page, next) = store.open_assistance_requests(limit, after.as_ref()).await.unwrap();
            assert!(page.len() <= limit);
            seen.extend(refs(&page));
            let Some(next) = next else { break };
            let millis = next.created_at.unix_timestamp_nanos() / 1_000_000 * 1_000_000;
            after =
                Some(QueuePosition { created_at: OffsetDateTime::from_unix_timestamp_nanos(millis).unwrap(), ..next });
        }
        assert_eq!(seen, expected, "pages of {limit}");
    }
    // A position at the last report reads on with the oldest request of a holder.
    let last_report =
        QueuePosition { reported: true, created_at: all[1].created_at, reference: all[1].reference.clone() };
    let (page, _) = store.open_assistance_requests(2, Some(&last_report)).await.unwrap();
    assert_eq!(refs(&page), ["AR-0000-0000", "AR-0000-0001"]);
}

async fn what_ses_reports_of_a_code_reaches_its_session_while_it_holds_that_code(store: &dyn Store) {
    setup(store, "C1").await;
    let s = session("acct", "C1");
    store.open_session(&s, event("C1", NOW, "matched")).await.unwrap();
    store.record_code_sent(&send(&s, code("k1", "h1"), 0, NOW)).await.unwrap().unwrap();
    let of_code = |id: &str, code_id: &str| SentMessage {
        message_id: id.into(),
        certificate_number: number("C1"),
        purpose: MessagePurpose::SecurityCode {
            account: account("acct"),
            session_id: s.id.clone(),
            code_id: code_id.into(),
        },
        file_email_changed_at: None,
        sent_at: NOW,
        delivery: Delivery::Sent,
    };
    let message = of_code("m-1", "k1");
    store.record_message(&message, &event("C1", NOW, "sent")).await.unwrap();
    assert_eq!(store.message("m-1", NOW).await.unwrap(), Some(message.clone()));
    assert_eq!(
        store.message("m-1", NOW + MESSAGE_RETENTION - Duration::from_millis(1)).await.unwrap(),
        Some(message.clone())
    );
    assert_eq!(store.message("m-1", NOW + MESSAGE_RETENTION).await.unwrap(), None, "kept 30 days");
    assert_eq!(store.message("m-2", NOW).await.unwrap(), None);
    assert_eq!(trail(store, "C1").await.len(), 2, "the send's event is written with the message");
    let code_delivery = || async move {
        let context = store.session_context(&account("acct"), NOW).await.unwrap().unwrap();
        let code = context.session.code.unwrap();
        (code.id, code.delivery)
    };
    assert_eq!(code_delivery().await, ("k1".to_owned(), Delivery::Sent));

    let update = |message: &SentMessage, delivery: Delivery, at: OffsetDateTime| DeliveryUpdate {
        message: message.clone(),
        delivery,
        at,
        on_file: delivery.failed(),
        audit: delivery.failed().then(|| event("C1", at, delivery.as_str())),
    };
    store.record_delivery(&update(&message, Delivery::Delivered, NOW + Duration::from_secs(5))).await.unwrap();
    let read = store.message("m-1", NOW).await.unwrap().unwrap();
    assert_eq!(read.delivery, Delivery::Delivered);
    assert_eq!(code_delivery().await, ("k1".to_owned(), Delivery::Delivered));
    // A bounce after it: on the message, the code and the file (whose email is unchanged).
    let bounced_at = NOW + Duration::from_secs(10);
    store.record_delivery(&update(&read, Delivery::Bounced, bounced_at)).await.unwrap();
    assert_eq!(store.message("m-1", NOW).await.unwrap().unwrap().delivery, Delivery::Bounced);
    assert_eq!(code_delivery().await, ("k1".to_owned(), Delivery::Bounced));
    let problem = EmailDeliveryProblem { state: Delivery::Bounced, at: bounced_at };
    assert_eq!(file_of(store, "C1").await.protection.email_delivery, Some(problem));
    assert_eq!(trail(store, "C1").await.len(), 3);
    // A late delivery (as read before the bounce) never takes it back.
    store.record_delivery(&update(&message, Delivery::Delivered, NOW + Duration::from_secs(20))).await.unwrap();
    assert_eq!(store.message("m-1", NOW).await.unwrap().unwrap().delivery, Delivery::Bounced);
    assert_eq!(code_delivery().await, ("k1".to_owned(), Delivery::Bounced));
    let on_file = file_of(store, "C1").await.protection.email_delivery;
    assert_eq!(on_file.map(|p| p.state), Some(Delivery::Bounced));

    // A new code starts as sent; a report of the old code's email is no longer the session's.
    let later = NOW + Duration::from_secs(61);
    let mut second = send(&s, code("k2", "h2"), 1, later);
    second.replaced_hash = Some("h1".into());
    store.record_code_sent(&second).await.unwrap().unwrap();
    assert_eq!(code_delivery().await, ("k2".to_owned(), Delivery::Sent));
    let old_code = of_code("m-2", "k1");
    store.record_message(&old_code, &event("C1", NOW, "sent")).await.unwrap();
    store.record_delivery(&update(&old_code, Delivery::Delivered, later)).await.unwrap();
    assert_eq!(store.message("m-2", later).await.unwrap().unwrap().delivery, Delivery::Delivered);
    assert_eq!(code_delivery().await, ("k2".to_owned(), Delivery::Sent));
    let new_code = of_code("m-3", "k2");
    store.record_message(&new_code, &event("C1", later, "sent")).await.unwrap();
    store.record_delivery(&update(&new_code, Delivery::Delivered, later)).await.unwrap();
    assert_eq!(code_delivery().await, ("k2".to_owned(), Delivery::Delivered));
    // A message never recorded (or gone) changes nothing.
    store.record_delivery(&update(&of_code("m-unknown", "k2"), Delivery::Complained, later)).await.unwrap();
    assert_eq!(store.message("m-unknown", later).await.unwrap(), None);
    assert_eq!(code_delivery().await, ("k2".to_owned(), Delivery::Delivered));
    assert_eq!(file_of(store, "C1").await.protection.email_delivery, on_file);
}

async fn a_failed_delivery_lands_on_the_file_only_while_its_email_is_unchanged(store: &dyn Store) {
    setup(store, "C1").await;
    let sent = |id: &str, purpose: MessagePurpose, changed: Option<OffsetDateTime>, at: OffsetDateTime| SentMessage {
        message_id: id.into(),
        certificate_number: number("C1"),
        purpose,
        file_email_changed_at: changed,
        sent_at: at,
        delivery: Delivery::Sent,
    };
    let failed = |message: &SentMessage, delivery: Delivery, at: OffsetDateTime| DeliveryUpdate {
        message: message.clone(),
        delivery,
        at,
        on_file: true,
        audit: Some(event("C1", at, delivery.as_str())),
    };
    let notice = sent("n-1", MessagePurpose::NoticeToFileAddress, None, NOW);
    store.record_message(&notice, &event("C1", NOW, "sent")).await.unwrap();
    // An employee changes the email: the old address is told.
    let r = request("AR-0000-0001", "holder", "C1", NOW);
    store.open_assistance_request(&r, event("C1", NOW, "opened")).await.unwrap();
    let changed = NOW + HOUR;
    store.close_assistance_request(&close_of(&r, changed, Some("nouvelle@exemple.ca"))).await.unwrap();
    let to_old = sent("o-1", MessagePurpose::NoticeToOldAddress, Some(changed), changed);
    store.record_message(&to_old, &event("C1", changed, "old_address_sent")).await.unwrap();
    let events = trail(store, "C1").await.len();
    // The old address's bounces never reach the file: neither the notice to it, nor the
    // notice sent to it before the change.
    store.record_delivery(&failed(&to_old, Delivery::Bounced, changed + HOUR)).await.unwrap();
    store.record_delivery(&failed(&notice, Delivery::Bounced, changed + HOUR)).await.unwrap();
    assert_eq!(store.message("o-1", changed).await.unwrap().unwrap().delivery, Delivery::Bounced);
    assert_eq!(store.message("n-1", changed).await.unwrap().unwrap().delivery, Delivery::Bounced);
    assert_eq!(file_of(store, "C1").await.protection.email_delivery, None);
    assert_eq!(trail(store, "C1").await.len(), events, "nothing on the file's trail");
    // The new address's: on the file, with its event.
    let to_new = sent("n-2", MessagePurpose::NoticeToFileAddress, Some(changed), changed);
    store.record_message(&to_new, &event("C1", changed, "new_address_sent")).await.unwrap();
    let complained_at = changed + 2 * HOUR;
    store.record_delivery(&failed(&to_new, Delivery::Complained, complained_at)).await.unwrap();
    assert_eq!(
        file_of(store, "C1").await.protection.email_delivery,
        Some(EmailDeliveryProblem { state: Delivery::Complained, at: complained_at })
    );
    assert_eq!(trail(store, "C1").await.len(), events + 2);
    // Another change: the new address starts clean.
    let r = request("AR-0000-0002", "holder", "C1", changed);
    store.open_assistance_request(&r, event("C1", changed, "opened")).await.unwrap();
    let again = CloseRequest {
        email_changed_at_as_read: Some(changed),
        ..close_of(&r, changed + DAY, Some("autre@exemple.ca"))
    };
    store.close_assistance_request(&again).await.unwrap();
    assert_eq!(file_of(store, "C1").await.protection.email_delivery, None);
}
