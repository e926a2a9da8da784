//! Every `events/*.json` through the Lambda function that takes it, as the runtime would hand it
//! over: an API Gateway HTTP API payload 2.0 event per route, through the function that serves
//! the route; SES's delivery, bounce and complaint events as SNS delivers them (event
//! publishing of the configuration set), through the `delivery-events` function's work.
//! On the memory store and outbox, and on DynamoDB Local and moto, where each function's AWS
//! calls are recorded for `iam_parity`.

use crate::common;

use certificate_recovery::audit::{Actor, AuditAction, AuditEvent};
use certificate_recovery::delivery::{self, Recorded, ses_event};
use certificate_recovery::domain::{
    AccountSubject, AssistanceRequest, AssistanceStatus, CertificateNumber, Delivery, Language, PreferredTime,
};
use certificate_recovery::http::ROUTES;
use certificate_recovery::iam_recording;
use certificate_recovery::lambda::{DELIVERY_EVENTS, Function};
use common::{Backend, TestApp, spawn_app};
use lambda_http::Body;
use serde_json::Value;

const EVENTS: [(&str, &str); 13] = [
    ("lookup", include_str!("../../../events/lookup.json")),
    ("verify-code", include_str!("../../../events/verify-code.json")),
    ("send-code", include_str!("../../../events/send-code.json")),
    ("assistance", include_str!("../../../events/assistance.json")),
    ("recovery-state", include_str!("../../../events/recovery-state.json")),
    ("check-invoice", include_str!("../../../events/check-invoice.json")),
    ("me-certificate", include_str!("../../../events/me-certificate.json")),
    ("agent-list-requests", include_str!("../../../events/agent-list-requests.json")),
    ("agent-get-request", include_str!("../../../events/agent-get-request.json")),
    ("agent-resolve-request", include_str!("../../../events/agent-resolve-request.json")),
    ("agent-certificate-audit", include_str!("../../../events/agent-certificate-audit.json")),
    ("report-describe", include_str!("../../../events/report-describe.json")),
    ("report-confirm", include_str!("../../../events/report-confirm.json")),
];

/// SES's events through SNS, and what each reports.
const SES_EVENTS: [(&str, &str, Delivery); 3] = [
    ("ses-delivery", include_str!("../../../events/ses-delivery.json"), Delivery::Delivered),
    ("ses-bounce", include_str!("../../../events/ses-bounce.json"), Delivery::Bounced),
    ("ses-complaint", include_str!("../../../events/ses-complaint.json"), Delivery::Complained),
];

