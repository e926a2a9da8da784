//! Token checks (`docs/rules.md#tokens`): every bad token gets 401 and changes nothing; keys come from the
//! issuer's JWKS URL, fetched once and again on an unknown `kid` (rotation); when the issuer
//! is down the last good keys keep working and an unknown `kid` gets 503, not 401.

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use certificate_recovery::auth::{IssuerSettings, IssuerVerifier, JwksSource, TokenError};
use certificate_recovery::dev_issuer::DevIssuer;
use certificate_recovery::store::Counter;
use common::{Backend, TestApp, spawn_app};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn claims(app: &TestApp, sub: &str) -> Value {
    json!({"iss": app.api.citizen_issuer, "aud": local_api::AUDIENCE, "sub": sub, "iat": now(), "nbf": now(), "exp": now() + 600})
}

fn with(mut base: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

fn hs256(claims: &Value, kid: &str, secret: &[u8]) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret).unwrap()).unwrap()
}

fn unsigned(claims: &Value, kid: &str) -> String {
    let header = json!({"alg": "none", "typ": "JWT", "kid": kid});
    format!("{}.{}.", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()))
}

#[tokio::test]
async fn every_bad_token_is_refused_and_changes_nothing() {
    let app = spawn_app(Backend::Memory).await.unwrap();
    let sub = "token-victim";
    let issuer = &app.api.issuer;
    let kid = issuer.kid().to_owned();
    let good = claims(&app, sub);
    let (n, _) = issuer.public_components();
    let modulus = URL_SAFE_NO_PAD.decode(n).unwrap();
    let jwks_text = issuer.jwks().to_string();
    let other_key = DevIssuer::generate();
    let same_kid_other_key = other_key.sign_with_header(
        &{
            let mut h = Header::new(Algorithm::RS256);
            h.kid = Some(kid.clone());
            h
        },
        &good,
    );
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("not a bearer", Some(format!("Basic {}", URL_SAFE_NO_PAD.encode("a:b")))),
        ("garbage", Some("Bearer not.a.token".into())),
        ("expired", Some(issuer.sign(&with(good.clone(), json!({"exp": now() - 3600, "nbf": now() - 7200}))))),
        ("not yet valid", Some(issuer.sign(&with(good.clone(), json!({"nbf": now() + 3600}))))),
        (
            "no exp",
            Some(issuer.sign(&{
                let mut c = good.clone();
                c.as_object_mut().unwrap().remove("exp");
                c
            })),
        ),
        ("wrong issuer", Some(issuer.sign(&with(good.clone(), json!({"iss": "https://evil.example"}))))),
        (
            "staff issuer on a citizen route",
            Some(issuer.sign(&with(good.clone(), json!({"iss": app.api.staff_issuer, "roles": ["agent"]})))),
        ),
        ("wrong audience", Some(issuer.sign(&with(good.clone(), json!({"aud": "another-app"}))))),
        (
            "unknown kid",
            Some(issuer.sign_with_header(
                &{
                    let mut h = Header::new(Algorithm::RS256);
                    h.kid = Some("rotated-away".into());
                    h
                },
                &good,
            )),
        ),
        ("no kid", Some(issuer.sign_with_header(&Header::new(Algorithm::RS256), &good))),
        ("wrong key", Some(same_kid_other_key)),
        ("alg none", Some(unsigned(&good, &kid))),
        ("HS256 with the RSA modulus", Some(hs256(&good, &kid, &modulus))),
        ("HS256 with the JWKS text", Some(hs256(&good, &kid, jwks_text.as_bytes()))),
        ("HS256 with the modulus text", Some(hs256(&good, &kid, n.as_bytes()))),
    ];
    for (name, token) in &cases {
        let token = token.as_ref().map(|t| t.strip_prefix("Bearer ").unwrap_or(t).to_owned());
        let mut request = app
            .client
            .post(app.api.url("/recovery/lookup"))
            .json(&json!({"certificateNumber": "AG-100001", "dateOfBirth": "1980-02-29"}));
        if let Some(token) = &token {
            request = if name == &"not a bearer" {
                request.header("authorization", token)
            } else {
                request.bearer_auth(token)
            };
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{name}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "unauthorized", "{name}");
    }
    // Nothing happened: no session, no audit event, no counted try.
    let valid = app.token(sub);
    app.state(&valid).await.assert(200, "none");
    assert!(app.audit("AG-100001").await.is_empty());
    let now = app.api.app.clock.now();
    assert_eq!(app.api.app.store.counter(Counter::LookupFailuresOfCertificate, "AG100001", now).await.unwrap(), None);
    // And the good token works.
    app.lookup(&valid, "AG-100001", "1980-02-29").await.assert(200, "matched");
    app.stop().await;
}

