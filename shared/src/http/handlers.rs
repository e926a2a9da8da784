//! One handler per route: authenticate, parse, call the use case, answer.

use super::caller::{citizen, requester};
use super::errors::failed;
use super::problem::{ErrorCode, Problem};
use super::requests::{InvoiceRequest, LookupRequest, RawBody, SendCodeRequest, VerifyRequest};
use super::{Request, Response, response};
use crate::app::App;
use crate::domain::Language;
use crate::recovery::{self, assistance::AssistanceAsk};
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

/// Refuses an oversized body before anything else is done.
pub(crate) fn size_checked(request: &Request) -> Result<(), Problem> {
    if request.body().as_ref().len() > super::body::MAX_BODY_BYTES {
        return Err(ErrorCode::PayloadTooLarge.into());
    }
    Ok(())
}

/// The request's body as the route's request type (after [`size_checked`] and the caller's
/// token: a stranger learns nothing from the body's faults).
pub(crate) fn body<T>(app: &App, request: &Request) -> Result<T, Problem>
where
    T: for<'a> TryFrom<RawBody<'a>, Error = Problem>,
{
    T::try_from(RawBody::new(request.body().as_ref(), app.clock.now().date()))
}

/// `POST /recovery/lookup`
pub async fn lookup(app: &App, request: Request) -> Response {
    answer(&request, async {
        size_checked(&request)?;
        let requester = requester(app, &request).await?;
        let body: LookupRequest = body(app, &request)?;
        let state = recovery::lookup::lookup(app, &requester, &body.certificate_number, &body.date_of_birth)
            .await
            .map_err(failed)?;
        Ok(ok(200, &state))
    })
    .await
}

/// `POST /recovery/code`
pub async fn send_code(app: &App, request: Request) -> Response {
    answer(&request, async {
        size_checked(&request)?;
        let requester = requester(app, &request).await?;
        let _: SendCodeRequest = body(app, &request)?;
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
        let body: VerifyRequest = body(app, &request)?;
        let state = recovery::verify_code::verify_code(app, &requester, &body.code).await.map_err(failed)?;
        Ok(ok(200, &state))
    })
    .await
}

/// `POST /recovery/invoice`
pub async fn check_invoice(app: &App, request: Request) -> Response {
    answer(&request, async {
        size_checked(&request)?;
        let requester = requester(app, &request).await?;
        let body: InvoiceRequest = body(app, &request)?;
        let state =
            recovery::check_invoice::check_invoice(app, &requester, &body.invoice_number).await.map_err(failed)?;
        Ok(ok(200, &state))
    })
    .await
}

/// `POST /recovery/assistance`
pub async fn request_assistance(app: &App, request: Request) -> Response {
    answer(&request, async {
        size_checked(&request)?;
        let requester = requester(app, &request).await?;
        let ask: AssistanceAsk = body(app, &request)?;
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
