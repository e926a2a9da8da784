//! The `report` Lambda function: "this wasn't me", `GET` and `POST /report/{token}`, no sign-in
//! (see `certificate_recovery::http::ROUTES`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    certificate_recovery::lambda::entry::report().await
}
