//! Concurrency (`docs/rules.md#count-before-compare`, `#link-atomic`): concurrent correct verifies link once; concurrent wrong codes and
//! lookups never count past the limits — on the memory store and on DynamoDB Local.

use crate::common;

use certificate_recovery::domain::{AccountSubject, CertificateNumber};
use certificate_recovery::settings::RuleSettings;
use certificate_recovery::store::Counter;
use common::join_all;
use common::{Backend, spawn_app};
use std::collections::BTreeMap;

on_both_backends!(
    concurrent_correct_verifies_link_once,
    concurrent_wrong_codes_stop_at_the_limit,
    concurrent_wrong_lookups_stop_at_the_limit
);

async fn concurrent_correct_verifies_link_once(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let app = std::sync::Arc::new(app);
    let me = app.token("holder-double-click");
    app.lookup(&me, "AG-100001", "1980-02-29").await.assert(200, "matched");
    app.send_code(&me).await.assert(200, "code_sent");
    let code = app.latest_code("AG-100001").await;
    // As many concurrent right tries as the code has tries (each is counted before the
    // comparison): every one answers linked.
    let tries = (0..RuleSettings::default().code_max_attempts)
        .map(|_| {
            let (app, me, code) = (app.clone(), me.clone(), code.clone());
            async move { app.verify(&me, &code).await.status.as_u16() }
        })
        .collect();
    let statuses = join_all(tries).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let events = app.audit("AG-100001").await;
    assert_eq!(events.iter().filter(|e| e.action.as_str() == "link").count(), 1, "one link");
    let notices = app.emails_to(&app.email_of("AG-100001")).await;
    assert_eq!(notices.iter().filter(|e| e.subject.contains("associé")).count(), 1, "one link notice");
}

async fn concurrent_wrong_codes_stop_at_the_limit(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let app = std::sync::Arc::new(app);
    let me = app.token("holder-hammering");
    app.lookup(&me, "AG-100002", "1975-06-15").await.assert(200, "matched");
    app.send_code(&me).await.assert(200, "code_sent");
    let code = app.latest_code("AG-100002").await;
    let wrong = if code == "111111" { "222222" } else { "111111" };
    let tries = (0..20)
        .map(|_| {
            let (app, me) = (app.clone(), me.clone());
            async move {
                let answer = app.verify(&me, wrong).await;
                (answer.code().to_owned(), answer.body["attemptsLeft"].as_u64())
            }
        })
        .collect();
    let answers = join_all(tries).await;
    let mut by_code: BTreeMap<String, usize> = BTreeMap::new();
    for (code, _) in &answers {
        *by_code.entry(code.clone()).or_default() += 1;
    }
    assert_eq!(by_code.get("wrong_code"), Some(&5), "{answers:?}");
    assert_eq!(by_code.get("too_many_attempts"), Some(&15), "{answers:?}");
    let mut left: Vec<u64> = answers.iter().filter_map(|(_, left)| *left).collect();
    left.sort();
    assert_eq!(left, vec![0, 1, 2, 3, 4]);
    let now = app.api.app.clock.now();
    let wrong_count = app.api.app.store.counter(Counter::WrongCodesOfCertificate, "AG100002", now).await.unwrap();
    assert_eq!(wrong_count.map(|c| c.count), Some(5));
    // Even the right code is refused now.
    app.verify(&me, &code).await.assert(429, "too_many_attempts");
}

async fn concurrent_wrong_lookups_stop_at_the_limit(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let app = std::sync::Arc::new(app);
    let me = app.token("holder-scripted-guesses");
    let tries = (0..20)
        .map(|i| {
            let (app, me) = (app.clone(), me.clone());
            async move { app.lookup(&me, "AG-100001", &format!("1960-01-{:02}", i + 1)).await.code().to_owned() }
        })
        .collect();
    let answers = join_all(tries).await;
    assert_eq!(answers.iter().filter(|c| *c == "no_match").count(), 5, "{answers:?}");
    assert_eq!(answers.iter().filter(|c| *c == "locked").count(), 15, "{answers:?}");
    let now = app.api.app.clock.now();
    let account = AccountSubject::parse("holder-scripted-guesses").unwrap();
    let count = app.api.app.store.counter(Counter::LookupFailuresOfAccount, account.as_str(), now).await.unwrap();
    assert_eq!(count.map(|c| c.count), Some(5));
    let certificate = CertificateNumber::parse("AG-100001").unwrap();
    let count =
        app.api.app.store.counter(Counter::LookupFailuresOfCertificate, certificate.as_str(), now).await.unwrap();
    assert_eq!(count.map(|c| c.count), Some(5));
}
