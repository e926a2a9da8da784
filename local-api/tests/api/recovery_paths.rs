//! The three recovery paths and every error the citizen routes can give (`openapi.yaml`, `docs/rules.md`), end to end
//! through the local API — once on the memory store and outbox, once on DynamoDB Local and
//! moto's SES v2.

use crate::common;

use certificate_recovery::clock::ManualClock;
use certificate_recovery::settings::RuleSettings;
use common::{Backend, TestApp, spawn_app};
use serde_json::json;
use std::sync::Arc;

on_both_backends!(
    email_code_path,
    invoice_path,
    assistance_path,
    lookup_refusals_and_locks,
    certificate_lock_spans_accounts,
    routes_need_a_session,
    code_send_limits,
    wrong_expired_and_replaced_codes,
    wrong_codes_are_limited_per_certificate_across_accounts,
    invoice_refusals,
    the_invoice_age_in_the_title_follows_the_setting,
    file_linked_to_another_account,
    bad_input_changes_nothing,
    english_titles_and_unknown_routes,
);

async fn with_clock(backend: Backend, settings: RuleSettings) -> Option<TestApp> {
    let start = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    TestApp::builder(backend).settings(settings).clock(Arc::new(ManualClock::new(start))).spawn().await
}

/// No audit event holds a code, a date of birth or a full email.
fn assert_audit_is_clean(events: &[certificate_recovery::audit::AuditEvent], secrets: &[&str]) {
    let text = serde_json::to_string(events).unwrap();
    for secret in secrets {
        assert!(!text.contains(secret), "audit trail holds {secret}: {text}");
    }
}

async fn email_code_path(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let me = app.token("holder-email-path");
    app.state(&me).await.assert(200, "none");
    app.my_certificate(&me).await.assert(404, "not_linked");

    let matched = app.lookup(&me, " ag 100001 ", "1980-02-29").await;
    matched.assert(200, "matched");
    assert_eq!(matched.body["maskedEmail"], "j•••@e•••.ca");
    assert_eq!(matched.body["options"], json!(["email_code", "invoice", "assistance"]));
    app.state(&me).await.assert(200, "matched");

    let sent = app.send_code(&me).await;
    sent.assert(200, "code_sent");
    assert_eq!(sent.body["sendsLeft"], 4);
    assert_eq!(sent.body["maskedEmail"], "j•••@e•••.ca");
    assert!(sent.body["expiresAt"].as_str().is_some() && sent.body["resendAvailableAt"].as_str().is_some());
    app.state(&me).await.assert(200, "code_sent");

    let code = app.latest_code("AG-100001").await;
    let email = app.emails_to(&app.email_of("AG-100001")).await.pop().unwrap();
    assert!(email.body.contains("15 minutes") && email.body.contains("Si vous n’avez pas demandé ce code"));

    let linked = app.verify(&me, &code).await;
    linked.assert(200, "linked");
    assert_eq!(
        linked.body["certificate"],
        json!({"number": "AG100001", "holderName": "Jeanne Tremblay", "status": "active", "expiryDate": "2027-06-30"})
    );
    app.state(&me).await.assert(200, "linked");
    let mine = app.my_certificate(&me).await;
    assert_eq!(mine.status, 200);
    assert_eq!(mine.body["number"], "AG100001");
    assert!(!mine.body.to_string().contains("1980"));

    // Single use: the same code again finds no session, and the account stays linked.
    app.verify(&me, &code).await.assert(200, "linked");

    let mail = app.emails_to(&app.email_of("AG-100001")).await;
    assert_eq!(mail.len(), 2, "the code, then the link notice");
    assert!(mail[1].subject.contains("associé"));

    let events = app.audit("AG-100001").await;
    let actions: Vec<_> = events.iter().map(|e| (e.action.as_str(), e.outcome.as_str())).collect();
    for expected in [
        ("lookup", "matched"),
        ("code_send", "sent"),
        ("code_verify", "accepted"),
        ("link", "linked"),
        ("link_notice", "sent"),
    ] {
        assert!(actions.contains(&expected), "{expected:?} missing from {actions:?}");
    }
    assert!(events.windows(2).all(|w| w[0].at >= w[1].at), "newest first");
    assert_audit_is_clean(&events, &[&code, "1980-02-29", &app.email_of("AG-100001")]);
    app.stop().await;
}

