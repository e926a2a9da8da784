//! The staff routes (`/agent/...`): a staff token with the `agent` role; a citizen token is
//! forbidden, no valid token unauthorized.

use super::cursor;
use super::errors::failed;
use super::handlers::{answer, ok, source_ip_of};
use super::problem::{ErrorCode, FieldError, FieldReason, Problem};
use super::{Request, Response};
use crate::app::App;
use crate::assistance_desk;
use crate::auth::{Caller, bearer_token};
use crate::domain::CertificateNumber;
use lambda_http::RequestExt;
use serde_json::json;

pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 100;
/// A file's audit trail, by default (SPEC §3).
pub const DEFAULT_AUDIT_PAGE: usize = 50;

/// An employee: a staff token with `agent` in `roles`.
pub async fn agent(app: &App, request: &Request) -> Result<Caller, Problem> {
    let header = request.headers().get("authorization").and_then(|v| v.to_str().ok());
    let token = bearer_token(header).map_err(|e| Problem::from(&e))?;
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

fn invalid(field: &str, reason: FieldReason) -> Problem {
    Problem::invalid(vec![FieldError { field: field.to_owned(), reason }])
}

/// The segments of the request's path (`/agent/assistance-requests/AR-1/resolve` →
/// `["agent", "assistance-requests", "AR-1", "resolve"]`), each percent-decoded as API
/// Gateway decodes `pathParameters` (the raw path keeps `%20`, `%2D`…).
pub fn segments(request: &Request) -> Vec<String> {
    let raw = request.raw_http_path();
    let path = if raw.is_empty() { request.uri().path().to_owned() } else { raw.to_owned() };
    path.split('/').filter(|s| !s.is_empty()).map(percent_decoded).collect()
}

/// `%XX` (two hex digits) as that byte; anything else as it is; invalid UTF-8 as U+FFFD.
pub fn percent_decoded(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn reference_of(request: &Request) -> Result<String, Problem> {
    let reference = segments(request).get(2).cloned().unwrap_or_default();
    let valid = reference.len() <= 32 && reference.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if reference.is_empty() || !valid {
        return Err(ErrorCode::NotFound.into());
    }
    Ok(reference.to_ascii_uppercase())
}

/// `limit`: a whole number from 1 to [`MAX_PAGE`], or `default` when absent.
fn page_size(request: &Request, default: usize) -> Result<usize, FieldError> {
    match request.query_string_parameters().first("limit") {
        None => Ok(default),
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            _ => Err(FieldError { field: "limit".to_owned(), reason: FieldReason::InvalidPageSize }),
        },
    }
}

/// `GET /agent/assistance-requests?status=open[&limit=N][&next=CURSOR]`
pub async fn list_assistance_requests(app: &App, request: Request) -> Response {
    answer(&request, async {
        agent(app, &request).await?;
        let query = request.query_string_parameters();
        if query.first("status").is_some_and(|s| s != "open") {
            return Err(invalid("status", FieldReason::NotAllowed));
        }
        let limit = page_size(&request, DEFAULT_PAGE).map_err(|e| Problem::invalid(vec![e]))?;
        let after = match query.first("next") {
            None => None,
            Some(cursor) => {
                Some(cursor::decode_queue(cursor).ok_or_else(|| invalid("next", FieldReason::InvalidFormat))?)
            }
        };
        let (items, next) = assistance_desk::open_requests(app, limit, after.as_ref()).await.map_err(failed)?;
        let mut body = json!({ "items": items });
        if let Some(next) = next {
            body["next"] = cursor::encode_queue(&next).into();
        }
        Ok(ok(200, &body))
    })
    .await
}

/// `GET /agent/assistance-requests/{reference}`: audited (the employee, their address).
pub async fn get_assistance_request(app: &App, request: Request) -> Response {
    answer(&request, async {
        let caller = agent(app, &request).await?;
        let reference = reference_of(&request)?;
        let source_ip = source_ip_of(&request);
        let view =
            assistance_desk::request(app, caller.account.as_str(), source_ip, &reference).await.map_err(failed)?;
        Ok(ok(200, &view))
    })
    .await
}

/// `POST /agent/assistance-requests/{reference}/resolve`
pub async fn resolve_assistance_request(app: &App, request: Request) -> Response {
    answer(&request, async {
        super::handlers::size_checked(&request)?;
        let caller = agent(app, &request).await?;
        let reference = reference_of(&request)?;
        let resolution = super::requests::parse_resolution(request.body().as_ref())?;
        let source_ip = source_ip_of(&request);
        let view = assistance_desk::resolve(app, caller.account.as_str(), source_ip, &reference, resolution)
            .await
            .map_err(failed)?;
        Ok(ok(200, &view))
    })
    .await
}

/// `GET /agent/certificates/{number}/audit[?limit=N][&cursor=CURSOR]`: a page of the file's
/// events, newest first (50 by default, at most 100), and `next` when more follow. Opening
/// it is audited (the employee, their address); a refused request records nothing.
pub async fn certificate_audit(app: &App, request: Request) -> Response {
    answer(&request, async {
        let caller = agent(app, &request).await?;
        let raw = segments(&request).get(2).cloned().unwrap_or_default();
        let number =
            CertificateNumber::parse(&raw).map_err(|e| FieldError { field: "number".to_owned(), reason: e.into() });
        let limit = page_size(&request, DEFAULT_AUDIT_PAGE);
        let after = match request.query_string_parameters().first("cursor") {
            None => Ok(None),
            Some(cursor) => cursor::decode_audit(cursor)
                .map(Some)
                .ok_or_else(|| FieldError { field: "cursor".to_owned(), reason: FieldReason::InvalidFormat }),
        };
        let (number, limit, after) = match (number, limit, after) {
            (Ok(number), Ok(limit), Ok(after)) => (number, limit, after),
            // Every bad field named at once.
            (number, limit, after) => {
                return Err(Problem::invalid([number.err(), limit.err(), after.err()].into_iter().flatten().collect()));
            }
        };
        let source_ip = source_ip_of(&request);
        let (items, next) =
            assistance_desk::audit_trail(app, caller.account.as_str(), source_ip, &number, limit, after.as_ref())
                .await
                .map_err(failed)?;
        let mut body = json!({ "items": items });
        if let Some(next) = next {
            body["next"] = cursor::encode_audit(&next).into();
        }
        Ok(ok(200, &body))
    })
    .await
}
