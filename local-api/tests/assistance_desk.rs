//! The Office's side end to end (SPEC §1, §3–4): the queue, the call back's outcome, the new
//! email on file, and the holder redoing the recovery — on the memory store and on DynamoDB
//! Local + moto.

#[macro_use]
mod common;

use certificate_recovery::clock::ManualClock;
use certificate_recovery::settings::RuleSettings;
use common::{Backend, TestApp, spawn_app, spawn_app_full};
use serde_json::json;
use std::sync::Arc;

on_both_backends!(
    staff_routes_need_an_agent,
    the_queue_pages_oldest_first,
    email_updated_lets_the_holder_recover,
    other_outcomes_and_refusals
);

async fn with_clock(backend: Backend) -> Option<TestApp> {
    let start = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    spawn_app_full(backend, RuleSettings::default(), Some(Arc::new(ManualClock::new(start)))).await
}

impl TestApp {
    fn agent(&self) -> String {
        self.api.staff_token("agent-007", &["agent"])
    }

    async fn desk_get(&self, path: &str) -> common::Answer {
        self.request("GET", path, Some(&self.agent()), None).await
    }

    async fn resolve(&self, reference: &str, body: serde_json::Value) -> common::Answer {
        self.request(
            "POST",
            &format!("/agent/assistance-requests/{reference}/resolve"),
            Some(&self.agent()),
            Some(body),
        )
        .await
    }

    /// A holder matches the file and files an assistance request; its reference.
    async fn ask_for_help(&self, holder: &str, certificate: &str, date_of_birth: &str) -> String {
        let token = self.token(holder);
        self.lookup(&token, certificate, date_of_birth).await.assert(200, "matched");
        let answer = self.assistance(&token).await;
        answer.assert(201, "assistance_requested");
        answer.body["reference"].as_str().unwrap().to_owned()
    }
}

async fn staff_routes_need_an_agent(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let path = "/agent/assistance-requests?status=open";
    app.request("GET", path, None, None).await.assert(401, "unauthorized");
    app.request("GET", path, Some("not-a-token"), None).await.assert(401, "unauthorized");
    app.request("GET", path, Some(&app.token("a-holder")), None).await.assert(403, "forbidden");
    let clerk = app.api.staff_token("clerk", &["reader"]);
    app.request("GET", path, Some(&clerk), None).await.assert(403, "forbidden");
    // The local API's development issuer gives staff tokens for the agent role.
    let issued = app.request("POST", "/dev/token", None, Some(json!({"sub": "agent-9", "roles": ["agent"]}))).await;
    let token = issued.body["token"].as_str().unwrap();
    let listed = app.request("GET", path, Some(token), None).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    app.request("GET", "/agent/certificates/AG-100001/audit", Some(&app.token("a-holder")), None)
        .await
        .assert(403, "forbidden");
    app.stop().await;
}

async fn the_queue_pages_oldest_first(backend: Backend) {
    let Some(app) = with_clock(backend).await else { return };
    let mut references = Vec::new();
    for (holder, certificate, born) in
        [("h1", "AG-100005", "1985-04-05"), ("h2", "AG-100003", "1990-11-02"), ("h3", "AG-100001", "1980-02-29")]
    {
        references.push(app.ask_for_help(holder, certificate, born).await);
        app.advance(1);
    }
    let first = app.desk_get("/agent/assistance-requests?status=open&limit=2").await;
    assert_eq!(first.status, 200, "{}", first.body);
    let items = first.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["reference"], references[0].as_str());
    assert_eq!(items[1]["reference"], references[1].as_str());
    assert_eq!(items[0]["holderName"], "Nadia Bouchard");
    assert_eq!(items[0]["phone"], "450-555-0105");
    assert_eq!(items[0]["language"], "en");
    assert_eq!(items[0]["requestLanguage"], "fr");
    assert_eq!(items[0]["preferredTime"], "morning");
    assert_eq!(items[0]["message"], "Je n’ai plus accès à mon courriel.");
    assert!(items[0]["createdAt"].as_str().is_some());
    let next = first.body["next"].as_str().expect("a next cursor");
    let second = app.desk_get(&format!("/agent/assistance-requests?status=open&limit=2&next={next}")).await;
    let items = second.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["reference"], references[2].as_str());
    assert!(second.body.get("next").is_none());
    for bad in ["status=closed", "limit=0", "limit=101", "next=%21%21not-a-cursor"] {
        app.desk_get(&format!("/agent/assistance-requests?{bad}")).await.assert(400, "invalid_request");
    }
    app.stop().await;
}

