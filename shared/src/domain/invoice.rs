use super::{CertificateNumber, ParseError, parse_registry_number};
use serde::{Serialize, Serializer};
use std::fmt;
use time::Date;

/// An invoice number from a payment confirmation, normalized like certificate numbers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InvoiceNumber(String);

impl InvoiceNumber {
    pub const MAX_LEN: usize = 30;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        parse_registry_number(raw, Self::MAX_LEN).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InvoiceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for InvoiceNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// An invoice the Office issued for a certificate file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    pub number: InvoiceNumber,
    pub certificate_number: CertificateNumber,
    pub issued_on: Date,
    /// Amount in cents.
    pub amount_cents: i64,
}

impl Invoice {
    /// An invoice is recent when issued less than `max_age_years` before `today`.
    pub fn is_recent(&self, today: Date, max_age_years: u32) -> bool {
        let cutoff_year = today.year() - max_age_years as i32;
        // 29 February on a non-leap cutoff year falls back to 28 February.
        let cutoff = Date::from_calendar_date(cutoff_year, today.month(), today.day())
            .or_else(|_| Date::from_calendar_date(cutoff_year, today.month(), 28))
            .unwrap_or(Date::MIN);
        self.issued_on > cutoff
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn invoice(issued_on: Date) -> Invoice {
        Invoice {
            number: InvoiceNumber::parse("F-1").unwrap(),
            certificate_number: CertificateNumber::parse("C1").unwrap(),
            issued_on,
            amount_cents: 100,
        }
    }

    #[test]
    fn recent_means_strictly_less_than_three_years() {
        let today = date!(2026 - 11 - 29);
        assert!(invoice(date!(2023 - 11 - 30)).is_recent(today, 3));
        assert!(!invoice(date!(2023 - 11 - 29)).is_recent(today, 3));
        assert!(!invoice(date!(2020 - 01 - 01)).is_recent(today, 3));
        assert!(invoice(today).is_recent(today, 3));
    }

    #[test]
    fn leap_day_cutoff() {
        let today = date!(2028 - 02 - 29);
        assert!(!invoice(date!(2025 - 02 - 28)).is_recent(today, 3));
        assert!(invoice(date!(2025 - 03 - 01)).is_recent(today, 3));
    }
}
