//! Every `events/*.json` (an API Gateway HTTP API payload 2.0 event) through the Lambda
//! function that serves its route, as the runtime would hand it over.

use crate::common;

use certificate_recovery::audit::{Actor, AuditAction, AuditEvent};
use certificate_recovery::domain::{
    AccountSubject, AssistanceRequest, AssistanceStatus, CertificateNumber, Language, PreferredTime,
};
use certificate_recovery::http::ROUTES;
use certificate_recovery::lambda::Function;
use common::{Backend, spawn_app};
use lambda_http::Body;
use serde_json::Value;

const EVENTS: [(&str, &str); 11] = [
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
];

#[test]
fn there_is_one_event_per_route() {
    let mut routes: Vec<String> = ROUTES.iter().map(|(m, p, _)| format!("{m} {p}")).collect();
    let mut keys: Vec<String> = EVENTS
        .iter()
        .map(|(_, e)| serde_json::from_str::<Value>(e).unwrap()["routeKey"].as_str().unwrap().to_owned())
        .collect();
    routes.sort();
    keys.sort();
    assert_eq!(routes, keys);
    let on_disk = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../events")).unwrap().count();
    assert_eq!(on_disk, EVENTS.len());
}

#[tokio::test]
async fn every_event_runs_through_its_function() {
    let app = spawn_app(Backend::Memory).await.unwrap();
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
    // Then the staff events: the queue (the events' holder's request and this one), the
    // request, its resolution with a new email, the file's audit trail.
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
    ];
    assert_eq!(expected.len(), EVENTS.len(), "every event runs");
    for ((name, event), (status, word)) in EVENTS.iter().zip(expected) {
        let mut request = lambda_http::request::from_str(event).unwrap_or_else(|e| panic!("{name}: {e}"));
        let bearer = if name.starts_with("agent-") { &staff } else { &token };
        request.headers_mut().insert("authorization", format!("Bearer {bearer}").parse().unwrap());
        let method = request.method().as_str().to_owned();
        let path = request.uri().path().to_owned();
        let function =
            Function::serving(&method, &path).unwrap_or_else(|| panic!("{name}: no function for {method} {path}"));
        let response = function.handle(&app.api.app, request).await;
        assert_eq!(response.status().as_u16(), status, "{name}");
        let body: Value = match response.body() {
            Body::Text(text) => serde_json::from_str(text).unwrap(),
            other => panic!("{name}: {other:?}"),
        };
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
    app.stop().await;
}
