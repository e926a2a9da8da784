//! `spawn_app()`: the whole local API on port 0, on the memory store with its outbox, or on
//! DynamoDB Local and moto's SES when the test command started them.

use certificate_recovery::clock::ManualClock;
use certificate_recovery::settings::RuleSettings;
use local_api::{LocalApi, Options};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;

/// Runs each named `async fn(Backend)` as two tests: on the memory store and outbox, and on
/// DynamoDB Local and moto.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => { $(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn memory() { super::$name($crate::common::Backend::Memory).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn dynamodb_local_and_moto() { super::$name($crate::common::Backend::Emulators).await }
        }
    )* };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    /// DynamoDB Local + moto's SES v2.
    Emulators,
}

/// The emulator endpoints, when the README's test command started them. Without them the
/// emulator runs are left out of plain `cargo test`; with `REQUIRE_EMULATORS=1` (set by the
/// test command) their absence fails the test instead.
pub fn emulators() -> Option<(String, String)> {
    match (std::env::var("DYNAMODB_ENDPOINT"), std::env::var("SES_ENDPOINT")) {
        (Ok(d), Ok(s)) => Some((d, s)),
        _ => {
            assert!(
                std::env::var("REQUIRE_EMULATORS").is_err(),
                "REQUIRE_EMULATORS is set but DYNAMODB_ENDPOINT / SES_ENDPOINT are not"
            );
            eprintln!("emulator run left out: DYNAMODB_ENDPOINT and SES_ENDPOINT are not set (plain cargo test)");
            None
        }
    }
}

pub struct TestApp {
    pub api: LocalApi,
    /// This app's own tag: in its table's name, its sender's domain and its emails.
    pub tag: String,
    /// The seeded email of each certificate (normalized number → address).
    pub emails: std::collections::HashMap<String, String>,
    pub clock: Option<Arc<ManualClock>>,
    /// The DynamoDB table and the sender domain, on the emulators.
    pub table: String,
    pub sender_domain: String,
    pub client: reqwest::Client,
    ses_endpoint: Option<String>,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    pub fn state(&self) -> &str {
        self.body["state"].as_str().unwrap_or_default()
    }

    #[track_caller]
    pub fn assert(&self, status: u16, code_or_state: &str) -> &Self {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        let got = if status < 300 { self.state() } else { self.code() };
        assert_eq!(got, code_or_state, "body: {}", self.body);
        if status >= 400 {
            let content_type = self.headers.get("content-type").unwrap().to_str().unwrap();
            assert_eq!(content_type, "application/problem+json");
            assert_eq!(self.body["status"], status);
            assert!(self.body["title"].as_str().is_some_and(|t| !t.is_empty()));
        }
        self
    }
}

/// The whole local API on port 0 with the demo registry (zero2prod's `spawn_app`); `None`
/// when the emulators are not running for an emulator run (plain `cargo test`).
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    TestApp::builder(backend).spawn().await
}

/// How a [`TestApp`] is made: its store and mailer (the backend, optionally behind the fault
/// layer), its rule settings and its clock.
pub struct TestAppBuilder {
    backend: Backend,
    settings: RuleSettings,
    clock: Option<Arc<ManualClock>>,
    faults: Option<Arc<crate::fault_layer::Plan>>,
}

impl TestAppBuilder {
    pub fn settings(mut self, settings: RuleSettings) -> Self {
        self.settings = settings;
        self
    }

