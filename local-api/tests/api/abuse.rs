//! Abuse at an attacker's scale (issue 9, item 5), end to end through the local API — on the
//! memory store and on DynamoDB Local + moto: guesses spread over 50 accounts, 20 concurrent
//! wrong codes at the certificate's edge, a resend flood with new lookups in between, and a
//! locked holder who waits out `Retry-After`. The smaller cases (two or three accounts, one
//! session) are in `limits_across_sessions.rs`, `recovery_paths.rs` and `races.rs`.
//!
//! Every test runs on a manual clock that starts on a whole second, so each `Retry-After` is
//! known to the second.

use crate::common;

use certificate_recovery::clock::ManualClock;
use certificate_recovery::store::Counter;
use common::{Answer, Backend, TestApp, join_all};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

on_both_backends!(
    date_of_birth_guessing_over_50_accounts_stops_at_the_certificate_limit,
    invoice_guessing_over_50_accounts_stops_at_the_certificate_limit,
    code_guessing_over_many_sessions_stops_at_20_with_20_concurrent_tries_at_the_edge,
    a_resend_flood_with_new_lookups_stops_at_the_cooldown_and_the_certificate_cap,
    a_locked_account_stays_locked_across_new_sign_ins_until_retry_after,
);

const DAY: u64 = 24 * 3600;
const ACCOUNTS: usize = 50;

async fn with_clock(backend: Backend) -> Option<Arc<TestApp>> {
    let start = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    TestApp::builder(backend).clock(Arc::new(ManualClock::new(start))).spawn().await.map(Arc::new)
}

/// What a holder (or a script) notices of one answer: status, `state` or problem `code`, and
/// `Retry-After` — checked to be the same in the header and in the body's `retryAfter`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    status: u16,
    what: String,
    retry_after: Option<u64>,
}

impl Seen {
    #[track_caller]
    fn of(answer: &Answer) -> Self {
        let header = answer.headers.get("retry-after").map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
        assert_eq!(header, answer.body["retryAfter"].as_u64(), "header and body agree: {}", answer.body);
        let what = if answer.status.is_success() { answer.state() } else { answer.code() };
        Self { status: answer.status.as_u16(), what: what.to_owned(), retry_after: header }
    }
}

/// Runs the futures concurrently, at most `width` in flight. A burst of 150 requests at once
/// outruns DynamoDB Local on two shared cores (the SDK's 3 s timeout answers 503); five at a
/// time keeps every limit's edge contended without measuring the emulator.
async fn in_flight<F>(width: usize, futures: Vec<F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let gate = Arc::new(tokio::sync::Semaphore::new(width));
    let gated = futures
        .into_iter()
        .map(|f| {
            let gate = gate.clone();
            async move {
                let _turn = gate.acquire_owned().await.expect("semaphore");
                f.await
            }
        })
        .collect();
    join_all(gated).await
}

/// How many answers of each kind (`"429 locked"`…).
fn tally(seen: &[Seen]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for s in seen {
        *counts.entry(format!("{} {}", s.status, s.what)).or_default() += 1;
    }
    counts
}

fn expected(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().filter(|(_, n)| *n > 0).map(|(k, n)| ((*k).to_owned(), *n)).collect()
}

/// Seconds from the app's clock to `until`.
fn seconds_until(app: &TestApp, until: time::OffsetDateTime) -> u64 {
    (until - app.api.app.clock.now()).whole_seconds().try_into().unwrap()
}

async fn counter(app: &TestApp, counter: Counter, key: &str) -> u32 {
    let now = app.api.app.clock.now();
    app.api.app.store.counter(counter, key, now).await.unwrap().map_or(0, |c| c.count)
}

/// A six-digit code that is not `right`.
fn wrong_for(right: &str) -> String {
    format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000)
}

/// `GET /me/certificate` answers the file `number` (normalized).
async fn assert_linked_to(app: &TestApp, token: &str, number: &str) {
    let mine = app.my_certificate(token).await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    assert_eq!(mine.body["number"], number);
}

