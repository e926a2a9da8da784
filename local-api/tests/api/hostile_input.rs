//! Hostile input through the whole API: what the API fuzzing (`scripts/api-fuzz.sh`) and the
//! fuzz targets (`scripts/fuzz.sh`) found, as regression tests on both stores, and their
//! invariants as property tests in CI — any cursor is a page or a 400 that records nothing;
//! any `Authorization` header short of a token the issuer signed is a 401; signed claims
//! pass only when issuer, audience, expiry and subject are right.

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Backend, TestApp, spawn_app};
use proptest::prelude::*;
use serde_json::{Value, json};

/// A page, or 400 `invalid_request` naming `field` — never anything else.
#[track_caller]
fn page_or_refused(answer: &common::Answer, field: &str) -> bool {
    match answer.status.as_u16() {
        200 => {
            assert!(answer.body["items"].is_array(), "{}", answer.body);
            true
        }
        400 => {
            answer.assert(400, "invalid_request");
            let errors = answer.body["errors"].as_array().unwrap();
            assert!(errors.iter().any(|e| e["field"] == field && e["reason"] == "invalid_format"), "{}", answer.body);
            false
        }
        other => panic!("{other} for a cursor: {}", answer.body),
    }
}

fn cursor(value: Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

async fn an_encoded_path_parameter_is_decoded_as_api_gateway_decodes_it(backend: Backend) {
    // Found by schemathesis: a number with spaces reached the handler still percent-encoded
    // (`AG%20100001`) and was refused as too long, where API Gateway's `pathParameters` hold
    // it decoded.
    let Some(app) = spawn_app(backend).await else { return };
    let staff = app.api.staff_token("agent-fuzz", &["agent"]);
    for path in ["AG%20100001", "ag%2D100001", "%20AG-100001%09"] {
        let answer = app.request("GET", &format!("/agent/certificates/{path}/audit"), Some(&staff), None).await;
        answer.assert(200, "");
        let items = answer.body["items"].as_array().unwrap();
        assert!(items.iter().all(|e| e["certificateNumber"] == "AG100001"), "{path}: {}", answer.body);
        assert_eq!(items[0]["action"], "staff_view_audit", "{path}");
    }
    // An escape that is not one stays as it is, and a number that is not one is still a 400.
    let answer = app.request("GET", "/agent/certificates/AG%2G100001/audit", Some(&staff), None).await;
    answer.assert(400, "invalid_request");
    assert_eq!(answer.body["errors"][0]["field"], "number");
    // A reference too.
    let holder = app.token("fuzz-decoded");
    app.lookup(&holder, "AG-100003", "1990-11-02").await.assert(200, "matched");
    let reference = app.assistance(&holder).await.body["reference"].as_str().unwrap().to_owned();
    let encoded = reference.to_lowercase().replace('-', "%2d");
    let answer = app.request("GET", &format!("/agent/assistance-requests/{encoded}"), Some(&staff), None).await;
    answer.assert(200, "");
    assert_eq!(answer.body["reference"], reference.as_str());
    app.api.stop().await;
}

async fn a_queue_cursor_is_a_request_reference_at_a_time_or_a_400(backend: Backend) {
    // Found writing the `cursors` fuzz target's invariant ("a decoded cursor is a position
    // the API could have given"): the queue's `next` took any `r` (empty, 3,000 characters)
    // and any `t` (before 1970, fractional) and handed them to the store as a start key,
    // where the audit trail's `cursor` refused a tampered one with a 400.
    let Some(app) = spawn_app(backend).await else { return };
    let staff = app.api.staff_token("agent-fuzz", &["agent"]);
    let list = |next: String| {
        let app = &app;
        let staff = staff.clone();
        async move {
            let path = format!("/agent/assistance-requests?status=open&next={next}");
            app.request("GET", &path, Some(&staff), None).await
        }
    };
    for refused in [
        json!({"t": 0, "r": "A".repeat(3000)}),
        json!({"t": 0, "r": ""}),
        json!({"t": 0, "r": "ar-0000-0000"}),
        json!({"t": -1, "r": "AR-0000-0000"}),
        json!({"t": 1.5, "r": "AR-0000-0000"}),
        json!({"r": "AR-0000-0000"}),
        json!(["AR-0000-0000", 0]),
        json!({"p": "yes", "t": 0, "r": "AR-0000-0000"}),
        json!({"t": 0, "r": "AR-0000-0000"}),
    ] {
        let answer = list(cursor(refused.clone())).await;
        assert!(!page_or_refused(&answer, "next"), "{refused} was taken");
    }
    let answer = list(cursor(json!({"p": false, "t": 0, "r": "AR-0000-0000"}))).await;
    assert!(page_or_refused(&answer, "next"));
    app.api.stop().await;
}

on_both_backends!(
    an_encoded_path_parameter_is_decoded_as_api_gateway_decodes_it,
    a_queue_cursor_is_a_request_reference_at_a_time_or_a_400,
);

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap())
}

/// One local API (memory store) for every case of the property tests below.
fn app() -> &'static TestApp {
    static APP: std::sync::OnceLock<TestApp> = std::sync::OnceLock::new();
    APP.get_or_init(|| runtime().block_on(spawn_app(Backend::Memory)).unwrap())
}

