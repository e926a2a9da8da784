//! The holder's and the employee's paths, walked in process through the very router the Lambda
//! functions run (`certificate_recovery::http::route`), each request made from its API Gateway
//! fixture in `events/` (`lambda_http::request::from_str`), on a [`LocalApi`] built over a
//! generated registry. An [`Observer`] is told when each route's call begins and ends: the
//! capacity meter (`paths`) and the CPU benchmark (`benches/routes.rs`) are two observers.

use local_api::{LocalApi, Options, Seed};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// One route's call, named by the function that serves it and what happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    LookupMatch,
    LookupNoMatch,
    SendCode,
    RecoveryState,
    VerifyWrongCode,
    VerifyCode,
    MyCertificate,
    DeliveryEvent,
    WrongInvoice,
    CheckInvoice,
    Assistance,
    AgentList,
    AgentGet,
    AgentResolve,
    AgentAudit,
    ReportDescribe,
    ReportConfirm,
}

impl Step {
    pub const ALL: [Step; 17] = [
        Self::LookupMatch,
        Self::LookupNoMatch,
        Self::SendCode,
        Self::RecoveryState,
        Self::VerifyWrongCode,
        Self::VerifyCode,
        Self::MyCertificate,
        Self::DeliveryEvent,
        Self::WrongInvoice,
        Self::CheckInvoice,
        Self::Assistance,
        Self::AgentList,
        Self::AgentGet,
        Self::AgentResolve,
        Self::AgentAudit,
        Self::ReportDescribe,
        Self::ReportConfirm,
    ];

    /// The function and route, and the path through it.
    pub fn label(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::LookupMatch => ("lookup", "POST /recovery/lookup", "match"),
            Self::LookupNoMatch => ("lookup", "POST /recovery/lookup", "no match"),
            Self::SendCode => ("send-code", "POST /recovery/code", "code sent"),
            Self::RecoveryState => ("recovery-state", "GET /recovery", "code sent, polled"),
            Self::VerifyWrongCode => ("verify-code", "POST /recovery/verify", "wrong code"),
            Self::VerifyCode => ("verify-code", "POST /recovery/verify", "right code: linked"),
            Self::MyCertificate => ("recovery-state", "GET /me/certificate", "linked"),
            Self::DeliveryEvent => ("delivery-events", "SNS: SES Delivery", "the code's email delivered"),
            Self::WrongInvoice => ("check-invoice", "POST /recovery/invoice", "wrong invoice"),
            Self::CheckInvoice => ("check-invoice", "POST /recovery/invoice", "right invoice: linked"),
            Self::Assistance => ("assistance", "POST /recovery/assistance", "request opened"),
            Self::AgentList => ("agent-desk", "GET /agent/assistance-requests", "queue"),
            Self::AgentGet => ("agent-desk", "GET /agent/assistance-requests/{reference}", "opened"),
            Self::AgentResolve => {
                ("agent-desk", "POST /agent/assistance-requests/{reference}/resolve", "email_updated")
            }
            Self::AgentAudit => ("agent-desk", "GET /agent/certificates/{number}/audit", "trail"),
            Self::ReportDescribe => ("report", "GET /report/{token}", "the link notice's link"),
            Self::ReportConfirm => ("report", "POST /report/{token}", "confirmed: unlinked, frozen"),
        }
    }
}

/// The recoveries a holder makes, as sequences of steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Journey {
    /// Lookup, a code sent (its delivery reported by SES), the page polling once, a wrong code,
    /// the right one, the certificate shown.
    EmailCode,
    /// Lookup, a wrong invoice, the right one, the certificate shown.
    Invoice,
    /// Lookup, an assistance request, the employee's queue, the request, its resolution, the
    /// file's trail.
    Assistance,
    /// The email-code path, then the link notice's "this wasn't me" link opened and confirmed.
    Report,
    /// A lookup that matches nothing.
    NoMatch,
}

impl Journey {
    pub const ALL: [Journey; 5] = [Self::EmailCode, Self::Invoice, Self::Assistance, Self::Report, Self::NoMatch];

