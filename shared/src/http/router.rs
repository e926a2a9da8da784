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
];

/// The request's path without an API Gateway stage.
fn path_of(request: &Request) -> String {
    let raw = request.raw_http_path();
    if raw.is_empty() { request.uri().path().to_owned() } else { raw.to_owned() }
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
        _ => handlers::not_found(request).await,
    }
}

/// The staff function's routes.
pub async fn agent_desk_routes(app: &App, request: Request) -> Response {
    let segments = desk_handlers::segments(&request);
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (request.method().as_str(), segments.as_slice()) {
        ("GET", ["agent", "assistance-requests"]) => desk_handlers::list_assistance_requests(app, request).await,
        ("GET", ["agent", "assistance-requests", _]) => desk_handlers::get_assistance_request(app, request).await,
        ("POST", ["agent", "assistance-requests", _, "resolve"]) => {
            desk_handlers::resolve_assistance_request(app, request).await
        }
        ("GET", ["agent", "certificates", _, "audit"]) => desk_handlers::certificate_audit(app, request).await,
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