async fn email_updated_lets_the_holder_recover(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    // A holder with no email on file asks for help, then locks their own lookups.
    let reference = app.ask_for_help("holder-no-email", "AG-100005", "1985-04-05").await;
    let holder = app.token("holder-no-email");
    for _ in 0..5 {
        app.lookup(&holder, "AG-100005", "1999-01-01").await.assert(422, "no_match");
    }
    app.lookup(&holder, "AG-100005", "1985-04-05").await.assert(429, "locked");

    let detail = app.desk_get(&format!("/agent/assistance-requests/{reference}")).await;
    assert_eq!(detail.status, 200);
    assert_eq!(detail.body["maskedEmail"], json!(null));
    assert_eq!(detail.body["phone"], "450-555-0105");

    let new_email = format!("nadia+{}@exemple.ca", certificate_recovery::ids::random_hex(4));
    let closed = app.resolve(&reference, json!({"outcome": "email_updated", "newEmail": new_email})).await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    assert_eq!(closed.body["status"], "closed");
    assert_eq!(closed.body["outcome"], "email_updated");
    assert_eq!(closed.body["closedBy"], "agent-007");
    assert_eq!(closed.body["maskedEmail"], "n•••@e•••.ca");
    // Resolving again answers 409 and changes nothing.
    app.resolve(&reference, json!({"outcome": "unreachable"})).await.assert(409, "already_closed");
    assert!(app.desk_get("/agent/assistance-requests").await.body["items"].as_array().unwrap().is_empty());

    // The new address is told (in the file's language: English); there was no old one.
    let notices = app.emails_to(&new_email).await;
    assert_eq!(notices.len(), 1);
    assert!(notices[0].subject.contains("now the one on your certificate file"), "{}", notices[0].subject);

    // The holder redoes the recovery: unlocked, the code goes to the new address.
    let matched = app.lookup(&holder, "AG-100005", "1985-04-05").await;
    matched.assert(200, "matched");
    assert_eq!(matched.body["options"], json!(["email_code", "invoice", "assistance"]));
    app.send_code(&holder).await.assert(200, "code_sent");
    let code = app.emails_to(&new_email).await.last().unwrap().code();
    app.verify(&holder, &code).await.assert(200, "linked");

    let audit = app.desk_get("/agent/certificates/AG-100005/audit").await;
    let events = audit.body["items"].as_array().unwrap();
    let resolve = events.iter().find(|e| e["action"] == "staff_resolve").expect("the employee's action");
    assert_eq!(resolve["actor"], json!({"type": "agent", "id": "agent-007"}));
    assert_eq!(resolve["outcome"], "email_updated");
    let text = audit.body.to_string();
    assert!(!text.contains(&new_email) && !text.contains("1985-04-05") && !text.contains(&code), "{text}");
    app.stop().await;
}

async fn other_outcomes_and_refusals(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    // A file with an email: after the update both the old and the new address are told.
    let reference = app.ask_for_help("holder-old-email", "AG-100001", "1980-02-29").await;
    app.resolve(&reference, json!({"outcome": "identity_not_confirmed", "newEmail": "x@y.ca"}))
        .await
        .assert(400, "invalid_request");
    app.resolve(&reference, json!({"outcome": "email_updated"})).await.assert(400, "invalid_request");
    app.resolve(&reference, json!({"outcome": "maybe"})).await.assert(400, "invalid_request");
    app.resolve("AR-NONE-0000", json!({"outcome": "unreachable"})).await.assert(404, "not_found");
    let new_email = format!("jeanne+{}@nouveau.ca", certificate_recovery::ids::random_hex(4));
    let old_email = app.email_of("AG-100001");
    let closed = app.resolve(&reference, json!({"outcome": "email_updated", "newEmail": new_email})).await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    let to_old = app.emails_to(&old_email).await;
    assert_eq!(to_old.len(), 1);
    assert!(to_old[0].subject.contains("a été modifiée"), "French file: {}", to_old[0].subject);
    assert!(to_old[0].body.contains("j•••@n•••.ca") && !to_old[0].body.contains(&new_email));
    assert_eq!(app.emails_to(&new_email).await.len(), 1);

    // Other outcomes close the request and change nothing else.
    let second = app.ask_for_help("holder-unreachable", "AG-100003", "1990-11-02").await;
    let closed = app.resolve(&second, json!({"outcome": "unreachable"})).await;
    assert_eq!(
        (closed.body["status"].as_str(), closed.body["outcome"].as_str()),
        (Some("closed"), Some("unreachable"))
    );
    let holder = app.token("holder-unreachable");
    app.state(&holder).await.assert(200, "matched");
    // The holder may ask again: a new request.
    let again = app.assistance(&holder).await;
    again.assert(201, "assistance_requested");
    assert_ne!(again.body["reference"], second.as_str());
    app.desk_get("/agent/certificates/%21%21/audit").await.assert(400, "invalid_request");
    app.desk_get("/agent/assistance-requests/AR-NONE-0000").await.assert(404, "not_found");
    app.stop().await;
}
