//! One handler per route: authenticate, parse, call the use case, answer.

use super::body::JsonBody;
use super::{Request, Response, response};
use crate::app::App;
use crate::auth::{Caller, bearer_token};
use crate::domain::{CertificateNumber, DateOfBirth, InvoiceNumber, Language, SecurityCode};
use crate::problem::{ErrorCode, Problem};
use crate::problem_mapping::{problem, token_problem};
use crate::recovery::assistance::AssistanceAsk;
use crate::recovery::assistance_request::{AssistanceRequest, PreferredTime};
use crate::recovery::{self, RecoveryError, Requester};
use std::future::Future;

/// The language of the answer: `Accept-Language`, French by default.
pub fn language_of(request: &Request) -> Language {
    Language::negotiate(request.headers().get("accept-language").and_then(|v| v.to_str().ok()))
}

pub(crate) async fn answer(request: &Request, work: impl Future<Output = Result<Response, Problem>>) -> Response {
    let language = language_of(request);
    match work.await {
        Ok(mut ok) => {
            ok.headers_mut().insert("content-language", http::HeaderValue::from_static(language.code()));
            ok
        }
        Err(p) => response::problem(&p, language),
    }
}

pub(crate) fn ok(status: u16, value: &impl serde::Serialize) -> Response {
    response::json(status, value, Language::Fr)
}

/// The failure of a use case as a problem; infrastructure failures are logged here once.
fn failed(error: RecoveryError) -> Problem {
    if matches!(error, RecoveryError::Store(_) | RecoveryError::Mail(_) | RecoveryError::Random) {
        tracing::error!(error = %error, "request failed on a dependency");
    }
    problem(&error)
}

/// A citizen token from the SAG issuer.
pub async fn citizen(app: &App, request: &Request) -> Result<Caller, Problem> {
    let header = request.headers().get("authorization").and_then(|v| v.to_str().ok());
    let token = bearer_token(header).map_err(|e| token_problem(&e))?;
    app.tokens.citizen.verify(token).await.map_err(|e| {
        tracing::info!(reason = %e, "citizen token refused");
        token_problem(&e)
    })
}

/// The address the request came from, as API Gateway saw it (the local API sets it too).
pub fn source_ip_of(request: &Request) -> Option<std::net::IpAddr> {
    use lambda_http::RequestExt;
    match request.request_context_ref()? {
        lambda_http::request::RequestContext::ApiGatewayV2(context) => context.http.source_ip.as_deref()?.parse().ok(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The signed-in holder making the request, with where it came from.
async fn requester(app: &App, request: &Request) -> Result<Requester, Problem> {
    let caller = citizen(app, request).await?;
    Ok(Requester::new(caller.account, source_ip_of(request)))
}

fn body_of(request: &Request, allowed: &[&str]) -> Result<JsonBody, Problem> {
    JsonBody::parse(request.body().as_ref(), allowed)
}

/// Refuses an oversized body before anything else is done.
pub(crate) fn size_checked(request: &Request) -> Result<(), Problem> {
    if request.body().as_ref().len() > super::body::MAX_BODY_BYTES {
        return Err(ErrorCode::PayloadTooLarge.into());
    }
    Ok(())
}

/// `POST /recovery/lookup`
pub async fn lookup(app: &App, request: Request) -> Response {
    answer(&request, async {
        size_checked(&request)?;
        let requester = requester(app, &request).await?;
        let today = app.clock.now().date();
        let mut body = body_of(&request, &["certificateNumber", "dateOfBirth"])?;
        let number = body.required("certificateNumber", CertificateNumber::parse);
        let date_of_birth = body.required("dateOfBirth", |raw| DateOfBirth::parse(raw, today));
        body.finish()?;
        let (number, date_of_birth) = (number.expect("validated"), date_of_birth.expect("validated"));
        let state = recovery::lookup::lookup(app, &requester, &number, &date_of_birth).await.map_err(failed)?;
        Ok(ok(200, &state))
    })
    .await
}

/// `POST /recovery/code`
pub async fn send_code(app: &App, request: Request) -> Response {
    answer(&request, async {
        size_checked(&request)?;
        let requester = requester(app, &request).await?;
        body_of(&request, &[])?.finish()?;
        let state = recovery::send_code::send_code(app, &requester).await.map_err(failed)?;
        Ok(ok(200, &state))
    })
    .await
}

/// `POST /recovery/verify`
pub async fn verify_code(app: &App, request: Request) -> Response {
    answer(&request, async {
        size_checked(&request)?;
        let requester = requester(app, &request).await?;
        let mut body = body_of(&request, &["code"])?;
        let code = body.required("code", SecurityCode::parse);
        body.finish()?;
        let code = code.expect("validated");
        let state = recovery::verify_code::verify_code(app, &requester, &code).await.map_err(failed)?;
        Ok(ok(200, &state))
    })
    .await
}

/// `POST /recovery/invoice`
pub async fn check_invoice(app: &App, request: Request) -> Response {
    answer(&request, async {
        size_checked(&request)?;
        let requester = requester(app, &request).await?;
        let mut body = body_of(&request, &["invoiceNumber"])?;
        let number = body.required("invoiceNumber", InvoiceNumber::parse);
        body.finish()?;
        let number = number.expect("validated");
        let state = recovery::check_invoice::check_invoice(app, &requester, &number).await.map_err(failed)?;
        Ok(ok(200, &state))
    })
    .await
}

/// `POST /recovery/assistance`
pub async fn request_assistance(app: &App, request: Request) -> Response {
    answer(&request, async {
        size_checked(&request)?;
        let requester = requester(app, &request).await?;
        let mut body = body_of(&request, &["preferredTime", "language", "message"])?;
        let preferred_time = body.choice("preferredTime", PreferredTime::parse);
        let language = body.choice("language", Language::parse);
        let message = body.optional_text("message", AssistanceRequest::MAX_MESSAGE_CHARS);
        body.finish()?;
        let ask = AssistanceAsk {
            preferred_time: preferred_time.expect("validated"),
            language: language.expect("validated"),
            message,
        };
        let (request, created) =
            recovery::assistance::request_assistance(app, &requester, ask).await.map_err(failed)?;
        let state = recovery::RecoveryState::AssistanceRequested { reference: request.reference };
        Ok(ok(if created { 201 } else { 200 }, &state))
    })
    .await
}

/// `GET /recovery`
pub async fn recovery_state(app: &App, request: Request) -> Response {
    answer(&request, async {
        let caller = citizen(app, &request).await?;
        let state = recovery::state::current_state(app, &caller.account).await.map_err(failed)?;
        Ok(ok(200, &state))
    })
    .await
}

/// `GET /me/certificate`
pub async fn my_certificate(app: &App, request: Request) -> Response {
    answer(&request, async {
        let caller = citizen(app, &request).await?;
        let summary = recovery::state::my_certificate(app, &caller.account).await.map_err(failed)?;
        Ok(ok(200, &summary))
    })
    .await
}

/// Any route this deployment does not serve.
pub async fn not_found(request: Request) -> Response {
    answer(&request, async { Err(ErrorCode::NotFound.into()) }).await
}
