//! The route table: the local API serves all of it; each Lambda function serves its rows.

use super::{Request, Response, desk_handlers, handlers};
use crate::app::App;
use lambda_http::RequestExt;

/// Every route: method, path (API Gateway syntax), and the function that serves it.
pub const ROUTES: &[(&str, &str, &str)] = &[
    ("POST", "/recovery/lookup", "lookup"),
    ("POST", "/recovery/code", "send-code"),
    ("POST", "/recovery/verify", "verify-code"),
    ("POST", "/recovery/invoice", "check-invoice"),
    ("POST", "/recovery/assistance", "assistance"),
    ("GET", "/recovery", "recovery-state"),
    ("GET", "/me/certificate", "recovery-state"),
    ("GET", "/agent/assistance-requests", "agent-desk"),
    ("GET", "/agent/assistance-requests/{reference}", "agent-desk"),
    ("POST", "/agent/assistance-requests/{reference}/resolve", "agent-desk"),
    ("GET", "/agent/certificates/{number}/audit", "agent-desk"),
    ("GET", "/report/{token}", "report"),
    ("POST", "/report/{token}", "report"),
];

/// The request's path without an API Gateway stage.
fn path_of(request: &Request) -> String {
    let raw = request.raw_http_path();
    if raw.is_empty() { request.uri().path().to_owned() } else { raw.to_owned() }
}

/// The segments of the request's path (`/agent/assistance-requests/AR-1/resolve` →
/// `["agent", "assistance-requests", "AR-1", "resolve"]`), each percent-decoded as API
/// Gateway decodes `pathParameters` (the raw path keeps `%20`, `%2D`…).
fn segments(request: &Request) -> Vec<String> {
    path_of(request).split('/').filter(|s| !s.is_empty()).map(percent_decoded).collect()
}

/// `%XX` (two hex digits) as that byte; anything else as it is; invalid UTF-8 as U+FFFD.
fn percent_decoded(segment: &str) -> String {
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

/// Serves any route of [`ROUTES`].
pub async fn route(app: &App, request: Request) -> Response {
    let path = path_of(&request);
    let path = path.trim_end_matches('/');
    match (request.method().as_str(), path) {
        ("POST", "/recovery/lookup") => handlers::lookup(app, request).await,
        ("POST", "/recovery/code") => handlers::send_code(app, request).await,
        ("POST", "/recovery/verify") => handlers::verify_code(app, request).await,
        ("POST", "/recovery/invoice") => handlers::check_invoice(app, request).await,
        ("POST", "/recovery/assistance") => handlers::request_assistance(app, request).await,
        ("GET", "/recovery") => handlers::recovery_state(app, request).await,
        ("GET", "/me/certificate") => handlers::my_certificate(app, request).await,
        _ if path.starts_with("/agent/") => agent_desk_routes(app, request).await,
        _ if path.starts_with("/report/") => report_routes(app, request).await,
        _ => handlers::not_found(request).await,
    }
}

/// The staff function's routes. API Gateway hands the function its path parameters; when
/// they are absent (the local API, which serves every route itself), they are set here from
/// the path, decoded as API Gateway decodes them, so handlers read them one way.
pub async fn agent_desk_routes(app: &App, request: Request) -> Response {
    use desk_handlers::{certificate_audit, get_assistance_request, list_assistance_requests};
    let segments = segments(&request);
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = request.method().clone();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["agent", "assistance-requests"]) => list_assistance_requests(app, request).await,
        ("GET", ["agent", "assistance-requests", reference]) => {
            get_assistance_request(app, with_path_parameter(request, "reference", reference)).await
        }
        ("POST", ["agent", "assistance-requests", reference, "resolve"]) => {
            desk_handlers::resolve_assistance_request(app, with_path_parameter(request, "reference", reference)).await
        }
        ("GET", ["agent", "certificates", number, "audit"]) => {
            certificate_audit(app, with_path_parameter(request, "number", number)).await
        }
        _ => handlers::not_found(request).await,
    }
}

/// The request with its path parameter `name`: API Gateway's when it gave one, else `value`.
fn with_path_parameter(request: Request, name: &str, value: &str) -> Request {
    if request.path_parameters_ref().is_some_and(|p| p.first(name).is_some()) {
        return request;
    }
    let parameters: std::collections::HashMap<String, String> = [(name.to_owned(), value.to_owned())].into();
    request.with_path_parameters(parameters)
}

/// The report function's routes ("this wasn't me"; no sign-in).
pub async fn report_routes(app: &App, request: Request) -> Response {
    use super::report_handlers::{confirm_report, describe_report};
    let segments = segments(&request);
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = request.method().clone();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["report", token]) => describe_report(app, with_path_parameter(request, "token", token)).await,
        ("POST", ["report", token]) => confirm_report(app, with_path_parameter(request, "token", token)).await,
        _ => handlers::not_found(request).await,
    }
}

/// The state function's two routes.
pub async fn recovery_state_routes(app: &App, request: Request) -> Response {
    match path_of(&request).trim_end_matches('/') {
        "/me/certificate" => handlers::my_certificate(app, request).await,
        "/recovery" => handlers::recovery_state(app, request).await,
        _ => handlers::not_found(request).await,
    }
}
