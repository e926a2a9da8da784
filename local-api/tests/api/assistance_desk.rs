//! The Office's side end to end (`docs/rules.md#desk-email-updated`, `#desk-queue`, `#desk-agent`): the queue, the call back's outcome, the new
//! email on file, and the holder redoing the recovery — on the memory store and on DynamoDB
//! Local + moto.

use crate::common;

use certificate_recovery::audit::{Actor, AuditAction, AuditEvent};
use certificate_recovery::clock::ManualClock;
use certificate_recovery::domain::CertificateNumber;
use certificate_recovery::settings::RuleSettings;
use common::{Backend, TestApp, spawn_app};
use serde_json::json;
use std::sync::Arc;

on_both_backends!(
    staff_routes_need_an_agent,
    the_queue_pages_oldest_first,
    email_updated_lets_the_holder_recover,
    other_outcomes_and_refusals,
    the_audit_trail_pages_newest_first,
    bad_audit_page_parameters_are_refused,
    opening_a_request_or_a_trail_is_audited,
    audit_events_expire_after_the_retention
);

async fn with_clock(backend: Backend) -> Option<TestApp> {
    let start = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    TestApp::builder(backend).clock(Arc::new(ManualClock::new(start))).spawn().await
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
    // The change on record carries the employee's address.
    let trail = app.audit("AG-100001").await;
    let change = trail.iter().find(|e| e.action == AuditAction::EmailChange && e.outcome == "updated").unwrap();
    assert_eq!(change.source_ip, Some("127.0.0.1".parse().unwrap()));

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

/// The field names of a 400 answer's `errors`.
fn fields_of(answer: &common::Answer) -> Vec<String> {
    answer.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect()
}

/// Every page of a file's audit trail through the route, following `next`; the pages.
async fn audit_pages(app: &TestApp, certificate: &str, limit: Option<usize>) -> Vec<Vec<serde_json::Value>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = Vec::new();
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        if let Some(cursor) = &cursor {
            query.push(format!("cursor={cursor}"));
        }
        let answer = app.desk_get(&format!("/agent/certificates/{certificate}/audit?{}", query.join("&"))).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        pages.push(answer.body["items"].as_array().unwrap().clone());
        match answer.body.get("next") {
            Some(next) => cursor = Some(next.as_str().unwrap().to_owned()),
            None => return pages,
        }
        assert!(pages.len() < 20, "the pages never end");
    }
}

async fn the_audit_trail_pages_newest_first(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    // 60 events, a second apart, written straight into the store: more than a default page.
    let number = CertificateNumber::parse("AG-100003").unwrap();
    let start = app.api.app.clock.now() - time::Duration::hours(1);
    for i in 0..60 {
        let at = start + time::Duration::seconds(i);
        let event =
            AuditEvent::new(&number, at, Actor::Account(format!("guesser-{i}")), AuditAction::Lookup, "no_match");
        app.api.app.store.append_audit(&event).await.unwrap();
    }
    let stored: Vec<String> = app.audit("AG-100003").await.into_iter().map(|e| e.id).collect();
    assert_eq!(stored.len(), 60);

    // By default 50 a page; each opening of the trail is itself an event, newest of all, so
    // it heads the first page and never shifts a later page.
    let pages = audit_pages(&app, "AG-100003", None).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [50, 11]);
    let all: Vec<&serde_json::Value> = pages.iter().flatten().collect();
    assert_eq!(all[0]["action"], "staff_view_audit");
    let others: Vec<String> = all
        .iter()
        .filter(|e| e["action"] != "staff_view_audit")
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(others, stored, "every event once, newest first, none left out");
    assert_eq!(all.iter().filter(|e| e["action"] == "staff_view_audit").count(), 1);

    // Pages of 7: no event twice, none missing, newest first across pages.
    let pages = audit_pages(&app, "AG-100003", Some(7)).await;
    assert!(pages.iter().all(|p| p.len() <= 7));
    // 60 events and the first walk's two openings, then this walk's own: 63, 9 full pages,
    // and no `next` after the last.
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [7; 9]);
    let ids: Vec<&str> = pages.iter().flatten().map(|e| e["id"].as_str().unwrap()).collect();
    let unique: std::collections::BTreeSet<&&str> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no event twice");
    let trail: Vec<String> = app.audit("AG-100003").await.into_iter().map(|e| e.id).collect();
    // Each later page's opening is newer than any cursor, so it shows on no page: what the
    // walk saw is the trail as it stood when the walk began.
    let walked: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(walked[..], trail[trail.len() - walked.len()..]);
    // A limit of 100 is allowed.
    let one_page = app.desk_get("/agent/certificates/AG-100003/audit?limit=100").await;
    assert_eq!(one_page.status, 200, "{}", one_page.body);
    assert!(one_page.body.get("next").is_none());
    app.stop().await;
}

