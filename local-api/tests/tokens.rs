//! Token checks (SPEC §3): every bad token gets 401 and changes nothing; keys come from the
//! issuer's JWKS URL, fetched once and again on an unknown `kid` (rotation).

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use certificate_recovery::auth::{IssuerSettings, IssuerVerifier, JwksSource, TokenError};
use certificate_recovery::dev_issuer::DevIssuer;
use certificate_recovery::store::Counter;
use common::{Backend, TestApp, spawn_app};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

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

/// A JWKS endpoint on 127.0.0.1 whose keys can be swapped (a rotation at the issuer).
async fn jwks_server(jwks: Arc<Mutex<Value>>, hits: Arc<Mutex<u32>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let body = jwks.lock().unwrap().to_string();
            *hits.lock().unwrap() += 1;
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buffer = [0u8; 2048];
                let _ = stream.read(&mut buffer).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                    body.len(),
                    body
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{address}/.well-known/jwks.json")
}

#[tokio::test]
async fn keys_are_fetched_once_and_again_on_rotation() {
    let old = DevIssuer::generate();
    let new = DevIssuer::generate();
    let jwks = Arc::new(Mutex::new(old.jwks()));
    let hits = Arc::new(Mutex::new(0));
    let url = jwks_server(jwks.clone(), hits.clone()).await;
    let verifier = IssuerVerifier::new(IssuerSettings {
        issuer: "https://sag.example".into(),
        audience: "recovery".into(),
        algorithm: Algorithm::RS256,
        jwks: JwksSource::Url(url),
    })
    .with_refetch_interval(std::time::Duration::ZERO);
    let token = |issuer: &DevIssuer| issuer.token("https://sag.example", "recovery", "holder", &[], 300);

    assert_eq!(verifier.verify(&token(&old)).await.unwrap().account.as_str(), "holder");
    assert_eq!(verifier.verify(&token(&old)).await.unwrap().account.as_str(), "holder");
    assert_eq!(*hits.lock().unwrap(), 1, "fetched once, then cached");

    // The issuer rotates: the new kid is unknown, so the keys are fetched again.
    *jwks.lock().unwrap() = new.jwks();
    assert_eq!(verifier.verify(&token(&new)).await.unwrap().account.as_str(), "holder");
    assert_eq!(*hits.lock().unwrap(), 2);
    assert!(matches!(verifier.verify(&token(&old)).await, Err(TokenError::UnknownKey)));
}

#[tokio::test]
async fn an_unknown_kid_cannot_hammer_the_issuer() {
    let issuer = DevIssuer::generate();
    let hits = Arc::new(Mutex::new(0));
    let url = jwks_server(Arc::new(Mutex::new(issuer.jwks())), hits.clone()).await;
    let verifier = IssuerVerifier::new(IssuerSettings {
        issuer: "https://sag.example".into(),
        audience: "recovery".into(),
        algorithm: Algorithm::RS256,
        jwks: JwksSource::Url(url),
    });
    let stranger = DevIssuer::generate();
    for _ in 0..5 {
        let forged = stranger.token("https://sag.example", "recovery", "x", &[], 300);
        assert!(verifier.verify(&forged).await.is_err());
    }
    assert_eq!(*hits.lock().unwrap(), 1, "one fetch a minute at most");
}
