use super::{RecoveryError, RecoveryState, Requester, audit};
use crate::app::App;
use crate::audit::AuditAction;
use crate::domain::{CertificateNumber, DateOfBirth, RecoverySession};
use crate::store::LookupLimits;
use time::macros::date;

/// Compared against when the certificate is unknown, so both refusals do the same work.
const NO_FILE_DATE_OF_BIRTH: DateOfBirth = DateOfBirth::from_date(date!(1900 - 01 - 01));

/// Lookup (`docs/rules.md#lookup-limits`, `#lookup-same-answer`, `#session`): certificate number and date of birth against the file, under the
/// per-account and per-certificate failure limits. The try is counted before the comparison
/// and given back on a match, so concurrent guesses never exceed the limits. An unknown
/// certificate and a wrong date of birth give the same answer after the same reads and writes.
#[tracing::instrument(skip_all, fields(account = %requester.account, certificate = %certificate))]
pub async fn lookup(
    app: &App,
    requester: &Requester,
    certificate: &CertificateNumber,
    date_of_birth: &DateOfBirth,
) -> Result<RecoveryState, RecoveryError> {
    let account = &requester.account;
    let now = app.clock.now();
    let settings = &app.settings;
    let limits = LookupLimits {
        per_account: settings.lookup_max_failures_per_account,
        per_certificate: settings.lookup_max_failures_per_certificate,
        window: settings.limit_window,
    };
    let (reserved, file) =
        tokio::join!(app.store.reserve_lookup(account, certificate, limits, now), app.store.certificate(certificate));
    let reservation = match reserved? {
        Ok(reservation) => reservation,
        Err(locked_until) => {
            let locked = RecoveryError::Locked { retry_after: (locked_until - now).unsigned_abs() };
            // Recorded once per account, certificate and lock: a locked number cannot flood the trail.
            let event = audit(certificate, now, requester, AuditAction::Lookup, "locked");
            super::record_refusal(app, event, &locked, locked_until).await?;
            tracing::info!(outcome = "locked", "lookup refused");
            return Err(locked);
        }
    };
    let file = match file {
        Ok(file) => file,
        Err(e) => {
            // Nothing was compared: the counted try is given back (best effort) before the 503.
            given_back(app.store.release_lookup(&reservation).await);
            return Err(e.into());
        }
    };
    let on_file = file.as_ref().map_or(&NO_FILE_DATE_OF_BIRTH, |f| &f.date_of_birth);
    let matches = on_file.matches(date_of_birth);
    let file = match file {
        Some(file) if matches => file,
        _ => {
            app.store.append_audit(&audit(certificate, now, requester, AuditAction::Lookup, "no_match")).await?;
            tracing::info!(outcome = "no_match", "lookup refused");
            return Err(RecoveryError::NoMatch);
        }
    };

    if file.linked_account.as_ref() == Some(account) {
        let event = audit(certificate, now, requester, AuditAction::Lookup, "already_linked_to_caller");
        let (released, audited) = tokio::join!(app.store.release_lookup(&reservation), app.store.append_audit(&event));
        audited?;
        given_back(released);
        return Ok(RecoveryState::linked(&file));
    }

    // Frozen after a "this wasn't me" report: told only after a match, so that a frozen file
    // is no answer to a guess (`docs/rules.md#this-wasnt-me`). A match is no failure.
    if file.protection.frozen() {
        let event = audit(certificate, now, requester, AuditAction::Lookup, "recovery_frozen");
        let (released, audited) = tokio::join!(app.store.release_lookup(&reservation), app.store.append_audit(&event));
        audited?;
        given_back(released);
        tracing::info!(outcome = "recovery_frozen", "lookup refused");
        return Err(RecoveryError::RecoveryFrozen);
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
    let event = audit(certificate, now, requester, AuditAction::Lookup, "matched");
    let (released, opened) =
        tokio::join!(app.store.release_lookup(&reservation), app.store.open_session(&session, event));
    opened?;
    given_back(released);
    tracing::info!(outcome = "matched", "lookup matched");
    Ok(RecoveryState::matched(&file, account, now))
}

/// A try is given back best-effort (a match's, or one never compared): a count not given back
/// only makes the limit stricter until its window ends.
fn given_back(released: crate::store::StoreResult<()>) {
    if let Err(e) = released {
        tracing::warn!(error = %e, "a counted try was not given back");
    }
}