async fn invoice_path(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let me = app.token("holder-invoice-path");
    let matched = app.lookup(&me, "AG-100003", "1990-11-02").await;
    matched.assert(200, "matched");
    assert_eq!(matched.body["maskedEmail"], json!(null));
    assert_eq!(matched.body["options"], json!(["invoice", "assistance"]));
    app.send_code(&me).await.assert(409, "no_email_on_file");

    let unknown = app.invoice(&me, "F-0000-0000").await;
    unknown.assert(422, "invoice_not_accepted");
    assert_eq!(unknown.body["attemptsLeft"], 4);
    let other_file = app.invoice(&me, "F-2026-0101").await;
    other_file.assert(422, "invoice_not_accepted");
    assert_eq!(other_file.body["attemptsLeft"], 3);

    let linked = app.invoice(&me, " f-2026 0310 ").await;
    linked.assert(200, "linked");
    assert_eq!(linked.body["certificate"]["number"], "AG100003");
    app.my_certificate(&me).await.assert(200, "");
    app.stop().await;
}

async fn assistance_path(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let me = app.token("holder-assistance-path");
    app.assistance(&me).await.assert(409, "no_recovery_session");
    app.lookup(&me, "AG-100005", "1985-04-05").await.assert(200, "matched");
    let first = app.assistance(&me).await;
    first.assert(201, "assistance_requested");
    let reference = first.body["reference"].as_str().unwrap().to_owned();
    assert!(reference.starts_with("AR-") && reference.len() == 12);
    let again = app.assistance(&me).await;
    again.assert(200, "assistance_requested");
    assert_eq!(again.body["reference"], reference.as_str());
    let state = app.state(&me).await;
    state.assert(200, "assistance_requested");
    assert_eq!(state.body["reference"], reference.as_str());
    let events = app.audit("AG-100005").await;
    assert_eq!(events.iter().filter(|e| e.action.as_str() == "assistance_request").count(), 1);
    assert_audit_is_clean(&events, &["1985-04-05", "Je n’ai plus accès"]);
    app.stop().await;
}

async fn lookup_refusals_and_locks(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let me = app.token("holder-guessing");
    let unknown = app.lookup(&me, "ZZ-999999", "1980-02-29").await;
    unknown.assert(422, "no_match");
    let wrong_date = app.lookup(&me, "AG-100001", "1980-03-01").await;
    wrong_date.assert(422, "no_match");
    assert_eq!(unknown.body, wrong_date.body, "the same answer for both refusals");
    for _ in 0..3 {
        app.lookup(&me, "AG-100001", "1981-01-01").await.assert(422, "no_match");
    }
    // Five failures: the account is locked, even for the right date.
    let locked = app.lookup(&me, "AG-100001", "1980-02-29").await;
    locked.assert(429, "locked");
    let retry: u64 = locked.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 23 * 3600 && retry <= 24 * 3600, "{retry}");
    app.state(&me).await.assert(200, "none");
    // Another account is not locked by this one.
    app.lookup(&app.token("someone-else"), "AG-100001", "1980-02-29").await.assert(200, "matched");
    app.stop().await;
}

async fn certificate_lock_spans_accounts(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    for i in 0..10 {
        let token = app.token(&format!("guesser-{}", i / 4));
        app.lookup(&token, "AG-100002", &format!("1970-01-{:02}", i + 1)).await.assert(422, "no_match");
    }
    let fresh = app.token("the-real-holder");
    let locked = app.lookup(&fresh, "AG-100002", "1975-06-15").await;
    locked.assert(429, "locked");
    assert!(locked.headers.contains_key("retry-after"));
    // Other certificates are untouched.
    app.lookup(&fresh, "AG-100001", "1980-02-29").await.assert(200, "matched");
    app.stop().await;
}

async fn routes_need_a_session(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let me = app.token("holder-without-session");
    app.send_code(&me).await.assert(409, "no_recovery_session");
    app.verify(&me, "123456").await.assert(409, "no_recovery_session");
    app.invoice(&me, "F-2026-0101").await.assert(409, "no_recovery_session");
    app.assistance(&me).await.assert(409, "no_recovery_session");
    app.stop().await;
}

