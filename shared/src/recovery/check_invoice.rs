use super::{
    RecoveryError, RecoveryState, Requester, after_link_conflict, audit, audit_refusal, link, require_session,
};
use crate::app::App;
use crate::audit::AuditAction;
use crate::domain::InvoiceNumber;
use crate::store::{InvoiceFailure, LinkOutcome, LinkProof};

/// The invoice path: an invoice of the matched file issued less than `INVOICE_MAX_AGE_YEARS`
/// ago links the account — but never moves a link from another account.
#[tracing::instrument(skip_all, fields(account = %requester.account))]
pub async fn check_invoice(
    app: &App,
    requester: &Requester,
    number: &InvoiceNumber,
) -> Result<RecoveryState, RecoveryError> {
    let account = &requester.account;
    let settings = &app.settings;
    let context = require_session(app, account).await?;
    let now = app.clock.now();
    let session = &context.session;
    let file = context.file.clone().ok_or(RecoveryError::NoRecoverySession)?;
    if file.linked_account.as_ref() == Some(account) {
        return Ok(RecoveryState::linked(&file));
    }
    if file.linked_account.is_some() {
        return Err(
            audit_refusal(app, requester, &context, AuditAction::InvoiceTry, RecoveryError::AlreadyLinked).await
        );
    }
    if session.invoice_attempts >= settings.invoice_max_attempts {
        return Err(
            audit_refusal(app, requester, &context, AuditAction::InvoiceTry, RecoveryError::TooManyAttempts).await
        );
    }

    let invoice = app.store.invoice(number).await?.filter(|i| i.certificate_number == file.number);
    let refused_as = match &invoice {
        None => Some("invoice_not_accepted"),
        Some(i) if !i.is_recent(now.date(), settings.invoice_max_age_years) => Some("invoice_too_old"),
        Some(_) => None,
    };
    if let Some(outcome) = refused_as {
        let failure = InvoiceFailure {
            account: account.clone(),
            session_id: session.id.clone(),
            max_attempts: settings.invoice_max_attempts,
            now,
            audit: audit(&file.number, now, requester, AuditAction::InvoiceTry, outcome),
        };
        tracing::info!(outcome, "invoice refused");
        let Some(attempts) = app.store.record_invoice_failure(&failure).await? else {
            return Err(RecoveryError::TooManyAttempts);
        };
        let attempts_left = settings.invoice_max_attempts.saturating_sub(attempts);
        return Err(if invoice.is_none() {
            RecoveryError::InvoiceNotAccepted { attempts_left }
        } else {
            RecoveryError::InvoiceTooOld { attempts_left }
        });
    }

    let proof = LinkProof::Invoice { max_attempts: settings.invoice_max_attempts };
    match link(app, requester, &context, &file, proof, AuditAction::InvoiceTry).await? {
        LinkOutcome::Linked => {
            let mut linked = file;
            linked.linked_account = Some(account.clone());
            Ok(RecoveryState::linked(&linked))
        }
        LinkOutcome::Conflict => after_link_conflict(app, account, &file.number, RecoveryError::AlreadyLinked).await,
    }
}