/// A JWKS endpoint on 127.0.0.1 whose answer can be changed: a rotation at the issuer, an
/// outage (HTTP 500), or a reply without usable keys.
#[derive(Clone)]
struct JwksEndpoint {
    url: String,
    reply: Arc<Mutex<(u16, String)>>,
    hits: Arc<AtomicU32>,
}

impl JwksEndpoint {
    async fn start(jwks: Value) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
        let endpoint =
            Self { url, reply: Arc::new(Mutex::new((200, jwks.to_string()))), hits: Arc::new(AtomicU32::new(0)) };
        let (reply, hits) = (endpoint.reply.clone(), endpoint.hits.clone());
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let (status, body) = reply.lock().unwrap().clone();
                hits.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut buffer = [0u8; 2048];
                    let _ = stream.read(&mut buffer).await;
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len(),
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                });
            }
        });
        endpoint
    }

    fn serve(&self, jwks: Value) {
        *self.reply.lock().unwrap() = (200, jwks.to_string());
    }

    fn fail(&self) {
        *self.reply.lock().unwrap() = (500, "{}".into());
    }

    fn hits(&self) -> u32 {
        self.hits.load(Ordering::SeqCst)
    }

    fn source(&self) -> JwksSource {
        JwksSource::Url(self.url.parse().unwrap())
    }
}

const ISSUER: &str = "https://sag.example";

fn verifier_of(endpoint: &JwksEndpoint) -> IssuerVerifier {
    IssuerVerifier::new(IssuerSettings {
        issuer: ISSUER.into(),
        audience: "recovery".into(),
        algorithm: Algorithm::RS256,
        jwks: endpoint.source(),
    })
}

fn token_of(issuer: &DevIssuer) -> String {
    issuer.token(ISSUER, "recovery", "holder", &[], 300)
}

#[tokio::test]
async fn keys_are_fetched_once_and_again_on_rotation() {
    let old = DevIssuer::generate();
    let new = DevIssuer::generate();
    let endpoint = JwksEndpoint::start(old.jwks()).await;
    let verifier = verifier_of(&endpoint).with_refetch_interval(Duration::ZERO);

    assert_eq!(verifier.verify(&token_of(&old)).await.unwrap().account.as_str(), "holder");
    assert_eq!(verifier.verify(&token_of(&old)).await.unwrap().account.as_str(), "holder");
    assert_eq!(endpoint.hits(), 1, "fetched once, then cached");

    // The issuer rotates: the new kid is unknown, so the keys are fetched again.
    endpoint.serve(new.jwks());
    assert_eq!(verifier.verify(&token_of(&new)).await.unwrap().account.as_str(), "holder");
    assert_eq!(endpoint.hits(), 2);
    assert!(matches!(verifier.verify(&token_of(&old)).await, Err(TokenError::UnknownKey)));
}

/// A function fetches its issuer's keys at start (`Function::start_plan`): the first signed-in
/// request then verifies with no fetch of its own. A failed fetch at start starts no backoff:
/// the first request fetches the keys itself, as it would have.
#[tokio::test]
async fn keys_fetched_at_start_serve_the_first_request_and_a_failure_there_delays_nothing() {
    let issuer = DevIssuer::generate();
    let endpoint = JwksEndpoint::start(issuer.jwks()).await;
    let verifier = verifier_of(&endpoint);
    verifier.fetch_at_start().await;
    assert_eq!(endpoint.hits(), 1, "fetched at start");
    assert_eq!(verifier.verify(&token_of(&issuer)).await.unwrap().account.as_str(), "holder");
    assert_eq!(endpoint.hits(), 1, "the first request fetched nothing");

    endpoint.fail();
    let verifier = verifier_of(&endpoint);
    verifier.fetch_at_start().await;
    assert_eq!(endpoint.hits(), 2, "tried at start");
    endpoint.serve(issuer.jwks());
    assert_eq!(verifier.verify(&token_of(&issuer)).await.unwrap().account.as_str(), "holder");
    assert_eq!(endpoint.hits(), 3, "the first request fetched at once, with no backoff");
}

