//! The HTTP side, shared by every Lambda function and the local API: parse, call the
//! library, map the result. Handlers never fail: every error is a problem response.

pub mod body;
pub mod handlers;
pub mod response;
pub mod router;

pub use handlers::*;
pub use router::{ROUTES, route};

/// Requests and responses are `lambda_http`'s, which are `http`'s.
pub type Request = lambda_http::Request;
pub type Response = lambda_http::Response<lambda_http::Body>;