    pub fn name(self) -> &'static str {
        match self {
            Self::EmailCode => "email code",
            Self::Invoice => "invoice",
            Self::Assistance => "assistance",
            Self::Report => "this wasn't me",
            Self::NoMatch => "no match",
        }
    }

    pub fn steps(self) -> &'static [Step] {
        use Step::*;
        match self {
            Self::EmailCode => {
                &[LookupMatch, SendCode, DeliveryEvent, RecoveryState, VerifyWrongCode, VerifyCode, MyCertificate]
            }
            Self::Invoice => &[LookupMatch, WrongInvoice, CheckInvoice, MyCertificate],
            Self::Assistance => &[LookupMatch, Assistance, AgentList, AgentGet, AgentResolve, AgentAudit],
            Self::Report => &[LookupMatch, SendCode, VerifyCode, ReportDescribe, ReportConfirm],
            Self::NoMatch => &[LookupNoMatch],
        }
    }
}

/// Told around each route's call.
pub trait Observer {
    fn begin(&self, step: Step);
    fn end(&self, step: Step, status: u16);
}

/// Observes nothing.
pub struct Nobody;
impl Observer for Nobody {
    fn begin(&self, _: Step) {}
    fn end(&self, _: Step, _: u16) {}
}

/// A holder of the generated registry: one certificate file, its date of birth and invoice.
#[derive(Debug, Clone)]
pub struct Holder {
    pub certificate: String,
    pub date_of_birth: String,
    pub invoice: String,
}

/// A registry of `count` certificate files, each with an email and a recent invoice, written
/// as the seed folder `certificates.csv` / `invoices.csv` under `dir`.
pub fn registry(dir: &Path, count: usize) -> std::io::Result<Vec<Holder>> {
    std::fs::create_dir_all(dir)?;
    let today = time::OffsetDateTime::now_utc().date();
    let issued = today - time::Duration::days(40);
    let mut certificates =
        String::from("certificate_number,holder_name,date_of_birth,email,phone,language,status,expires_on\n");
    let mut invoices = String::from("invoice_number,certificate_number,issued_on,amount\n");
    let mut holders = Vec::with_capacity(count);
    for i in 0..count {
        let certificate = format!("BC-{:06}", 100_000 + i);
        let date_of_birth = format!("19{:02}-{:02}-{:02}", 50 + i % 50, 1 + i % 12, 1 + i % 28);
        let invoice = format!("F-BENCH-{i:06}");
        certificates.push_str(&format!(
            "{certificate},Titulaire {i},{date_of_birth},titulaire.{i}@exemple.ca,514-555-{:04},fr,active,{}\n",
            i % 10_000,
            today + time::Duration::days(365)
        ));
        invoices.push_str(&format!("{invoice},{certificate},{issued},245.00\n"));
        holders.push(Holder { certificate, date_of_birth, invoice });
    }
    std::fs::write(dir.join("certificates.csv"), certificates)?;
    std::fs::write(dir.join("invoices.csv"), invoices)?;
    Ok(holders)
}

/// The local API's options over the registry in `dir`: the rule settings' defaults, the
/// outbox for mail, the memory store unless `dynamodb_endpoint`.
pub fn options(dir: PathBuf, dynamodb_endpoint: Option<String>, table: &str) -> Options {
    Options { seed: Seed::Dir(dir), dynamodb_endpoint, table: table.to_owned(), ..Options::new(0) }
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).expect(name)
}

