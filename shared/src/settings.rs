//! Rule settings, each read from its environment variable with its default: the table of
//! `docs/rules.md` gives the rule each one sets (`docs/rules.md#count-before-compare` for the windows).

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("setting {name} has an invalid value")]
pub struct SettingError {
    pub name: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSettings {
    pub code_ttl: Duration,
    pub code_max_attempts: u32,
    pub code_resend_cooldown: Duration,
    pub code_max_sends: u32,
    pub code_max_sends_per_certificate: u32,
    pub code_max_wrong_per_certificate: u32,
    pub lookup_max_failures_per_account: u32,
    pub lookup_max_failures_per_certificate: u32,
    pub session_ttl: Duration,
    pub invoice_max_age_years: u32,
    pub invoice_max_attempts: u32,
    /// Refused invoices per certificate in 24 h, across every account and session.
    pub invoice_max_wrong_per_certificate: u32,
    /// Refused invoices per account in 24 h, across every session.
    pub invoice_max_wrong_per_account: u32,
    /// How long audit events are kept (DynamoDB TTL; read as absent after).
    pub audit_retention: Duration,
    /// The window of the per-account and per-certificate limits: 24 h, fixed from its first
    /// event (not sliding).
    pub limit_window: Duration,
    /// How long an email an employee set waits before codes go to it, when the file had an
    /// email before; zero turns the hold off (`docs/rules.md#email-change-hold`).
    pub email_change_hold: Duration,
    /// The holder's page, where the "this wasn't me" links of the notices lead
    /// (`<page>/signalement/<token>`).
    pub holder_page_url: String,
}

impl Default for RuleSettings {
    fn default() -> Self {
        Self {
            code_ttl: Duration::from_secs(900),
            code_max_attempts: 5,
            code_resend_cooldown: Duration::from_secs(60),
            code_max_sends: 5,
            code_max_sends_per_certificate: 10,
            code_max_wrong_per_certificate: 20,
            lookup_max_failures_per_account: 5,
            lookup_max_failures_per_certificate: 10,
            session_ttl: Duration::from_secs(1800),
            invoice_max_age_years: 3,
            invoice_max_attempts: 5,
            invoice_max_wrong_per_certificate: 10,
            invoice_max_wrong_per_account: 10,
            audit_retention: Duration::from_secs(730 * 24 * 3600),
            limit_window: Duration::from_secs(24 * 3600),
            email_change_hold: Duration::from_secs(86_400),
            holder_page_url: "http://127.0.0.1:3000".to_owned(),
        }
    }
}

/// The environment variables, their defaults and meaning — the README's settings table.
pub const SETTINGS: &[(&str, u64, &str)] = &[
    ("CODE_TTL_SECONDS", 900, "lifetime of a security code"),
    ("CODE_MAX_ATTEMPTS", 5, "wrong tries that kill a code"),
    ("CODE_RESEND_COOLDOWN_SECONDS", 60, "wait between two sends"),
    ("CODE_MAX_SENDS", 5, "code sends per recovery session"),
    ("CODE_MAX_SENDS_PER_CERTIFICATE", 10, "code sends per certificate per 24 h"),
    ("CODE_MAX_WRONG_PER_CERTIFICATE", 20, "wrong codes per certificate per 24 h"),
    ("LOOKUP_MAX_FAILURES_PER_ACCOUNT", 5, "failed lookups per account per 24 h"),
    ("LOOKUP_MAX_FAILURES_PER_CERTIFICATE", 10, "failed lookups per certificate per 24 h"),
    ("SESSION_TTL_SECONDS", 1800, "lifetime of a recovery session"),
    ("INVOICE_MAX_AGE_YEARS", 3, "an invoice is accepted when younger than this"),
    ("INVOICE_MAX_ATTEMPTS", 5, "invoice tries per recovery session"),
    ("INVOICE_MAX_WRONG_PER_CERTIFICATE", 10, "refused invoices per certificate per 24 h"),
    ("INVOICE_MAX_WRONG_PER_ACCOUNT", 10, "refused invoices per account per 24 h"),
    ("AUDIT_RETENTION_DAYS", 730, "days an audit event is kept"),
    ("EMAIL_CHANGE_HOLD_SECONDS", 86_400, "wait before codes go to an email an employee set (0: no hold)"),
];

/// The holder's page: `https://host[:port][/path]`, or plain http to this machine only
/// (`127.0.0.1`, `localhost`, with a port or not) — the host is matched whole, never by prefix.
fn page_url_is_safe(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    let clean = !url.contains(|c: char| c.is_whitespace() || matches!(c, '"' | '<' | '>' | '?' | '#' | '\\'))
        && !authority.contains('@')
        && !host.is_empty();
    clean
        && match scheme {
            "https" => host.contains('.') || host == "localhost",
            "http" => host == "127.0.0.1" || host == "localhost",
            _ => false,
        }
}

impl RuleSettings {
    pub fn from_env() -> Result<Self, SettingError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingError> {
        let number = |name: &'static str, default: u64| -> Result<u64, SettingError> {
            match get(name) {
                None => Ok(default),
                Some(raw) => match raw.trim().parse::<u64>() {
                    Ok(v) if v > 0 && v <= 10 * 365 * 24 * 3600 => Ok(v),
                    _ => Err(SettingError { name }),
                },
            }
        };
        let count = |name: &'static str, default: u32| -> Result<u32, SettingError> {
            number(name, default as u64).and_then(|v| u32::try_from(v).map_err(|_| SettingError { name }))
        };
        let d = Self::default();
        Ok(Self {
            code_ttl: Duration::from_secs(number("CODE_TTL_SECONDS", d.code_ttl.as_secs())?),
            code_max_attempts: count("CODE_MAX_ATTEMPTS", d.code_max_attempts)?,
            code_resend_cooldown: Duration::from_secs(number(
                "CODE_RESEND_COOLDOWN_SECONDS",
                d.code_resend_cooldown.as_secs(),
            )?),
            code_max_sends: count("CODE_MAX_SENDS", d.code_max_sends)?,
            code_max_sends_per_certificate: count("CODE_MAX_SENDS_PER_CERTIFICATE", d.code_max_sends_per_certificate)?,
            code_max_wrong_per_certificate: count("CODE_MAX_WRONG_PER_CERTIFICATE", d.code_max_wrong_per_certificate)?,
            lookup_max_failures_per_account: count(
                "LOOKUP_MAX_FAILURES_PER_ACCOUNT",
                d.lookup_max_failures_per_account,
            )?,
            lookup_max_failures_per_certificate: count(
                "LOOKUP_MAX_FAILURES_PER_CERTIFICATE",
                d.lookup_max_failures_per_certificate,
            )?,
            session_ttl: Duration::from_secs(number("SESSION_TTL_SECONDS", d.session_ttl.as_secs())?),
            invoice_max_age_years: count("INVOICE_MAX_AGE_YEARS", d.invoice_max_age_years)?,
            invoice_max_attempts: count("INVOICE_MAX_ATTEMPTS", d.invoice_max_attempts)?,
            invoice_max_wrong_per_certificate: count(
                "INVOICE_MAX_WRONG_PER_CERTIFICATE",
                d.invoice_max_wrong_per_certificate,
            )?,
            invoice_max_wrong_per_account: count("INVOICE_MAX_WRONG_PER_ACCOUNT", d.invoice_max_wrong_per_account)?,
            audit_retention: Duration::from_secs(
                number("AUDIT_RETENTION_DAYS", d.audit_retention.as_secs() / 86_400)? * 86_400,
            ),
            limit_window: d.limit_window,
            email_change_hold: Duration::from_secs(match get("EMAIL_CHANGE_HOLD_SECONDS") {
                // Zero is allowed here: it turns the hold off.
                Some(raw) if raw.trim() == "0" => 0,
                _ => number("EMAIL_CHANGE_HOLD_SECONDS", d.email_change_hold.as_secs())?,
            }),
            holder_page_url: match get("HOLDER_PAGE_URL") {
                None => d.holder_page_url,
                Some(raw) => {
                    let url = raw.trim().trim_end_matches('/').to_owned();
                    if !page_url_is_safe(&url) {
                        return Err(SettingError { name: "HOLDER_PAGE_URL" });
                    }
                    url
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn defaults_match_the_spec_and_env_overrides() {
        let env: HashMap<&str, &str> = [("CODE_TTL_SECONDS", "120"), ("CODE_MAX_SENDS", "2")].into();
        let s = RuleSettings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(s.code_ttl, Duration::from_secs(120));
        assert_eq!(s.code_max_sends, 2);
        assert_eq!(s.code_max_attempts, 5);
        assert_eq!(s.session_ttl, Duration::from_secs(1800));
    }

    #[test]
    fn the_settings_table_states_the_defaults() {
        // Setting each variable to the default the table gives changes nothing.
        for (name, default, _) in SETTINGS {
            let s = RuleSettings::from_lookup(|k| (k == *name).then(|| default.to_string())).unwrap();
            assert_eq!(s, RuleSettings::default(), "{name}");
        }
        assert_eq!(SETTINGS.len(), 15);
    }

    #[test]
    fn refuses_garbage() {
        let err = RuleSettings::from_lookup(|k| (k == "CODE_MAX_ATTEMPTS").then(|| "five".into())).unwrap_err();
        assert_eq!(err.name, "CODE_MAX_ATTEMPTS");
        assert!(RuleSettings::from_lookup(|k| (k == "SESSION_TTL_SECONDS").then(|| "0".into())).is_err());
        // Zero turns the hold off; garbage does not.
        let off = RuleSettings::from_lookup(|k| (k == "EMAIL_CHANGE_HOLD_SECONDS").then(|| "0".into())).unwrap();
        assert!(off.email_change_hold.is_zero());
        assert!(RuleSettings::from_lookup(|k| (k == "EMAIL_CHANGE_HOLD_SECONDS").then(|| "-1".into())).is_err());
        let page = |url: &str| RuleSettings::from_lookup(|k| (k == "HOLDER_PAGE_URL").then(|| url.to_owned()));
        for bad in [
            "http://evil.example",
            "http://localhost.evil.example",
            "http://127.0.0.1.evil.example:80",
            "https://user@evil.example",
            "ftp://x.example",
            "https://a.example/\"><script>",
        ] {
            assert!(page(bad).is_err(), "{bad}");
        }
        for good in [
            "https://recuperation.opc.gouv.qc.ca",
            "https://opc.example/dossier/",
            "http://127.0.0.1:3000",
            "http://localhost",
        ] {
            assert!(page(good).is_ok(), "{good}");
        }
    }
}
