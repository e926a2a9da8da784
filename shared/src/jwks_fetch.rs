//! Fetches an issuer's JWKS over HTTPS (rustls with aws-lc, the TLS stack the AWS SDK already
//! uses). Built on first use: nothing here runs at container start.

use http_body_util::{BodyExt, Empty, Limited};
use jsonwebtoken::jwk::JwkSet;
use std::time::Duration;

const MAX_JWKS_BYTES: usize = 64 * 1024;
const TIMEOUT: Duration = Duration::from_secs(3);

/// `uri` is an [`crate::auth::JwksUrl`], checked at start (HTTPS, or HTTP to a loopback host).
/// Redirects are not followed.
pub async fn fetch(uri: &http::Uri) -> Result<JwkSet, String> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| format!("no root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Empty<hyper::body::Bytes>>(connector);
    let response = tokio::time::timeout(TIMEOUT, client.get(uri.clone()))
        .await
        .map_err(|_| "JWKS fetch timed out".to_owned())?
        .map_err(|e| format!("JWKS fetch failed: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("JWKS fetch answered {}", response.status()));
    }
    let body = tokio::time::timeout(TIMEOUT, Limited::new(response.into_body(), MAX_JWKS_BYTES).collect())
        .await
        .map_err(|_| "JWKS read timed out".to_owned())?
        .map_err(|e| format!("JWKS read failed: {e}"))?
        .to_bytes();
    serde_json::from_slice(&body).map_err(|_| "the JWKS is not valid JSON".to_owned())
}
