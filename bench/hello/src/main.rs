//! The baseline of `scripts/bench-cold.sh`: the Rust runtime and nothing else — no SDK
//! configuration, no clients, no logging set-up — answering every HTTP API event with 200.

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_request: Request| async {
        Ok::<_, Error>(Response::builder().status(200).body(Body::from("hello")).expect("a valid response"))
    }))
    .await
}
