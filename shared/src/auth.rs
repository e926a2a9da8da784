//! ID token verification with `jsonwebtoken`: signature against the issuer's JWKS (with `kid`
//! rotation), `iss`, `aud`, `exp`, `nbf`; the algorithm pinned per issuer, never taken from
//! the token.

use crate::domain::AccountSubject;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// Where an issuer's keys come from.
#[derive(Debug, Clone)]
pub enum JwksSource {
    /// A JWKS document given in the configuration.
    Inline(JwkSet),
    /// The issuer's JWKS URL, fetched once per container and again on an unknown `kid`.
    Url(String),
}

#[derive(Debug, Clone)]
pub struct IssuerSettings {
    pub issuer: String,
    pub audience: String,
    pub algorithm: Algorithm,
    pub jwks: JwksSource,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    #[error("setting {0} is missing")]
    Missing(String),
    #[error("setting {0} is invalid")]
    Invalid(String),
}

impl IssuerSettings {
    /// Reads `{PREFIX}_ISSUER`, `{PREFIX}_AUDIENCE`, `{PREFIX}_JWT_ALGORITHM` (default RS256)
    /// and either `{PREFIX}_JWKS` (inline JSON) or `{PREFIX}_JWKS_URL`.
    pub fn from_lookup(prefix: &str, get: impl Fn(&str) -> Option<String>) -> Result<Self, AuthConfigError> {
        let name = |suffix: &str| format!("{prefix}_{suffix}");
        let required = |suffix: &str| {
            get(&name(suffix)).filter(|v| !v.trim().is_empty()).ok_or_else(|| AuthConfigError::Missing(name(suffix)))
        };
        let algorithm = match get(&name("JWT_ALGORITHM")) {
            None => Algorithm::RS256,
            Some(raw) => parse_algorithm(&raw).ok_or_else(|| AuthConfigError::Invalid(name("JWT_ALGORITHM")))?,
        };
        let jwks = match (get(&name("JWKS")).filter(|v| !v.trim().is_empty()), get(&name("JWKS_URL"))) {
            (Some(inline), _) => {
                JwksSource::Inline(serde_json::from_str(&inline).map_err(|_| AuthConfigError::Invalid(name("JWKS")))?)
            }
            (None, Some(url)) if url.starts_with("https://") || url.starts_with("http://127.0.0.1") => {
                JwksSource::Url(url)
            }
            (None, Some(_)) => return Err(AuthConfigError::Invalid(name("JWKS_URL"))),
            (None, None) => return Err(AuthConfigError::Missing(name("JWKS_URL"))),
        };
        Ok(Self { issuer: required("ISSUER")?, audience: required("AUDIENCE")?, algorithm, jwks })
    }
}

/// Asymmetric algorithms only: a shared secret has no place in an OpenID Connect ID token.
fn parse_algorithm(raw: &str) -> Option<Algorithm> {
    let alg = Algorithm::from_str(raw.trim()).ok()?;
    matches!(
        alg,
        Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512
            | Algorithm::ES256
            | Algorithm::ES384
            | Algorithm::EdDSA
    )
    .then_some(alg)
}

/// Why a token was refused. Never shown to the caller beyond `unauthorized`.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no bearer token")]
    Missing,
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's algorithm is not the issuer's")]
    WrongAlgorithm,
    #[error("the token has no kid or an unknown one")]
    UnknownKey,
    #[error("the token was refused: {0:?}")]
    Invalid(jsonwebtoken::errors::ErrorKind),
    #[error("the issuer's keys could not be fetched: {0}")]
    KeysUnavailable(String),
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default, deserialize_with = "roles")]
    roles: Vec<String>,
}

fn roles<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Roles {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<Roles>::deserialize(d)? {
        None => Vec::new(),
        Some(Roles::One(r)) => vec![r],
        Some(Roles::Many(r)) => r,
    })
}

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account: AccountSubject,
    pub roles: Vec<String>,
}

