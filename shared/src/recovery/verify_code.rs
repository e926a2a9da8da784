use super::{
    RecoveryError, RecoveryState, Requester, after_link_conflict, audit, audit_refusal, link, require_session,
};
use crate::app::App;
use crate::audit::AuditAction;
use crate::domain::SecurityCode;
use crate::store::{LinkOutcome, LinkProof, WindowCount, WrongCode, WrongCodeCounted};

/// Verifies the emailed security code; a right code links the account to the file, moving
/// the link from another account if there was one.
#[tracing::instrument(skip_all, fields(account = %requester.account))]
pub async fn verify_code(
    app: &App,
    requester: &Requester,
    code: &SecurityCode,
) -> Result<RecoveryState, RecoveryError> {
    let account = &requester.account;
    let settings = &app.settings;
    let context = match require_session(app, account).await {
        Ok(context) => context,
        Err(RecoveryError::NoRecoverySession) => {
            return super::state::linked_or(app, account).await;
        }
        Err(e) => return Err(e),
    };
    let now = app.clock.now();
    let session = &context.session;
    let file = context.file.clone().ok_or(RecoveryError::NoRecoverySession)?;
    let refusal = match &session.code {
        None => Some(RecoveryError::CodeExpired),
        Some(issued) if issued.expires_at <= now => Some(RecoveryError::CodeExpired),
        Some(issued) if issued.attempts >= settings.code_max_attempts => Some(RecoveryError::TooManyAttempts),
        Some(_)
            if WindowCount::current(context.wrong_codes_of_certificate, now)
                .is_some_and(|c| c.count >= settings.code_max_wrong_per_certificate) =>
        {
            Some(RecoveryError::TooManyAttempts)
        }
        Some(_) => None,
    };
    if let Some(refusal) = refusal {
        return Err(audit_refusal(app, requester, &context, AuditAction::CodeVerify, refusal).await);
    }
    let issued = session.code.as_ref().expect("checked above");

    if !app.hasher.verify(&session.id, code, &issued.hash) {
        if session.replaced_code_hashes.iter().any(|old| app.hasher.verify(&session.id, code, old)) {
            return Err(
                audit_refusal(app, requester, &context, AuditAction::CodeVerify, RecoveryError::CodeExpired).await
            );
        }
        let wrong = WrongCode {
            account: account.clone(),
            session_id: session.id.clone(),
            code_id: issued.id.clone(),
            certificate_number: file.number.clone(),
            max_attempts: settings.code_max_attempts,
            window: settings.limit_window,
            now,
            audit: audit(&file.number, now, requester, AuditAction::CodeVerify, "wrong_code"),
        };
        tracing::info!(outcome = "wrong_code", "security code refused");
        return Err(match app.store.record_wrong_code(&wrong).await? {
            WrongCodeCounted::Attempts(n) => {
                RecoveryError::WrongCode { attempts_left: settings.code_max_attempts.saturating_sub(n) }
            }
            WrongCodeCounted::AttemptsUsedUp => RecoveryError::TooManyAttempts,
            WrongCodeCounted::CodeGone => RecoveryError::CodeExpired,
        });
    }

    let proof = LinkProof::SecurityCode { code_id: issued.id.clone(), max_attempts: settings.code_max_attempts };
    match link(app, requester, &context, &file, proof, AuditAction::CodeVerify).await? {
        LinkOutcome::Linked => {
            let mut linked = file;
            linked.linked_account = Some(account.clone());
            Ok(RecoveryState::linked(&linked))
        }
        LinkOutcome::Conflict => after_link_conflict(app, account, &file.number, RecoveryError::CodeExpired).await,
    }
}