fn cursor_string() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        Just(json!("AR-0000-0000")),
        "AR-[0-9A-Z]{4}-[0-9A-Z]{4}".prop_map(Value::from),
        "[A-Za-z0-9]{0,70}".prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(Value::Null),
    ];
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_=+/-]{0,200}",
        (any::<i64>(), prop_oneof![Just("t"), Just("x")], prop_oneof![Just("r"), Just("i"), Just("id")], field)
            .prop_map(|(t, tk, k, v)| cursor(json!({ tk: t, k: v }))),
        (any::<u64>(), "[A-Za-z0-9]{1,64}").prop_map(|(t, i)| cursor(json!({"t": t, "i": i}))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn any_cursor_is_a_page_or_a_400_that_records_nothing(raw in cursor_string(), audit in any::<bool>()) {
        let app = app();
        let staff = app.api.staff_token("agent-proptest", &["agent"]);
        runtime().block_on(async {
            let before = app.audit("AG-100002").await.len();
            let (path, field) = if audit {
                ("/agent/certificates/AG-100002/audit", "cursor")
            } else {
                ("/agent/assistance-requests", "next")
            };
            let url = reqwest::Url::parse_with_params(&app.api.url(path), &[(field, raw.as_str())]).unwrap();
            let response = app.client.get(url).bearer_auth(&staff).send().await.unwrap();
            let answer = common::Answer {
                status: response.status(),
                headers: response.headers().clone(),
                body: response.json().await.unwrap(),
            };
            let page = page_or_refused(&answer, field);
            let recorded = app.audit("AG-100002").await.len() - before;
            // Opening the trail is recorded; a refused request records nothing.
            assert_eq!(recorded, usize::from(page && audit), "{raw:?}");
        });
    }

    #[test]
    fn any_authorization_header_short_of_a_signed_token_is_a_401(header in prop_oneof![
        "[ -~]{0,80}",
        "(Bearer|bearer|BEARER|Basic|) {0,3}[A-Za-z0-9_.=+/-]{0,120}",
        "Bearer [A-Za-z0-9_-]{10,40}\\.[A-Za-z0-9_-]{10,60}\\.[A-Za-z0-9_-]{0,40}",
    ]) {
        let app = app();
        runtime().block_on(async {
            let answer = app.request_with("GET", "/recovery", None, None, &[("authorization", &header)]).await;
            answer.assert(401, "unauthorized");
        });
    }

    #[test]
    fn signed_claims_pass_only_when_issuer_audience_expiry_and_subject_are_right(
        iss in prop_oneof![3 => Just(Some(json!(local_api::CITIZEN_ISSUER))), 1 => Just(Some(json!(local_api::STAFF_ISSUER))), 1 => Just(None), 1 => Just(Some(json!(7)))],
        aud in prop_oneof![3 => Just(Some(json!(local_api::AUDIENCE))), 1 => Just(Some(json!([local_api::AUDIENCE, "other"]))), 1 => Just(Some(json!("other"))), 1 => Just(None)],
        exp in prop_oneof![3 => Just(Some(600i64)), 1 => Just(Some(-600)), 1 => Just(None)],
        nbf in prop_oneof![3 => Just(None), 1 => Just(Some(-60i64)), 1 => Just(Some(600))],
        sub in prop_oneof![3 => "[a-z0-9-]{1,40}".prop_map(|s| Some(json!(s))), 1 => Just(Some(json!(""))), 1 => Just(Some(json!("a\u{0}b"))), 1 => Just(Some(json!(42))), 1 => Just(None)],
        roles in prop_oneof![Just(None), Just(Some(json!(["agent"]))), Just(Some(json!("agent"))), Just(Some(json!(3)))],
    ) {
        let app = app();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut claims = serde_json::Map::new();
        for (name, value) in [
            ("iss", iss.clone()), ("aud", aud.clone()), ("exp", exp.map(|d| json!(now + d))),
            ("nbf", nbf.map(|d| json!(now + d))), ("sub", sub.clone()), ("roles", roles.clone()),
        ] {
            if let Some(value) = value {
                claims.insert(name.to_owned(), value);
            }
        }
        let token = app.api.issuer.sign(&Value::Object(claims.clone()));
        let valid_sub = sub.as_ref().and_then(Value::as_str).is_some_and(|s| !s.is_empty() && !s.chars().any(char::is_control));
        let expected = iss == Some(json!(local_api::CITIZEN_ISSUER))
            && matches!(&aud, Some(a) if a == local_api::AUDIENCE || a.as_array().is_some_and(|l| l.contains(&json!(local_api::AUDIENCE))))
            && exp == Some(600)
            && nbf != Some(600)
            && valid_sub
            && !matches!(roles, Some(Value::Number(_)));
        runtime().block_on(async {
            let answer = app.request("GET", "/recovery", Some(&token), None).await;
            let (status, state) = if expected { (200, "none") } else { (401, "unauthorized") };
            assert_eq!(answer.status.as_u16(), status, "claims {claims:?}: {}", answer.body);
            answer.assert(status, state);
        });
    }
}
