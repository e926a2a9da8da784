//! The `agent-desk` Lambda function: the staff routes (see `certificate_recovery::http::ROUTES`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    certificate_recovery::lambda::entry::agent_desk().await
}