#[tokio::test]
async fn an_unknown_kid_cannot_hammer_the_issuer() {
    let issuer = DevIssuer::generate();
    let endpoint = JwksEndpoint::start(issuer.jwks()).await;
    let verifier = verifier_of(&endpoint);
    let stranger = DevIssuer::generate();
    for _ in 0..5 {
        assert!(matches!(verifier.verify(&token_of(&stranger)).await, Err(TokenError::UnknownKey)));
    }
    assert_eq!(endpoint.hits(), 1, "one fetch a minute at most");
}

/// The issuer answers an error, then a JWKS without a usable key: the keys already known keep
/// verifying, and a token with an unknown `kid` is told the keys cannot be had (503), not
/// that it is invalid (401, which signs the holder out).
#[tokio::test]
async fn the_last_good_keys_outlive_a_failing_or_empty_jwks() {
    let issuer = DevIssuer::generate();
    let endpoint = JwksEndpoint::start(issuer.jwks()).await;
    let verifier = verifier_of(&endpoint).with_refetch_interval(Duration::ZERO);
    let stranger = DevIssuer::generate();
    assert!(verifier.verify(&token_of(&issuer)).await.is_ok());

    let no_usable_key = json!({"keys": [{"kty": "oct", "kid": "shared", "k": "c2VjcmV0"}]});
    for (name, outage) in
        [("500", None), ("no keys", Some(json!({"keys": []}))), ("no usable key", Some(no_usable_key))]
    {
        match outage {
            None => endpoint.fail(),
            Some(jwks) => endpoint.serve(jwks),
        }
        let hits = endpoint.hits();
        let refused = verifier.verify(&token_of(&stranger)).await;
        assert_eq!(endpoint.hits(), hits + 1, "{name}: the unknown kid fetched the keys");
        assert!(matches!(refused, Err(TokenError::KeysUnavailable(_))), "{name}: {refused:?}");
        assert!(verifier.verify(&token_of(&issuer)).await.is_ok(), "{name}: the known key still verifies");
    }
}

/// After a failed fetch the keys are fetched again within seconds (not a minute), still at
/// most once per backoff however many unknown kids arrive, and the backoff grows while the
/// issuer stays down.
#[tokio::test]
async fn a_failed_fetch_is_retried_after_a_short_backoff() {
    let issuer = DevIssuer::generate();
    let endpoint = JwksEndpoint::start(issuer.jwks()).await;
    endpoint.fail();
    let verifier = verifier_of(&endpoint); // the default one-minute refetch interval
    let unavailable = |r: Result<_, TokenError>| matches!(r, Err(TokenError::KeysUnavailable(_)));

    let stranger = DevIssuer::generate();
    let unknown_kids: Vec<String> = (0..5)
        .map(|i| {
            let mut header = Header::new(Algorithm::RS256);
            header.kid = Some(format!("unknown-{i}"));
            stranger
                .sign_with_header(&header, &json!({"iss": ISSUER, "aud": "recovery", "sub": "x", "exp": now() + 300}))
        })
        .collect();

    assert!(unavailable(verifier.verify(&token_of(&issuer)).await));
    for token in &unknown_kids {
        assert!(unavailable(verifier.verify(token).await));
    }
    assert_eq!(endpoint.hits(), 1, "a flood of unknown kids waits for the backoff");

    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert!(unavailable(verifier.verify(&token_of(&issuer)).await));
    assert_eq!(endpoint.hits(), 2, "retried after about a second");

    // Second failure in a row: the backoff doubles to about two seconds.
    endpoint.serve(issuer.jwks());
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert!(unavailable(verifier.verify(&token_of(&issuer)).await));
    assert_eq!(endpoint.hits(), 2);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(verifier.verify(&token_of(&issuer)).await.unwrap().account.as_str(), "holder");
    assert_eq!(endpoint.hits(), 3);
}

