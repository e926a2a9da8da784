//! The recovery use cases (`docs/rules.md`): lookup, security code send and verify, invoice,
//! assistance request, and the caller's current state.

pub mod assistance;
pub mod check_invoice;
pub mod lookup;
pub mod send_code;
pub mod state;
pub mod verify_code;

use crate::app::App;
use crate::audit::{Actor, AuditAction, AuditEvent};
use crate::domain::{
    AccountSubject, CertificateFile, CertificateNumber, CertificateSummary, Delivery, EmailAddress as Email,
    MessagePurpose, Report, ReportKind, ReportToken,
};
use crate::error_code::ErrorCode;
use crate::mailer::MailerError;
use crate::store::{LinkCommand, LinkOutcome, LinkProof, SessionContext, StoreError};
use serde::Serialize;
use std::time::Duration;
use time::OffsetDateTime;

/// Who asks: the signed-in account, and the address the request came from (kept in the audit
/// trail, never in logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    pub account: AccountSubject,
    pub source_ip: Option<std::net::IpAddr>,
}

impl Requester {
    pub fn new(account: AccountSubject, source_ip: Option<std::net::IpAddr>) -> Self {
        Self { account, source_ip }
    }
}

/// Why a recovery step was refused. [`RecoveryError::code`] is its stable code (the audit
/// trail's outcome); the edge maps it to an HTTP problem (`crate::http::errors`).
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error("the certificate number and date of birth match no file")]
    NoMatch,
    #[error("lookups are locked")]
    Locked { retry_after: Duration },
    #[error("no matched, unexpired recovery session")]
    NoRecoverySession,
    #[error("the file has no email")]
    NoEmailOnFile,
    #[error("within the resend cooldown")]
    ResendTooSoon { retry_after: Duration },
    #[error("code sends used up")]
    TooManyCodes,
    #[error("wrong code")]
    WrongCode { attempts_left: u32 },
    #[error("the code expired or was replaced")]
    CodeExpired,
    /// Tries used up: of the code (a new code is needed), of the session, or — with
    /// `retry_after` — of the 24 h limits of the account or the certificate.
    #[error("tries used up")]
    TooManyAttempts { retry_after: Option<Duration> },
    #[error("invoice not accepted")]
    InvoiceNotAccepted { attempts_left: u32 },
    /// Older than the invoice rule's limit, which it names.
    #[error("invoice too old")]
    InvoiceTooOld { attempts_left: u32, max_age_years: u32 },
    #[error("the file is linked to another account")]
    AlreadyLinked,
    #[error("the account is not linked")]
    NotLinked,
    #[error("an employee's email change is on hold")]
    EmailChangePending { available_at: OffsetDateTime },
    #[error("self-service recovery of the file is frozen after a report")]
    RecoveryFrozen,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Mail(#[from] MailerError),
    #[error("the random source failed")]
    Random,
    #[error(transparent)]
    NoKey(#[from] crate::app::NoCodeHashKey),
}

impl RecoveryError {
    /// The stable code of this refusal or failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::NoMatch => ErrorCode::NoMatch,
            Self::Locked { .. } => ErrorCode::Locked,
            Self::NoRecoverySession => ErrorCode::NoRecoverySession,
            Self::NoEmailOnFile => ErrorCode::NoEmailOnFile,
            Self::ResendTooSoon { .. } => ErrorCode::ResendTooSoon,
            Self::TooManyCodes => ErrorCode::TooManyCodes,
            Self::WrongCode { .. } => ErrorCode::WrongCode,
            Self::CodeExpired => ErrorCode::CodeExpired,
            Self::TooManyAttempts { .. } => ErrorCode::TooManyAttempts,
            Self::InvoiceNotAccepted { .. } => ErrorCode::InvoiceNotAccepted,
            Self::InvoiceTooOld { .. } => ErrorCode::InvoiceTooOld,
            Self::AlreadyLinked => ErrorCode::AlreadyLinked,
            Self::NotLinked => ErrorCode::NotLinked,
            Self::EmailChangePending { .. } => ErrorCode::EmailChangePending,
            Self::RecoveryFrozen => ErrorCode::RecoveryFrozen,
            Self::Store(_) | Self::Mail(_) | Self::Random | Self::NoKey(_) => ErrorCode::ServiceUnavailable,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryOption {
    EmailCode,
    Invoice,
    Assistance,
}

/// What a holder may do after a match: the email code only with an email on file; the
/// invoice only when the file is not linked to another account (invoices never move a link).
pub fn options_for(file: &CertificateFile, account: &AccountSubject) -> Vec<RecoveryOption> {
    let mut options = Vec::with_capacity(3);
    if file.email.is_some() {
        options.push(RecoveryOption::EmailCode);
    }
    if file.linked_account.as_ref().is_none_or(|owner| owner == account) {
        options.push(RecoveryOption::Invoice);
    }
    options.push(RecoveryOption::Assistance);
    options
}

/// Once a code is sent, the other ways left: the same options without the email code.
pub fn alternatives_to_the_code(file: &CertificateFile, account: &AccountSubject) -> Vec<RecoveryOption> {
    options_for(file, account).into_iter().filter(|o| *o != RecoveryOption::EmailCode).collect()
}

/// The caller's recovery state, as every citizen route answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum RecoveryState {
    None,
    Matched {
        masked_email: Option<String>,
        options: Vec<RecoveryOption>,
        /// While an employee's email change is on hold: when a code can go to the new address.
        #[serde(skip_serializing_if = "Option::is_none", with = "crate::time_format::instant::option")]
        email_available_at: Option<OffsetDateTime>,
    },
    CodeSent {
        masked_email: Option<String>,
        #[serde(with = "crate::time_format::instant")]
        expires_at: OffsetDateTime,
        #[serde(with = "crate::time_format::instant")]
        resend_available_at: OffsetDateTime,
        sends_left: u32,
        attempts_left: u32,
        /// What the mail service reported about the email (`docs/rules.md#delivery`).
        delivery: Delivery,
        options: Vec<RecoveryOption>,
    },
    AssistanceRequested {
        reference: String,
    },
    Linked {
        certificate: CertificateSummary,
    },
}

impl RecoveryState {
    pub fn matched(file: &CertificateFile, account: &AccountSubject, now: OffsetDateTime) -> Self {
        Self::Matched {
            masked_email: file.email.as_ref().map(|e| e.masked()),
            options: options_for(file, account),
            email_available_at: file.email.as_ref().and(file.protection.email_on_hold(now)),
        }
    }

    pub fn linked(file: &CertificateFile) -> Self {
        Self::Linked { certificate: CertificateSummary::from(file) }
    }
}

pub(crate) fn audit(
    certificate: &CertificateNumber,
    now: OffsetDateTime,
    requester: &Requester,
    action: AuditAction,
    outcome: &str,
) -> AuditEvent {
    AuditEvent::new(certificate, now, Actor::account(&requester.account), action, outcome).from_ip(requester.source_ip)
}

/// Until when a refusal repeats: a limit's refusals (429) are recorded once per account,
/// certificate and window, so that nobody can flood a file's trail.
pub(crate) fn repeats_until(
    error: &RecoveryError,
    now: OffsetDateTime,
    fallback: OffsetDateTime,
) -> Option<OffsetDateTime> {
    match error {
        RecoveryError::Locked { retry_after }
        | RecoveryError::ResendTooSoon { retry_after }
        | RecoveryError::TooManyAttempts { retry_after: Some(retry_after) } => Some(now + *retry_after),
        RecoveryError::TooManyAttempts { retry_after: None } | RecoveryError::TooManyCodes => Some(fallback.max(now)),
        _ => None,
    }
}

/// Appends the audit event of a refusal: once per window for a limit's refusals (see
/// [`repeats_until`]; `fallback` is when the refusal's cause ends if the error does not say),
/// every time for the others.
pub(crate) async fn record_refusal(
    app: &App,
    event: AuditEvent,
    error: &RecoveryError,
    fallback: OffsetDateTime,
) -> Result<(), RecoveryError> {
    match repeats_until(error, event.at, fallback) {
        Some(until) => app.store.append_audit_once(&event, until).await.map(|_| ())?,
        None => app.store.append_audit(&event).await?,
    }
    Ok(())
}

/// Appends an audit event for a refusal that changes nothing else.
pub(crate) async fn audit_refusal(
    app: &App,
    requester: &Requester,
    context: &SessionContext,
    action: AuditAction,
    error: RecoveryError,
) -> RecoveryError {
    let outcome = error.code().as_str();
    let event = audit(&context.session.certificate_number, app.clock.now(), requester, action, outcome);
    // A refusal in a session is recorded once per session (or per window for a limit's), so
    // repeating it cannot flood the file's trail.
    let until = repeats_until(&error, event.at, context.session.expires_at).unwrap_or(context.session.expires_at);
    if let Err(e) = app.store.append_audit_once(&event, until).await.map_err(RecoveryError::Store) {
        tracing::error!(error = %e, "audit event not written");
        return e;
    }
    error
}

/// The session of the caller, or — when a concurrent request already linked the account —
/// the linked answer.
pub(crate) async fn require_session(app: &App, account: &AccountSubject) -> Result<SessionContext, RecoveryError> {
    match app.store.session_context(account, app.clock.now()).await? {
        Some(context) => Ok(context),
        None => Err(RecoveryError::NoRecoverySession),
    }
}

/// Links the account to the session's file and sends the link notice.
pub(crate) async fn link(
    app: &App,
    requester: &Requester,
    context: &SessionContext,
    file: &CertificateFile,
    proof: LinkProof,
    proof_action: AuditAction,
) -> Result<LinkOutcome, RecoveryError> {
    let now = app.clock.now();
    let account = &requester.account;
    let number = &file.number;
    let mut events = vec![
        audit(number, now, requester, proof_action, "accepted"),
        audit(number, now, requester, AuditAction::Link, "linked"),
    ];
    if let Some(previous) = file.linked_account.as_ref().filter(|p| *p != account) {
        events.push(
            AuditEvent::new(number, now, Actor::Account(previous.as_str().to_owned()), AuditAction::Unlink, "moved")
                .with_detail(format!("to account {account}"))
                .from_ip(requester.source_ip),
        );
    }
    // The notices' "this wasn't me" links, stored with the link they report: one to the email
    // on file; and while an employee's email change is on hold, one to the address before it
    // too — a link made meanwhile (an invoice needs no code) is told to the holder's own
    // address, not only to the new one.
    let mut notices: Vec<(Email, MessagePurpose)> = Vec::new();
    if let Some(email) = &file.email {
        notices.push((email.clone(), MessagePurpose::NoticeToFileAddress));
    }
    if let (Some(_), Some(before)) = (file.protection.email_on_hold(now), &file.protection.previous_email)
        && file.email.as_ref() != Some(before)
    {
        notices.push((before.clone(), MessagePurpose::NoticeToOldAddress));
    }
    let notices: Vec<(Email, MessagePurpose, Report, ReportToken)> = notices
        .into_iter()
        .map(|(to, purpose)| {
            let (report, token) = crate::report::new_report(app, ReportKind::Link, number, account, now)?;
            Ok((to, purpose, report, token))
        })
        .collect::<Result<_, crate::app::NoCodeHashKey>>()?;
    let command = LinkCommand {
        account: account.clone(),
        certificate_number: number.clone(),
        session_id: context.session.id.clone(),
        proof,
        file_linked_account: file.linked_account.clone(),
        account_linked_certificate: context.account_link.clone(),
        reports: notices.iter().map(|(_, _, report, _)| report.clone()).collect(),
        now,
        audit: events,
    };
    let outcome = match app.store.link(&command).await {
        Ok(outcome) => outcome,
        // The write may have gone through with its answer lost (a timeout). It is atomic, so
        // the file tells: linked to this account now (and not before) means it did — and a link
        // must never stand without its notice.
        Err(e) => match app.store.certificate(number).await {
            Ok(Some(now_file))
                if now_file.linked_account.as_ref() == Some(account)
                    && file.linked_account.as_ref() != Some(account) =>
            {
                tracing::warn!(error = %e, "the link's answer was lost, but the link stands");
                LinkOutcome::Linked
            }
            _ => return Err(e.into()),
        },
    };
    if outcome == LinkOutcome::Linked {
        tracing::info!(certificate = %number, moved = file.linked_account.is_some(), "file linked");
        for (to, purpose, _, token) in &notices {
            send_link_notice(app, file, requester, to, purpose.clone(), token, now).await;
        }
    }
    Ok(outcome)
}

/// Every successful link sends a notice to the email on file (and, during an email-change
/// hold, to the address before it), with its "this wasn't me" link. The link stands if a
/// notice fails; the failure is logged and audited for follow-up.
async fn send_link_notice(
    app: &App,
    file: &CertificateFile,
    requester: &Requester,
    email: &Email,
    purpose: MessagePurpose,
    token: &ReportToken,
    now: OffsetDateTime,
) {
    let when = crate::time_format::local_datetime(now, file.language);
    let report_url = crate::report::report_url(app, token);
    let notice = crate::mailer::templates::link_notice(email, file.language, &file.number, &when, &report_url);
    let sent = app.mailer.send(&notice).await;
    if let Err(e) = &sent {
        tracing::error!(error = %e, certificate = %file.number, "link notice not sent");
    }
    // Stamped when sent, so the trail reads in the order things happened.
    let at = app.clock.now().max(now);
    let outcome = match (&purpose, sent.is_ok()) {
        (MessagePurpose::NoticeToOldAddress, true) => "old_address_sent",
        (MessagePurpose::NoticeToOldAddress, false) => "old_address_failed",
        (_, true) => "sent",
        (_, false) => "failed",
    };
    let event = audit(&file.number, at, requester, AuditAction::LinkNotice, outcome);
    crate::delivery::record_sent(app, sent.ok(), &file.number, purpose, file.email_changed_at, at, &event).await;
}

/// After a refused link write, what the caller should hear: linked if a concurrent request
/// linked this very file to them.
pub(crate) async fn after_link_conflict(
    app: &App,
    account: &AccountSubject,
    number: &CertificateNumber,
    otherwise: RecoveryError,
) -> Result<RecoveryState, RecoveryError> {
    let file = app.store.certificate(number).await?;
    match file {
        Some(file) if file.linked_account.as_ref() == Some(account) => Ok(RecoveryState::linked(&file)),
        // A report froze the file meanwhile: that is why the link was refused.
        Some(file) if file.protection.frozen() => Err(RecoveryError::RecoveryFrozen),
        _ => Err(otherwise),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::*;
    use time::macros::{date, datetime};

    fn file(email: Option<&str>, linked: Option<&str>) -> CertificateFile {
        CertificateFile {
            number: CertificateNumber::parse("AG-1").unwrap(),
            holder_name: "Jeanne".into(),
            date_of_birth: DateOfBirth::from_date(date!(1980 - 02 - 29)),
            email: email.map(|e| EmailAddress::parse(e).unwrap()),
            phone: String::new(),
            language: Language::Fr,
            status: CertificateStatus::Active,
            expires_on: date!(2027 - 06 - 30),
            linked_account: linked.map(|a| AccountSubject::parse(a).unwrap()),
            email_changed_at: None,
            protection: Default::default(),
        }
    }

    #[test]
    fn options_follow_the_file() {
        use RecoveryOption::*;
        let me = AccountSubject::parse("me").unwrap();
        assert_eq!(options_for(&file(Some("a@b.ca"), None), &me), vec![EmailCode, Invoice, Assistance]);
        assert_eq!(options_for(&file(None, None), &me), vec![Invoice, Assistance]);
        assert_eq!(options_for(&file(Some("a@b.ca"), Some("other")), &me), vec![EmailCode, Assistance]);
        assert_eq!(options_for(&file(None, Some("other")), &me), vec![Assistance]);
        assert_eq!(options_for(&file(None, Some("me")), &me), vec![Invoice, Assistance]);
    }

    #[test]
    fn states_serialize_as_the_spec_says() {
        let me = AccountSubject::parse("me").unwrap();
        let matched = serde_json::to_value(RecoveryState::matched(
            &file(Some("jean@exemple.com"), None),
            &me,
            datetime!(2026-11-29 12:00 UTC),
        ))
        .unwrap();
        assert_eq!(
            matched,
            serde_json::json!({"state": "matched", "maskedEmail": "j•••@e•••.com", "options": ["email_code", "invoice", "assistance"]})
        );
        let linked = serde_json::to_value(RecoveryState::linked(&file(None, None))).unwrap();
        assert_eq!(
            linked["certificate"],
            serde_json::json!({"number": "AG1", "holderName": "Jeanne", "status": "active", "expiryDate": "2027-06-30"})
        );
        let sent = serde_json::to_value(RecoveryState::CodeSent {
            masked_email: Some("j•••@e•••.com".into()),
            expires_at: datetime!(2026-11-29 12:15:00.5 UTC),
            resend_available_at: datetime!(2026-11-29 12:01:00 UTC),
            sends_left: 4,
            attempts_left: 5,
            delivery: Delivery::Sent,
            options: vec![],
        })
        .unwrap();
        assert_eq!(sent["expiresAt"], "2026-11-29T12:15:00Z");
        assert_eq!(sent["sendsLeft"], 4);
        assert_eq!(serde_json::to_value(RecoveryState::None).unwrap(), serde_json::json!({"state": "none"}));
    }
}
