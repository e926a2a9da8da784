//! Email delivery (`docs/rules.md#delivery`): what SES reported about a message sent.

use super::{AccountSubject, CertificateNumber};
use serde::Serialize;
use time::OffsetDateTime;

/// Where a message stands: sent, then what SES reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    #[default]
    Sent,
    Delivered,
    Bounced,
    Complained,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Bounced => "bounced",
            Self::Complained => "complained",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Sent, Self::Delivered, Self::Bounced, Self::Complained].into_iter().find(|d| d.as_str() == raw)
    }

    /// How far it went: an event never takes a message back (a late delivery after a
    /// complaint is not news; a complaint after a delivery is).
    fn rank(self) -> u8 {
        match self {
            Self::Sent => 0,
            Self::Delivered => 1,
            Self::Bounced | Self::Complained => 2,
        }
    }

    /// The state after `event`: the later of the two, or the same.
    pub fn after(self, event: Delivery) -> Delivery {
        if event.rank() > self.rank() { event } else { self }
    }

    /// Whether the address failed: the holder is told, and the employee sees it on the file.
    pub fn failed(self) -> bool {
        matches!(self, Self::Bounced | Self::Complained)
    }
}

/// What a message was, so that SES's report of it reaches what it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessagePurpose {
    /// A security code: its session and code.
    SecurityCode { account: AccountSubject, session_id: String, code_id: String },
    /// A notice to the address on file (a link notice; an email change's notice to the new address).
    NoticeToFileAddress,
    /// A notice to an address no longer on file (an email change's notice to the old address).
    NoticeToOldAddress,
}

/// A message sent, as kept to match SES's events to it (no address, no content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    pub message_id: String,
    pub certificate_number: CertificateNumber,
    pub purpose: MessagePurpose,
    /// When the file's email last changed as the message left: a report about an address the
    /// file no longer has is not put on the file.
    pub file_email_changed_at: Option<OffsetDateTime>,
    pub sent_at: OffsetDateTime,
    pub delivery: Delivery,
}

/// A failed delivery to the file's address, as the employee sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailDeliveryProblem {
    pub state: Delivery,
    #[serde(with = "crate::time_format::instant")]
    pub at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::Delivery::*;

    #[test]
    fn events_never_take_a_message_back() {
        assert_eq!(Sent.after(Delivered), Delivered);
        assert_eq!(Delivered.after(Complained), Complained);
        assert_eq!(Bounced.after(Delivered), Bounced);
        assert_eq!(Complained.after(Delivered), Complained);
        assert!(Bounced.failed() && Complained.failed() && !Delivered.failed());
    }
}
