use super::ParseError;
use std::fmt;

/// An email address on a certificate file. Personal data: `Debug` shows only the masked
/// form; the full address is read through `as_str` where an email is actually sent.
#[derive(Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(ParseError::Empty);
        }
        if raw.len() > Self::MAX_LEN {
            return Err(ParseError::TooLong);
        }
        let (local, domain) = raw.split_once('@').ok_or(ParseError::InvalidFormat)?;
        let valid_local = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && local.chars().all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let valid_domain = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
            && labels.last().is_some_and(|tld| tld.len() >= 2 && tld.chars().all(char::is_alphabetic));
        if !valid_local || !valid_domain {
            return Err(ParseError::InvalidFormat);
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `jean@exemple.com` → `j•••@e•••.com`: the first letter of the mailbox and of the
    /// domain, and the top-level domain.
    pub fn masked(&self) -> String {
        let (local, domain) = self.0.split_once('@').expect("parsed email has @");
        let (host, tld) = domain.rsplit_once('.').expect("parsed domain has a dot");
        let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
        format!("{}•••@{}•••.{}", first(local), first(host), tld)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn masks_like_the_spec() {
        let e = EmailAddress::parse("jean.tremblay@exemple.com").unwrap();
        assert_eq!(e.masked(), "j•••@e•••.com");
        let e = EmailAddress::parse("Zoé@Courriel.Gouv.QC.CA").unwrap();
        assert_eq!(e.masked(), "Z•••@c•••.ca");
    }

    #[test]
    fn refuses_bad_addresses() {
        for bad in ["", "no-at", "a@b", "a@@b.com", "a b@c.com", "@c.com", "a@.com", "a@c.c0m", "a@-c.com"] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_never_shows_the_address() {
        let e = EmailAddress::parse("jean.tremblay@exemple.com").unwrap();
        assert!(!format!("{e:?}").contains("tremblay"));
    }

    proptest! {
        #[test]
        fn mask_reveals_only_first_letters_and_tld(local in "[a-z0-9]{1,20}", host in "[a-z0-9]{1,20}", tld in "[a-z]{2,6}") {
            let e = EmailAddress::parse(&format!("{local}@{host}.{tld}")).unwrap();
            let masked = e.masked();
            let expected = format!("{}•••@{}•••.{}", &local[..1], &host[..1], tld);
            prop_assert_eq!(&masked, &expected);
            // The masked local part never holds the local part (the TLD may spell the same letters).
            let masked_local = masked.split('@').next().unwrap_or_default();
            if local.len() > 1 { prop_assert!(!masked_local.contains(&local)); }
        }
    }
}
