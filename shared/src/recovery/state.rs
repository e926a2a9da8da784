use super::{RecoveryError, RecoveryState, alternatives_to_the_code};
use crate::app::App;
use crate::domain::{AccountSubject, CertificateSummary};

/// `GET /recovery`: linked, then a sent code, then an open assistance request, then a match.
#[tracing::instrument(skip_all, fields(account = %account))]
pub async fn current_state(app: &App, account: &AccountSubject) -> Result<RecoveryState, RecoveryError> {
    let now = app.clock.now();
    let view = app.store.account_view(account, now).await?;
    if let Some(number) = &view.link
        && let Some(file) = app.store.certificate(number).await?
    {
        return Ok(RecoveryState::linked(&file));
    }
    if let Some(session) = &view.session
        && let Some(file) = app.store.certificate(&session.certificate_number).await?
    {
        // A code sent before an employee changed the email is dead: back to the match.
        let live_code =
            session.code.as_ref().filter(|code| file.email_changed_at.is_none_or(|changed| changed <= code.issued_at));
        if let (Some(code), Some(email)) = (live_code, &file.email) {
            let settings = &app.settings;
            let options = alternatives_to_the_code(&file, account);
            return Ok(RecoveryState::CodeSent {
                masked_email: Some(email.masked()),
                expires_at: code.expires_at,
                resend_available_at: session.last_sent_at.unwrap_or(now) + settings.code_resend_cooldown,
                sends_left: settings.code_max_sends.saturating_sub(session.sends),
                attempts_left: settings.code_max_attempts.saturating_sub(code.attempts),
                delivery: code.delivery,
                options,
            });
        }
        if view.open_assistance.is_none() {
            return Ok(RecoveryState::matched(&file, account, now));
        }
    }
    if let Some(request) = view.open_assistance {
        return Ok(RecoveryState::AssistanceRequested { reference: request.reference });
    }
    Ok(RecoveryState::None)
}

/// `GET /me/certificate`: the linked file's summary.
#[tracing::instrument(skip_all, fields(account = %account))]
pub async fn my_certificate(app: &App, account: &AccountSubject) -> Result<CertificateSummary, RecoveryError> {
    let view = app.store.account_view(account, app.clock.now()).await?;
    let number = view.link.ok_or(RecoveryError::NotLinked)?;
    let file = app.store.certificate(&number).await?.ok_or(RecoveryError::NotLinked)?;
    Ok(CertificateSummary::from(&file))
}

/// After a request found no session: linked when the account is linked (a concurrent verify
/// won), otherwise no session.
pub(crate) async fn linked_or(app: &App, account: &AccountSubject) -> Result<RecoveryState, RecoveryError> {
    match my_certificate(app, account).await {
        Ok(certificate) => Ok(RecoveryState::Linked { certificate }),
        Err(RecoveryError::NotLinked) => Err(RecoveryError::NoRecoverySession),
        Err(e) => Err(e),
    }
}
