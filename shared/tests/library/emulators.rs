//! The emulators the test command starts (DynamoDB Local, moto): their endpoints, or — in a
//! plain `cargo test` — `None`, and the run is left out; with `REQUIRE_EMULATORS=1` (the test
//! command) their absence fails the test instead.

use certificate_recovery::local_aws;

fn endpoint(variable: &str, what: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(endpoint) => Some(endpoint),
        Err(_) => {
            assert!(std::env::var("REQUIRE_EMULATORS").is_err(), "REQUIRE_EMULATORS is set but {variable} is not");
            eprintln!("{what} run left out: {variable} is not set (plain cargo test)");
            None
        }
    }
}

pub fn dynamodb_endpoint() -> Option<String> {
    endpoint("DYNAMODB_ENDPOINT", "DynamoDB Local")
}

pub fn moto_endpoint() -> Option<String> {
    endpoint("SES_ENDPOINT", "moto")
}

/// moto's SES v2 client, with the sender domain `opc.test` verified.
pub async fn moto_ses(endpoint: &str) -> aws_sdk_sesv2::Client {
    let config = local_aws::sdk_config().await;
    let client = local_aws::sesv2(&config, Some(endpoint));
    let _ = client.create_email_identity().email_identity("opc.test").send().await;
    client
}

/// moto's sent mail, read with the library's own hyper stack (no HTTP client crate).
pub async fn moto_messages(endpoint: &str) -> Vec<serde_json::Value> {
    use http_body_util::{BodyExt, Empty};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<hyper::body::Bytes>>();
    let response = client.get(format!("{endpoint}/moto-api/data.json").parse().unwrap()).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let data: serde_json::Value = serde_json::from_slice(&body).unwrap();
    data["ses"]["Message"].as_array().cloned().unwrap_or_default()
}