    /// A manual clock the test moves ([`TestApp::advance`]).
    pub fn clock(mut self, clock: Arc<ManualClock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The store and the mailer behind the fault layer, which logs and fails calls as `plan` says.
    pub fn faults(mut self, plan: &Arc<crate::fault_layer::Plan>) -> Self {
        self.faults = Some(plan.clone());
        self
    }

    pub async fn spawn(self) -> Option<TestApp> {
        let tag = certificate_recovery::ids::random_hex(6);
        // Every email tagged: moto's mailbox is shared by every test of the run.
        let registry = local_api::demo::DemoRegistry::new(Some(&tag));
        let emails = registry.emails.clone();
        let mut options = Options { settings: self.settings, seed: local_api::Seed::Demo(registry), ..Options::new(0) };
        if let Some(clock) = &self.clock {
            options.clock = clock.clone();
        }
        let mut ses_endpoint = None;
        if self.backend == Backend::Emulators {
            let (dynamodb, ses) = emulators()?;
            options.dynamodb_endpoint = Some(dynamodb);
            options.ses_endpoint = Some(ses.clone());
            options.table = format!("test-{tag}");
            // Each app has its own sender identity in the shared moto.
            options.sender = format!("no-reply@{tag}.opc.test");
            ses_endpoint = Some(ses);
        }
        if let Some(plan) = &self.faults {
            plan.install(&mut options);
        }
        let table = options.table.clone();
        let sender_domain = options.sender.rsplit_once('@').unwrap().1.to_owned();
        let api = LocalApi::start(options).await.expect("local API starts");
        Some(TestApp {
            api,
            emails,
            clock: self.clock,
            tag,
            table,
            sender_domain,
            client: reqwest::Client::new(),
            ses_endpoint,
        })
    }
}

/// An email as the holder receives it.
#[derive(Debug, Clone)]
pub struct Received {
    pub to: String,
    pub subject: String,
    /// Text body from the outbox; HTML body from moto (it keeps only that).
    pub body: String,
    /// The id the mail service gave it (SES's events name it).
    pub message_id: String,
}

impl Received {
    /// The six-digit code of a security code email: the body's one word of six digits (never
    /// in the subject, which SES's events carry).
    pub fn code(&self) -> String {
        assert!(self.subject.contains("code"), "not a code email: {}", self.subject);
        code_in(&self.body)
    }
}

impl TestApp {
    pub fn builder(backend: Backend) -> TestAppBuilder {
        TestAppBuilder { backend, settings: RuleSettings::default(), clock: None, faults: None }
    }

    pub fn token(&self, sub: &str) -> String {
        self.api.citizen_token(sub)
    }

    pub async fn request(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        self.request_with(method, path, token, body, &[]).await
    }

    pub async fn request_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = self.client.request(method.parse().unwrap(), self.api.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer { status, headers, body }
    }

    pub async fn lookup(&self, token: &str, certificate: &str, date_of_birth: &str) -> Answer {
        self.request(
            "POST",
            "/recovery/lookup",
            Some(token),
            Some(json!({"certificateNumber": certificate, "dateOfBirth": date_of_birth})),
        )
        .await
    }

    pub async fn send_code(&self, token: &str) -> Answer {
        self.request("POST", "/recovery/code", Some(token), Some(json!({}))).await
    }

    pub async fn verify(&self, token: &str, code: &str) -> Answer {
        self.request("POST", "/recovery/verify", Some(token), Some(json!({"code": code}))).await
    }

    pub async fn invoice(&self, token: &str, number: &str) -> Answer {
        self.request("POST", "/recovery/invoice", Some(token), Some(json!({"invoiceNumber": number}))).await
    }

    pub async fn assistance(&self, token: &str) -> Answer {
        self.request(
            "POST",
            "/recovery/assistance",
            Some(token),
            Some(
                json!({"preferredTime": "morning", "language": "fr", "message": "Je n’ai plus accès à mon courriel."}),
            ),
        )
        .await
    }

    pub async fn state(&self, token: &str) -> Answer {
        self.request("GET", "/recovery", Some(token), None).await
    }

    pub async fn my_certificate(&self, token: &str) -> Answer {
        self.request("GET", "/me/certificate", Some(token), None).await
    }

    /// Every email sent so far, oldest first: the outbox through `GET /dev/outbox`, or what
    /// moto's SES received.
    pub async fn emails(&self) -> Vec<Received> {
        match &self.ses_endpoint {
            None => {
                let answer = self.request("GET", "/dev/outbox", None, None).await;
                answer
                    .body
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| Received {
                        to: e["to"].as_str().unwrap().to_owned(),
                        subject: e["subject"].as_str().unwrap().to_owned(),
                        body: e["text"].as_str().unwrap().to_owned(),
                        message_id: e["messageId"].as_str().unwrap().to_owned(),
                    })
                    .collect()
            }
            Some(ses) => {
                let data: Value =
                    self.client.get(format!("{ses}/moto-api/data.json")).send().await.unwrap().json().await.unwrap();
                data["ses"]["Message"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .filter(|m| m["source"].as_str().is_some())
                    .map(|m| Received {
                        to: m["destinations"]["ToAddresses"][0].as_str().unwrap_or_default().to_owned(),
                        subject: m["subject"].as_str().unwrap_or_default().to_owned(),
                        body: m["body"].as_str().unwrap_or_default().to_owned(),
                        message_id: m["id"].as_str().unwrap_or_default().to_owned(),
                    })
                    .collect()
            }
        }
    }

