//! What every Lambda function's `main` runs: JSON logs, the app built once per container,
//! then the runtime loop calling one handler.

use crate::app::App;
use crate::http::{self, Request, Response};

/// The Lambda functions, one per crate under `functions/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Lookup,
    SendCode,
    VerifyCode,
    CheckInvoice,
    Assistance,
    RecoveryState,
    AgentDesk,
    Report,
}

impl Function {
    pub const ALL: [Function; 8] = [
        Self::Lookup,
        Self::SendCode,
        Self::VerifyCode,
        Self::CheckInvoice,
        Self::Assistance,
        Self::RecoveryState,
        Self::AgentDesk,
        Self::Report,
    ];

    /// The crate and binary name, as in `http::ROUTES` and `template.yaml`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Lookup => "lookup",
            Self::SendCode => "send-code",
            Self::VerifyCode => "verify-code",
            Self::CheckInvoice => "check-invoice",
            Self::Assistance => "assistance",
            Self::RecoveryState => "recovery-state",
            Self::AgentDesk => "agent-desk",
            Self::Report => "report",
        }
    }

    /// Whether the function sends email (and so, alone, gets SES permission in the template).
    pub fn sends_email(self) -> bool {
        matches!(self, Self::SendCode | Self::VerifyCode | Self::CheckInvoice | Self::AgentDesk)
    }

    /// The function that serves a route (`"POST /recovery/lookup"`).
    pub fn serving(method: &str, path: &str) -> Option<Self> {
        let matches = |template: &str| {
            let (a, b): (Vec<&str>, Vec<&str>) =
                (template.split('/').collect(), path.trim_end_matches('/').split('/').collect());
            a.len() == b.len() && a.iter().zip(&b).all(|(t, p)| (t.starts_with('{') && !p.is_empty()) || t == p)
        };
        let (_, _, name) = crate::http::ROUTES.iter().find(|(m, p, _)| *m == method && matches(p))?;
        Self::ALL.into_iter().find(|f| f.name() == *name)
    }

    pub async fn handle(self, app: &App, request: Request) -> Response {
        match self {
            Self::Lookup => http::lookup(app, request).await,
            Self::SendCode => http::send_code(app, request).await,
            Self::VerifyCode => http::verify_code(app, request).await,
            Self::CheckInvoice => http::check_invoice(app, request).await,
            Self::Assistance => http::request_assistance(app, request).await,
            Self::RecoveryState => http::router::recovery_state_routes(app, request).await,
            Self::AgentDesk => http::router::agent_desk_routes(app, request).await,
            Self::Report => http::router::report_routes(app, request).await,
        }
    }
}

/// The `delivery-events` function, which no route serves: SES's delivery, bounce and
/// complaint events, from the configuration set's SNS topic (`docs/rules.md#delivery`).
pub const DELIVERY_EVENTS: &str = "delivery-events";

/// Runs the `delivery-events` function: each SNS invocation's SES events put on what they
/// concern (`crate::delivery::handle_sns_event`); a store failure fails the invocation, which
/// Lambda retries.
pub async fn run_delivery_events() -> Result<(), lambda_http::Error> {
    use lambda_http::lambda_runtime::{self, LambdaEvent};
    crate::telemetry::init_json();
    let app = App::from_lambda_env().await.inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let app = &app;
    let source = &crate::delivery::EventSource::from_env(|name| std::env::var(name).ok());
    lambda_runtime::run(lambda_runtime::service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        crate::delivery::handle_sns_event(app, source, &event.payload)
            .await
            .map(|recorded| recorded.len())
            .map_err(|e| lambda_http::Error::from(e.to_string()))
    }))
    .await
}

/// Runs `function` in the Lambda runtime. Settings and clients are built here, once, before
/// the first invocation.
pub async fn run(function: Function) -> Result<(), lambda_http::Error> {
    crate::telemetry::init_json();
    let app = App::from_lambda_env().await.inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let app = &app;
    lambda_http::run(lambda_http::service_fn(move |request: Request| async move {
        Ok::<_, std::convert::Infallible>(function.handle(app, request).await)
    }))
    .await
}
