use super::{AccountSubject, CertificateNumber, DateOfBirth, EmailAddress, Language};
use serde::Serialize;
use time::Date;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CertificateStatus {
    Active,
    Suspended,
    Expired,
    Revoked,
}

impl CertificateStatus {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            "expired" => Some(Self::Expired),
            "revoked" => Some(Self::Revoked),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

/// A holder's certificate file, as the Office's registry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFile {
    pub number: CertificateNumber,
    pub holder_name: String,
    pub date_of_birth: DateOfBirth,
    pub email: Option<EmailAddress>,
    pub phone: String,
    pub language: Language,
    pub status: CertificateStatus,
    pub expires_on: Date,
    /// The account the file is linked to, if any.
    pub linked_account: Option<AccountSubject>,
    /// When an employee last set the email: every code issued before is dead.
    pub email_changed_at: Option<time::OffsetDateTime>,
    /// What guards the file after the fact: the email-change hold, the reports that froze its
    /// recovery, its address's failed delivery.
    pub protection: FileProtection,
}

/// What guards a file after the fact (`docs/rules.md#email-change-hold`, `#this-wasnt-me`,
/// `#delivery`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileProtection {
    /// Codes go to the email an employee set only from then on.
    pub email_hold_until: Option<time::OffsetDateTime>,
    /// The address before the employee's change, while the change is on hold (a report
    /// during the hold puts it back).
    pub previous_email: Option<EmailAddress>,
    /// The open `reported` assistance requests: self-service recovery is frozen while any is.
    pub open_reports: Vec<String>,
    /// The file's current address bounced or drew a complaint, and when.
    pub email_delivery: Option<super::EmailDeliveryProblem>,
}

impl FileProtection {
    /// Until when codes cannot be sent to the email on file, if that is later than `now`.
    pub fn email_on_hold(&self, now: time::OffsetDateTime) -> Option<time::OffsetDateTime> {
        self.email_hold_until.filter(|until| *until > now)
    }

    pub fn frozen(&self) -> bool {
        !self.open_reports.is_empty()
    }
}

/// What a holder sees of a file: never the date of birth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSummary {
    pub number: CertificateNumber,
    pub holder_name: String,
    pub status: CertificateStatus,
    #[serde(with = "crate::time_format::date")]
    pub expiry_date: Date,
}

impl From<&CertificateFile> for CertificateSummary {
    fn from(file: &CertificateFile) -> Self {
        Self {
            number: file.number.clone(),
            holder_name: file.holder_name.clone(),
            status: file.status,
            expiry_date: file.expires_on,
        }
    }
}