/// The audit events of a file with this action and outcome.
async fn audited(app: &TestApp, certificate: &str, action: &str, outcome: &str) -> usize {
    app.audit(certificate).await.iter().filter(|e| e.action.as_str() == action && e.outcome == outcome).count()
}

/// 50 accounts guess two dates of birth each (100 guesses, five at a time), then all try the
/// right one: only 10 guesses are ever compared, the right date never opens a session, and
/// the real holder is told the truth (429 `locked`, the window's end) and served once it has
/// passed.
async fn date_of_birth_guessing_over_50_accounts_stops_at_the_certificate_limit(backend: Backend) {
    let Some(app) = with_clock(backend).await else { return };
    let start = app.api.app.clock.now();
    let guesses = (0..ACCOUNTS * 2)
        .map(|i| {
            let app = app.clone();
            let token = app.token(&format!("dob-guesser-{}", i / 2));
            // 100 distinct wrong dates (the file's is 1975-06-15).
            let date = time::macros::date!(1974 - 01 - 01) + time::Duration::days(i as i64);
            async move { Seen::of(&app.lookup(&token, "AG-100002", &date.to_string()).await) }
        })
        .collect();
    let seen = in_flight(5, guesses).await;
    assert_eq!(tally(&seen), expected(&[("422 no_match", 10), ("429 locked", 90)]), "{seen:?}");
    // The window runs from the first failure and the clock has not moved: a full day.
    assert!(seen.iter().filter(|s| s.what == "locked").all(|s| s.retry_after == Some(DAY)), "{seen:?}");
    assert_eq!(counter(&app, Counter::LookupFailuresOfCertificate, "AG100002").await, 10);

    // Whoever found the date now cannot use it: the 50 accounts all try the right one.
    let right = (0..ACCOUNTS)
        .map(|a| {
            let app = app.clone();
            let token = app.token(&format!("dob-guesser-{a}"));
            async move {
                let seen = Seen::of(&app.lookup(&token, "AG-100002", "1975-06-15").await);
                (seen, app.state(&token).await.state().to_owned())
            }
        })
        .collect();
    for (seen, state) in in_flight(5, right).await {
        assert_eq!(seen, Seen { status: 429, what: "locked".into(), retry_after: Some(DAY) });
        assert_eq!(state, "none", "no recovery session was opened");
    }

    // An hour later the real holder, on an account of their own, is told when to come back.
    app.advance(3600);
    let holder = app.token("dob-real-holder");
    let locked = app.lookup(&holder, "AG-100002", "1975-06-15").await;
    locked.assert(429, "locked");
    assert_eq!(Seen::of(&locked).retry_after, Some(DAY - 3600));
    app.advance(DAY - 3600 - 1);
    assert_eq!(Seen::of(&app.lookup(&holder, "AG-100002", "1975-06-15").await).retry_after, Some(1));
    app.advance(1);
    assert_eq!(app.api.app.clock.now() - start, time::Duration::seconds(DAY as i64));
    app.lookup(&holder, "AG-100002", "1975-06-15").await.assert(200, "matched");
    app.send_code(&holder).await.assert(200, "code_sent");
    let code = app.latest_code("AG-100002").await;
    app.verify(&holder, &code).await.assert(200, "linked");
    assert_linked_to(&app, &holder, "AG100002").await;

    // The trail: the 10 compared guesses, one `locked` per account (50 guessers and the
    // holder) — not 142 — and no match but the holder's.
    assert_eq!(audited(&app, "AG-100002", "lookup", "no_match").await, 10);
    assert_eq!(audited(&app, "AG-100002", "lookup", "locked").await, ACCOUNTS + 1);
    assert_eq!(audited(&app, "AG-100002", "lookup", "matched").await, 1);
}

