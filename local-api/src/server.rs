//! A small HTTP/1.1 server on hyper: each request becomes a `lambda_http::Request` and goes to
//! the Lambda function that serves its route (`Function::serving`), exactly as API Gateway
//! hands it over; a path no function serves gets the router's 404.

use crate::dev_routes::Dev;
use certificate_recovery::App;
use certificate_recovery::http::{handlers::language_of, response};
use certificate_recovery::iam_recording;
use certificate_recovery::lambda::Function;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use lambda_http::RequestExt;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

/// Bodies beyond this are not read at all; the handlers refuse anything over 4 KiB anyway.
const READ_LIMIT: usize = 64 * 1024;

pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    dev: Arc<Dev>,
    stop: impl std::future::Future<Output = ()>,
) {
    let mut stopped = std::pin::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => { tracing::warn!(error = %e, "accept failed"); continue; }
            },
            _ = &mut stopped => return,
        };
        let (app, dev) = (app.clone(), dev.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let (app, dev) = (app.clone(), dev.clone());
                async move { Ok::<_, Infallible>(handle(&app, &dev, request, peer.ip()).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

fn to_hyper(response: lambda_http::Response<lambda_http::Body>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Empty => Bytes::new(),
        lambda_http::Body::Text(text) => Bytes::from(text),
        lambda_http::Body::Binary(data) => Bytes::from(data),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

fn query_map(query: Option<&str>) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        map.entry(decode(key)).or_default().push(decode(value));
    }
    map
}

fn decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = || {
            bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        };
        match (bytes[i], hex()) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(b)) => {
                out.push(b);
                i += 2;
            }
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What API Gateway would say of the request: here only the caller's address matters.
fn request_context(peer: std::net::IpAddr) -> lambda_http::request::RequestContext {
    let mut context = lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
    context.http.source_ip = Some(peer.to_string());
    lambda_http::request::RequestContext::ApiGatewayV2(context)
}

async fn handle(
    app: &App,
    dev: &Dev,
    request: hyper::Request<Incoming>,
    peer: std::net::IpAddr,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, READ_LIMIT).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::from(vec![b' '; certificate_recovery::http::body::MAX_BODY_BYTES + 1]),
    };
    let lambda_body = if body.is_empty() {
        lambda_http::Body::Empty
    } else {
        match String::from_utf8(body.to_vec()) {
            Ok(text) => lambda_http::Body::Text(text),
            Err(e) => lambda_http::Body::Binary(e.into_bytes()),
        }
    };
    let query = query_map(parts.uri.query());
    let path = parts.uri.path().to_owned();
    let request = http::Request::from_parts(parts, lambda_body)
        .with_query_string_parameters(query)
        .with_raw_http_path(path.clone())
        .with_request_context(request_context(peer));
    let language = language_of(&request);
    let dev_answer = |result: Result<serde_json::Value, certificate_recovery::http::problem::Problem>| match result {
        Ok(value) => response::json(200, &value, language),
        Err(problem) => response::problem(&problem, language),
    };
    if request.method() == http::Method::GET
        && let Some(asset) = crate::web::asset_at(&path)
    {
        let body = match dev.pages.config_at(&path) {
            Some(config) => Bytes::from(config.to_owned()),
            None => Bytes::from_static(asset.body),
        };
        return hyper::Response::builder()
            .header("content-type", asset.content_type)
            .header("content-security-policy", dev.pages.content_security_policy())
            .header("x-content-type-options", "nosniff")
            .header("cache-control", "no-cache")
            .body(Full::new(body))
            .expect("valid response");
    }
    if request.method() == http::Method::GET && path == "/agent" {
        // The Office's page's relative links need the trailing slash.
        return hyper::Response::builder()
            .status(308)
            .header("location", "/agent/")
            .body(Full::new(Bytes::new()))
            .expect("valid response");
    }
    let method = request.method().as_str().to_owned();
    let response = match (method.as_str(), path.as_str()) {
        ("POST", "/dev/token") => dev_answer(dev.token(request.body().as_ref())),
        ("GET", "/dev/outbox") => dev_answer(dev.outbox()),
        ("GET", "/dev/jwks.json") => dev_answer(Ok(dev.jwks())),
        ("POST", "/dev/ses-event") => match dev.ses_event(app, request.body().as_ref()).await {
            Ok(()) => {
                lambda_http::Response::builder().status(204).body(lambda_http::Body::Empty).expect("valid response")
            }
            Err(problem) => response::problem(&problem, language),
        },
        _ => match Function::serving(&method, &path) {
            // As in AWS: the one function that serves the route; the IAM recording (tests)
            // knows which function made each AWS call.
            Some(function) => iam_recording::serving(function, function.handle(app, request)).await,
            None => certificate_recovery::http::route(app, request).await,
        },
    };
    to_hyper(response)
}
