//! The Office's side (`docs/rules.md#desk-email-updated`, `#desk-queue`): the queue of assistance requests, an employee's call
//! back and its outcome — with `email_updated`, the new email on file — and a file's audit
//! trail.

use crate::app::App;
use crate::audit::{Actor, AuditAction, AuditEvent};
use crate::domain::{
    AssistanceRequest, AssistanceStatus, CertificateFile, CertificateNumber, EmailAddress, EmailDeliveryProblem,
    Language, MessagePurpose, PreferredTime, Report, ReportKind, ReportToken,
};
use crate::store::{AuditPosition, CloseOutcome, CloseRequest, EmailHold, QueuePosition, StoreError};
use serde::Serialize;
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error("no such assistance request")]
    NotFound,
    #[error("the request is already closed")]
    AlreadyClosed,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    NoKey(#[from] crate::app::NoCodeHashKey),
}

impl DeskError {
    /// The stable code of this refusal or failure.
    pub fn code(&self) -> crate::error_code::ErrorCode {
        use crate::error_code::ErrorCode;
        match self {
            Self::NotFound => ErrorCode::NotFound,
            Self::AlreadyClosed => ErrorCode::AlreadyClosed,
            Self::Store(_) | Self::NoKey(_) => ErrorCode::ServiceUnavailable,
        }
    }
}

/// What an employee decided after calling the holder back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Identity confirmed by phone; this is the holder's email now.
    EmailUpdated(EmailAddress),
    IdentityNotConfirmed,
    Unreachable,
}

impl Resolution {
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::EmailUpdated(_) => "email_updated",
            Self::IdentityNotConfirmed => "identity_not_confirmed",
            Self::Unreachable => "unreachable",
        }
    }
}

/// An assistance request as the desk shows it, with the file's contact details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestView {
    pub reference: String,
    pub status: &'static str,
    pub certificate_number: CertificateNumber,
    pub holder_name: Option<String>,
    pub phone: Option<String>,
    /// The file's language: the one to call back in.
    pub language: Option<Language>,
    /// The language the holder used for the request.
    pub request_language: Language,
    pub preferred_time: PreferredTime,
    pub message: Option<String>,
    #[serde(with = "crate::time_format::instant")]
    pub created_at: OffsetDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masked_email: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", with = "crate::time_format::instant::option")]
    pub closed_at: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_by: Option<String>,
    /// A "this wasn't me" report, of this kind (`docs/rules.md#this-wasnt-me`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported: Option<ReportKind>,
    /// The file's address bounced or drew a complaint, and when (with the contact details).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_delivery: Option<EmailDeliveryProblem>,
    /// While an email change is on hold: when codes can go to the new address.
    #[serde(skip_serializing_if = "Option::is_none", with = "crate::time_format::instant::option")]
    pub email_hold_until: Option<OffsetDateTime>,
    /// A report of the file is open (its self-service recovery is frozen): shown on every
    /// request of the file, so that no employee changes its email at someone else's word.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub file_frozen: bool,
}

impl RequestView {
    fn new(request: &AssistanceRequest, file: Option<&CertificateFile>, with_email: bool) -> Self {
        let (status, outcome, closed_at, closed_by) = match &request.status {
            AssistanceStatus::Open => ("open", None, None, None),
            AssistanceStatus::Closed { outcome, by, at } => {
                ("closed", Some(outcome.clone()), Some(*at), Some(by.clone()))
            }
        };
        Self {
            reference: request.reference.clone(),
            status,
            certificate_number: request.certificate_number.clone(),
            holder_name: file.map(|f| f.holder_name.clone()),
            phone: file.map(|f| f.phone.clone()),
            language: file.map(|f| f.language),
            request_language: request.language,
            preferred_time: request.preferred_time,
            message: request.message.clone(),
            created_at: request.created_at,
            masked_email: with_email.then(|| file.and_then(|f| f.email.as_ref().map(EmailAddress::masked))),
            outcome,
            closed_at,
            closed_by,
            reported: request.reported,
            email_delivery: file.filter(|_| with_email).and_then(|f| f.protection.email_delivery),
            email_hold_until: file.filter(|_| with_email).and_then(|f| f.protection.email_hold_until),
            file_frozen: file.filter(|_| with_email).is_some_and(|f| f.protection.frozen()),
        }
    }
}