async fn bad_audit_page_parameters_are_refused(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let before = app.audit("AG-100001").await.len();
    let garbage_json = base64_url(b"{\"t\": \"soon\"}");
    let bad_id = base64_url(b"{\"t\": 1, \"i\": \"../../FILE\"}");
    let negative = base64_url(b"{\"t\": -1, \"i\": \"ab\"}");
    let fraction = base64_url(b"{\"t\": 1.5, \"i\": \"ab\"}");
    let cases = [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("limit=", "limit"),
        ("cursor=%21%21not-a-cursor", "cursor"),
        ("cursor=", "cursor"),
        (&format!("cursor={garbage_json}"), "cursor"),
        (&format!("cursor={bad_id}"), "cursor"),
        (&format!("cursor={negative}"), "cursor"),
        (&format!("cursor={fraction}"), "cursor"),
    ];
    for (query, field) in cases {
        let answer = app.desk_get(&format!("/agent/certificates/AG-100001/audit?{query}")).await;
        answer.assert(400, "invalid_request");
        assert_eq!(fields_of(&answer), [field], "{query}: {}", answer.body);
    }
    // Every bad field at once.
    let both = app.desk_get("/agent/certificates/AG-100001/audit?limit=0&cursor=%21").await;
    both.assert(400, "invalid_request");
    assert_eq!(fields_of(&both), ["limit", "cursor"]);
    // English is available.
    let english = app
        .request_with(
            "GET",
            "/agent/certificates/AG-100001/audit?limit=500",
            Some(&app.agent()),
            None,
            &[("accept-language", "en")],
        )
        .await;
    english.assert(400, "invalid_request");
    assert_eq!(english.body["errors"][0]["detail"], "A whole number from 1 to 100 is expected.");
    // A refused request opened nothing: no event was written.
    assert_eq!(app.audit("AG-100001").await.len(), before);
    // A well-formed cursor from far in the past simply reads nothing more.
    let old = base64_url(b"{\"t\": 5, \"i\": \"00000000deadbeef\"}");
    let answer = app.desk_get(&format!("/agent/certificates/AG-100001/audit?cursor={old}")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["items"], json!([]));
    // One from the far future reads from the newest.
    let future = base64_url(b"{\"t\": 18446744073709551615, \"i\": \"ffff\"}");
    let answer = app.desk_get(&format!("/agent/certificates/AG-100001/audit?cursor={future}")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["items"][0]["action"], "staff_view_audit");
    app.stop().await;
}

