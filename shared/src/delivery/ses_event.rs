//! SES's event notifications as the SNS topic of the configuration set delivers them: a
//! Lambda invocation of `Records[].Sns.Message`, each a JSON document with `eventType`
//! (`notificationType` in identity notifications) and `mail.messageId`. Only what the rule
//! needs is read — never an address.

use crate::domain::Delivery;
use serde::Deserialize;
use time::OffsetDateTime;

/// One report of SES about one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SesEvent {
    pub message_id: String,
    pub delivery: Delivery,
    /// When it happened, as SES says.
    pub at: Option<OffsetDateTime>,
    /// `Permanent`, `Transient` or `Undetermined`, for a bounce.
    pub bounce_type: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SesEventError {
    #[error("not an SNS record with a message")]
    NotSns,
    #[error("the SES event cannot be read: {0}")]
    Unreadable(String),
    #[error("an event type this rule does not follow: {0}")]
    Ignored(String),
}

#[derive(Deserialize)]
struct Notification {
    #[serde(rename = "eventType", alias = "notificationType")]
    event_type: String,
    mail: Mail,
    bounce: Option<Timed>,
    complaint: Option<Timed>,
    delivery: Option<Timed>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Mail {
    message_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Timed {
    timestamp: Option<String>,
    bounce_type: Option<String>,
}

/// One SES event document (the SNS message).
pub fn parse(document: &str) -> Result<SesEvent, SesEventError> {
    let n: Notification = serde_json::from_str(document).map_err(|e| SesEventError::Unreadable(e.to_string()))?;
    let (delivery, detail) = match n.event_type.as_str() {
        "Delivery" => (Delivery::Delivered, n.delivery),
        "Bounce" => (Delivery::Bounced, n.bounce),
        "Complaint" => (Delivery::Complained, n.complaint),
        other => return Err(SesEventError::Ignored(other.chars().take(32).collect())),
    };
    let message_id = n.mail.message_id;
    if message_id.is_empty() || message_id.len() > 200 {
        return Err(SesEventError::Unreadable("mail.messageId".into()));
    }
    let at = detail
        .as_ref()
        .and_then(|d| d.timestamp.as_deref())
        .and_then(|t| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok());
    let bounce_type =
        detail.and_then(|d| d.bounce_type).filter(|t| matches!(t.as_str(), "Permanent" | "Transient" | "Undetermined"));
    Ok(SesEvent { message_id, delivery, at, bounce_type })
}

/// Every SES event of an SNS invocation (`{"Records":[{"Sns":{"Message":"…"}}]}`).
pub fn from_sns(invocation: &serde_json::Value) -> Vec<Result<SesEvent, SesEventError>> {
    let Some(records) = invocation.get("Records").and_then(|r| r.as_array()) else {
        return vec![Err(SesEventError::NotSns)];
    };
    records
        .iter()
        .map(|record| {
            let message = record.pointer("/Sns/Message").and_then(|m| m.as_str()).ok_or(SesEventError::NotSns)?;
            parse(message)
        })
        .collect()
}