async fn code_send_limits(backend: Backend) {
    let settings = RuleSettings { code_max_sends: 3, code_max_sends_per_certificate: 4, ..RuleSettings::default() };
    let Some(app) = with_clock(backend, settings).await else { return };
    let me = app.token("holder-resending");
    app.lookup(&me, "AG-100001", "1980-02-29").await.assert(200, "matched");
    app.send_code(&me).await.assert(200, "code_sent");
    let soon = app.send_code(&me).await;
    soon.assert(429, "resend_too_soon");
    assert_eq!(soon.headers["retry-after"], "60");
    app.advance(61);
    assert_eq!(app.send_code(&me).await.body["sendsLeft"], 1);
    app.advance(61);
    assert_eq!(app.send_code(&me).await.body["sendsLeft"], 0);
    app.advance(61);
    app.send_code(&me).await.assert(429, "too_many_codes");
    assert_eq!(app.emails_to(&app.email_of("AG-100001")).await.len(), 3);

    // A new match opens a new session, but the certificate's sends in 24 h are counted across
    // sessions and accounts: one more, then none.
    let other = app.token("holder-resending-elsewhere");
    app.lookup(&other, "AG-100001", "1980-02-29").await.assert(200, "matched");
    app.send_code(&other).await.assert(200, "code_sent");
    app.advance(61);
    app.send_code(&other).await.assert(429, "too_many_codes");
    app.stop().await;
}

async fn wrong_expired_and_replaced_codes(backend: Backend) {
    let settings = RuleSettings { code_max_wrong_per_certificate: 7, ..RuleSettings::default() };
    let Some(app) = with_clock(backend, settings).await else { return };
    let me = app.token("holder-mistyping");
    app.lookup(&me, "AG-100002", "1975-06-15").await.assert(200, "matched");
    app.verify(&me, "123456").await.assert(410, "code_expired");
    app.send_code(&me).await.assert(200, "code_sent");
    let first = app.latest_code("AG-100002").await;
    let wrong = if first == "000000" { "000001" } else { "000000" };
    for left in [4, 3] {
        let answer = app.verify(&me, wrong).await;
        answer.assert(422, "wrong_code");
        assert_eq!(answer.body["attemptsLeft"], left);
    }
    // A new code kills the old one: typing it is "expired", not a wrong try.
    app.advance(61);
    app.send_code(&me).await.assert(200, "code_sent");
    let second = app.latest_code("AG-100002").await;
    if second != first {
        app.verify(&me, &first).await.assert(410, "code_expired");
    }
    let wrong = if second == "000000" { "000001" } else { "000000" };
    for left in [4, 3, 2, 1, 0] {
        let answer = app.verify(&me, wrong).await;
        if left >= 2 {
            answer.assert(422, "wrong_code");
            assert_eq!(answer.body["attemptsLeft"], left);
        } else {
            // The certificate allows 7 wrong codes in 24 h (2 + 5 here).
            assert!(answer.code() == "wrong_code" || answer.code() == "too_many_attempts", "{}", answer.body);
        }
    }
    app.verify(&me, &second).await.assert(429, "too_many_attempts");

    // Lifetime: a fresh session's code dies after 15 minutes.
    let late = app.token("holder-too-late");
    app.lookup(&late, "AG-100001", "1980-02-29").await.assert(200, "matched");
    app.send_code(&late).await.assert(200, "code_sent");
    let code = app.latest_code("AG-100001").await;
    app.advance(15 * 60);
    app.verify(&late, &code).await.assert(410, "code_expired");
    // The 30-minute session outlives the code; after it, there is no session.
    app.advance(16 * 60);
    app.verify(&late, &code).await.assert(409, "no_recovery_session");
    app.stop().await;
}

async fn wrong_codes_are_limited_per_certificate_across_accounts(backend: Backend) {
    let settings = RuleSettings { code_max_wrong_per_certificate: 3, ..RuleSettings::default() };
    let Some(app) = with_clock(backend, settings).await else { return };
    let first = app.token("guesser-one");
    app.lookup(&first, "AG-100001", "1980-02-29").await.assert(200, "matched");
    app.send_code(&first).await.assert(200, "code_sent");
    let code = app.latest_code("AG-100001").await;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for left in [4, 3, 2] {
        assert_eq!(app.verify(&first, wrong).await.body["attemptsLeft"], left);
    }
    // Another account, its own session and code, still has 5 tries on its code — but the
    // certificate has had its 3 wrong codes in 24 h: even the right code is refused.
    let second = app.token("guesser-two");
    app.lookup(&second, "AG-100001", "1980-02-29").await.assert(200, "matched");
    // The resend cooldown is the certificate's: the other account waits for it too.
    app.send_code(&second).await.assert(429, "resend_too_soon");
    app.advance(61);
    app.send_code(&second).await.assert(200, "code_sent");
    let right = app.latest_code("AG-100001").await;
    app.verify(&second, &right).await.assert(429, "too_many_attempts");
    app.my_certificate(&second).await.assert(404, "not_linked");
    // After 24 h the certificate's window ends; a fresh code links.
    app.advance(24 * 3600);
    app.lookup(&second, "AG-100001", "1980-02-29").await.assert(200, "matched");
    app.send_code(&second).await.assert(200, "code_sent");
    let fresh = app.latest_code("AG-100001").await;
    app.verify(&second, &fresh).await.assert(200, "linked");
    app.stop().await;
}