fn base64_url(raw: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

async fn opening_a_request_or_a_trail_is_audited(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    // The holder gets a code, then asks for help.
    let token = app.token("holder-who-calls");
    app.lookup(&token, "AG-100001", "1980-02-29").await.assert(200, "matched");
    app.send_code(&token).await.assert(200, "code_sent");
    let code = app.latest_code("AG-100001").await;
    let reference = app.assistance(&token).await.body["reference"].as_str().unwrap().to_owned();
    let localhost: std::net::IpAddr = "127.0.0.1".parse().unwrap();

    app.desk_get(&format!("/agent/assistance-requests/{reference}")).await.assert(200, "");
    let viewed = app.audit("AG-100001").await;
    let view = &viewed[0];
    assert_eq!(view.action.as_str(), "staff_view_request", "{viewed:?}");
    assert_eq!(view.actor, Actor::Agent("agent-007".into()));
    assert_eq!(view.source_ip, Some(localhost));
    assert_eq!(view.outcome, "viewed");
    assert_eq!(view.detail.as_deref(), Some(reference.as_str()));
    // An unknown request shows nothing and records nothing.
    app.desk_get("/agent/assistance-requests/AR-NONE-0000").await.assert(404, "not_found");
    assert_eq!(app.audit("AG-100001").await.len(), viewed.len());

    // Opening the trail is in the trail: the first thing on it.
    let trail = app.desk_get("/agent/certificates/AG-100001/audit").await;
    let first = &trail.body["items"][0];
    assert_eq!(first["action"], "staff_view_audit", "{}", trail.body);
    assert_eq!(first["actor"], json!({"type": "agent", "id": "agent-007"}));
    assert_eq!(first["sourceIp"], "127.0.0.1");
    assert_eq!(trail.body["items"][1]["action"], "staff_view_request");

    // Resolving carries the employee's address too.
    app.resolve(&reference, json!({"outcome": "unreachable"})).await.assert(200, "");
    let resolved = app.audit("AG-100001").await;
    let resolve = resolved.iter().find(|e| e.action.as_str() == "staff_resolve").unwrap();
    assert_eq!(resolve.source_ip, Some(localhost));

    // No event holds the email, the date of birth or the code.
    let text = serde_json::to_string(&resolved).unwrap();
    for secret in [app.email_of("AG-100001").as_str(), "1980-02-29", code.as_str()] {
        assert!(!text.contains(secret), "the trail holds {secret}: {text}");
    }
    app.stop().await;
}

async fn audit_events_expire_after_the_retention(backend: Backend) {
    let start = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let retention = std::time::Duration::from_secs(2 * 24 * 3600);
    let settings = RuleSettings { audit_retention: retention, ..RuleSettings::default() };
    let Some(app) = TestApp::builder(backend).settings(settings).clock(clock).spawn().await else { return };
    let token = app.token("holder-long-ago");
    app.lookup(&token, "AG-100001", "1980-02-29").await.assert(200, "matched");
    app.advance(24 * 3600);
    app.lookup(&token, "AG-100001", "1999-01-01").await.assert(422, "no_match");
    let outcomes = |events: Vec<AuditEvent>| events.into_iter().map(|e| e.outcome).collect::<Vec<_>>();
    assert_eq!(outcomes(app.audit("AG-100001").await), ["no_match", "matched"]);

    if backend == Backend::Emulators {
        // Each item carries DynamoDB's TTL attribute: its time plus the retention, in seconds.
        let (dynamodb, _) = app.emulator_clients().await;
        let items = dynamodb
            .query()
            .table_name(&app.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :audit)")
            .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S("CERT#AG100001".into()))
            .expression_attribute_values(":audit", aws_sdk_dynamodb::types::AttributeValue::S("AUDIT#".into()))
            .send()
            .await
            .unwrap()
            .items
            .unwrap();
        assert_eq!(items.len(), 2);
        let mut expiries: Vec<i64> =
            items.iter().map(|i| i["expires_at"].as_n().unwrap().parse::<i64>().unwrap()).collect();
        expiries.sort();
        let first = start.unix_timestamp() + retention.as_secs() as i64;
        assert_eq!(expiries, [first, first + 24 * 3600]);
    }

    // Exactly at its time plus the retention the first event reads as absent, before any
    // TTL sweep; the second is still there.
    app.advance(24 * 3600);
    assert_eq!(outcomes(app.audit("AG-100001").await), ["no_match"]);
    let trail = app.desk_get("/agent/certificates/AG-100001/audit").await;
    let actions: Vec<&str> =
        trail.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["staff_view_audit", "lookup"], "{}", trail.body);
    app.advance(24 * 3600);
    let trail = app.desk_get("/agent/certificates/AG-100001/audit").await;
    let actions: Vec<&str> =
        trail.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["staff_view_audit", "staff_view_audit"], "{}", trail.body);
    app.stop().await;
}

#[test]
fn openapi_lists_every_audit_action() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml");
    let openapi = yaml_rust2::YamlLoader::load_from_str(&std::fs::read_to_string(path).unwrap()).unwrap().remove(0);
    let listed: Vec<&str> = openapi["components"]["schemas"]["AuditEvent"]["properties"]["action"]["enum"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let actions: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
    assert_eq!(listed, actions);
}