impl Caller {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

const REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// Verifies tokens of one issuer.
pub struct IssuerVerifier {
    settings: IssuerSettings,
    validation: Validation,
    keys: RwLock<HashMap<String, DecodingKey>>,
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
    refetch_interval: Duration,
}

impl IssuerVerifier {
    pub fn new(settings: IssuerSettings) -> Self {
        let mut validation = Validation::new(settings.algorithm);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 30;
        let keys = match &settings.jwks {
            JwksSource::Inline(set) => keys_of(set, settings.algorithm),
            JwksSource::Url(_) => HashMap::new(),
        };
        Self {
            settings,
            validation,
            keys: RwLock::new(keys),
            last_fetch: tokio::sync::Mutex::new(None),
            refetch_interval: REFETCH_INTERVAL,
        }
    }

    /// How soon an unknown `kid` may fetch the JWKS again (a minute by default).
    pub fn with_refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    pub async fn verify(&self, token: &str) -> Result<Caller, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != self.settings.algorithm {
            return Err(TokenError::WrongAlgorithm);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = match self.key(&kid) {
            Some(key) => key,
            None => {
                self.refresh_keys().await?;
                self.key(&kid).ok_or(TokenError::UnknownKey)?
            }
        };
        let data = jsonwebtoken::decode::<Claims>(token, &key, &self.validation)
            .map_err(|e| TokenError::Invalid(e.into_kind()))?;
        let account = AccountSubject::parse(&data.claims.sub).map_err(|_| TokenError::Malformed)?;
        Ok(Caller { account, roles: data.claims.roles })
    }

    fn key(&self, kid: &str) -> Option<DecodingKey> {
        self.keys.read().expect("keys lock").get(kid).cloned()
    }

    /// Fetches the JWKS again, at most once a minute, so an unknown `kid` cannot be used to
    /// hammer the issuer.
    async fn refresh_keys(&self) -> Result<(), TokenError> {
        let JwksSource::Url(url) = &self.settings.jwks else {
            return Ok(());
        };
        let mut last = self.last_fetch.lock().await;
        if last.is_some_and(|at| at.elapsed() < self.refetch_interval) {
            return Ok(());
        }
        *last = Some(Instant::now());
        let set = crate::jwks_fetch::fetch(url).await.map_err(TokenError::KeysUnavailable)?;
        let keys = keys_of(&set, self.settings.algorithm);
        tracing::info!(issuer = %self.settings.issuer, keys = keys.len(), "issuer keys fetched");
        *self.keys.write().expect("keys lock") = keys;
        Ok(())
    }
}

/// The keys of a JWKS usable with the pinned algorithm, by `kid`.
fn keys_of(set: &JwkSet, algorithm: Algorithm) -> HashMap<String, DecodingKey> {
    set.keys
        .iter()
        .filter(|jwk| usable(jwk, algorithm))
        .filter_map(|jwk| Some((jwk.common.key_id.clone()?, DecodingKey::from_jwk(jwk).ok()?)))
        .collect()
}

fn usable(jwk: &Jwk, algorithm: Algorithm) -> bool {
    use jsonwebtoken::jwk::{AlgorithmParameters, KeyAlgorithm};
    let family_ok = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => matches!(
            algorithm,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
        ),
        AlgorithmParameters::EllipticCurve(_) => {
            matches!(algorithm, Algorithm::ES256 | Algorithm::ES384)
        }
        AlgorithmParameters::OctetKeyPair(_) => algorithm == Algorithm::EdDSA,
        _ => false,
    };
    let declared_ok = match jwk.common.key_algorithm {
        None => true,
        Some(declared) => KeyAlgorithm::from_str(&format!("{algorithm:?}")).is_ok_and(|pinned| pinned == declared),
    };
    family_ok && declared_ok
}

/// Both issuers: citizens (SAG) and staff.
pub struct TokenVerifier {
    pub citizen: IssuerVerifier,
    pub staff: Option<IssuerVerifier>,
}

impl TokenVerifier {
    pub fn from_env() -> Result<Self, AuthConfigError> {
        let get = |k: &str| std::env::var(k).ok();
        let citizen = IssuerVerifier::new(IssuerSettings::from_lookup("CITIZEN", get)?);
        let staff = match std::env::var("STAFF_ISSUER") {
            Ok(_) => Some(IssuerVerifier::new(IssuerSettings::from_lookup("STAFF", get)?)),
            Err(_) => None,
        };
        Ok(Self { citizen, staff })
    }
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer_token(header: Option<&str>) -> Result<&str, TokenError> {
    let value = header.ok_or(TokenError::Missing)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(TokenError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(TokenError::Malformed);
    }
    Ok(token.trim())
}