/// 50 accounts, each with the right date of birth and so a session of its own (5 invoice
/// tries each, 250 in all), guess two invoices each, five at a time: 10 are compared, the rest
/// are refused with the window's end, and the right invoice is refused to all of them after.
/// The holder's emailed code still works meanwhile: the invoice lock closes only that path.
async fn invoice_guessing_over_50_accounts_stops_at_the_certificate_limit(backend: Backend) {
    let Some(app) = with_clock(backend).await else { return };
    let tokens: Vec<String> = (0..ACCOUNTS).map(|a| app.token(&format!("invoice-guesser-{a}"))).collect();
    // Five at a time: a lookup is counted against the certificate's 10 failures until it
    // matches, so more than 10 at once of one file can be refused `locked` even when right.
    let lookups = tokens
        .iter()
        .map(|token| {
            let (app, token) = (app.clone(), token.clone());
            async move { Seen::of(&app.lookup(&token, "AG-100001", "1980-02-29").await) }
        })
        .collect();
    assert_eq!(tally(&in_flight(5, lookups).await), expected(&[("200 matched", ACCOUNTS)]));

    let guesses = (0..ACCOUNTS * 2)
        .map(|i| {
            let (app, token) = (app.clone(), tokens[i / 2].clone());
            async move { Seen::of(&app.invoice(&token, &format!("F-2026-{:04}", 5000 + i)).await) }
        })
        .collect();
    let seen = in_flight(5, guesses).await;
    assert_eq!(tally(&seen), expected(&[("422 invoice_not_accepted", 10), ("429 too_many_attempts", 90)]), "{seen:?}");
    assert!(seen.iter().filter(|s| s.status == 429).all(|s| s.retry_after == Some(DAY)), "{seen:?}");
    assert_eq!(counter(&app, Counter::RefusedInvoicesOfCertificate, "AG100001").await, 10);

    // The file's own invoice, from every guessing account: refused, nobody linked.
    let right = tokens
        .iter()
        .map(|token| {
            let (app, token) = (app.clone(), token.clone());
            async move {
                let seen = Seen::of(&app.invoice(&token, "F-2026-0101").await);
                (seen, app.my_certificate(&token).await.code().to_owned())
            }
        })
        .collect();
    for (seen, mine) in in_flight(5, right).await {
        assert_eq!(seen, Seen { status: 429, what: "too_many_attempts".into(), retry_after: Some(DAY) });
        assert_eq!(mine, "not_linked");
    }
    assert_eq!(audited(&app, "AG-100001", "invoice_try", "invoice_not_accepted").await, 10);
    assert_eq!(audited(&app, "AG-100001", "invoice_try", "too_many_attempts").await, ACCOUNTS, "once per account");
    assert_eq!(audited(&app, "AG-100001", "link", "linked").await, 0);

    // Ten minutes later the holder recovers with the code sent to the address on file.
    app.advance(600);
    let holder = app.token("invoice-real-holder");
    app.lookup(&holder, "AG-100001", "1980-02-29").await.assert(200, "matched");
    let closed = app.invoice(&holder, "F-2026-0101").await;
    closed.assert(429, "too_many_attempts");
    assert_eq!(Seen::of(&closed).retry_after, Some(DAY - 600));
    app.send_code(&holder).await.assert(200, "code_sent");
    let code = app.latest_code("AG-100001").await;
    app.verify(&holder, &code).await.assert(200, "linked");
    assert_linked_to(&app, &holder, "AG100001").await;
}

