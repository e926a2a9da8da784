//! The `delivery-events` Lambda function: SES's delivery, bounce and complaint events, from the
//! configuration set's SNS topic (no route; `certificate_recovery::lambda::DELIVERY_EVENTS`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    certificate_recovery::lambda::entry::delivery_events().await
}
