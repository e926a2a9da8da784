use super::{RecoveryError, RecoveryState, audit};
use crate::app::App;
use crate::audit::AuditAction;
use crate::domain::{AccountSubject, CertificateNumber, DateOfBirth};
use crate::store::{RecoverySession, WindowCount};
use time::macros::date;

/// Compared against when the certificate is unknown, so both refusals do the same work.
const NO_FILE_DATE_OF_BIRTH: DateOfBirth = DateOfBirth::from_date(date!(1900 - 01 - 01));

/// Lookup (SPEC §1 step 1): certificate number and date of birth against the file, under the
/// per-account and per-certificate failure limits. An unknown certificate and a wrong date of
/// birth give the same answer after the same reads and writes.
#[tracing::instrument(skip_all, fields(account = %account, certificate = %certificate))]
pub async fn lookup(
    app: &App,
    account: &AccountSubject,
    certificate: &CertificateNumber,
    date_of_birth: &DateOfBirth,
) -> Result<RecoveryState, RecoveryError> {
    let now = app.clock.now();
    let settings = &app.settings;
    let context = app.store.lookup_context(account, certificate, now).await?;

    let locked_until = [
        (context.account_failures, settings.lookup_max_failures_per_account),
        (context.certificate_failures, settings.lookup_max_failures_per_certificate),
    ]
    .into_iter()
    .filter_map(|(count, max)| WindowCount::current(count, now).filter(|c| c.count >= max))
    .map(|c| c.window_ends)
    .max();
    if let Some(until) = locked_until {
        app.store.append_audit(&audit(certificate, now, account, AuditAction::Lookup, "locked")).await?;
        tracing::info!(outcome = "locked", "lookup refused");
        return Err(RecoveryError::Locked { retry_after: (until - now).unsigned_abs() });
    }

    let on_file = context.file.as_ref().map_or(&NO_FILE_DATE_OF_BIRTH, |f| &f.date_of_birth);
    let matches = on_file.matches(date_of_birth);
    let file = match context.file {
        Some(file) if matches => file,
        _ => {
            let event = audit(certificate, now, account, AuditAction::Lookup, "no_match");
            app.store.record_lookup_failure(account, certificate, settings.limit_window, now, event).await?;
            tracing::info!(outcome = "no_match", "lookup refused");
            return Err(RecoveryError::NoMatch);
        }
    };

    if file.linked_account.as_ref() == Some(account) {
        app.store
            .append_audit(&audit(certificate, now, account, AuditAction::Lookup, "already_linked_to_caller"))
            .await?;
        return Ok(RecoveryState::linked(&file));
    }

    let session = RecoverySession {
        id: crate::ids::session_id(),
        account: account.clone(),
        certificate_number: file.number.clone(),
        opened_at: now,
        expires_at: now + settings.session_ttl,
        code: None,
        sends: 0,
        last_sent_at: None,
        invoice_attempts: 0,
        replaced_code_hashes: Vec::new(),
    };
    app.store.open_session(&session, audit(certificate, now, account, AuditAction::Lookup, "matched")).await?;
    tracing::info!(outcome = "matched", "lookup matched");
    Ok(RecoveryState::matched(&file, account))
}
