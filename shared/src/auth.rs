//! ID token verification with `jsonwebtoken`: signature against the issuer's JWKS (with `kid`
//! rotation), `iss`, `aud`, `exp`, `nbf`; the algorithm pinned per issuer, never taken from
//! the token.

use crate::domain::AccountSubject;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// Where an issuer's keys come from.
#[derive(Debug, Clone)]
pub enum JwksSource {
    /// A JWKS document given in the configuration.
    Inline(JwkSet),
    /// The issuer's JWKS URL, fetched once per container and again on an unknown `kid`.
    Url(JwksUrl),
}

/// An issuer's JWKS URL, checked once at start: HTTPS, or plain HTTP to this machine only (a
/// local issuer in development and tests), never with user info. The very URI checked here is
/// the one fetched: nothing parses the text again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksUrl(http::Uri);

/// Why a JWKS URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwksUrlError {
    #[error("not an absolute https:// URL")]
    NotAbsolute,
    #[error("only https is allowed (plain http only to a loopback host)")]
    Scheme,
    #[error("user info (user@ or user:password@ before the host) is not allowed")]
    UserInfo,
    #[error("plain http is allowed only to a loopback host (127.0.0.0/8, [::1], localhost); use https")]
    NotLoopback,
}

impl JwksUrl {
    pub fn parse(raw: &str) -> Result<Self, JwksUrlError> {
        let uri: http::Uri = raw.trim().parse().map_err(|_| JwksUrlError::NotAbsolute)?;
        let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
            return Err(JwksUrlError::NotAbsolute);
        };
        if authority.as_str().contains('@') {
            return Err(JwksUrlError::UserInfo);
        }
        if authority.host().is_empty() {
            return Err(JwksUrlError::NotAbsolute);
        }
        if *scheme == http::uri::Scheme::HTTPS {
            return Ok(Self(uri));
        }
        if *scheme != http::uri::Scheme::HTTP {
            return Err(JwksUrlError::Scheme);
        }
        if !is_loopback(authority.host()) {
            return Err(JwksUrlError::NotLoopback);
        }
        Ok(Self(uri))
    }

    pub fn as_uri(&self) -> &http::Uri {
        &self.0
    }
}

impl FromStr for JwksUrl {
    type Err = JwksUrlError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

impl std::fmt::Display for JwksUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// `localhost`, 127.0.0.0/8 or `[::1]`, written exactly so (no other spelling of an address).
fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let address = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    address.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
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
    #[error("setting {setting} is invalid: {reason}")]
    InvalidUrl { setting: String, reason: JwksUrlError },
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
        let present = |suffix: &str| get(&name(suffix)).filter(|v| !v.trim().is_empty());
        let jwks = match (present("JWKS"), present("JWKS_URL")) {
            (Some(inline), _) => {
                JwksSource::Inline(serde_json::from_str(&inline).map_err(|_| AuthConfigError::Invalid(name("JWKS")))?)
            }
            (None, Some(url)) => JwksSource::Url(
                JwksUrl::parse(&url)
                    .map_err(|reason| AuthConfigError::InvalidUrl { setting: name("JWKS_URL"), reason })?,
            ),
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

/// Why a token was refused. Never shown to the caller beyond its problem code:
/// `service_unavailable` when the issuer's keys cannot be had, `unauthorized` otherwise.
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
/// The wait after a failed fetch, doubled at each failure in a row up to
/// [`FAILURE_BACKOFF_MAX`] (and never above the refetch interval).
const FAILURE_BACKOFF: Duration = Duration::from_secs(1);
const FAILURE_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// When the JWKS may be fetched again, and how the last fetches went.
#[derive(Debug, Default)]
struct FetchState {
    /// No fetch before this instant; `None` until the first fetch.
    next_allowed: Option<Instant>,
    /// Failed fetches in a row, 0 after a good one.
    failures: u32,
}

/// Verifies tokens of one issuer.
pub struct IssuerVerifier {
    settings: IssuerSettings,
    validation: Validation,
    /// The last good keys: a failed fetch or a reply without a usable key leaves them alone.
    keys: RwLock<HashMap<String, DecodingKey>>,
    fetch: tokio::sync::Mutex<FetchState>,
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
            fetch: tokio::sync::Mutex::new(FetchState::default()),
            refetch_interval: REFETCH_INTERVAL,
        }
    }