/// The SES event record inside an SNS sample (`Records[0].Sns.Message`).
fn ses_record(sample: &str) -> Value {
    let invocation: Value = serde_json::from_str(sample).unwrap();
    serde_json::from_str(invocation["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap()
}

/// The sample with its message id replaced by `message_id` (a message this app sent).
fn naming(sample: &str, message_id: &str) -> Value {
    let mut invocation: Value = serde_json::from_str(sample).unwrap();
    let mut record = ses_record(sample);
    record["mail"]["messageId"] = message_id.into();
    record["mail"]["commonHeaders"]["messageId"] = message_id.into();
    invocation["Records"][0]["Sns"]["Message"] = record.to_string().into();
    invocation
}

#[test]
fn there_is_one_event_per_route_and_a_sample_per_ses_event() {
    let mut routes: Vec<String> = ROUTES.iter().map(|(m, p, _)| format!("{m} {p}")).collect();
    let mut keys: Vec<String> = EVENTS
        .iter()
        .map(|(_, e)| serde_json::from_str::<Value>(e).unwrap()["routeKey"].as_str().unwrap().to_owned())
        .collect();
    routes.sort();
    keys.sort();
    assert_eq!(routes, keys);
    let mut on_disk: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../events"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let mut named: Vec<String> = EVENTS
        .iter()
        .map(|(n, _)| *n)
        .chain(SES_EVENTS.iter().map(|(n, _, _)| *n))
        .map(|n| format!("{n}.json"))
        .collect();
    on_disk.sort();
    named.sort();
    assert_eq!(on_disk, named);
    // The report routes need no sign-in: their events carry no token and no authorizer.
    for (name, event) in EVENTS.iter().filter(|(n, _)| n.starts_with("report-")) {
        let event: Value = serde_json::from_str(event).unwrap();
        assert!(event["headers"].get("authorization").is_none(), "{name}");
        assert!(event["requestContext"].get("authorizer").is_none(), "{name}");
    }
}

/// The samples are SES's event records as SNS hands them to Lambda, and the library reads each
/// as what it reports, on the message it names.
#[test]
fn the_ses_samples_read_as_what_they_report() {
    for (name, sample, delivery) in SES_EVENTS {
        let invocation: Value = serde_json::from_str(sample).unwrap();
        let record = &invocation["Records"][0];
        assert_eq!(record["EventSource"], "aws:sns", "{name}");
        assert_eq!(record["Sns"]["Type"], "Notification", "{name}");
        let message = ses_record(sample);
        let message_id = message["mail"]["messageId"].as_str().unwrap();
        assert!(
            message["mail"]["tags"]["ses:configuration-set"].is_array(),
            "{name}: published by the configuration set"
        );
        let events = ses_event::from_sns(&invocation);
        assert_eq!(events.len(), 1, "{name}");
        let event = events.into_iter().next().unwrap().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(event.delivery, delivery, "{name}");
        assert_eq!(event.message_id, message_id, "{name}");
        let detail = message[message["eventType"].as_str().unwrap().to_lowercase()]["timestamp"].as_str().unwrap();
        let at = time::OffsetDateTime::parse(detail, &time::format_description::well_known::Rfc3339).unwrap();
        assert_eq!(event.at, Some(at), "{name}: when SES says it happened");
        assert_eq!(event.bounce_type.as_deref(), (delivery == Delivery::Bounced).then_some("Permanent"), "{name}");
    }
}

/// The "this wasn't me" token of the first email to `to` that carries one.
async fn report_token(app: &TestApp, to: &str) -> String {
    let emails = app.emails_to(to).await;
    emails
        .iter()
        .find_map(|e| {
            let (_, rest) = e.body.split_once("/signalement/")?;
            let token: String =
                rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
            (token.len() == 22).then_some(token)
        })
        .unwrap_or_else(|| panic!("no email to {to} carries a report link"))
}

/// The SES message id of the last email to `to`: the outbox's, or moto's.
async fn last_message_id(app: &TestApp, to: &str) -> String {
    match &app.api.outbox {
        Some(outbox) => {
            outbox.sent().iter().rev().find(|m| m.email.to.as_str() == to).expect("an email").message_id.clone()
        }
        None => {
            let (_, ses) = common::emulators().unwrap();
            let data: Value =
                app.client.get(format!("{ses}/moto-api/data.json")).send().await.unwrap().json().await.unwrap();
            let messages = data["ses"]["Message"].as_array().cloned().unwrap_or_default();
            let message = messages.iter().rev().find(|m| m["destinations"]["ToAddresses"][0] == to).expect("an email");
            message["id"].as_str().unwrap().to_owned()
        }
    }
}

/// Runs `event` through the function that serves its route, as the runtime would (and, on the
/// emulators, as that function for the IAM recording).
async fn run(
    app: &TestApp,
    name: &str,
    event: &str,
    bearer: Option<&str>,
) -> (u16, Value, lambda_http::Response<Body>) {
    let mut request = lambda_http::request::from_str(event).unwrap_or_else(|e| panic!("{name}: {e}"));
    if let Some(bearer) = bearer {
        request.headers_mut().insert("authorization", format!("Bearer {bearer}").parse().unwrap());
    }
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let function =
        Function::serving(&method, &path).unwrap_or_else(|| panic!("{name}: no function for {method} {path}"));
    let response = iam_recording::serving(function, function.handle(&app.api.app, request)).await;
    let body: Value = match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap(),
        other => panic!("{name}: {other:?}"),
    };
    (response.status().as_u16(), body, response)
}

async fn every_event_runs_through_its_function(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let token = app.token("holder-from-events");
    // In this order the events tell a whole recovery: a match, a verify before any code, a
    // code sent, an assistance request, the state, the invoice that links, the summary.
    let staff = app.api.staff_token("agent-from-events", &["agent"]);
    // The staff events name the request AR-7K3M-9Q2P: file it as a holder would have.
    let request = AssistanceRequest {
        reference: "AR-7K3M-9Q2P".into(),
        account: AccountSubject::parse("holder-waiting-for-a-call").unwrap(),
        certificate_number: CertificateNumber::parse("AG-100001").unwrap(),
        preferred_time: PreferredTime::Afternoon,
        language: Language::Fr,
        message: None,
        created_at: app.api.app.clock.now(),
        status: AssistanceStatus::Open,
        reported: None,
    };
    let event = AuditEvent::new(
        &request.certificate_number,
        request.created_at,
        Actor::account(&request.account),
        AuditAction::AssistanceRequest,
        "opened",
    );
    app.api.app.store.open_assistance_request(&request, event).await.unwrap();
    let first_email = app.email_of("AG-100001");
    // Then the staff events: the queue (the events' holder's request and this one), the
    // request, its resolution with a new email, the file's audit trail. Last, the report
    // events: their token is no notice's.
    let expected = [
        (200, "matched"),
        (410, "code_expired"),
        (200, "code_sent"),
        (201, "assistance_requested"),
        (200, "code_sent"),
        (200, "linked"),
        (200, ""),
        (200, ""),
        (200, ""),
        (200, ""),
        (200, ""),
        (410, "report_expired"),
        (410, "report_expired"),
    ];
    assert_eq!(expected.len(), EVENTS.len(), "every event runs");
    for ((name, event), (status, word)) in EVENTS.iter().zip(expected) {
        let bearer = match *name {
            n if n.starts_with("agent-") => Some(staff.as_str()),
            n if n.starts_with("report-") => None,
            _ => Some(token.as_str()),
        };
        let (got_status, body, response) = run(&app, name, event, bearer).await;
        assert_eq!(got_status, status, "{name}: {body}");
        let got =
            if status < 300 { body["state"].as_str().unwrap_or_default() } else { body["code"].as_str().unwrap() };
        assert_eq!(got, word, "{name}: {body}");
        assert_eq!(response.headers()["content-language"], "fr", "{name}");
        match *name {
            "agent-list-requests" => assert_eq!(body["items"].as_array().unwrap().len(), 2, "{body}"),
            "agent-get-request" => assert_eq!(body["status"], "open"),
            "agent-resolve-request" => {
                assert_eq!((body["status"].as_str(), body["outcome"].as_str()), (Some("closed"), Some("email_updated")))
            }
            "agent-certificate-audit" => {
                assert!(body["items"].as_array().unwrap().iter().any(|e| e["action"] == "email_change"))
            }
            _ => {}
        }
    }

    // The report events again, with the token of the link notice the invoice's link sent to the
    // file's first address: what it reports, then confirmed (the link undone), then used.
    let real = report_token(&app, &first_email).await;
    let with_token = |event: &str| event.replace("q3Vb8xN2kL0pR5tY7wZ1aQ", &real);
    let (status, body, _) = run(&app, "report-describe", &with_token(EVENTS[11].1), None).await;
    assert_eq!((status, body["kind"].as_str()), (200, Some("link")), "{body}");
    assert_eq!(body["maskedCertificateNumber"], "•••001", "{body}");
    let (status, body, _) = run(&app, "report-confirm", &with_token(EVENTS[12].1), None).await;
    assert_eq!(
        (status, body["state"].as_str(), body["undone"].as_bool()),
        (200, Some("reported"), Some(true)),
        "{body}"
    );
    app.my_certificate(&token).await.assert(404, "not_linked");
    let (status, body, _) = run(&app, "report-describe", &with_token(EVENTS[11].1), None).await;
    assert_eq!((status, body["code"].as_str()), (410, Some("report_expired")), "{body}");
    app.stop().await;
}

/// SES's three samples, naming a code email this app really sent, through the
/// `delivery-events` function's work: the code's state follows (delivered, then bounced; a
/// complaint after a bounce is no news), and a sample naming a message that is not ours
/// changes nothing.
async fn ses_samples_reach_the_message_they_name(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let holder = app.token("holder-of-ses-events");
    app.lookup(&holder, "AG-100002", "1975-06-15").await;
    let email = app.email_of("AG-100002");
    app.send_code(&holder).await.assert(200, "code_sent");
    assert_eq!(app.state(&holder).await.body["delivery"], "sent");
    let message_id = last_message_id(&app, &email).await;

    let handle = |invocation: Value| {
        let app = app.api.app.clone();
        async move {
            iam_recording::serving_as(
                DELIVERY_EVENTS,
                delivery::handle_sns_event(&app, &Default::default(), &invocation),
            )
            .await
        }
    };
    let [(_, delivered, _), (_, bounced, _), (_, complained, _)] = SES_EVENTS;
    let steps = [
        (delivered, Recorded::Updated(Delivery::Delivered), "delivered"),
        (bounced, Recorded::Updated(Delivery::Bounced), "bounced"),
        (complained, Recorded::Unchanged, "bounced"),
    ];
    for (sample, recorded, state) in steps {
        let answer = handle(naming(sample, &message_id)).await.expect("recorded");
        assert_eq!(answer, [recorded]);
        assert_eq!(app.state(&holder).await.body["delivery"], state);
    }
    // The bounce is on the file, for the employee, and in its trail.
    let trail = app.audit("AG-100002").await;
    assert!(trail.iter().any(|e| e.action == AuditAction::EmailDelivery && e.outcome == "bounced"), "{trail:?}");
    // As SES would send them in AWS: messages that are not this app's.
    for (name, sample, _) in SES_EVENTS {
        let invocation: Value = serde_json::from_str(sample).unwrap();
        assert_eq!(handle(invocation).await.expect(name), [Recorded::UnknownMessage], "{name}");
    }
    app.stop().await;
}

on_both_backends!(every_event_runs_through_its_function, ses_samples_reach_the_message_they_name);
