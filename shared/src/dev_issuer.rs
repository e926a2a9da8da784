//! The development token issuer: an RSA key made at start, signing citizen and staff ID
//! tokens, and its JWKS. Compiled only into the local API and tests (feature `dev-issuer`),
//! never into a Lambda function.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub struct DevIssuer {
    key: EncodingKey,
    kid: String,
    public_n: String,
    public_e: String,
}

impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIssuer").field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// Reads one DER element: its tag, its content and what follows.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        (rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | *b as usize), &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The PKCS#1 `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo`.
fn pkcs1_of_pkcs8(pkcs8: &[u8]) -> Option<Vec<u8>> {
    let (0x30, info, _) = der_element(pkcs8)? else {
        return None;
    };
    let (0x02, _version, rest) = der_element(info)? else {
        return None;
    };
    let (0x30, _algorithm, rest) = der_element(rest)? else {
        return None;
    };
    let (0x04, private_key, _) = der_element(rest)? else {
        return None;
    };
    Some(private_key.to_vec())
}

impl DevIssuer {
    /// A fresh key, for tests.
    pub fn generate() -> Self {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).expect("PKCS#8 encoding");
        Self::from_pkcs8(pkcs8.as_ref(), format!("dev-{}", crate::ids::random_hex(4))).expect("generated key")
    }

    /// The repository's development key (`dev/dev-issuer.pem`, kid `dev-local`): the local
    /// API signs with it so that functions under `cargo lambda watch`, configured with
    /// `dev/lambda.env`, accept the same tokens.
    pub fn development() -> Self {
        Self::from_pem(include_str!("../../dev/dev-issuer.pem"), "dev-local").expect("dev/dev-issuer.pem is an RSA key")
    }

    /// An RSA key from a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pem(pem: &str, kid: &str) -> Option<Self> {
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD.decode(body.trim()).ok()?;
        Self::from_pkcs8(&der, kid.to_owned())
    }

    fn from_pkcs8(pkcs8: &[u8], kid: String) -> Option<Self> {
        let pair = KeyPair::from_pkcs8(pkcs8).ok()?;
        let pkcs1 = pkcs1_of_pkcs8(pkcs8)?;
        let public = pair.public_key();
        let public_n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let public_e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        Some(Self { key: EncodingKey::from_rsa_der(&pkcs1), kid, public_n, public_e })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWKS document.
    pub fn jwks(&self) -> Value {
        json!({"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid, "n": self.public_n, "e": self.public_e}]})
    }

    /// The modulus and exponent, base64url, e.g. to forge alg-confusion tokens in tests.
    pub fn public_components(&self) -> (&str, &str) {
        (&self.public_n, &self.public_e)
    }

    /// Signs any claims with this key, RS256, with this key's `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        self.sign_with_header(&header, claims)
    }

    pub fn sign_with_header(&self, header: &Header, claims: &Value) -> String {
        jsonwebtoken::encode(header, claims, &self.key).expect("token signs")
    }

    /// A token for `sub` from `issuer` to `audience`, valid for `ttl_seconds`.
    pub fn token(&self, issuer: &str, audience: &str, sub: &str, roles: &[String], ttl_seconds: i64) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        self.sign(&json!({
            "iss": issuer, "aud": audience, "sub": sub, "roles": roles,
            "iat": now, "nbf": now, "exp": now + ttl_seconds,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{IssuerSettings, IssuerVerifier, JwksSource, TokenError};

    fn verifier(issuer: &DevIssuer) -> IssuerVerifier {
        IssuerVerifier::new(IssuerSettings {
            issuer: "https://sag.example".into(),
            audience: "recovery".into(),
            algorithm: Algorithm::RS256,
            jwks: JwksSource::Inline(serde_json::from_value(issuer.jwks()).unwrap()),
        })
    }

    #[test]
    fn the_development_key_matches_the_committed_jwks() {
        let committed: serde_json::Value = serde_json::from_str(include_str!("../../dev/jwks.json")).unwrap();
        assert_eq!(DevIssuer::development().jwks(), committed);
        let env = include_str!("../../dev/lambda.env");
        let inline = env.lines().find_map(|l| l.strip_prefix("CITIZEN_JWKS='")).unwrap().trim_end_matches('\'');
        assert_eq!(serde_json::from_str::<serde_json::Value>(inline).unwrap(), committed);
    }

    #[tokio::test]
    async fn its_tokens_verify_and_others_do_not() {
        let issuer = DevIssuer::generate();
        let v = verifier(&issuer);
        let token = issuer.token("https://sag.example", "recovery", "abc", &["agent".into()], 300);
        let caller = v.verify(&token).await.unwrap();
        assert_eq!(caller.account.as_str(), "abc");
        assert!(caller.has_role("agent"));
        let other = DevIssuer::generate();
        let forged = other.sign_with_header(
            &{
                let mut h = Header::new(Algorithm::RS256);
                h.kid = Some(issuer.kid().to_owned());
                h
            },
            &json!({"iss": "https://sag.example", "aud": "recovery", "sub": "abc", "exp": 4_000_000_000u64}),
        );
        assert!(matches!(v.verify(&forged).await, Err(TokenError::Invalid(_))));
    }
}
