//! Limits an attacker would walk around with a second session, a second account, a new
//! lookup or an employee's email change (issue 8) — end to end, on the memory store and on
//! DynamoDB Local + moto.

use crate::common;

use certificate_recovery::clock::ManualClock;
use common::{Answer, Backend, TestApp};
use serde_json::json;
use std::sync::Arc;

on_both_backends!(
    invoice_guessing_stops_across_sessions_and_accounts,
    new_lookups_do_not_reset_the_resend_cooldown,
    an_email_change_kills_the_code_sent_before,
    repeated_locked_lookups_reach_the_trail_once,
    other_refusals_reach_the_trail_once_per_session,
    concurrent_wrong_codes_from_many_accounts_stop_at_the_certificate_limit
);

async fn with_clock(backend: Backend) -> Option<TestApp> {
    let start = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    TestApp::builder(backend).clock(Arc::new(ManualClock::new(start))).spawn().await
}

fn retry_after(answer: &Answer) -> u64 {
    answer.headers.get("retry-after").expect("a Retry-After header").to_str().unwrap().parse().unwrap()
}

/// The reproduction of the review: 15 wrong invoices over three sessions, then the right one,
/// used to link a file with no access to its email. Now the account's 10 refused invoices in
/// 24 h close the path, a second account adds nothing past the certificate's 10, and even
/// the right invoice is refused until the window ends.
async fn invoice_guessing_stops_across_sessions_and_accounts(backend: Backend) {
    let Some(app) = with_clock(backend).await else { return };
    let guesser = app.token("invoice-guesser");
    let mut refused = 0;
    for session in 0..3 {
        app.lookup(&guesser, "AG-100002", "1975-06-15").await.assert(200, "matched");
        for _ in 0..5 {
            let answer = app.invoice(&guesser, &format!("F-9999-{refused:04}")).await;
            if refused < 10 {
                answer.assert(422, "invoice_not_accepted");
                // attemptsLeft is what is really left: the session's 5 or the account's 10.
                let left = (5 - (refused % 5) - 1).min(10 - refused - 1);
                assert_eq!(answer.body["attemptsLeft"], left, "session {session}, try {refused}");
            } else {
                answer.assert(429, "too_many_attempts");
                assert!(retry_after(&answer) > 23 * 3600, "until the 24 h window ends");
            }
            refused += 1;
        }
    }
    // The right invoice does not get through either: nothing was compared.
    app.lookup(&guesser, "AG-100002", "1975-06-15").await.assert(200, "matched");
    app.invoice(&guesser, "F-2026-0202").await.assert(429, "too_many_attempts");
    app.my_certificate(&guesser).await.assert(404, "not_linked");

    // A second account: the certificate has had its 10 refused invoices.
    let accomplice = app.token("invoice-accomplice");
    app.lookup(&accomplice, "AG-100002", "1975-06-15").await.assert(200, "matched");
    let answer = app.invoice(&accomplice, "F-2026-0202").await;
    answer.assert(429, "too_many_attempts");
    assert!(retry_after(&answer) > 0);
    app.my_certificate(&accomplice).await.assert(404, "not_linked");

    // The window is fixed from the first refusal: after it, the holder's invoice links.
    app.advance(24 * 3600 + 1);
    let holder = app.token("invoice-holder");
    app.lookup(&holder, "AG-100002", "1975-06-15").await.assert(200, "matched");
    app.invoice(&holder, "F-2026-0202").await.assert(200, "linked");
    // An invoice too old counts as a refusal too (covered in recovery_paths); the audit trail
    // holds each refusal once, no invoice number of another file, no date of birth.
    let events = app.audit("AG-100002").await;
    let limited = events.iter().filter(|e| e.action.as_str() == "invoice_try" && e.outcome == "too_many_attempts");
    assert!(limited.count() <= 3, "repeated refusals are recorded once per account and window");
    app.stop().await;
}

/// The review's flood: 10 code emails reached a holder in seconds through new lookups. The
/// cooldown is the certificate's, whatever the session or account.
async fn new_lookups_do_not_reset_the_resend_cooldown(backend: Backend) {
    let Some(app) = with_clock(backend).await else { return };
    let flooder = app.token("code-flooder");
    let other = app.token("code-flooder-2");
    app.lookup(&flooder, "AG-100001", "1980-02-29").await.assert(200, "matched");
    app.send_code(&flooder).await.assert(200, "code_sent");
    for token in [&flooder, &other, &flooder, &other, &flooder] {
        app.lookup(token, "AG-100001", "1980-02-29").await.assert(200, "matched");
        let answer = app.send_code(token).await;
        answer.assert(429, "resend_too_soon");
        assert!((1..=60).contains(&retry_after(&answer)), "{:?}", answer.headers);
    }
    let to = app.email_of("AG-100001");
    assert_eq!(app.emails_to(&to).await.len(), 1, "one email, not six");
    // After the cooldown, one more.
    app.advance(61);
    app.send_code(&flooder).await.assert(200, "code_sent");
    assert_eq!(app.emails_to(&to).await.len(), 2);
    app.stop().await;
}