/// Wrong codes from many sessions of many accounts: 16 one at a time over four sessions of
/// two accounts, then 20 at once from five more accounts with 4 left to the certificate —
/// exactly 4 are compared. Every right code is refused after, until the window ends.
async fn code_guessing_over_many_sessions_stops_at_20_with_20_concurrent_tries_at_the_edge(backend: Backend) {
    let Some(app) = with_clock(backend).await else { return };
    let start = app.api.app.clock.now();
    let mut right_codes = Vec::new();
    // Two accounts, two sessions each (a new lookup replaces the session and its code).
    for (round, who) in ["code-guesser-a", "code-guesser-b", "code-guesser-a", "code-guesser-b"].iter().enumerate() {
        let token = app.token(who);
        app.lookup(&token, "AG-100002", "1975-06-15").await.assert(200, "matched");
        let sent = app.send_code(&token).await;
        sent.assert(200, "code_sent");
        assert_eq!(sent.body["sendsLeft"], 4, "the session's 5, the certificate's {} left", 10 - round - 1);
        let right = app.latest_code("AG-100002").await;
        for left in [4, 3, 2, 1] {
            let answer = app.verify(&token, &wrong_for(&right)).await;
            answer.assert(422, "wrong_code");
            assert_eq!(answer.body["attemptsLeft"], left);
        }
        right_codes.push((token, right));
        // The cooldown is the certificate's: the next session waits for it.
        app.advance(61);
    }
    assert_eq!(counter(&app, Counter::WrongCodesOfCertificate, "AG100002").await, 16);

    // Five more accounts, each with a fresh code (5 tries each): 20 wrong codes at once.
    let mut racers = Vec::new();
    for r in 0..5 {
        let token = app.token(&format!("code-racer-{r}"));
        app.lookup(&token, "AG-100002", "1975-06-15").await.assert(200, "matched");
        app.send_code(&token).await.assert(200, "code_sent");
        racers.push((token, app.latest_code("AG-100002").await));
        app.advance(61);
    }
    let window_ends = start + Duration::from_secs(DAY);
    let tries = racers
        .iter()
        .flat_map(|(token, right)| (0..4).map(move |_| (token.clone(), wrong_for(right))))
        .map(|(token, wrong)| {
            let app = app.clone();
            async move { Seen::of(&app.verify(&token, &wrong).await) }
        })
        .collect();
    let seen = join_all(tries).await;
    assert_eq!(tally(&seen), expected(&[("422 wrong_code", 4), ("429 too_many_attempts", 16)]), "{seen:?}");
    let until = seconds_until(&app, window_ends);
    assert!(seen.iter().filter(|s| s.status == 429).all(|s| s.retry_after == Some(until)), "{seen:?}");
    assert_eq!(counter(&app, Counter::WrongCodesOfCertificate, "AG100002").await, 20);

    // Every live right code — the racers' and the guessers' second sessions', each with a try
    // left on its code — is refused now, and nobody is linked.
    right_codes.drain(..2); // replaced by the accounts' second sessions
    let rights =
        racers
            .iter()
            .chain(&right_codes)
            .map(|(token, right)| {
                let (app, token, right) = (app.clone(), token.clone(), right.clone());
                async move {
                    (Seen::of(&app.verify(&token, &right).await), app.my_certificate(&token).await.code().to_owned())
                }
            })
            .collect();
    for (seen, mine) in join_all(rights).await {
        assert_eq!(seen, Seen { status: 429, what: "too_many_attempts".into(), retry_after: Some(until) });
        assert_eq!(mine, "not_linked");
    }
    // The certificate's 10th send still goes out — and its right code is refused too; an 11th
    // is not sent at all.
    let last = app.token("code-guesser-c");
    app.lookup(&last, "AG-100002", "1975-06-15").await.assert(200, "matched");
    assert_eq!(app.send_code(&last).await.body["sendsLeft"], 0);
    let code = app.latest_code("AG-100002").await;
    app.verify(&last, &code).await.assert(429, "too_many_attempts");
    app.advance(61);
    app.send_code(&last).await.assert(429, "too_many_codes");
    let to = app.email_of("AG-100002");
    assert_eq!(app.emails_to(&to).await.len(), 10, "ten code emails, no link notice");
    assert_eq!(audited(&app, "AG-100002", "code_verify", "wrong_code").await, 20);

    // The day is over: the holder's code links.
    app.advance(seconds_until(&app, window_ends));
    let holder = app.token("code-real-holder");
    app.lookup(&holder, "AG-100002", "1975-06-15").await.assert(200, "matched");
    app.send_code(&holder).await.assert(200, "code_sent");
    let code = app.latest_code("AG-100002").await;
    app.verify(&holder, &code).await.assert(200, "linked");
    assert_linked_to(&app, &holder, "AG100002").await;
    assert_eq!(audited(&app, "AG-100002", "link", "linked").await, 1);
}

