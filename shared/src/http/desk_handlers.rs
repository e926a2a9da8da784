//! The staff routes (`/agent/...`): a staff token with the `agent` role; a citizen token is
//! forbidden, no valid token unauthorized.

use super::body::JsonBody;
use super::handlers::{answer, ok, source_ip_of};
use super::{Request, Response};
use crate::app::App;
use crate::assistance_desk::{self, DeskError, Resolution};
use crate::auth::{Caller, bearer_token};
use crate::domain::{CertificateNumber, EmailAddress};
use crate::problem::{ErrorCode, FieldError, FieldReason, Problem};
use crate::problem_mapping::{desk_problem, token_problem};
use crate::store::{AuditPosition, QueuePosition};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use lambda_http::RequestExt;
use serde_json::json;

pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 100;
/// A file's audit trail, by default (SPEC §3).
pub const DEFAULT_AUDIT_PAGE: usize = 50;

/// An employee: a staff token with `agent` in `roles`.
pub async fn agent(app: &App, request: &Request) -> Result<Caller, Problem> {
    let header = request.headers().get("authorization").and_then(|v| v.to_str().ok());
    let token = bearer_token(header).map_err(|e| token_problem(&e))?;
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
            Err(token_problem(&e))
        }
    }
}

fn failed(error: DeskError) -> Problem {
    if let DeskError::Store(e) = &error {
        tracing::error!(error = %e, "staff request failed on a dependency");
    }
    desk_problem(&error)
}

fn invalid(field: &str, reason: FieldReason) -> Problem {
    Problem::invalid(vec![FieldError { field: field.to_owned(), reason }])
}

/// The segments of the request's path (`/agent/assistance-requests/AR-1/resolve` →
/// `["agent", "assistance-requests", "AR-1", "resolve"]`).
pub fn segments(request: &Request) -> Vec<String> {
    let raw = request.raw_http_path();
    let path = if raw.is_empty() { request.uri().path().to_owned() } else { raw.to_owned() };
    path.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect()
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

fn encode_position(position: &QueuePosition) -> String {
    let raw = json!({"t": position.created_at.unix_timestamp_nanos() / 1_000_000, "r": position.reference});
    URL_SAFE_NO_PAD.encode(raw.to_string())
}

fn decode_position(cursor: &str) -> Option<QueuePosition> {
    let raw: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let created_at = time::OffsetDateTime::from_unix_timestamp_nanos(raw["t"].as_i64()? as i128 * 1_000_000).ok()?;
    Some(QueuePosition { created_at, reference: raw["r"].as_str()?.to_owned() })
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
            Some(cursor) => Some(decode_position(cursor).ok_or_else(|| invalid("next", FieldReason::InvalidFormat))?),
        };
        let (items, next) = assistance_desk::open_requests(app, limit, after.as_ref()).await.map_err(failed)?;
        let mut body = json!({ "items": items });
        if let Some(next) = next {
            body["next"] = encode_position(&next).into();
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
        let mut body = JsonBody::parse(request.body().as_ref(), &["outcome", "newEmail"])?;
        let outcome = body.choice("outcome", |o| {
            ["email_updated", "identity_not_confirmed", "unreachable"].contains(&o).then(|| o.to_owned())
        });
        let has_email = body.has("newEmail");
        let resolution = match outcome.as_deref() {
            Some("email_updated") => body.required("newEmail", EmailAddress::parse).map(Resolution::EmailUpdated),
            Some(other) => {
                if has_email {
                    body.refuse("newEmail", FieldReason::NotAllowed);
                }
                Some(if other == "unreachable" { Resolution::Unreachable } else { Resolution::IdentityNotConfirmed })
            }
            None => None,
        };
        body.finish()?;
        let resolution = resolution.expect("validated");
        let source_ip = source_ip_of(&request);
        let view = assistance_desk::resolve(app, caller.account.as_str(), source_ip, &reference, resolution)
            .await
            .map_err(failed)?;
        Ok(ok(200, &view))
    })
    .await
}

/// The opaque cursor of a place in an audit trail: the event's time and id, base64url JSON.
fn encode_audit_position(position: &AuditPosition) -> String {
    URL_SAFE_NO_PAD.encode(json!({"t": position.at_nanos(), "i": position.id()}).to_string())
}

/// `None` for anything that is not a cursor this API gave: a tampered one is a 400.
fn decode_audit_position(cursor: &str) -> Option<AuditPosition> {
    let raw: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    AuditPosition::new(raw["t"].as_u64()?, raw["i"].as_str()?)
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
            Some(cursor) => decode_audit_position(cursor)
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
            body["next"] = encode_audit_position(&next).into();
        }
        Ok(ok(200, &body))
    })
    .await
}