/// A code mailed to the old address dies when an employee changes the email.
async fn an_email_change_kills_the_code_sent_before(backend: Backend) {
    let Some(app) = with_clock(backend).await else { return };
    let holder = app.token("holder-moved");
    app.lookup(&holder, "AG-100001", "1980-02-29").await.assert(200, "matched");
    app.send_code(&holder).await.assert(200, "code_sent");
    let old_code = app.latest_code("AG-100001").await;
    let asked = app.assistance(&holder).await;
    let reference = asked.body["reference"].as_str().expect("a reference").to_owned();
    app.advance(5);
    let agent = app.api.staff_token("agent-007", &["agent"]);
    let new_email = format!("jeanne+{}@nouveau.ca", certificate_recovery::ids::random_hex(4));
    let resolved = app
        .request(
            "POST",
            &format!("/agent/assistance-requests/{reference}/resolve"),
            Some(&agent),
            Some(json!({"outcome": "email_updated", "newEmail": new_email})),
        )
        .await;
    assert_eq!(resolved.status, 200, "{}", resolved.body);
    // The code sent to the old address is dead at once, before its 15 minutes.
    app.verify(&holder, &old_code).await.assert(410, "code_expired");
    app.state(&holder).await.assert(200, "matched");
    // The new address waits out the hold; then a new code goes there and links.
    app.send_code(&holder).await.assert(409, "email_change_pending");
    app.advance(86_400);
    app.lookup(&holder, "AG-100001", "1980-02-29").await.assert(200, "matched");
    app.send_code(&holder).await.assert(200, "code_sent");
    let new_code = app.emails_to(&new_email).await.last().expect("a code at the new address").code();
    app.verify(&holder, &new_code).await.assert(200, "linked");
    app.stop().await;
}

/// 40 locked lookups of one number by one account write one audit event, with the caller's
/// address.
async fn repeated_locked_lookups_reach_the_trail_once(backend: Backend) {
    let Some(app) = with_clock(backend).await else { return };
    let guesser = app.token("date-guesser");
    for day in 1..=5 {
        app.lookup(&guesser, "AG-100003", &format!("1960-01-{day:02}")).await.assert(422, "no_match");
    }
    for _ in 0..40 {
        app.lookup(&guesser, "AG-100003", "1990-11-02").await.assert(429, "locked");
    }
    let events = app.audit("AG-100003").await;
    let locked: Vec<_> = events.iter().filter(|e| e.outcome == "locked").collect();
    assert_eq!(locked.len(), 1, "{locked:?}");
    assert_eq!(locked[0].source_ip, Some("127.0.0.1".parse().unwrap()), "the caller's address is recorded");
    assert!(events.iter().all(|e| e.source_ip.is_some()), "every event of a request has its address");
    app.stop().await;
}

/// A refusal other than a limit's (`no_email_on_file`, `already_linked`, `code_expired`) is
/// recorded once per session: repeating it cannot flood a file's trail, and a new session after
/// the first one ended is recorded again.
async fn other_refusals_reach_the_trail_once_per_session(backend: Backend) {
    let Some(app) = with_clock(backend).await else { return };
    let count = |events: &[certificate_recovery::audit::AuditEvent], outcome: &str| {
        events.iter().filter(|e| e.outcome == outcome).count()
    };

    // No email on file (AG-100003), asked for a code again and again.
    let holder = app.token("no-email-holder");
    app.lookup(&holder, "AG-100003", "1990-11-02").await.assert(200, "matched");
    for _ in 0..6 {
        app.send_code(&holder).await.assert(409, "no_email_on_file");
    }
    assert_eq!(count(&app.audit("AG-100003").await, "no_email_on_file"), 1);

    // A file linked to another account (AG-100004), tried with its invoice again and again.
    let other = app.token("second-account");
    app.lookup(&other, "AG-100004", "1968-01-20").await.assert(200, "matched");
    for _ in 0..6 {
        app.invoice(&other, "F-2026-0777").await.assert(409, "already_linked");
    }
    assert_eq!(count(&app.audit("AG-100004").await, "already_linked"), 1);

    // An expired code (AG-100001), tried again and again; then a new session, after the first
    // ended, is recorded once more.
    let late = app.token("late-holder");
    for session in 1..=2 {
        app.lookup(&late, "AG-100001", "1980-02-29").await.assert(200, "matched");
        app.send_code(&late).await.assert(200, "code_sent");
        let code = app.latest_code("AG-100001").await;
        app.advance(901);
        for _ in 0..6 {
            app.verify(&late, &code).await.assert(410, "code_expired");
        }
        assert_eq!(count(&app.audit("AG-100001").await, "code_expired"), session, "session {session}");
        app.advance(900); // past the session's 30 minutes
    }
    app.stop().await;
}

/// The review's race: concurrent wrong codes from several accounts passed the 20 per
/// certificate (up to 50). Each try is now counted before the comparison.
async fn concurrent_wrong_codes_from_many_accounts_stop_at_the_certificate_limit(backend: Backend) {
    let Some(app) = with_clock(backend).await else { return };
    let app = Arc::new(app);
    let mut guessers = Vec::new();
    let mut right_codes = Vec::new();
    for i in 0..6 {
        let token = app.token(&format!("racer-{i}"));
        app.lookup(&token, "AG-100002", "1975-06-15").await.assert(200, "matched");
        app.send_code(&token).await.assert(200, "code_sent");
        right_codes.push(app.latest_code("AG-100002").await);
        guessers.push(token);
        app.advance(61);
    }
    // 6 accounts × 5 tries = 30 concurrent wrong codes against a limit of 20.
    let tries = guessers
        .iter()
        .zip(&right_codes)
        .flat_map(|(token, right)| {
            let wrong = if right == "123456" { "654321" } else { "123456" };
            (0..5).map(move |_| (token.clone(), wrong))
        })
        .map(|(token, wrong)| {
            let app = app.clone();
            async move { app.verify(&token, wrong).await.code().to_owned() }
        })
        .collect::<Vec<_>>();
    let answers = common::join_all(tries).await;
    let wrong = answers.iter().filter(|c| *c == "wrong_code").count();
    let limited = answers.iter().filter(|c| *c == "too_many_attempts").count();
    assert_eq!((wrong, limited), (20, 10), "{answers:?}");
    // Nobody links with a right code now: the certificate's wrong codes are used up.
    app.verify(&guessers[5], &right_codes[5]).await.assert(429, "too_many_attempts");
}