/// 8 accounts flood one file's inbox: each wave, every account does a new lookup, then all
/// ask for a code at once. One code per cooldown goes out, whoever asks; the others are told
/// the cooldown's end; after 10 sends in the day, none. The inbox gets 10 emails out of 96
/// sends asked for.
async fn a_resend_flood_with_new_lookups_stops_at_the_cooldown_and_the_certificate_cap(backend: Backend) {
    let Some(app) = with_clock(backend).await else { return };
    const FLOODERS: usize = 8;
    let tokens: Arc<Vec<String>> = Arc::new((0..FLOODERS).map(|a| app.token(&format!("flooder-{a}"))).collect());
    let wave = || async {
        // New lookups, five at a time (more than 10 at once of one file can be refused `locked`
        // while they are counted), then every send at once.
        let lookups = (0..FLOODERS)
            .map(|a| {
                let (app, tokens) = (app.clone(), tokens.clone());
                async move { Seen::of(&app.lookup(&tokens[a], "AG-100001", "1980-02-29").await) }
            })
            .collect();
        assert_eq!(tally(&in_flight(5, lookups).await), expected(&[("200 matched", FLOODERS)]));
        let sends = (0..FLOODERS)
            .map(|a| {
                let (app, tokens) = (app.clone(), tokens.clone());
                async move {
                    let answer = app.send_code(&tokens[a]).await;
                    (Seen::of(&answer), answer.body["sendsLeft"].as_u64())
                }
            })
            .collect();
        join_all(sends).await
    };
    let to = app.email_of("AG-100001");
    for sent_before in 0..10u64 {
        let seen = wave().await;
        let kinds: Vec<Seen> = seen.iter().map(|(s, _)| s.clone()).collect();
        let counts = tally(&kinds);
        if sent_before < 9 {
            assert_eq!(counts, expected(&[("200 code_sent", 1), ("429 resend_too_soon", FLOODERS - 1)]), "{seen:?}");
        } else {
            // The 10th send uses up the day: a loser that read the file after it is told so.
            let late = counts.get("429 too_many_codes").copied().unwrap_or(0);
            assert_eq!(
                counts,
                expected(&[
                    ("200 code_sent", 1),
                    ("429 resend_too_soon", FLOODERS - 1 - late),
                    ("429 too_many_codes", late)
                ]),
                "{seen:?}"
            );
        }
        // The one that went out: a fresh session's 5 sends, or what the certificate has left.
        let sends_left = seen.iter().find_map(|(s, left)| (s.status == 200).then_some(*left)).flatten();
        assert_eq!(sends_left, Some(4.min(10 - sent_before - 1)));
        // The others are told the whole cooldown: the send they lost to was just now.
        assert!(kinds.iter().filter(|s| s.what == "resend_too_soon").all(|s| s.retry_after == Some(60)), "{kinds:?}");
        // Half-way through the cooldown, new lookups change nothing.
        if sent_before == 4 {
            app.advance(30);
            let seen = wave().await;
            assert!(seen.iter().all(|(s, _)| s.what == "resend_too_soon" && s.retry_after == Some(30)), "{seen:?}");
            app.advance(31);
        } else {
            app.advance(61);
        }
        assert_eq!(app.emails_to(&to).await.len() as u64, sent_before + 1);
    }
    // The certificate's 10 sends in 24 h are used up: nobody gets one more, cooldown or not.
    let seen = wave().await;
    assert!(seen.iter().all(|(s, _)| s.status == 429 && s.what == "too_many_codes"), "{seen:?}");
    assert_eq!(app.emails_to(&to).await.len(), 10);
    let events = app.audit("AG-100001").await;
    assert_eq!(events.iter().filter(|e| e.action.as_str() == "code_send" && e.outcome == "sent").count(), 10);
}