/// The open requests, oldest first, a page at a time.
#[tracing::instrument(skip_all)]
pub async fn open_requests(
    app: &App,
    limit: usize,
    after: Option<&QueuePosition>,
) -> Result<(Vec<RequestView>, Option<QueuePosition>), DeskError> {
    let (requests, next) = app.store.open_assistance_requests(limit, after).await?;
    let numbers: Vec<CertificateNumber> = requests.iter().map(|r| r.certificate_number.clone()).collect();
    let files = app.store.certificates(&numbers).await?;
    let views = requests
        .iter()
        .map(|r| RequestView::new(r, files.iter().find(|f| f.number == r.certificate_number), false))
        .collect();
    Ok((views, next))
}

/// One request with the file's contact details. Opening it is an audit event on the file
/// (who saw whose personal data), written before anything is shown.
#[tracing::instrument(skip_all, fields(reference = %reference, agent = %agent))]
pub async fn request(
    app: &App,
    agent: &str,
    source_ip: Option<std::net::IpAddr>,
    reference: &str,
) -> Result<RequestView, DeskError> {
    let request = app.store.assistance_request(reference).await?.ok_or(DeskError::NotFound)?;
    let file = app.store.certificate(&request.certificate_number).await?;
    let actor = Actor::Agent(agent.to_owned());
    let viewed =
        AuditEvent::new(&request.certificate_number, app.clock.now(), actor, AuditAction::StaffViewRequest, "viewed")
            .with_detail(reference)
            .from_ip(source_ip);
    app.store.append_audit(&viewed).await?;
    Ok(RequestView::new(&request, file.as_ref(), true))
}

/// Closes a request with the employee's outcome. With `email_updated`, atomically: the new
/// email on file, the request closed, the lookup locks of the certificate and of the
/// requesting account cleared, the audit events; then the old address (if any) and the new
/// one are told, in the file's language.
#[tracing::instrument(skip_all, fields(reference = %reference, agent = %agent, outcome = resolution.outcome()))]
pub async fn resolve(
    app: &App,
    agent: &str,
    source_ip: Option<std::net::IpAddr>,
    reference: &str,
    resolution: Resolution,
) -> Result<RequestView, DeskError> {
    let now = app.clock.now();
    let request = app.store.assistance_request(reference).await?.ok_or(DeskError::NotFound)?;
    if !request.is_open() {
        return Err(DeskError::AlreadyClosed);
    }
    let file = app.store.certificate(&request.certificate_number).await?;
    let number = &request.certificate_number;
    let actor = || Actor::Agent(agent.to_owned());
    let mut audit = vec![
        AuditEvent::new(number, now, actor(), AuditAction::StaffResolve, resolution.outcome())
            .with_detail(reference)
            .from_ip(source_ip),
    ];
    let new_email = match &resolution {
        Resolution::EmailUpdated(email) => {
            if file.is_none() {
                return Err(DeskError::NotFound);
            }
            audit.push(
                AuditEvent::new(number, now, actor(), AuditAction::EmailChange, "updated")
                    .with_detail(reference)
                    .from_ip(source_ip),
            );
            Some(email.clone())
        }
        _ => None,
    };
    // A file that had an email: the new one waits out the hold before codes go to it, and
    // both notices carry a "this wasn't me" link (`docs/rules.md#email-change-hold`).
    // During a hold, the address the holder had before it stays the one to tell and to put
    // back: a second change (a typo fixed, or a second pretext) never erases it.
    let old_email = file.as_ref().and_then(|f| match (f.protection.email_on_hold(now), &f.protection.previous_email) {
        (Some(_), Some(before)) => Some(before.clone()),
        _ => f.email.clone(),
    });
    let hold = match (&new_email, &old_email) {
        (Some(new), Some(old)) if new != old && !app.settings.email_change_hold.is_zero() => {
            Some(EmailHold { until: now + app.settings.email_change_hold, previous_email: old.clone() })
        }
        _ => None,
    };
    let notices: Vec<(Notice, Report, ReportToken)> = match &new_email {
        Some(new) => {
            let mut to = vec![Notice::NewAddress];
            if old_email.as_ref().is_some_and(|old| old != new) {
                to.push(Notice::OldAddress);
            }
            to.into_iter()
                .map(|notice| {
                    let (report, token) =
                        crate::report::new_report(app, ReportKind::EmailChange, number, &request.account, now)?;
                    Ok((notice, report, token))
                })
                .collect::<Result<_, crate::app::NoCodeHashKey>>()?
        }
        None => Vec::new(),
    };
    let close = CloseRequest {
        reference: reference.to_owned(),
        account: request.account.clone(),
        certificate_number: number.clone(),
        outcome: resolution.outcome().to_owned(),
        agent: agent.to_owned(),
        new_email: new_email.clone(),
        hold: hold.clone(),
        reports: notices.iter().map(|(_, report, _)| report.clone()).collect(),
        reported: request.reported.is_some(),
        email_changed_at_as_read: file.as_ref().and_then(|f| f.email_changed_at),
        now,
        audit,
    };
    let closed = match app.store.close_assistance_request(&close).await {
        Ok(closed) => closed,
        // The write may have gone through with its answer lost (a timeout). It is atomic, so
        // the request tells: closed by this employee, with this outcome, now (the store keeps
        // milliseconds) means it did — and an email change must never stand untold.
        Err(e) => match app.store.assistance_request(reference).await {
            Ok(Some(AssistanceRequest { status: AssistanceStatus::Closed { outcome, by, at }, .. }))
                if outcome == close.outcome && by == agent && (now - at).abs() < time::Duration::milliseconds(1) =>
            {
                tracing::warn!(error = %e, "the close's answer was lost, but the request is closed");
                CloseOutcome::Closed
            }
            _ => return Err(e.into()),
        },
    };
    if closed == CloseOutcome::AlreadyClosed {
        return Err(DeskError::AlreadyClosed);
    }
    tracing::info!("assistance request closed");
    let mut file = file;
    if let (Some(file), Some(new_email)) = (file.as_mut(), new_email) {
        file.email.replace(new_email.clone());
        let old = old_email;
        file.email_changed_at = Some(now);
        if request.reported.is_some() {
            file.protection.open_reports.retain(|r| r != reference);
        }
        file.protection.email_hold_until = hold.as_ref().map(|h| h.until);
        file.protection.previous_email = hold.map(|h| h.previous_email);
        file.protection.email_delivery = None;
        notify_email_change(app, file, old.as_ref(), &new_email, &notices, agent, now).await;
    } else if let Some(file) = file.as_mut() {
        file.protection.open_reports.retain(|r| r != reference);
    }
    let closed = AssistanceRequest {
        status: AssistanceStatus::Closed { outcome: close.outcome, by: close.agent, at: now },
        ..request
    };
    Ok(RequestView::new(&closed, file.as_ref(), true))
}

