use super::{RecoveryError, RecoveryState, Requester, alternatives_to_the_code, audit, audit_refusal, require_session};
use crate::app::App;
use crate::audit::AuditAction;
use crate::domain::{Delivery, IssuedCode, MessagePurpose, SecurityCode, SentMessage};
use crate::store::{CodeSend, CodeSendRefused, CodeSendUndo, WindowCount};

/// Sends a security code to the email on file, or a new one (the old one dies), under the
/// resend cooldown, the per-session sends and the per-certificate sends in 24 h
/// (`docs/rules.md#code-resend-cooldown`, `#code-sends`, `#code-send-undone`).
#[tracing::instrument(skip_all, fields(account = %requester.account))]
pub async fn send_code(app: &App, requester: &Requester) -> Result<RecoveryState, RecoveryError> {
    let hasher = app.code_hasher()?;
    let account = &requester.account;
    let settings = &app.settings;
    // Taken before the file is read: a code is never stamped later than the email it goes to,
    // so an employee's change committed meanwhile still kills it.
    let now = app.clock.now();
    let context = require_session(app, account).await?;
    let session = &context.session;
    let file = context.file.clone().ok_or(RecoveryError::NoRecoverySession)?;
    if file.protection.frozen() {
        return Err(audit_refusal(app, requester, &context, AuditAction::CodeSend, RecoveryError::RecoveryFrozen).await);
    }
    let Some(email) = file.email.clone() else {
        return Err(audit_refusal(app, requester, &context, AuditAction::CodeSend, RecoveryError::NoEmailOnFile).await);
    };
    // An employee's email change on hold: no code goes to the new address before its end
    // (`docs/rules.md#email-change-hold`).
    if let Some(available_at) = file.protection.email_on_hold(now) {
        let refusal = RecoveryError::EmailChangePending { available_at };
        return Err(audit_refusal(app, requester, &context, AuditAction::CodeSend, refusal).await);
    }
    let certificate_sends = WindowCount::current(context.code_sends_of_certificate, now).map_or(0, |c| c.count);
    let refusal =
        if session.sends >= settings.code_max_sends || certificate_sends >= settings.code_max_sends_per_certificate {
            Some(RecoveryError::TooManyCodes)
        } else {
            // The cooldown runs from the last send for this certificate, from any session of
            // any account: a new lookup does not reset it.
            session
                .last_sent_at
                .max(context.last_code_sent_for_certificate)
                .map(|at| at + settings.code_resend_cooldown)
                .filter(|available| *available > now)
                .map(|available| RecoveryError::ResendTooSoon { retry_after: (available - now).unsigned_abs() })
        };
    if let Some(refusal) = refusal {
        return Err(audit_refusal(app, requester, &context, AuditAction::CodeSend, refusal).await);
    }

    let code = SecurityCode::generate().map_err(|_| RecoveryError::Random)?;
    let issued = IssuedCode {
        id: crate::ids::random_hex(8),
        hash: hasher.hash(&session.id, &code),
        issued_at: now,
        expires_at: now + settings.code_ttl,
        attempts: 0,
        delivery: Delivery::Sent,
    };
    let send = CodeSend {
        account: account.clone(),
        session_id: session.id.clone(),
        certificate_number: file.number.clone(),
        code: issued.clone(),
        replaced_hash: session.code.as_ref().map(|c| c.hash.clone()),
        sends_before: session.sends,
        certificate_sends: WindowCount::current(context.code_sends_of_certificate, now),
        certificate_last_sent: context.last_code_sent_for_certificate,
        max_sends: settings.code_max_sends,
        cooldown: settings.code_resend_cooldown,
        max_sends_per_certificate: settings.code_max_sends_per_certificate,
        window: settings.limit_window,
        now,
    };
    // How to take the send back if its mail does not go out.
    let undo = CodeSendUndo {
        account: account.clone(),
        session_id: session.id.clone(),
        certificate_number: file.number.clone(),
        code_id: issued.id.clone(),
        previous_code: session.code.clone(),
        previous_last_sent_at: session.last_sent_at,
        previous_replaced_code_hashes: session.replaced_code_hashes.clone(),
        sent_at: now,
        previous_certificate_last_sent: context.last_code_sent_for_certificate,
    };
    let recorded = match app.store.record_code_sent(&send).await {
        Ok(recorded) => recorded,
        Err(e) => {
            // The write may have gone through with its answer lost (a timeout): it is taken back
            // (the undo acts only on this very code), so no send is counted and no cooldown runs
            // for a code that was never mailed.
            if let Err(undo_error) = app.store.undo_code_sent(&undo).await {
                tracing::error!(error = %undo_error, "a send that may have been recorded was not taken back");
            }
            return Err(e.into());
        }
    };
    match recorded {
        Ok(()) => {}
        Err(CodeSendRefused::SessionChanged | CodeSendRefused::TooSoon) => {
            return Err(RecoveryError::ResendTooSoon { retry_after: settings.code_resend_cooldown });
        }
        Err(CodeSendRefused::SessionSendsUsedUp | CodeSendRefused::CertificateSendsUsedUp) => {
            return Err(RecoveryError::TooManyCodes);
        }
    }

    let lifetime_minutes = settings.code_ttl.as_secs().div_ceil(60);
    let email_message =
        crate::mailer::templates::security_code(&email, file.language, &code, &file.number, lifetime_minutes);
    let message_id = match app.mailer.send(&email_message).await {
        Ok(message_id) => message_id,
        Err(mail_error) => {
            tracing::error!(error = %mail_error, "security code email not sent; taking the send back");
            app.store.undo_code_sent(&undo).await?;
            app.store.append_audit(&audit(&file.number, now, requester, AuditAction::CodeSend, "mail_failed")).await?;
            return Err(RecoveryError::Mail(mail_error));
        }
    };
    // Recorded once the mail went out, never before: the trail does not claim a mail that
    // failed; with the message, so that SES's report of it reaches the code
    // (`docs/rules.md#delivery`). Best effort: the code is on its way, so the answer is the mail's.
    let sent = audit(&file.number, now, requester, AuditAction::CodeSend, "sent");
    let message = SentMessage {
        message_id,
        certificate_number: file.number.clone(),
        purpose: MessagePurpose::SecurityCode {
            account: account.clone(),
            session_id: session.id.clone(),
            code_id: issued.id.clone(),
        },
        file_email_changed_at: file.email_changed_at,
        sent_at: now,
        delivery: Delivery::Sent,
    };
    if let Err(e) = app.store.record_message(&message, &sent).await {
        tracing::error!(error = %e, "sent message and its audit event not written");
    }
    tracing::info!(outcome = "sent", "security code sent");
    let sends_left = (settings.code_max_sends - session.sends - 1)
        .min(settings.code_max_sends_per_certificate.saturating_sub(certificate_sends + 1));
    let options = alternatives_to_the_code(&file, account);
    Ok(RecoveryState::CodeSent {
        masked_email: Some(email.masked()),
        expires_at: issued.expires_at,
        resend_available_at: now + settings.code_resend_cooldown,
        sends_left,
        attempts_left: settings.code_max_attempts,
        delivery: Delivery::Sent,
        options,
    })
}