async fn invoice_refusals(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let me = app.token("holder-old-invoice");
    app.lookup(&me, "AG-100002", "1975-06-15").await.assert(200, "matched");
    let old = app.invoice(&me, "F-2022-0042").await;
    old.assert(422, "invoice_too_old");
    assert_eq!(old.body["attemptsLeft"], 4);
    for left in [3, 2, 1, 0] {
        assert_eq!(app.invoice(&me, "F-9999").await.body["attemptsLeft"], left);
    }
    app.invoice(&me, "F-2026-0202").await.assert(429, "too_many_attempts");
    app.my_certificate(&me).await.assert(404, "not_linked");
    app.stop().await;
}

/// The refusal's title names the age limit the deployment set (`INVOICE_MAX_AGE_YEARS`), in
/// French and in English, not the default's 3 years.
async fn the_invoice_age_in_the_title_follows_the_setting(backend: Backend) {
    let settings = RuleSettings { invoice_max_age_years: 4, ..RuleSettings::default() };
    let Some(app) = TestApp::builder(backend).settings(settings).spawn().await else { return };
    let me = app.token("holder-four-years");
    app.lookup(&me, "AG-100002", "1975-06-15").await.assert(200, "matched");
    // F-2022-0042 was issued on 2022-03-01: more than 4 years ago.
    let fr = app.invoice(&me, "F-2022-0042").await;
    fr.assert(422, "invoice_too_old");
    assert_eq!(
        fr.body["title"],
        "Cette facture date de 4 ans ou plus. Utilisez une facture plus récente ou demandez de l’aide."
    );
    let body = json!({ "invoiceNumber": "F-2022-0042" });
    let en = app.request_with("POST", "/recovery/invoice", Some(&me), Some(body), &[("accept-language", "en")]).await;
    en.assert(422, "invoice_too_old");
    assert_eq!(
        en.body["title"],
        "This invoice is 4 years old or more. Use a more recent invoice or ask for assistance."
    );
    app.stop().await;
}

async fn file_linked_to_another_account(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let previous = app.token("compte-demo-existant");
    app.my_certificate(&previous).await.assert(200, "");
    // The owner looking it up again is told it is linked.
    app.lookup(&previous, "AG-100004", "1968-01-20").await.assert(200, "linked");

    let me = app.token("holder-new-account");
    let matched = app.lookup(&me, "AG-100004", "1968-01-20").await;
    matched.assert(200, "matched");
    assert_eq!(matched.body["options"], json!(["email_code", "assistance"]));
    app.invoice(&me, "F-2026-0777").await.assert(409, "already_linked");
    app.send_code(&me).await.assert(200, "code_sent");
    let code = app.latest_code("AG-100004").await;
    app.verify(&me, &code).await.assert(200, "linked");
    // The link moved: the old account lost it.
    app.my_certificate(&previous).await.assert(404, "not_linked");
    app.my_certificate(&me).await.assert(200, "");
    let events = app.audit("AG-100004").await;
    assert!(events.iter().any(|e| e.action.as_str() == "unlink" && e.actor.id() == "compte-demo-existant"));
    app.stop().await;
}

