//! The staff routes (`/agent/...`): a staff token with the `agent` role; a citizen token is
//! forbidden, no valid token unauthorized.

use super::caller::{agent, source_ip_of};
use super::cursor;
use super::errors::failed;
use super::handlers::{answer, body, ok, size_checked};
use super::problem::{ErrorCode, FieldError, FieldReason, Problem};
use super::{Request, Response};
use crate::app::App;
use crate::assistance_desk::{self, Resolution};
use crate::domain::CertificateNumber;
use lambda_http::RequestExt;
use serde_json::json;

pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 100;
/// A file's audit trail, by default (`docs/rules.md#desk-queue`).
pub const DEFAULT_AUDIT_PAGE: usize = 50;

fn invalid(field: &str, reason: FieldReason) -> Problem {
    Problem::invalid(vec![FieldError { field: field.to_owned(), reason }])
}

/// A path parameter (`{reference}`, `{number}`): API Gateway's `pathParameters`, which the
/// router also sets when it serves the route itself (the local API).
pub(super) fn path_parameter(request: &Request, name: &str) -> String {
    request.path_parameters_ref().and_then(|p| p.first(name)).unwrap_or_default().to_owned()
}

fn reference_of(request: &Request) -> Result<String, Problem> {
    let reference = path_parameter(request, "reference");
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
        size_checked(&request)?;
        let caller = agent(app, &request).await?;
        let reference = reference_of(&request)?;
        let resolution: Resolution = body(app, &request)?;
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
        let raw = path_parameter(&request, "number");
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