    /// How soon an unknown `kid` may fetch the JWKS again after a good fetch (a minute by
    /// default); after a failed one the wait is shorter (one second, doubling).
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

    /// Fetches the issuer's keys before the first request (a function's start,
    /// `docs/rules.md#tokens`), so that the first signed-in request is verified without a
    /// handshake to the issuer. Tolerates failure: the keys stay as they were and no backoff
    /// starts, so the first request fetches them as it would have. Bounded by
    /// [`START_FETCH_TIMEOUT`], well under the fetch's own limits: it only saves the first
    /// request a handshake, and a slow issuer must not stretch a cold start toward the
    /// gateway's 30 s. Keys given inline: nothing.
    pub async fn fetch_at_start(&self) {
        let JwksSource::Url(url) = &self.settings.jwks else {
            return;
        };
        let started = Instant::now();
        let mut state = self.fetch.lock().await;
        let fetched = tokio::time::timeout(START_FETCH_TIMEOUT, self.fetch_keys(url))
            .await
            .unwrap_or_else(|_| Err("the fetch at start timed out".to_owned()));
        match fetched {
            Ok(keys) => {
                tracing::debug!(issuer = %self.settings.issuer, keys = keys.len(), elapsed_ms = started.elapsed().as_millis() as u64, "issuer keys fetched at start");
                self.keep(&mut state, keys);
            }
            Err(reason) => tracing::warn!(
                issuer = %self.settings.issuer,
                error = %reason,
                "issuer keys could not be fetched at start; the first request will fetch them"
            ),
        }
    }

    fn key(&self, kid: &str) -> Option<DecodingKey> {
        self.keys.read().expect("keys lock").get(kid).cloned()
    }

    /// Fetches the JWKS again, so an unknown `kid` cannot be used to hammer the issuer: at
    /// most once a minute after a good fetch, after a short growing backoff after a failed one.
    /// `Err(KeysUnavailable)` when the last fetch failed: the keys cannot be had for now.
    async fn refresh_keys(&self) -> Result<(), TokenError> {
        let JwksSource::Url(url) = &self.settings.jwks else {
            return Ok(());
        };
        let mut state = self.fetch.lock().await;
        if state.next_allowed.is_some_and(|at| Instant::now() < at) {
            return match state.failures {
                0 => Ok(()),
                n => Err(TokenError::KeysUnavailable(format!("{n} failed fetches in a row; waiting before the next"))),
            };
        }
        match self.fetch_keys(url).await {
            Ok(keys) => {
                tracing::info!(issuer = %self.settings.issuer, keys = keys.len(), "issuer keys fetched");
                self.keep(&mut state, keys);
                Ok(())
            }
            Err(reason) => {
                state.failures = state.failures.saturating_add(1);
                let wait = self.failure_backoff(state.failures);
                state.next_allowed = Some(Instant::now() + wait);
                tracing::warn!(
                    issuer = %self.settings.issuer,
                    error = %reason,
                    failures = state.failures,
                    retry_in_ms = wait.as_millis() as u64,
                    "issuer keys could not be fetched; the last good keys are kept"
                );
                Err(TokenError::KeysUnavailable(reason))
            }
        }
    }

    /// Keeps the keys of a good fetch: no failure in a row, and no fetch again before the
    /// refetch interval.
    fn keep(&self, state: &mut FetchState, keys: HashMap<String, DecodingKey>) {
        *self.keys.write().expect("keys lock") = keys;
        state.failures = 0;
        state.next_allowed = Some(Instant::now() + self.refetch_interval);
    }

