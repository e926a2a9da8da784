use super::Response;
use super::problem::Problem;
use crate::domain::Language;
use lambda_http::Body;
use serde::Serialize;

fn build(status: u16, content_type: &str, language: Language, body: String) -> Response {
    http::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("content-language", language.code())
        .header("cache-control", "no-store")
        .header("vary", "Accept-Language, Authorization")
        .header("x-content-type-options", "nosniff")
        .body(Body::Text(body))
        .expect("valid response")
}

pub fn json(status: u16, value: &impl Serialize, language: Language) -> Response {
    let body = serde_json::to_string(value).expect("responses serialize");
    build(status, "application/json", language, body)
}

pub fn problem(problem: &Problem, language: Language) -> Response {
    let mut response =
        build(problem.status(), "application/problem+json", language, problem.body(language).to_string());
    if let Some(after) = problem.retry_after {
        response.headers_mut().insert("retry-after", http::HeaderValue::from(after.as_secs()));
    }
    response
}