async fn bad_input_changes_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let me = app.token("holder-typos");
    let lookup = |body: serde_json::Value| app.request("POST", "/recovery/lookup", Some(&me), Some(body));
    let bad = lookup(json!({"certificateNumber": "AG-100001", "dateOfBirth": "29/02/1980"})).await;
    bad.assert(400, "invalid_request");
    assert_eq!(bad.body["errors"][0]["field"], "dateOfBirth");
    assert!(!bad.body.to_string().contains("1980"), "the refused value is not echoed");
    let wrong_type = lookup(json!({"certificateNumber": 100001, "dateOfBirth": "1980-02-29", "pin": "1"})).await;
    wrong_type.assert(400, "invalid_request");
    let fields: Vec<_> = wrong_type.body["errors"].as_array().unwrap().iter().map(|e| e["field"].clone()).collect();
    assert_eq!(fields, vec![json!("pin"), json!("certificateNumber")]);
    let raw =
        app.request_with("POST", "/recovery/lookup", Some(&me), None, &[("content-type", "application/json")]).await;
    raw.assert(400, "invalid_request");
    let malformed = app
        .client
        .post(app.api.url("/recovery/lookup"))
        .bearer_auth(&me)
        .body("{\"certificateNumber\":")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let big = json!({"certificateNumber": "A".repeat(5000), "dateOfBirth": "1980-02-29"});
    lookup(big).await.assert(413, "payload_too_large");
    app.verify(&me, "12ab56").await.assert(400, "invalid_request");
    let assistance = app
        .request("POST", "/recovery/assistance", Some(&me), Some(json!({"preferredTime": "evening", "language": "de"})))
        .await;
    assistance.assert(400, "invalid_request");
    assert_eq!(assistance.body["errors"].as_array().unwrap().len(), 2);
    assert_eq!(assistance.body["errors"][0]["reason"], "not_allowed");
    // Nothing counted: five real failures are still allowed before the lock.
    app.state(&me).await.assert(200, "none");
    for _ in 0..4 {
        app.lookup(&me, "AG-100001", "1999-09-09").await.assert(422, "no_match");
    }
    app.lookup(&me, "AG-100001", "1980-02-29").await.assert(200, "matched");
    assert!(app.audit("AG-100001").await.iter().all(|e| e.action.as_str() == "lookup"));
    app.stop().await;
}

async fn english_titles_and_unknown_routes(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let me = app.token("holder-english");
    let fr = app.lookup(&me, "ZZ-1", "1980-02-29").await;
    assert_eq!(fr.headers["content-language"], "fr");
    assert!(fr.body["title"].as_str().unwrap().contains("ne correspondent"));
    let en = app
        .request_with(
            "POST",
            "/recovery/lookup",
            Some(&me),
            Some(json!({"certificateNumber": "ZZ-1", "dateOfBirth": "1980-02-29"})),
            &[("accept-language", "en-CA,en;q=0.9")],
        )
        .await;
    en.assert(422, "no_match");
    assert_eq!(en.headers["content-language"], "en");
    assert!(en.body["title"].as_str().unwrap().contains("do not match"));
    app.request("GET", "/recovery/nothing-here", Some(&me), None).await.assert(404, "not_found");
    app.request("POST", "/recovery/lookup", None, Some(json!({}))).await.assert(401, "unauthorized");
    app.stop().await;
}

#[tokio::test]
async fn a_failed_email_leaves_nothing_half_done() {
    let app = spawn_app(Backend::Memory).await.unwrap();
    let me = app.token("holder-mail-down");
    app.lookup(&me, "AG-100001", "1980-02-29").await.assert(200, "matched");
    app.api.outbox.as_ref().unwrap().set_failing(true);
    app.send_code(&me).await.assert(503, "service_unavailable");
    app.state(&me).await.assert(200, "matched");
    app.api.outbox.as_ref().unwrap().set_failing(false);
    // No cooldown and no send were counted: a send right away works and has all its sends.
    let sent = app.send_code(&me).await;
    sent.assert(200, "code_sent");
    assert_eq!(sent.body["sendsLeft"], 4);
    let outcomes: Vec<_> = app.audit("AG-100001").await.into_iter().map(|e| e.outcome).collect();
    assert!(outcomes.contains(&"mail_failed".to_owned()));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_or_ses_down_answers_503_and_leaves_nothing_half_done() {
    let Some(app) = spawn_app(Backend::Emulators).await else { return };
    let me = app.token("holder-outage");
    app.lookup(&me, "AG-100001", "1980-02-29").await.assert(200, "matched");
    let (dynamodb, ses) = app.emulator_clients().await;
    // SES refuses: the sender's identity is gone.
    ses.delete_email_identity().email_identity(&app.sender_domain).send().await.unwrap();
    app.send_code(&me).await.assert(503, "service_unavailable");
    app.state(&me).await.assert(200, "matched");
    ses.create_email_identity().email_identity(&app.sender_domain).send().await.unwrap();
    let sent = app.send_code(&me).await;
    sent.assert(200, "code_sent");
    assert_eq!(sent.body["sendsLeft"], 4, "the failed send was not counted");
    // DynamoDB is gone.
    dynamodb.delete_table().table_name(&app.table).send().await.unwrap();
    app.lookup(&me, "AG-100001", "1980-02-29").await.assert(503, "service_unavailable");
    app.state(&me).await.assert(503, "service_unavailable");
    app.stop().await;
}
