//! The `verify-code` Lambda function (see `certificate_recovery::http::ROUTES`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    certificate_recovery::lambda::entry::verify_code().await
}
