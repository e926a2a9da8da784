//! "This wasn't me" (`docs/rules.md#this-wasnt-me`): a token per notice, kept only as a keyed
//! hash, single use, valid 240 h, tied to the event its notice told of.

use super::{AccountSubject, CertificateNumber};
use serde::Serialize;
use time::OffsetDateTime;

/// How long a "this wasn't me" link works after its notice.
pub const REPORT_TOKEN_LIFETIME: time::Duration = time::Duration::hours(240);

/// What a notice told of, and so what confirming its link undoes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// The file was linked to an account.
    Link,
    /// An employee changed the file's email.
    EmailChange,
}

impl ReportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Link => "link",
            Self::EmailChange => "email_change",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "link" => Some(Self::Link),
            "email_change" => Some(Self::EmailChange),
            _ => None,
        }
    }
}

/// The token of a link in an email, as it arrives in a URL: 128 random bits, base64url
/// without padding (22 characters). Anything else is no token.
#[derive(Clone, PartialEq, Eq)]
pub struct ReportToken(String);

impl std::fmt::Debug for ReportToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReportToken(…)")
    }
}

impl ReportToken {
    const LEN: usize = 22;

    /// A new token from the operating system's CSPRNG.
    pub fn generate() -> Self {
        use base64::Engine;
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the operating system's random source is available");
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn parse(raw: &str) -> Option<Self> {
        use base64::Engine;
        let ok = raw.len() == Self::LEN
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw).is_ok_and(|b| b.len() == 16);
        ok.then(|| Self(raw.to_owned()))
    }

    /// The token itself: only ever put in the email's link.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A report link's record: what its notice told of. Stored under the token's keyed hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub token_hash: String,
    pub kind: ReportKind,
    pub certificate_number: CertificateNumber,
    /// The account the event concerns: the account linked (a link notice), or the account
    /// whose assistance request led to the email change.
    pub account: AccountSubject,
    /// When the event happened: the link's time, or the email change's (which ties the report
    /// to that very change).
    pub occurred_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// When it was confirmed, and the assistance request it opened.
    pub used: Option<(OffsetDateTime, String)>,
}

impl Report {
    /// Whether the link still works at `now`: unused and unexpired.
    pub fn usable(&self, now: OffsetDateTime) -> bool {
        self.used.is_none() && self.expires_at > now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_128_bits_of_base64url_and_parse_back() {
        let a = ReportToken::generate();
        let b = ReportToken::generate();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 22);
        assert_eq!(ReportToken::parse(a.expose()), Some(a.clone()));
        assert!(!format!("{a:?}").contains(a.expose()));
        for bad in [
            "",
            "short",
            "AAAAAAAAAAAAAAAAAAAAA=",
            "AAAAAAAAAAAAAAAAAAAAA/",
            "AAAAAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAAAB",
        ] {
            assert_eq!(ReportToken::parse(bad), None, "{bad}");
        }
    }
}
