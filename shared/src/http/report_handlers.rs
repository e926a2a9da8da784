//! The "this wasn't me" routes (`docs/rules.md#this-wasnt-me`): no sign-in — the token in the
//! path is the only key, and every fault of it (malformed, unknown, used, expired) gets the one
//! answer, `report_expired`.

use super::caller::source_ip_of;
use super::errors::failed;
use super::handlers::{answer, body, ok, size_checked};
use super::problem::Problem;
use super::requests::EmptyBody;
use super::{Request, Response};
use crate::app::App;
use crate::report::{self, ReportError};

impl From<&ReportError> for Problem {
    fn from(error: &ReportError) -> Self {
        Problem::new(error.code())
    }
}

fn token_of(request: &Request) -> String {
    super::desk_handlers::path_parameter(request, "token")
}

/// `GET /report/{token}`
pub async fn describe_report(app: &App, request: Request) -> Response {
    answer(&request, async {
        let view = report::describe(app, &token_of(&request)).await.map_err(failed)?;
        Ok(ok(200, &view))
    })
    .await
}

/// `POST /report/{token}`
pub async fn confirm_report(app: &App, request: Request) -> Response {
    answer(&request, async {
        size_checked(&request)?;
        let _: EmptyBody = body(app, &request)?;
        let reported = report::confirm(app, &token_of(&request), source_ip_of(&request)).await.map_err(failed)?;
        Ok(ok(200, &reported))
    })
    .await
}
