//! "This wasn't me" (`docs/rules.md#this-wasnt-me`): the link in the link notice and in both
//! email-change notices. Following it shows what the notice told of; confirming it (no
//! sign-in) undoes that if it still stands — the link, or the email change during its hold —
//! freezes the file's self-service recovery and opens a `reported` assistance request, at the
//! front of the queue, in one atomic write. A used, expired or unknown link gets one answer.

use crate::app::App;
use crate::audit::{Actor, AuditAction, AuditEvent};
use crate::domain::{
    AccountSubject, AssistanceRequest, AssistanceStatus, CertificateNumber, PreferredTime, REPORT_TOKEN_LIFETIME,
    Report, ReportKind, ReportToken,
};
use crate::error_code::ErrorCode;
use crate::store::{FileReport, ReportFiled, StoreError};
use serde::Serialize;
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Unknown, used or older than 240 h: one answer for all three.
    #[error("the report link is expired, used or unknown")]
    Expired,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    NoKey(#[from] crate::app::NoCodeHashKey),
}

impl ReportError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Expired => ErrorCode::ReportExpired,
            Self::Store(_) | Self::NoKey(_) => ErrorCode::ServiceUnavailable,
        }
    }
}

/// A new report link for a notice about `kind` on the file, concerning `account`, that
/// happened at `now`: its record (to store with the event) and its token (for the email only).
pub fn new_report(
    app: &App,
    kind: ReportKind,
    number: &CertificateNumber,
    account: &AccountSubject,
    now: OffsetDateTime,
) -> Result<(Report, ReportToken), crate::app::NoCodeHashKey> {
    let token = ReportToken::generate();
    let token_hash = app.code_hasher()?.report_token_hashes(&token).swap_remove(0);
    let report = Report {
        token_hash,
        kind,
        certificate_number: number.clone(),
        account: account.clone(),
        occurred_at: now,
        expires_at: now + REPORT_TOKEN_LIFETIME,
        used: None,
    };
    Ok((report, token))
}

/// The link a notice carries: `<holder page>/signalement/<token>`.
pub fn report_url(app: &App, token: &ReportToken) -> String {
    format!("{}/signalement/{}", app.settings.holder_page_url.trim_end_matches('/'), token.expose())
}

/// What the page shows before the holder confirms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportView {
    pub kind: ReportKind,
    pub masked_certificate_number: String,
    #[serde(with = "crate::time_format::instant")]
    pub occurred_at: OffsetDateTime,
}

/// The answer to a confirmed report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename = "reported")]
#[serde(rename_all = "camelCase")]
pub struct Reported {
    pub reference: String,
    /// Whether what the notice told of was undone: the link removed, or the email put back.
    /// False when it no longer stood (the link had moved on, the hold had ended).
    pub undone: bool,
}

/// A certificate number a stranger may see: its last three characters.
fn masked(number: &CertificateNumber) -> String {
    let chars: Vec<char> = number.as_str().chars().collect();
    let tail: String = chars[chars.len().saturating_sub(3)..].iter().collect();
    format!("•••{tail}")
}

/// The usable report behind `raw`, or `Expired`.
async fn usable_report(app: &App, raw: &str, now: OffsetDateTime) -> Result<Report, ReportError> {
    let token = ReportToken::parse(raw).ok_or(ReportError::Expired)?;
    for hash in app.code_hasher()?.report_token_hashes(&token) {
        if let Some(report) = app.store.report(&hash, now).await? {
            return if report.usable(now) { Ok(report) } else { Err(ReportError::Expired) };
        }
    }
    Err(ReportError::Expired)
}

/// `GET /report/{token}`: what the link reports, with the file number masked.
#[tracing::instrument(skip_all)]
pub async fn describe(app: &App, raw_token: &str) -> Result<ReportView, ReportError> {
    let report = usable_report(app, raw_token, app.clock.now()).await?;
    Ok(ReportView {
        kind: report.kind,
        masked_certificate_number: masked(&report.certificate_number),
        occurred_at: report.occurred_at,
    })
}

/// Tries of a report whose file changed between the read and the write.
const FILE_CHANGED_TRIES: usize = 3;

/// `POST /report/{token}`: the report, confirmed.
#[tracing::instrument(skip_all)]
pub async fn confirm(app: &App, raw_token: &str, source_ip: Option<std::net::IpAddr>) -> Result<Reported, ReportError> {
    let now = app.clock.now();
    let report = usable_report(app, raw_token, now).await?;
    let number = &report.certificate_number;
    let actor = || Actor::Recipient(report.kind.as_str().to_owned());
    for _ in 0..FILE_CHANGED_TRIES {
        let file = app
            .store
            .certificate(number)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a report of a file that does not exist".into()))?;
        let unlink = report.kind == ReportKind::Link && file.linked_account.as_ref() == Some(&report.account);
        let restore_email = report.kind == ReportKind::EmailChange
            && file.email_changed_at == Some(report.occurred_at)
            && file.protection.email_on_hold(now).is_some()
            && file.protection.previous_email.is_some();
        let reference = crate::ids::assistance_reference();
        let event = |action, outcome: &str| AuditEvent::new(number, now, actor(), action, outcome).from_ip(source_ip);
        let mut audit = vec![event(AuditAction::Report, "filed").with_detail(reference.clone())];
        if unlink {
            audit.push(event(AuditAction::Unlink, "reported").with_detail(format!("account {}", report.account)));
        }
        if restore_email {
            audit.push(event(AuditAction::EmailChange, "restored").with_detail(reference.clone()));
        }
        audit.push(event(AuditAction::AssistanceRequest, "opened").with_detail(reference.clone()));
        let request = AssistanceRequest {
            reference: reference.clone(),
            account: report.account.clone(),
            certificate_number: number.clone(),
            preferred_time: PreferredTime::Any,
            language: file.language,
            message: None,
            created_at: now,
            status: AssistanceStatus::Open,
            reported: Some(report.kind),
        };
        let filing = FileReport { report: report.clone(), unlink, restore_email, request, now, audit };
        let filed = match app.store.file_report(&filing).await {
            Ok(filed) => filed,
            // The write may have gone through with its answer lost: it is atomic, so the
            // report tells — used by this very request means it did.
            Err(e) => match app.store.report(&report.token_hash, now).await {
                Ok(Some(Report { used: Some((_, used_by)), .. })) if used_by == reference => {
                    tracing::warn!(error = %e, "the report's answer was lost, but it was filed");
                    ReportFiled::Filed
                }
                _ => return Err(e.into()),
            },
        };
        match filed {
            ReportFiled::Filed => {
                tracing::info!(reference = %reference, kind = report.kind.as_str(), unlink, restore_email, "report filed");
                return Ok(Reported { reference, undone: unlink || restore_email });
            }
            ReportFiled::Unusable => return Err(ReportError::Expired),
            ReportFiled::FileChanged => continue,
        }
    }
    Err(StoreError::Unavailable("the file kept changing while the report was filed".into()).into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_stranger_sees_three_characters_of_the_number() {
        let n = crate::domain::CertificateNumber::parse("AG-123456").unwrap();
        assert_eq!(super::masked(&n), "•••456");
    }
}
