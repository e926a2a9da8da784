//! An assistance request: a holder's ask to be called back by an employee, and where it stands.

use super::{AccountSubject, CertificateNumber, Language};
use serde::Serialize;
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PreferredTime {
    Morning,
    Afternoon,
    Any,
}

impl PreferredTime {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "morning" => Some(Self::Morning),
            "afternoon" => Some(Self::Afternoon),
            "any" => Some(Self::Any),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Morning => "morning",
            Self::Afternoon => "afternoon",
            Self::Any => "any",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssistanceStatus {
    Open,
    Closed { outcome: String, by: String, at: OffsetDateTime },
}

/// A holder's request to be called back by an employee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssistanceRequest {
    pub reference: String,
    pub account: AccountSubject,
    pub certificate_number: CertificateNumber,
    pub preferred_time: PreferredTime,
    pub language: Language,
    pub message: Option<String>,
    pub created_at: OffsetDateTime,
    pub status: AssistanceStatus,
    /// Opened by a "this wasn't me" report, of this kind: first in the queue, and resolving it
    /// lifts the freeze of the file's recovery (`docs/rules.md#this-wasnt-me`).
    pub reported: Option<super::ReportKind>,
}

impl AssistanceRequest {
    pub const MAX_MESSAGE_CHARS: usize = 1000;

    pub fn is_open(&self) -> bool {
        self.status == AssistanceStatus::Open
    }
}