/// The API Gateway event of `fixture`, for `path`, with `token` and `body`.
fn request(fixture_name: &str, path: &str, token: &str, body: Option<Value>) -> lambda_http::Request {
    let mut event = fixture(fixture_name);
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event["headers"]["authorization"] = json!(format!("Bearer {token}"));
    match body {
        Some(body) => {
            let text = body.to_string();
            event["headers"]["content-length"] = json!(text.len().to_string());
            event["body"] = json!(text);
            event["isBase64Encoded"] = json!(false);
        }
        None => {
            if let Some(headers) = event["headers"].as_object_mut() {
                headers.remove("content-length");
            }
            event["body"] = Value::Null;
        }
    }
    // The path parameters as API Gateway would give them.
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    event["pathParameters"] = match segments.as_slice() {
        ["agent", "assistance-requests", reference, ..] => json!({"reference": reference}),
        ["agent", "certificates", number, ..] => json!({"number": number}),
        ["report", token] => json!({"token": token}),
        _ => Value::Null,
    };
    lambda_http::request::from_str(&event.to_string()).unwrap_or_else(|e| panic!("{fixture_name}: {e}"))
}

/// One walker over one local API: its tokens, its outbox, its counter of accounts.
pub struct Walker {
    pub api: LocalApi,
    accounts: std::sync::atomic::AtomicUsize,
    tag: String,
}

