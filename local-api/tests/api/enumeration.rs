//! Enumeration (issue 9, item 4): nothing tells a guesser whether a certificate exists, or whether
//! an invoice exists on another file. An unknown certificate and a wrong date of birth get the
//! same status, headers and body, after the same sequence of store calls — try after try, up to
//! the lock; so do an unknown invoice and another file's invoice, up to the session's limit. On
//! the memory store and on DynamoDB Local. (The store calls are logged by the fault layer's
//! store hook, with no fault.)

use crate::common::{self, TestApp};
use crate::fault_layer;

use certificate_recovery::clock::{Clock, ManualClock};
use certificate_recovery::domain::CertificateNumber;
use common::Backend;
use fault_layer::Plan;
use local_api::LocalApi;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

on_both_backends!(an_unknown_certificate_answers_as_a_wrong_date_of_birth, an_unknown_invoice_answers_as_another_files);

/// One answer as a guesser sees it, and the store calls behind it.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    status: u16,
    /// Every header but `date`.
    headers: BTreeMap<String, String>,
    body: Value,
    calls: Vec<String>,
}

struct App {
    api: LocalApi,
    plan: Arc<Plan>,
    clock: Arc<ManualClock>,
    client: reqwest::Client,
}

impl App {
    async fn spawn(backend: Backend) -> Option<Self> {
        // Time stands still: both guessers' windows start at the same instant, so their
        // `Retry-After` can be compared too.
        let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()));
        let plan = Plan::new();
        let TestApp { api, .. } = TestApp::builder(backend).clock(clock.clone()).faults(&plan).spawn().await?;
        Some(Self { api, plan, clock, client: reqwest::Client::new() })
    }

    async fn post(&self, account: &str, path: &str, body: Value) -> Seen {
        self.plan.arm(None);
        let response = self
            .client
            .post(self.api.url(path))
            .bearer_auth(self.api.citizen_token(account))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let calls = self.plan.disarm().calls;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter(|(name, _)| *name != "date")
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
            .collect();
        let body = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        Seen { status, headers, body, calls }
    }

    async fn lookup(&self, account: &str, certificate: &str, date_of_birth: &str) -> Seen {
        let body = json!({"certificateNumber": certificate, "dateOfBirth": date_of_birth});
        self.post(account, "/recovery/lookup", body).await
    }

    /// The file's trail as (action, outcome, actor kind), sorted: time stands still, so events
    /// of one instant are in the order of their random ids.
    async fn trail(&self, certificate: &str) -> Vec<(String, String, String)> {
        let number = CertificateNumber::parse(certificate).unwrap();
        let (events, next) = self.api.app.store.audit_trail(&number, 100, None, self.clock.now()).await.unwrap();
        assert!(next.is_none());
        let mut trail: Vec<_> =
            events.iter().map(|e| (e.action.as_str().into(), e.outcome.clone(), e.actor.kind().into())).collect();
        trail.sort();
        trail
    }
}

async fn an_unknown_certificate_answers_as_a_wrong_date_of_birth(backend: Backend) {
    let Some(app) = App::spawn(backend).await else { return };
    // Five failures lock the account: the sixth try is `locked`, for both.
    for attempt in 1..=6 {
        let unknown = app.lookup("guesser-unknown", "ZZ-424242", "1975-06-15").await;
        let wrong_date = app.lookup("guesser-wrong-date", "AG-100002", "1975-06-16").await;
        assert_eq!(unknown, wrong_date, "try {attempt}");
        let expected = if attempt < 6 { (422, "no_match") } else { (429, "locked") };
        assert_eq!((unknown.status, unknown.body["code"].as_str().unwrap()), expected, "try {attempt}");
    }
    // Each guess left the same trace on the number it named.
    assert_eq!(app.trail("ZZ-424242").await, app.trail("AG-100002").await);
    // The holder is not locked out by either guesser.
    let holder = app.lookup("the-holder", "AG-100002", "1975-06-15").await;
    assert_eq!(holder.body["state"], "matched", "{}", holder.body);
    app.api.stop().await;
}

async fn an_unknown_invoice_answers_as_another_files(backend: Backend) {
    let Some(app) = App::spawn(backend).await else { return };
    // Two guessers, each matched on a file of its own (both with an email and an invoice).
    assert_eq!(app.lookup("guesser-unknown", "AG-100001", "1980-02-29").await.body["state"], "matched");
    assert_eq!(app.lookup("guesser-other-file", "AG-100002", "1975-06-15").await.body["state"], "matched");
    // Five tries a session: then `too_many_attempts`, for both.
    for attempt in 1..=6 {
        let unknown = app.post("guesser-unknown", "/recovery/invoice", json!({"invoiceNumber": "F-2026-9999"})).await;
        // AG-100003's invoice, offered on AG-100002's session.
        let other_file =
            app.post("guesser-other-file", "/recovery/invoice", json!({"invoiceNumber": "F-2026-0310"})).await;
        assert_eq!(unknown, other_file, "try {attempt}");
        let expected = if attempt < 6 { (422, "invoice_not_accepted") } else { (429, "too_many_attempts") };
        assert_eq!((unknown.status, unknown.body["code"].as_str().unwrap()), expected, "try {attempt}");
    }
    assert_eq!(app.trail("AG-100001").await, app.trail("AG-100002").await);
    app.api.stop().await;
}
