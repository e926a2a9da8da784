//! The HTTP side, shared by every Lambda function and the local API: parse, call the
//! library, map the result. Handlers never fail: every error is a problem response.

pub mod body;
pub mod caller;
pub mod cursor;
pub mod desk_handlers;
pub mod errors;
pub mod handlers;
pub mod problem;
pub mod report_handlers;
pub mod requests;
pub mod response;
pub mod router;

pub use desk_handlers::{
    certificate_audit, get_assistance_request, list_assistance_requests, resolve_assistance_request,
};
pub use handlers::*;
pub use router::{ROUTES, route};

/// Requests and responses are `lambda_http`'s, which are `http`'s.
pub type Request = lambda_http::Request;
pub type Response = lambda_http::Response<lambda_http::Body>;