#[test]
fn jwks_urls_are_parsed_not_prefix_matched() {
    let settings = |url: &str| {
        let url = url.to_owned();
        IssuerSettings::from_lookup("CITIZEN", move |name| match name {
            "CITIZEN_ISSUER" => Some(ISSUER.into()),
            "CITIZEN_AUDIENCE" => Some("recovery".into()),
            "CITIZEN_JWKS_URL" => Some(url.clone()),
            _ => None,
        })
    };
    for good in [
        "https://sag.example/.well-known/jwks.json",
        "https://sag.example:8443/jwks",
        "http://127.0.0.1:8080/jwks",
        "http://127.20.30.40/jwks",
        "http://localhost:9000/jwks",
        "http://[::1]:9000/jwks",
    ] {
        assert!(settings(good).is_ok(), "{good} refused");
    }
    for (bad, reason) in [
        ("http://127.0.0.1@evil.example/jwks", "user"),
        ("http://127.0.0.1:80@evil.example/jwks", "user"),
        ("https://user:secret@sag.example/jwks", "user"),
        ("http://127.0.0.1.evil.example/jwks", "loopback"),
        ("http://evil.example/jwks", "loopback"),
        ("http://localhost.evil.example/jwks", "loopback"),
        ("http://[::ffff:8.8.8.8]/jwks", "loopback"),
        ("ftp://sag.example/jwks", "https"),
        ("https:/sag.example/jwks", "https"),
        ("sag.example/jwks", "https"),
        ("", "missing"),
    ] {
        let error = settings(bad).err().unwrap_or_else(|| panic!("{bad} accepted"));
        let message = error.to_string();
        assert!(message.contains("CITIZEN_JWKS_URL"), "{bad}: {message}");
        assert!(message.contains(reason), "{bad}: {message}");
    }
}

/// The whole request path: the issuer's JWKS endpoint is down. A holder whose token's key is
/// already known goes on; a token with a key not yet fetched is answered 503
/// `service_unavailable` problem+json (the page keeps the holder signed in), on a citizen
/// route and on a staff route.
#[tokio::test]
async fn an_issuer_outage_answers_503_not_401() {
    use certificate_recovery::auth::TokenVerifier;
    use certificate_recovery::http::router::route;
    let citizen_issuer = DevIssuer::generate();
    let staff_issuer = DevIssuer::generate();
    let citizen_keys = JwksEndpoint::start(citizen_issuer.jwks()).await;
    let staff_keys = JwksEndpoint::start(staff_issuer.jwks()).await;
    let verifier = |iss: &str, endpoint: &JwksEndpoint| {
        IssuerVerifier::new(IssuerSettings {
            issuer: iss.into(),
            audience: "recovery".into(),
            algorithm: Algorithm::RS256,
            jwks: endpoint.source(),
        })
        // Every unknown kid fetches, as the first one after a minute would.
        .with_refetch_interval(Duration::ZERO)
    };
    let app = certificate_recovery::App::new(
        Default::default(),
        Arc::new(certificate_recovery::store::memory::MemoryStore::new()),
        Arc::new(certificate_recovery::mailer::outbox::Outbox::new()),
        TokenVerifier {
            citizen: verifier(ISSUER, &citizen_keys),
            staff: Some(verifier("https://staff.example", &staff_keys)),
        },
        certificate_recovery::security_code_hash::CodeHasher::new(&secrecy::SecretString::from(
            "a-test-secret-of-at-least-32-bytes!!",
        ))
        .unwrap(),
    );
    let call = |path: &str, token: String| {
        let request = http::Request::builder()
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .body(lambda_http::Body::Empty)
            .unwrap();
        let app = &app;
        async move {
            let response = route(app, request).await;
            let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
            let body: Value = match response.body() {
                lambda_http::Body::Text(text) => serde_json::from_str(text).unwrap(),
                other => panic!("unexpected body {other:?}"),
            };
            (response.status().as_u16(), content_type, body)
        }
    };
    let holder = citizen_issuer.token(ISSUER, "recovery", "holder", &[], 300);
    let agent = staff_issuer.token("https://staff.example", "recovery", "agent-1", &["agent".into()], 300);
    assert_eq!(call("/recovery", holder.clone()).await.0, 200, "keys fetched while the issuer is up");

    citizen_keys.fail();
    staff_keys.fail();
    assert_eq!(call("/recovery", holder.clone()).await.0, 200, "the known key goes on verifying");
    let rotated = DevIssuer::generate().token(ISSUER, "recovery", "holder", &[], 300);
    for (path, token) in [("/recovery", rotated), ("/agent/assistance-requests?status=open", agent)] {
        let (status, content_type, body) = call(path, token).await;
        assert_eq!((status, content_type.as_str()), (503, "application/problem+json"), "{path}: {body}");
        assert_eq!(body["code"], "service_unavailable", "{path}");
        assert_eq!(body["status"], 503, "{path}");
        assert!(body["title"].as_str().is_some_and(|t| t.contains("temporairement")), "{path}: {body}");
    }
}
