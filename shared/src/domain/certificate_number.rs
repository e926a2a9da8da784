use super::{ParseError, parse_registry_number};
use serde::{Serialize, Serializer};
use std::fmt;

/// A certificate number, normalized (trimmed, spaces and hyphens dropped, upper-cased) and
/// made of 1 to 20 ASCII letters and digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CertificateNumber(String);

impl CertificateNumber {
    pub const MAX_LEN: usize = 20;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        parse_registry_number(raw, Self::MAX_LEN).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CertificateNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for CertificateNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalizes_spaces_hyphens_and_case() {
        let n = CertificateNumber::parse("  ab-12 34-c ").unwrap();
        assert_eq!(n.as_str(), "AB1234C");
    }

    #[test]
    fn refuses_empty_long_and_symbols() {
        assert_eq!(CertificateNumber::parse(" - "), Err(ParseError::Empty));
        assert_eq!(CertificateNumber::parse(&"9".repeat(21)), Err(ParseError::TooLong));
        assert_eq!(CertificateNumber::parse("AB#12"), Err(ParseError::InvalidFormat));
        assert_eq!(CertificateNumber::parse("ÉCOLE1"), Err(ParseError::InvalidFormat));
    }

    #[test]
    fn only_ascii_is_upper_cased() {
        // Found by the property test `a_parsed_registry_number_round_trips_normalisation`:
        // Unicode upper-casing turned these into ASCII numbers (`ß` → `SS`).
        for raw in ["ß", "AG-10000ß", "ſ1", "ı1", "ﬁ1", "ǆ1"] {
            assert_eq!(CertificateNumber::parse(raw), Err(ParseError::InvalidFormat), "{raw}");
            assert_eq!(crate::domain::InvoiceNumber::parse(raw), Err(ParseError::InvalidFormat), "{raw}");
        }
        assert_eq!(CertificateNumber::parse("ag-100001").unwrap().as_str(), "AG100001");
    }

    proptest! {
        #[test]
        fn normalization_is_idempotent_and_ignores_decoration(core in "[A-Za-z0-9]{1,20}", pad in "[ \\-]{0,4}") {
            let decorated = format!("{pad}{}{pad}", core.chars().map(|c| format!("{c}{pad}")).collect::<String>());
            let a = CertificateNumber::parse(&decorated).unwrap();
            let b = CertificateNumber::parse(&core.to_lowercase()).unwrap();
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(CertificateNumber::parse(a.as_str()).unwrap(), a.clone());
            prop_assert!(a.as_str().chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        }
    }
}