/// What a step answered.
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Walker {
    pub async fn new(options: Options) -> Self {
        let api = LocalApi::build(options).await.expect("the local API builds");
        let tag = certificate_recovery::ids::random_hex(4);
        Self { api, accounts: std::sync::atomic::AtomicUsize::new(0), tag }
    }

    async fn call(&self, observer: &dyn Observer, step: Step, request: lambda_http::Request) -> Answer {
        observer.begin(step);
        let response = certificate_recovery::http::route(&self.api.app, request).await;
        let status = response.status().as_u16();
        observer.end(step, status);
        let body = match response.body() {
            lambda_http::Body::Text(text) => serde_json::from_str(text).unwrap_or(Value::Null),
            lambda_http::Body::Binary(bytes) => serde_json::from_slice(bytes).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        Answer { status, body }
    }

    /// The latest email sent to the holder's address, as the outbox has it.
    fn latest_email_to(&self, holder: &Holder) -> certificate_recovery::mailer::outbox::SentEmail {
        let to = format!("titulaire.{}@exemple.ca", holder.certificate[3..].parse::<usize>().unwrap() - 100_000);
        let outbox = self.api.outbox.as_ref().expect("the outbox");
        outbox.sent().into_iter().rev().find(|sent| sent.email.to == to).expect("an email to the holder")
    }

    /// Walks `path` for `holder`, as a new account; panics when a step does not answer as the
    /// path expects (a benchmark of the wrong path is worse than none).
    pub async fn walk(&self, path: Journey, holder: &Holder, observer: &dyn Observer) {
        let n = self.accounts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let account = format!("bench-{}-{n}", self.tag);
        let token = self.api.citizen_token(&account);
        let staff = self.api.staff_token(&format!("agent-{}", self.tag), &["agent"]);
        let expect = |step: Step, answer: &Answer, status: u16| {
            assert_eq!(answer.status, status, "{step:?} ({}): {}", path.name(), answer.body);
        };
        let lookup_body = |dob: &str| json!({"certificateNumber": holder.certificate, "dateOfBirth": dob});
        let mut reference = String::new();
        let mut code = String::new();
        for &step in path.steps() {
            match step {
                Step::LookupMatch => {
                    let body = Some(lookup_body(&holder.date_of_birth));
                    let a = self.call(observer, step, request("lookup", "/recovery/lookup", &token, body)).await;
                    expect(step, &a, 200);
                }
                Step::LookupNoMatch => {
                    let body = Some(lookup_body("1901-01-01"));
                    let a = self.call(observer, step, request("lookup", "/recovery/lookup", &token, body)).await;
                    expect(step, &a, 422);
                }
                Step::SendCode => {
                    let a = self
                        .call(observer, step, request("send-code", "/recovery/code", &token, Some(json!({}))))
                        .await;
                    expect(step, &a, 200);
                    code = local_api::notices::code_in(&self.latest_email_to(holder).email.text);
                }
                Step::DeliveryEvent => {
                    let message_id = self.latest_email_to(holder).message_id;
                    let mut event = fixture("ses-delivery");
                    let mut message: Value =
                        serde_json::from_str(event["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
                    message["mail"]["messageId"] = json!(message_id);
                    event["Records"][0]["Sns"]["Message"] = json!(message.to_string());
                    let source =
                        certificate_recovery::delivery::EventSource { topic_arn: None, configuration_set: None };
                    observer.begin(step);
                    let recorded =
                        certificate_recovery::delivery::handle_sns_event(&self.api.app, &source, &event).await;
                    observer.end(step, if recorded.is_ok() { 200 } else { 500 });
                    assert_eq!(recorded.expect("the event is recorded").len(), 1, "one event recorded");
                }
                Step::RecoveryState => {
                    let a = self.call(observer, step, request("recovery-state", "/recovery", &token, None)).await;
                    expect(step, &a, 200);
                }
                Step::VerifyWrongCode => {
                    let wrong = if code == "000000" { "111111" } else { "000000" };
                    let body = Some(json!({"code": wrong}));
                    let a = self.call(observer, step, request("verify-code", "/recovery/verify", &token, body)).await;
                    expect(step, &a, 422);
                }
                Step::VerifyCode => {
                    let body = Some(json!({"code": code}));
                    let a = self.call(observer, step, request("verify-code", "/recovery/verify", &token, body)).await;
                    expect(step, &a, 200);
                }
                Step::MyCertificate => {
                    let a = self.call(observer, step, request("me-certificate", "/me/certificate", &token, None)).await;
                    expect(step, &a, 200);
                }
                Step::WrongInvoice => {
                    let body = Some(json!({"invoiceNumber": "F-0000-0000"}));
                    let a =
                        self.call(observer, step, request("check-invoice", "/recovery/invoice", &token, body)).await;
                    expect(step, &a, 422);
                }
                Step::CheckInvoice => {
                    let body = Some(json!({"invoiceNumber": holder.invoice}));
                    let a =
                        self.call(observer, step, request("check-invoice", "/recovery/invoice", &token, body)).await;
                    expect(step, &a, 200);
                }
                Step::Assistance => {
                    let body = Some(
                        json!({"preferredTime": "morning", "language": "fr", "message": "Je n’ai plus accès à mon courriel."}),
                    );
                    let a =
                        self.call(observer, step, request("assistance", "/recovery/assistance", &token, body)).await;
                    expect(step, &a, 201);
                    reference = a.body["reference"].as_str().expect("a reference").to_owned();
                }
                Step::AgentList => {
                    let r = request("agent-list-requests", "/agent/assistance-requests", &staff, None);
                    let a = self.call(observer, step, r).await;
                    expect(step, &a, 200);
                }
                Step::AgentGet => {
                    let path = format!("/agent/assistance-requests/{reference}");
                    let a = self.call(observer, step, request("agent-get-request", &path, &staff, None)).await;
                    expect(step, &a, 200);
                }
                Step::AgentResolve => {
                    let path = format!("/agent/assistance-requests/{reference}/resolve");
                    let body = Some(json!({"outcome": "email_updated", "newEmail": format!("{account}@exemple.ca")}));
                    let a = self.call(observer, step, request("agent-resolve-request", &path, &staff, body)).await;
                    expect(step, &a, 200);
                }
                Step::AgentAudit => {
                    let path = format!("/agent/certificates/{}/audit", holder.certificate);
                    let a = self.call(observer, step, request("agent-certificate-audit", &path, &staff, None)).await;
                    expect(step, &a, 200);
                }
                Step::ReportDescribe | Step::ReportConfirm => {
                    let notice = self.latest_email_to(holder).email.text;
                    let token = local_api::notices::report_token(&notice);
                    let path = format!("/report/{token}");
                    let (fixture_name, body) = match step {
                        Step::ReportDescribe => ("report-describe", None),
                        _ => ("report-confirm", Some(json!({}))),
                    };
                    let a = self.call(observer, step, request(fixture_name, &path, "none", body)).await;
                    expect(step, &a, 200);
                }
            }
        }
    }
}
