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
    /// The configuration set SES sent it with (`mail.tags["ses:configuration-set"]`).
    pub configuration_set: Option<String>,
    /// The SNS topic that delivered it.
    pub topic_arn: Option<String>,
}

impl SesEvent {
    /// A bounce that says the address itself fails (`Permanent`, or SES could not tell):
    /// a full mailbox (`Transient`) is no fault of the address.
    pub fn address_fails(&self) -> bool {
        match self.delivery {
            Delivery::Bounced => self.bounce_type.as_deref() != Some("Transient"),
            Delivery::Complained => true,
            _ => false,
        }
    }
}

/// Where SES's events may come from: the stack's topic and configuration set
/// (`DELIVERY_EVENTS_TOPIC_ARN`, `SES_CONFIGURATION_SET`). An event from elsewhere — an
/// invocation by anyone else in the account — is refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventSource {
    pub topic_arn: Option<String>,
    pub configuration_set: Option<String>,
}

impl EventSource {
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Self {
        let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        Self { topic_arn: set("DELIVERY_EVENTS_TOPIC_ARN"), configuration_set: set("SES_CONFIGURATION_SET") }
    }

    /// Whether `event` came from here: each configured part must match.
    pub fn admits(&self, event: &SesEvent) -> bool {
        let matches = |expected: &Option<String>, got: &Option<String>| expected.is_none() || expected == got;
        matches(&self.topic_arn, &event.topic_arn) && matches(&self.configuration_set, &event.configuration_set)
    }
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
    #[serde(default)]
    tags: std::collections::HashMap<String, Vec<String>>,
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
    let configuration_set = n.mail.tags.get("ses:configuration-set").and_then(|v| v.first()).cloned();
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
    Ok(SesEvent { message_id, delivery, at, bounce_type, configuration_set, topic_arn: None })
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
            let topic_arn = record.pointer("/Sns/TopicArn").and_then(|t| t.as_str()).map(str::to_owned);
            parse(message).map(|event| SesEvent { topic_arn, ..event })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNCE: &str = include_str!("../../../events/ses-bounce.json");

    #[test]
    fn only_the_stacks_topic_and_configuration_set_are_admitted() {
        let invocation: serde_json::Value = serde_json::from_str(BOUNCE).unwrap();
        let event = from_sns(&invocation).pop().unwrap().unwrap();
        assert_eq!(event.delivery, Delivery::Bounced);
        assert!(event.address_fails(), "a permanent bounce");
        let topic = event.topic_arn.clone();
        let set = event.configuration_set.clone();
        assert!(topic.is_some() && set.is_some());
        assert!(EventSource { topic_arn: topic.clone(), configuration_set: set.clone() }.admits(&event));
        let other_topic =
            EventSource { topic_arn: Some("arn:aws:sns:ca-central-1:1:other".into()), configuration_set: set };
        assert!(!other_topic.admits(&event));
        let other_set = EventSource { topic_arn: topic, configuration_set: Some("another-set".into()) };
        assert!(!other_set.admits(&event));
        let transient = SesEvent { bounce_type: Some("Transient".into()), ..event };
        assert!(!transient.address_fails(), "a full mailbox is no fault of the address");
    }
}
