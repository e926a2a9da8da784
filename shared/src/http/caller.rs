//! Who makes a request: the bearer token (one extractor for both issuers), checked as a
//! citizen's or as an employee's, and the address the request came from.

use super::Request;
use super::problem::{ErrorCode, Problem};
use crate::app::App;
use crate::auth::{Caller, bearer_token};
use crate::recovery::Requester;

/// The `Authorization: Bearer` token of the request; 401 without one.
pub fn bearer(request: &Request) -> Result<&str, Problem> {
    let header = request.headers().get("authorization").and_then(|v| v.to_str().ok());
    bearer_token(header).map_err(|e| Problem::from(&e))
}

/// A citizen token from the SAG issuer.
pub async fn citizen(app: &App, request: &Request) -> Result<Caller, Problem> {
    let token = bearer(request)?;
    app.tokens.citizen.verify(token).await.map_err(|e| {
        tracing::info!(reason = %e, "citizen token refused");
        Problem::from(&e)
    })
}

/// An employee: a staff token with `agent` in `roles`. A valid citizen token is forbidden;
/// anything else is unauthorized (or 503 when the staff issuer's keys cannot be had).
pub async fn agent(app: &App, request: &Request) -> Result<Caller, Problem> {
    let token = bearer(request)?;
    let mut staff_error = None;
    if let Some(staff) = &app.tokens.staff {
        match staff.verify(token).await {
            Ok(caller) if caller.has_role("agent") => return Ok(caller),
            Ok(_) => return Err(ErrorCode::Forbidden.into()),
            Err(e) => staff_error = Some(e),
        }
    }
    match app.tokens.citizen.verify(token).await {
        Ok(_) => Err(ErrorCode::Forbidden.into()),
        Err(e) => {
            // The staff issuer's verdict decides (401, or 503 when its keys cannot be had).
            let e = staff_error.unwrap_or(e);
            tracing::info!(reason = %e, "staff token refused");
            Err(Problem::from(&e))
        }
    }
}

/// The address the request came from, as API Gateway saw it (the local API sets it too).
pub fn source_ip_of(request: &Request) -> Option<std::net::IpAddr> {
    use lambda_http::RequestExt;
    match request.request_context_ref()? {
        lambda_http::request::RequestContext::ApiGatewayV2(context) => context.http.source_ip.as_deref()?.parse().ok(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The signed-in holder making the request, with where it came from.
pub async fn requester(app: &App, request: &Request) -> Result<Requester, Problem> {
    let caller = citizen(app, request).await?;
    Ok(Requester::new(caller.account, source_ip_of(request)))
}