    /// Emails to `to` (moto is shared between tests: filter by address).
    pub async fn emails_to(&self, to: &str) -> Vec<Received> {
        self.emails().await.into_iter().filter(|e| e.to == to).collect()
    }

    /// The seeded email address of a certificate.
    pub fn email_of(&self, certificate: &str) -> String {
        self.emails[&certificate.replace('-', "")].clone()
    }

    /// The code of the latest security code email to the certificate's address.
    pub async fn latest_code(&self, certificate: &str) -> String {
        self.emails_to(&self.email_of(certificate)).await.last().expect("an email").code()
    }

    /// Feeds SES's event about a message to the `delivery-events` function's code, as the
    /// configuration set's SNS topic delivers it: the sample `events/ses-<kind>.json` (kind:
    /// `delivery`, `bounce`, `complaint`) with that message's id.
    pub async fn ses_event(&self, kind: &str, message_id: &str) {
        let path = format!("{}/../events/ses-{kind}.json", env!("CARGO_MANIFEST_DIR"));
        let mut sample: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("the SES sample")).unwrap();
        let inner = sample["Records"][0]["Sns"]["Message"].as_str().unwrap();
        let mut event: Value = serde_json::from_str(inner).unwrap();
        event["mail"]["messageId"] = message_id.into();
        sample["Records"][0]["Sns"]["Message"] = event.to_string().into();
        let recorded = certificate_recovery::delivery::handle_sns_event(&self.api.app, &Default::default(), &sample)
            .await
            .unwrap();
        assert_eq!(recorded.len(), 1, "{kind}: {recorded:?}");
    }

    /// The file as the store holds it now.
    pub async fn file(&self, certificate: &str) -> certificate_recovery::domain::CertificateFile {
        let number = certificate_recovery::domain::CertificateNumber::parse(certificate).unwrap();
        self.api.app.store.certificate(&number).await.unwrap().expect("the file")
    }

    pub fn advance(&self, seconds: u64) {
        self.clock.as_ref().expect("a manual clock").advance(std::time::Duration::from_secs(seconds));
    }

    /// The file's whole audit trail as it stands now, newest first, page by page from the
    /// store (not through the route, which would add an event of its own).
    pub async fn audit(&self, certificate: &str) -> Vec<certificate_recovery::audit::AuditEvent> {
        let number = certificate_recovery::domain::CertificateNumber::parse(certificate).unwrap();
        let (store, now) = (&self.api.app.store, self.api.app.clock.now());
        let mut events = Vec::new();
        let mut after = None;
        loop {
            let (page, next) = store.audit_trail(&number, 100, after.as_ref(), now).await.unwrap();
            events.extend(page);
            match next {
                Some(next) => after = Some(next),
                None => return events,
            }
        }
    }

    /// SDK clients on the emulators, to break them from the outside.
    pub async fn emulator_clients(&self) -> (aws_sdk_dynamodb::Client, aws_sdk_sesv2::Client) {
        let (dynamodb, ses) = emulators().expect("emulators");
        let config = certificate_recovery::local_aws::sdk_config().await;
        (
            certificate_recovery::local_aws::dynamodb(&config, Some(&dynamodb)),
            certificate_recovery::local_aws::sesv2(&config, Some(&ses)),
        )
    }

    pub async fn stop(self) {
        self.api.stop().await;
    }
}

pub use local_api::notices::{code_in, report_token};

/// Runs futures concurrently on the test runtime and collects their outputs in order.
pub async fn join_all<F: std::future::Future + Send + 'static>(futures: Vec<F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}
