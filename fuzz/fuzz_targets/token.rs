//! The token header and claims path: `auth::bearer_token` on the `Authorization` header, then
//! `IssuerVerifier::verify` against the development key's JWKS (RS256 pinned), as every route
//! runs it. The first byte picks a mode:
//!
//! 0. any header: if a token is extracted it is trimmed and non-empty, and it never verifies
//!    (nobody but the key signs);
//! 1. any claims, signed with the development key: a token verifies only when `iss`, `aud`,
//!    `exp`, `nbf` and `sub` are right, and the caller is its `sub` with its roles;
//! 2. a real token with bytes overwritten: it verifies only when unchanged;
//! 3. any header bytes spliced onto a real token's claims and signature: it never verifies
//!    unless the header is the real one, byte for byte; without a signature, never.
#![no_main]

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use certificate_recovery::auth::{IssuerSettings, IssuerVerifier, JwksSource, bearer_token};
use certificate_recovery::dev_issuer::DevIssuer;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

const ISSUER: &str = "urn:opc:dev:citizen";
const AUDIENCE: &str = "certificate-recovery-local";
const LEEWAY: i64 = 30;

struct Fixture {
    issuer: DevIssuer,
    verifier: IssuerVerifier,
    valid: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let issuer = DevIssuer::development();
        let verifier = IssuerVerifier::new(IssuerSettings {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            algorithm: jsonwebtoken::Algorithm::RS256,
            jwks: JwksSource::Inline(serde_json::from_value(issuer.jwks()).expect("dev JWKS")),
        });
        // Ten years: a long fuzz run never sees it expire.
        let valid = issuer.token(ISSUER, AUDIENCE, "fuzz-holder", &["agent".into()], 10 * 365 * 86_400);
        Fixture { issuer, verifier, valid }
    })
}

/// Verification with inline keys never waits: one poll finishes it.
fn verify(token: &str) -> Result<certificate_recovery::auth::Caller, certificate_recovery::auth::TokenError> {
    let mut future = std::pin::pin!(fixture().verifier.verify(token));
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result,
        Poll::Pending => panic!("verifying with inline keys waited"),
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Whether `claims` are ones the verifier must accept (checked against what it did).
fn claims_ok(claims: &Value) -> bool {
    let number = |name: &str| claims.get(name).and_then(Value::as_f64);
    let iss_ok = claims.get("iss").and_then(Value::as_str) == Some(ISSUER);
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == AUDIENCE,
        Some(Value::Array(items)) => items.iter().any(|a| a.as_str() == Some(AUDIENCE)),
        _ => false,
    };
    let exp_ok = number("exp").is_some_and(|exp| exp > (now() - LEEWAY) as f64);
    aud_ok && iss_ok && exp_ok
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let f = fixture();
    match mode % 4 {
        0 => {
            let Ok(header) = std::str::from_utf8(rest) else { return };
            if let Ok(token) = bearer_token(Some(header)) {
                assert!(!token.is_empty() && token.trim() == token);
                assert!(header.trim().to_ascii_lowercase().starts_with("bearer"));
                assert!(header.contains(token));
                assert!(verify(token).is_err(), "an unsigned token verified");
            }
        }
        1 => {
            let Ok(claims) = serde_json::from_slice::<Value>(rest) else { return };
            let token = f.issuer.sign(&claims);
            match verify(&token) {
                Ok(caller) => {
                    assert!(claims_ok(&claims), "accepted claims {claims}");
                    assert_eq!(claims["sub"].as_str(), Some(caller.account.as_str()));
                    let nbf = claims.get("nbf").and_then(Value::as_f64);
                    assert!(nbf.is_none_or(|nbf| nbf <= (now() + LEEWAY) as f64), "accepted before nbf");
                    for role in &caller.roles {
                        let given = match &claims["roles"] {
                            Value::String(r) => r == role,
                            Value::Array(items) => items.iter().any(|r| r.as_str() == Some(role)),
                            _ => false,
                        };
                        assert!(given, "role {role:?} was not in the token");
                    }
                }
                Err(_) => {
                    // Refusing valid-looking claims is allowed only for a reason the
                    // verifier has: sub, roles, nbf or a type it cannot read.
                }
            }
        }
        2 => {
            let mut token = f.valid.clone().into_bytes();
            for pair in rest.chunks_exact(3) {
                let at = u16::from_le_bytes([pair[0], pair[1]]) as usize % token.len();
                token[at] = pair[2];
            }
            let Ok(token) = String::from_utf8(token) else { return };
            if verify(&token).is_ok() {
                assert_eq!(token, f.valid, "a changed token verified");
            }
            if let Ok(extracted) = bearer_token(Some(&format!("Bearer {token}"))) {
                if verify(extracted).is_ok() {
                    assert_eq!(extracted, f.valid);
                }
            }
        }
        _ => {
            let parts: Vec<&str> = f.valid.split('.').collect();
            let header = URL_SAFE_NO_PAD.encode(rest);
            let token = format!("{header}.{}.{}", parts[1], parts[2]);
            if verify(&token).is_ok() {
                assert_eq!(header, parts[0], "a forged header verified");
            }
            // Without a signature (`alg: none` and the like) nothing verifies.
            assert!(verify(&format!("{header}.{}.", parts[1])).is_err(), "a token without a signature verified");
        }
    }
});
