use super::{
    RecoveryError, RecoveryState, Requester, after_link_conflict, audit, audit_refusal, link, require_session,
};
use crate::app::App;
use crate::audit::AuditAction;
use crate::domain::InvoiceNumber;
use crate::store::{InvoiceTry, InvoiceTryCounted, LinkOutcome, LinkProof};

/// The invoice path: an invoice of the matched file issued less than `INVOICE_MAX_AGE_YEARS`
/// ago links the account — but never moves a link from another account. Each try is counted
/// before the comparison against the session's tries and the refused invoices of the account
/// and of the certificate in 24 h, and given back only when the invoice is accepted: a new
/// lookup, a second account or concurrent tries never give more guesses
/// (`docs/rules.md#invoice-accepted`, `#invoice-tries`, `#invoice-never-moves`).
#[tracing::instrument(skip_all, fields(account = %requester.account))]
pub async fn check_invoice(
    app: &App,
    requester: &Requester,
    number: &InvoiceNumber,
) -> Result<RecoveryState, RecoveryError> {
    // The link notice's report token is hashed: a function without the key fails here, before
    // any write.
    app.code_hasher()?;
    let account = &requester.account;
    let settings = &app.settings;
    let context = require_session(app, account).await?;
    let now = app.clock.now();
    let session = &context.session;
    let file = context.file.clone().ok_or(RecoveryError::NoRecoverySession)?;
    if file.linked_account.as_ref() == Some(account) {
        return Ok(RecoveryState::linked(&file));
    }
    if file.protection.frozen() {
        return Err(
            audit_refusal(app, requester, &context, AuditAction::InvoiceTry, RecoveryError::RecoveryFrozen).await
        );
    }
    if file.linked_account.is_some() {
        return Err(
            audit_refusal(app, requester, &context, AuditAction::InvoiceTry, RecoveryError::AlreadyLinked).await
        );
    }

    let invoice_try = InvoiceTry {
        account: account.clone(),
        session_id: session.id.clone(),
        certificate_number: file.number.clone(),
        max_per_session: settings.invoice_max_attempts,
        max_per_account: settings.invoice_max_wrong_per_account,
        max_per_certificate: settings.invoice_max_wrong_per_certificate,
        window: settings.limit_window,
        now,
    };
    let reservation = match app.store.reserve_invoice_try(&invoice_try).await? {
        InvoiceTryCounted::Reserved(reservation) => reservation,
        InvoiceTryCounted::SessionGone => return Err(RecoveryError::NoRecoverySession),
        InvoiceTryCounted::SessionUsedUp => {
            let refusal = RecoveryError::TooManyAttempts { retry_after: None };
            return Err(audit_refusal(app, requester, &context, AuditAction::InvoiceTry, refusal).await);
        }
        InvoiceTryCounted::Locked { until } => {
            let refusal = RecoveryError::TooManyAttempts { retry_after: Some((until - now).unsigned_abs()) };
            return Err(audit_refusal(app, requester, &context, AuditAction::InvoiceTry, refusal).await);
        }
    };

    // A try that failed on the store was no refusal: it is given back (best effort) before the 503.
    // After a link, only the counts: the link consumed the session.
    let (invoice_try, reservation) = (&invoice_try, &reservation);
    let give_back = |session_too: bool| async move {
        if let Err(e) = app.store.release_invoice_try(invoice_try, reservation, session_too).await {
            tracing::warn!(error = %e, "a counted try was not given back");
        }
    };
    let invoice = match app.store.invoice(number).await {
        Ok(invoice) => invoice.filter(|i| i.certificate_number == file.number),
        Err(e) => {
            give_back(true).await;
            return Err(e.into());
        }
    };
    let attempts_left = reservation.attempts_left(invoice_try);
    let refusal = match &invoice {
        None => Some(RecoveryError::InvoiceNotAccepted { attempts_left }),
        Some(i) if !i.is_recent(now.date(), settings.invoice_max_age_years) => {
            Some(RecoveryError::InvoiceTooOld { attempts_left, max_age_years: settings.invoice_max_age_years })
        }
        Some(_) => None,
    };
    if let Some(refusal) = refusal {
        let outcome = refusal.code().as_str();
        tracing::info!(outcome, "invoice refused");
        app.store.append_audit(&audit(&file.number, now, requester, AuditAction::InvoiceTry, outcome)).await?;
        return Err(refusal);
    }

    let proof = LinkProof::Invoice { max_attempts: settings.invoice_max_attempts };
    let outcome = link(app, requester, &context, &file, proof, AuditAction::InvoiceTry).await;
    // An accepted invoice is not a refused one (and a failed link was no refusal either). The
    // link stands whatever happens here: a count not given back only makes the limit stricter
    // until its window ends.
    give_back(!matches!(outcome, Ok(LinkOutcome::Linked))).await;
    let outcome = outcome?;
    match outcome {
        LinkOutcome::Linked => {
            let mut linked = file;
            linked.linked_account = Some(account.clone());
            Ok(RecoveryState::linked(&linked))
        }
        LinkOutcome::Conflict => after_link_conflict(app, account, &file.number, RecoveryError::AlreadyLinked).await,
    }
}
