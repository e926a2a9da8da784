//! Serde helpers: dates as `YYYY-MM-DD`, instants as RFC 3339 in UTC.

pub mod date {
    use serde::Serializer;
    use time::{Date, macros::format_description};

    pub fn format(date: &Date) -> String {
        date.format(format_description!("[year]-[month]-[day]")).expect("date formats")
    }

    pub fn parse(raw: &str) -> Option<Date> {
        Date::parse(raw.trim(), format_description!("[year]-[month]-[day]")).ok()
    }

    pub fn serialize<S: Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(date))
    }
}

pub mod instant {
    use serde::Serializer;
    use time::{OffsetDateTime, format_description::well_known::Rfc3339};

    pub fn format(at: &OffsetDateTime) -> String {
        at.to_offset(time::UtcOffset::UTC)
            .replace_nanosecond(0)
            .unwrap_or(*at)
            .format(&Rfc3339)
            .expect("instant formats")
    }

    pub fn serialize<S: Serializer>(at: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(at))
    }

    pub mod option {
        use serde::Serializer;
        use time::OffsetDateTime;

        pub fn serialize<S: Serializer>(at: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => s.serialize_str(&super::format(at)),
                None => s.serialize_none(),
            }
        }
    }
}

/// A date and time as a person in Québec reads it, for emails.
pub fn local_datetime(at: time::OffsetDateTime, language: crate::domain::Language) -> String {
    // Eastern Time: UTC−5, UTC−4 from the second Sunday of March to the first Sunday of November.
    let year = at.year();
    let nth_sunday = |month: time::Month, n: u8| {
        let first = time::Date::from_calendar_date(year, month, 1).expect("valid date");
        let offset = (7 - first.weekday().number_days_from_sunday()) % 7;
        first + time::Duration::days((offset + 7 * (n - 1)) as i64)
    };
    let dst_start = nth_sunday(time::Month::March, 2).with_hms(7, 0, 0).expect("valid").assume_utc();
    let dst_end = nth_sunday(time::Month::November, 1).with_hms(6, 0, 0).expect("valid").assume_utc();
    let hours = if at >= dst_start && at < dst_end { -4 } else { -5 };
    let local = at.to_offset(time::UtcOffset::from_hms(hours, 0, 0).expect("valid offset"));
    match language {
        crate::domain::Language::Fr => {
            format!("{} à {} h {:02} (heure de l’Est)", date::format(&local.date()), local.hour(), local.minute())
        }
        crate::domain::Language::En => {
            format!("{} at {}:{:02} (Eastern Time)", date::format(&local.date()), local.hour(), local.minute())
        }
    }
}
