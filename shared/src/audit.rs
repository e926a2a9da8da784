//! The audit trail (`docs/rules.md#audit-events`): who did what, when, with what outcome — never a code, a date of
//! birth or a full email.

use crate::domain::{AccountSubject, CertificateNumber};
use serde::Serialize;
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "id", rename_all = "lowercase")]
pub enum Actor {
    Account(String),
    Agent(String),
    /// Someone who followed a notice's "this wasn't me" link (no sign-in): the id is what the
    /// notice told of (`link`, `email_change`).
    Recipient(String),
    /// The mail service reporting on a message (`ses`).
    MailService(String),
}

impl Actor {
    pub fn account(account: &AccountSubject) -> Self {
        Self::Account(account.as_str().to_owned())
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Account(_) => "account",
            Self::Agent(_) => "agent",
            Self::Recipient(_) => "recipient",
            Self::MailService(_) => "mailservice",
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Self::Account(id) | Self::Agent(id) | Self::Recipient(id) | Self::MailService(id) => id,
        }
    }

    pub fn from_parts(kind: &str, id: &str) -> Option<Self> {
        match kind {
            "account" => Some(Self::Account(id.to_owned())),
            "agent" => Some(Self::Agent(id.to_owned())),
            "recipient" => Some(Self::Recipient(id.to_owned())),
            "mailservice" => Some(Self::MailService(id.to_owned())),
            _ => None,
        }
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Lookup,
    CodeSend,
    CodeVerify,
    InvoiceTry,
    Link,
    Unlink,
    AssistanceRequest,
    LinkNotice,
    StaffResolve,
    EmailChange,
    /// An employee opened an assistance request (the file's contact details).
    StaffViewRequest,
    /// An employee opened the file's audit trail.
    StaffViewAudit,
    /// A "this wasn't me" link was confirmed.
    Report,
    /// The mail service reported that a message to the file's address bounced or drew a complaint.
    EmailDelivery,
}

impl AuditAction {
    pub const ALL: [AuditAction; 14] = [
        Self::Lookup,
        Self::CodeSend,
        Self::CodeVerify,
        Self::InvoiceTry,
        Self::Link,
        Self::Unlink,
        Self::AssistanceRequest,
        Self::LinkNotice,
        Self::StaffResolve,
        Self::EmailChange,
        Self::StaffViewRequest,
        Self::StaffViewAudit,
        Self::Report,
        Self::EmailDelivery,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lookup => "lookup",
            Self::CodeSend => "code_send",
            Self::CodeVerify => "code_verify",
            Self::InvoiceTry => "invoice_try",
            Self::Link => "link",
            Self::Unlink => "unlink",
            Self::AssistanceRequest => "assistance_request",
            Self::LinkNotice => "link_notice",
            Self::StaffResolve => "staff_resolve",
            Self::EmailChange => "email_change",
            Self::StaffViewRequest => "staff_view_request",
            Self::StaffViewAudit => "staff_view_audit",
            Self::Report => "report",
            Self::EmailDelivery => "email_delivery",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == raw)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub id: String,
    pub certificate_number: CertificateNumber,
    #[serde(with = "crate::time_format::instant")]
    pub at: OffsetDateTime,
    pub actor: Actor,
    pub action: AuditAction,
    /// A stable word: `matched`, `no_match`, `locked`, `sent`, `wrong_code`, `linked`…
    pub outcome: String,
    /// A non-personal detail: an assistance reference, the account that lost a link…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The address the request came from (API Gateway's `sourceIp`), when there was a request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<std::net::IpAddr>,
}

impl AuditEvent {
    pub fn new(
        certificate_number: &CertificateNumber,
        at: OffsetDateTime,
        actor: Actor,
        action: AuditAction,
        outcome: &str,
    ) -> Self {
        Self {
            id: crate::ids::random_hex(8),
            certificate_number: certificate_number.clone(),
            at,
            actor,
            action,
            outcome: outcome.to_owned(),
            detail: None,
            source_ip: None,
        }
    }

    pub fn from_ip(mut self, source_ip: Option<std::net::IpAddr>) -> Self {
        self.source_ip = source_ip;
        self
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Sort key: newest first when read backwards.
    pub fn sort_key(&self) -> String {
        format!("AUDIT#{:020}#{}", self.at.unix_timestamp_nanos().max(0), self.id)
    }

    /// When the event expires (`docs/rules.md#audit-retention`, `AUDIT_RETENTION_DAYS`): from then on it reads as
    /// absent, and DynamoDB's TTL removes it. The one rule both stores apply.
    pub fn expires_at(&self, retention: std::time::Duration) -> OffsetDateTime {
        self.at + retention
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_its_word_and_parses_back() {
        let words: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        let unique: std::collections::BTreeSet<&&str> = words.iter().collect();
        assert_eq!(unique.len(), words.len());
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
            assert_eq!(serde_json::to_value(action).unwrap(), action.as_str());
        }
        assert!(words.contains(&"staff_view_request") && words.contains(&"staff_view_audit"));
    }
}