/// Which address an email change's notice goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notice {
    NewAddress,
    OldAddress,
}

/// The email change's notices, each with its own "this wasn't me" link: to the new address
/// (the hold starts) and to the old one (told at once).
async fn notify_email_change(
    app: &App,
    file: &CertificateFile,
    old: Option<&EmailAddress>,
    new: &EmailAddress,
    notices: &[(Notice, Report, ReportToken)],
    agent: &str,
    now: OffsetDateTime,
) {
    use crate::mailer::templates::email_changed;
    for (notice, _, token) in notices {
        let url = crate::report::report_url(app, token);
        let (which, to, purpose) = match (notice, old) {
            (Notice::NewAddress, _) => ("new_address", new, MessagePurpose::NoticeToFileAddress),
            (Notice::OldAddress, Some(old)) => ("old_address", old, MessagePurpose::NoticeToOldAddress),
            (Notice::OldAddress, None) => continue,
        };
        let held_until =
            file.protection.email_on_hold(now).map(|until| crate::time_format::local_datetime(until, file.language));
        let to_new = *notice == Notice::NewAddress;
        let email = email_changed(to, file.language, &file.number, new, to_new, held_until.as_deref(), &url);
        let sent = app.mailer.send(&email).await;
        if let Err(e) = &sent {
            tracing::error!(error = %e, which, "email change notice not sent");
        }
        let outcome = format!("{which}_{}", if sent.is_ok() { "sent" } else { "failed" });
        // Stamped when sent, so the trail reads in the order things happened.
        let at = app.clock.now().max(now);
        let event =
            AuditEvent::new(&file.number, at, Actor::Agent(agent.to_owned()), AuditAction::EmailChange, &outcome);
        crate::delivery::record_sent(app, sent.ok(), &file.number, purpose, file.email_changed_at, at, &event).await;
    }
}

/// A page of a file's audit events, newest first, and where it ends when more follow.
/// Opening it is itself an event, written first: so it heads the first page, and every page
/// read is on record (a cursor is no way around it).
#[tracing::instrument(skip_all, fields(certificate = %number, agent = %agent))]
pub async fn audit_trail(
    app: &App,
    agent: &str,
    source_ip: Option<std::net::IpAddr>,
    number: &CertificateNumber,
    limit: usize,
    after: Option<&AuditPosition>,
) -> Result<(Vec<AuditEvent>, Option<AuditPosition>), DeskError> {
    let now = app.clock.now();
    let viewed = AuditEvent::new(number, now, Actor::Agent(agent.to_owned()), AuditAction::StaffViewAudit, "viewed")
        .from_ip(source_ip);
    app.store.append_audit(&viewed).await?;
    Ok(app.store.audit_trail(number, limit, after, now).await?)
}
