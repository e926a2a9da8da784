//! What every Lambda function's `main` runs: JSON logs, the app built once per container,
//! then the runtime loop calling one handler.

use crate::app::{App, StartPlan};
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

    /// What the function makes ready at start (`docs/rules.md#secret`, `#tokens`): only the
    /// versions of the code-hashing secret its routes use — none for a function that hashes
    /// nothing, whose role cannot read the secret — and the keys of the issuer whose tokens it
    /// verifies (the report routes need no sign-in).
    pub fn start_plan(self) -> StartPlan {
        use crate::auth::Issuer;
        use crate::code_hash_secret::CodeHashKeys;
        let code_hash_keys = match self {
            // New codes, new report tokens (the link notice, the email-change notices).
            Self::SendCode | Self::CheckInvoice | Self::AgentDesk => CodeHashKeys::Current,
            // Codes, report tokens issued before a rotation.
            Self::VerifyCode | Self::Report => CodeHashKeys::CurrentAndPrevious,
            Self::Lookup | Self::Assistance | Self::RecoveryState => CodeHashKeys::None,
        };
        let issuer = match self {
            Self::AgentDesk => Some(Issuer::Staff),
            Self::Report => None,
            _ => Some(Issuer::Citizen),
        };
        StartPlan { code_hash_keys, issuer }
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

/// What `delivery-events` makes ready at start: nothing — it hashes nothing and verifies no
/// token.
pub const DELIVERY_EVENTS_START_PLAN: StartPlan =
    StartPlan { code_hash_keys: crate::code_hash_secret::CodeHashKeys::None, issuer: None };

/// Runs the `delivery-events` function: each SNS invocation's SES events put on what they
/// concern (`crate::delivery::handle_sns_event`); a store failure fails the invocation, which
/// Lambda retries. It sends no email: no SES client.
pub async fn run_delivery_events() -> Result<(), lambda_http::Error> {
    use lambda_http::lambda_runtime::{self, LambdaEvent};
    crate::telemetry::init_json();
    let app = App::from_lambda_env(DELIVERY_EVENTS_START_PLAN)
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
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

/// Runs `function` in the Lambda runtime with `handler`, its own (see [`entry`]). Settings and
/// clients are built here, once, before the first invocation — SES only for a function that
/// sends email.
///
/// Generic over the handler, so that a function's binary holds only its own routes; and the
/// mailing and non-mailing starts are separate functions, so that a function that sends no
/// email links no SES client.
pub async fn run<H, F>(function: Function, handler: H) -> Result<(), lambda_http::Error>
where
    H: Fn(&'static App, Request) -> F + Copy + Send,
    F: Future<Output = Response> + Send,
{
    crate::telemetry::init_json();
    let plan = function.start_plan();
    let app = if function.sends_email() {
        App::from_lambda_env_mailing(plan).await
    } else {
        App::from_lambda_env(plan).await
    };
    serve(app, handler).await
}

/// [`run`] for a function that sends no email: the SES client is not even linked.
async fn run_without_mail<H, F>(function: Function, handler: H) -> Result<(), lambda_http::Error>
where
    H: Fn(&'static App, Request) -> F + Copy + Send,
    F: Future<Output = Response> + Send,
{
    if function.sends_email() {
        return Err(format!("{} sends email: it starts with `run`", function.name()).into());
    }
    crate::telemetry::init_json();
    serve(App::from_lambda_env(function.start_plan()).await, handler).await
}

async fn serve<H, F>(app: Result<App, crate::app::StartupError>, handler: H) -> Result<(), lambda_http::Error>
where
    H: Fn(&'static App, Request) -> F + Copy + Send,
    F: Future<Output = Response> + Send,
{
    let app = app.inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    // The app lives as long as the process: the handler's futures may then borrow it.
    let app: &'static App = Box::leak(Box::new(app));
    lambda_http::run(lambda_http::service_fn(move |request: Request| async move {
        Ok::<_, std::convert::Infallible>(handler(app, request).await)
    }))
    .await
}

/// Each function's `main`: `certificate_recovery::lambda::entry::lookup().await`. Each names
/// only its function's handler (as [`Function::handle`] does), so the linker leaves the other
/// routes out of the binary.
pub mod entry {
    use super::{Function, run, run_without_mail};
    use crate::http;

    type Outcome = Result<(), lambda_http::Error>;

    pub async fn lookup() -> Outcome {
        run_without_mail(Function::Lookup, http::lookup).await
    }
    pub async fn send_code() -> Outcome {
        run(Function::SendCode, http::send_code).await
    }
    pub async fn verify_code() -> Outcome {
        run(Function::VerifyCode, http::verify_code).await
    }
    pub async fn check_invoice() -> Outcome {
        run(Function::CheckInvoice, http::check_invoice).await
    }
    pub async fn assistance() -> Outcome {
        run_without_mail(Function::Assistance, http::request_assistance).await
    }
    pub async fn recovery_state() -> Outcome {
        run_without_mail(Function::RecoveryState, http::router::recovery_state_routes).await
    }
    pub async fn agent_desk() -> Outcome {
        run(Function::AgentDesk, http::router::agent_desk_routes).await
    }
    pub async fn report() -> Outcome {
        run_without_mail(Function::Report, http::router::report_routes).await
    }
    pub async fn delivery_events() -> Outcome {
        super::run_delivery_events().await
    }
}