/// The holder locks their own account by mistyping their date of birth five times over four
/// hours. Signing in again (a new token, from `POST /dev/token` as the page gets it) and
/// trying another file change nothing until the window that began with the first mistake
/// ends; `Retry-After` says exactly when, rounded up, in both languages; after it, the holder
/// recovers their file.
async fn a_locked_account_stays_locked_across_new_sign_ins_until_retry_after(backend: Backend) {
    let Some(app) = with_clock(backend).await else { return };
    let start = app.api.app.clock.now();
    let me = app.token("holder-locked-out");
    for (hour, date) in ["1980-02-28", "1980-03-01", "1980-02-09", "1980-12-29", "1908-02-29"].iter().enumerate() {
        if hour > 0 {
            app.advance(3600);
        }
        app.lookup(&me, "AG-100001", date).await.assert(422, "no_match");
    }
    // Half a second later (a person typing), the right date: locked until t0 + 24 h.
    app.clock.as_ref().unwrap().advance(Duration::from_millis(500));
    let locked = app.lookup(&me, "AG-100001", "1980-02-29").await;
    locked.assert(429, "locked");
    let seen = Seen::of(&locked);
    // 20 h minus half a second is left: the holder is told 20 h, never a second too early.
    assert_eq!(seen.retry_after, Some(DAY - 4 * 3600), "{:?}", locked.headers);
    assert!(locked.body["title"].as_str().unwrap().starts_with("Trop de tentatives"), "{}", locked.body);
    let english = app
        .request_with(
            "POST",
            "/recovery/lookup",
            Some(&me),
            Some(json!({"certificateNumber": "AG-100001", "dateOfBirth": "1980-02-29"})),
            &[("accept-language", "en")],
        )
        .await;
    english.assert(429, "locked");
    assert_eq!(Seen::of(&english), seen);
    assert!(english.body["title"].as_str().unwrap().starts_with("Too many"), "{}", english.body);

    // A new sign-in, as the page gets its token: the same account, still locked — for this
    // file and for any other, and no session was opened.
    let signed_in = app.request("POST", "/dev/token", None, Some(json!({"sub": "holder-locked-out"}))).await;
    let again = signed_in.body["token"].as_str().expect("a token").to_owned();
    for (certificate, date) in [("AG-100001", "1980-02-29"), ("AG-100002", "1975-06-15")] {
        assert_eq!(Seen::of(&app.lookup(&again, certificate, date).await), seen);
    }
    app.state(&again).await.assert(200, "none");
    app.send_code(&again).await.assert(409, "no_recovery_session");
    // Another account is not locked by this one, and does not unlock it.
    app.lookup(&app.token("holder-partner"), "AG-100002", "1975-06-15").await.assert(200, "matched");

    // Waiting part of it: told what is left.
    app.advance(10 * 3600);
    assert_eq!(Seen::of(&app.lookup(&again, "AG-100001", "1980-02-29").await).retry_after, Some(DAY - 14 * 3600));
    // Coming back exactly when told (the holder's wait, counted from the last answer).
    let wait = Seen::of(&app.lookup(&again, "AG-100001", "1980-02-29").await).retry_after.unwrap();
    app.advance(wait);
    assert!(app.api.app.clock.now() >= start + Duration::from_secs(DAY));
    let tomorrow = app.token("holder-locked-out");
    app.lookup(&tomorrow, "AG-100001", "1980-02-29").await.assert(200, "matched");
    app.send_code(&tomorrow).await.assert(200, "code_sent");
    let code = app.latest_code("AG-100001").await;
    app.verify(&tomorrow, &code).await.assert(200, "linked");
    assert_linked_to(&app, &tomorrow, "AG100001").await;
    // A fresh window: one new mistake counts as one, not as the sixth.
    app.lookup(&tomorrow, "AG-100003", "1990-11-03").await.assert(422, "no_match");
    assert_eq!(counter(&app, Counter::LookupFailuresOfAccount, "holder-locked-out").await, 1);
}
