use super::{
    RecoveryError, RecoveryState, Requester, after_link_conflict, audit, audit_refusal, link, require_session,
};
use crate::app::App;
use crate::audit::AuditAction;
use crate::domain::SecurityCode;
use crate::store::{CodeTry, CodeTryCounted, LinkOutcome, LinkProof};

/// Verifies the emailed security code; a right code links the account to the file, moving
/// the link from another account if there was one. The try is counted — on the code and on
/// the certificate's wrong codes in 24 h — before the comparison, and given back when the code
/// is right: concurrent tries from any number of sessions never pass either limit
/// (`docs/rules.md#code-tries`, `#code-wrong-per-certificate`, `#code-lifetime`, `#link-moves`).
#[tracing::instrument(skip_all, fields(account = %requester.account))]
pub async fn verify_code(
    app: &App,
    requester: &Requester,
    code: &SecurityCode,
) -> Result<RecoveryState, RecoveryError> {
    let hasher = app.code_hasher()?;
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
        _ if file.protection.frozen() => Some(RecoveryError::RecoveryFrozen),
        None => Some(RecoveryError::CodeExpired),
        Some(issued) if issued.expires_at <= now => Some(RecoveryError::CodeExpired),
        // An employee changed the email after this code was sent: it went to the old address.
        Some(issued) if file.email_changed_at.is_some_and(|changed| changed > issued.issued_at) => {
            Some(RecoveryError::CodeExpired)
        }
        Some(issued) if issued.attempts >= settings.code_max_attempts => {
            Some(RecoveryError::TooManyAttempts { retry_after: None })
        }
        Some(_) => None,
    };
    if let Some(refusal) = refusal {
        return Err(audit_refusal(app, requester, &context, AuditAction::CodeVerify, refusal).await);
    }
    let issued = session.code.as_ref().expect("checked above");

    let code_try = CodeTry {
        account: account.clone(),
        session_id: session.id.clone(),
        code_id: issued.id.clone(),
        certificate_number: file.number.clone(),
        max_attempts: settings.code_max_attempts,
        max_wrong_per_certificate: settings.code_max_wrong_per_certificate,
        window: settings.limit_window,
        now,
    };
    let reservation = match app.store.reserve_code_try(&code_try).await? {
        CodeTryCounted::Reserved(reservation) => reservation,
        // The code's tries are taken — maybe by concurrent tries of this very code, one of
        // which may have linked the account: then that is the answer.
        CodeTryCounted::AttemptsUsedUp => {
            let refusal = RecoveryError::TooManyAttempts { retry_after: None };
            let refusal = audit_refusal(app, requester, &context, AuditAction::CodeVerify, refusal).await;
            return after_link_conflict(app, account, &file.number, refusal).await;
        }
        CodeTryCounted::CodeGone => {
            let refusal = RecoveryError::CodeExpired;
            let refusal = audit_refusal(app, requester, &context, AuditAction::CodeVerify, refusal).await;
            return after_link_conflict(app, account, &file.number, refusal).await;
        }
        CodeTryCounted::CertificateUsedUp { until } => {
            let refusal = RecoveryError::TooManyAttempts { retry_after: Some((until - now).unsigned_abs()) };
            return Err(audit_refusal(app, requester, &context, AuditAction::CodeVerify, refusal).await);
        }
    };

    if !hasher.verify(&session.id, code, &issued.hash) {
        if session.replaced_code_hashes.iter().any(|old| hasher.verify(&session.id, code, old)) {
            // A replaced code is not a guess at the live one: its try is given back.
            app.store.release_code_try(&code_try, &reservation, true).await?;
            return Err(
                audit_refusal(app, requester, &context, AuditAction::CodeVerify, RecoveryError::CodeExpired).await
            );
        }
        tracing::info!(outcome = "wrong_code", "security code refused");
        app.store.append_audit(&audit(&file.number, now, requester, AuditAction::CodeVerify, "wrong_code")).await?;
        return Err(RecoveryError::WrongCode {
            attempts_left: settings.code_max_attempts.saturating_sub(reservation.attempts),
        });
    }

    let proof = LinkProof::SecurityCode {
        code_id: issued.id.clone(),
        max_attempts: settings.code_max_attempts,
        issued_at: issued.issued_at,
    };
    let outcome = link(app, requester, &context, &file, proof, AuditAction::CodeVerify).await;
    // A right code is not a wrong one: the certificate's count is given back, and the code's
    // try too when the code is still there (no link happened). The link stands whatever
    // happens here: a count not given back only makes the limit stricter until its window ends.
    let code_too = !matches!(outcome, Ok(LinkOutcome::Linked));
    if let Err(e) = app.store.release_code_try(&code_try, &reservation, code_too).await {
        tracing::warn!(error = %e, "a counted try was not given back");
    }
    let outcome = outcome?;
    match outcome {
        LinkOutcome::Linked => {
            let mut linked = file;
            linked.linked_account = Some(account.clone());
            Ok(RecoveryState::linked(&linked))
        }
        LinkOutcome::Conflict => after_link_conflict(app, account, &file.number, RecoveryError::CodeExpired).await,
    }
}