    /// The keys of the JWKS at `url`; a reply without a usable key is a failure, not an
    /// empty key set.
    async fn fetch_keys(&self, url: &JwksUrl) -> Result<HashMap<String, DecodingKey>, String> {
        let set = crate::jwks_fetch::fetch(url.as_uri()).await?;
        let keys = keys_of(&set, self.settings.algorithm);
        if keys.is_empty() {
            return Err(format!("the JWKS has no key usable with {:?}", self.settings.algorithm));
        }
        Ok(keys)
    }

    /// The wait after `failures` failed fetches in a row: 1 s, 2 s, 4 s… up to 30 s, and never
    /// longer than after a good fetch.
    fn failure_backoff(&self, failures: u32) -> Duration {
        let doubled = FAILURE_BACKOFF.saturating_mul(1 << failures.saturating_sub(1).min(16));
        doubled.min(FAILURE_BACKOFF_MAX).min(self.refetch_interval)
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

/// How long a function's start waits for its issuer's keys ([`IssuerVerifier::fetch_at_start`]).
pub const START_FETCH_TIMEOUT: Duration = Duration::from_millis(1500);

/// Whose tokens a function verifies: citizens' (the government authentication service, SAG)
/// or employees' (the staff issuer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issuer {
    Citizen,
    Staff,
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

    /// [`IssuerVerifier::fetch_at_start`] for the issuer a function verifies; without a staff
    /// issuer configured, nothing.
    pub async fn fetch_at_start(&self, issuer: Issuer) {
        match issuer {
            Issuer::Citizen => self.citizen.fetch_at_start().await,
            Issuer::Staff => {
                if let Some(staff) = &self.staff {
                    staff.fetch_at_start().await;
                }
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_urls_keep_the_host_they_were_checked_for() {
        for (raw, host) in [
            ("https://sag.example/jwks", "sag.example"),
            ("HTTP://LOCALHOST:9000/jwks", "LOCALHOST"),
            ("http://127.0.0.1:8080/jwks", "127.0.0.1"),
            ("http://[::1]/jwks", "[::1]"),
        ] {
            assert_eq!(
                JwksUrl::parse(raw).map(|u| u.as_uri().host().map(str::to_owned)),
                Ok(Some(host.into())),
                "{raw}"
            );
        }
        for (raw, error) in [
            ("http://127.0.0.1@evil.example/", JwksUrlError::UserInfo),
            ("http://127.0.0.1.evil.example/", JwksUrlError::NotLoopback),
            ("http://0x7f.1/", JwksUrlError::NotLoopback),
            ("http://2130706433/", JwksUrlError::NotLoopback),
            ("http://[::ffff:127.0.0.1]/", JwksUrlError::NotLoopback),
            ("ws://127.0.0.1/", JwksUrlError::Scheme),
            ("/jwks", JwksUrlError::NotAbsolute),
            ("https://", JwksUrlError::NotAbsolute),
        ] {
            assert_eq!(JwksUrl::parse(raw), Err(error), "{raw}");
        }
    }

    #[test]
    fn the_failure_backoff_doubles_up_to_its_cap_and_the_refetch_interval() {
        let settings = IssuerSettings {
            issuer: "https://sag.example".into(),
            audience: "recovery".into(),
            algorithm: Algorithm::RS256,
            jwks: JwksSource::Url(JwksUrl::parse("https://sag.example/jwks").unwrap()),
        };
        let verifier = IssuerVerifier::new(settings.clone());
        let waits: Vec<u64> = (1..=8).map(|n| verifier.failure_backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(verifier.failure_backoff(u32::MAX), FAILURE_BACKOFF_MAX);
        let impatient = IssuerVerifier::new(settings).with_refetch_interval(Duration::from_secs(5));
        assert_eq!(impatient.failure_backoff(4), Duration::from_secs(5));
    }
}
