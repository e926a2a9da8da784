use super::{RecoveryError, Requester, audit, require_session};
use crate::app::App;
use crate::audit::AuditAction;
use crate::domain::{AssistanceRequest, AssistanceStatus, Language, PreferredTime};
use crate::store::AssistanceOpened;

/// What the holder asks for when filing an assistance request.
#[derive(Debug, Clone)]
pub struct AssistanceAsk {
    pub preferred_time: PreferredTime,
    pub language: Language,
    pub message: Option<String>,
}

/// Files an assistance request for the matched file, or answers the one already open.
/// Returns the request and whether it was created now (`docs/rules.md#assistance-one-open`).
#[tracing::instrument(skip_all, fields(account = %requester.account))]
pub async fn request_assistance(
    app: &App,
    requester: &Requester,
    ask: AssistanceAsk,
) -> Result<(AssistanceRequest, bool), RecoveryError> {
    let account = &requester.account;
    let context = require_session(app, account).await?;
    let now = app.clock.now();
    let request = AssistanceRequest {
        reference: crate::ids::assistance_reference(),
        account: account.clone(),
        certificate_number: context.session.certificate_number.clone(),
        preferred_time: ask.preferred_time,
        language: ask.language,
        message: ask.message,
        created_at: now,
        status: AssistanceStatus::Open,
        reported: None,
    };
    let event = audit(&request.certificate_number, now, requester, AuditAction::AssistanceRequest, "opened")
        .with_detail(request.reference.clone());
    match app.store.open_assistance_request(&request, event).await? {
        AssistanceOpened::Created => {
            tracing::info!(reference = %request.reference, "assistance request opened");
            Ok((request, true))
        }
        AssistanceOpened::AlreadyOpen(existing) => Ok((existing, false)),
    }
}
