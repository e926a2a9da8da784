use super::ParseError;
use std::fmt;
use time::{Date, macros::format_description};

/// A date of birth, `YYYY-MM-DD`, between 1900-01-01 and today. Personal data: its `Debug`
/// never shows the value, and it has no `Display` or `Serialize`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DateOfBirth(Date);

impl DateOfBirth {
    pub fn parse(raw: &str, today: Date) -> Result<Self, ParseError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(ParseError::Empty);
        }
        if raw.len() != 10 {
            return Err(ParseError::InvalidFormat);
        }
        let date =
            Date::parse(raw, format_description!("[year]-[month]-[day]")).map_err(|_| ParseError::InvalidFormat)?;
        let earliest = Date::from_calendar_date(1900, time::Month::January, 1).expect("valid date");
        if date < earliest || date > today {
            return Err(ParseError::OutOfRange);
        }
        Ok(Self(date))
    }

    pub const fn from_date(date: Date) -> Self {
        Self(date)
    }

    pub fn date(&self) -> Date {
        self.0
    }

    /// Compares two dates of birth without branching on where they differ.
    pub fn matches(&self, other: &DateOfBirth) -> bool {
        let a = self.0.to_julian_day().to_be_bytes();
        let b = other.0.to_julian_day().to_be_bytes();
        aws_lc_rs::constant_time::verify_slices_are_equal(&a, &b).is_ok()
    }
}

impl fmt::Debug for DateOfBirth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DateOfBirth(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 29);

    #[test]
    fn parses_strict_iso_dates() {
        assert_eq!(DateOfBirth::parse("1980-02-29", TODAY).unwrap().date(), date!(1980 - 02 - 29));
        assert_eq!(DateOfBirth::parse("1981-02-29", TODAY), Err(ParseError::InvalidFormat));
        assert_eq!(DateOfBirth::parse("29/02/1980", TODAY), Err(ParseError::InvalidFormat));
        assert_eq!(DateOfBirth::parse("1980-2-9", TODAY), Err(ParseError::InvalidFormat));
        assert_eq!(DateOfBirth::parse("", TODAY), Err(ParseError::Empty));
        assert_eq!(DateOfBirth::parse("2030-01-01", TODAY), Err(ParseError::OutOfRange));
        assert_eq!(DateOfBirth::parse("1899-12-31", TODAY), Err(ParseError::OutOfRange));
    }

    #[test]
    fn debug_hides_the_date() {
        let dob = DateOfBirth::parse("1980-02-29", TODAY).unwrap();
        assert!(!format!("{dob:?}").contains("1980"));
    }
}
