use super::ParseError;
use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// A six-digit security code, as typed by a holder or freshly generated. Secret: never
/// logged, never stored (only its keyed hash is).
pub struct SecurityCode(SecretString);

impl SecurityCode {
    pub const DIGITS: usize = 6;
    const SPACE: u32 = 1_000_000;
    /// The largest multiple of 10^6 that fits in a u32: draws at or above it are rejected so
    /// that every code is equally likely.
    const ACCEPT_BELOW: u32 = (u32::MAX / Self::SPACE) * Self::SPACE;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let digits: String = raw.trim().chars().filter(|c| *c != ' ').collect();
        if digits.is_empty() {
            return Err(ParseError::Empty);
        }
        if digits.len() != Self::DIGITS || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(ParseError::InvalidFormat);
        }
        Ok(Self(SecretString::from(digits)))
    }

    /// Draws a code from the operating system's CSPRNG, uniform over 000000–999999.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self::from_draw(Self::uniform_draw(|| {
            let mut bytes = [0u8; 4];
            getrandom::fill(&mut bytes)?;
            Ok(u32::from_le_bytes(bytes))
        })?))
    }

    fn uniform_draw<E>(mut next: impl FnMut() -> Result<u32, E>) -> Result<u32, E> {
        loop {
            let draw = next()?;
            if draw < Self::ACCEPT_BELOW {
                return Ok(draw % Self::SPACE);
            }
        }
    }

    fn from_draw(value: u32) -> Self {
        Self(SecretString::from(format!("{value:06}")))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for SecurityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecurityCode(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_six_digits_only() {
        assert_eq!(SecurityCode::parse(" 012 345 ").unwrap().expose(), "012345");
        assert_eq!(SecurityCode::parse("").unwrap_err(), ParseError::Empty);
        assert_eq!(SecurityCode::parse("12345").unwrap_err(), ParseError::InvalidFormat);
        assert_eq!(SecurityCode::parse("1234567").unwrap_err(), ParseError::InvalidFormat);
        assert_eq!(SecurityCode::parse("12345a").unwrap_err(), ParseError::InvalidFormat);
        assert_eq!(SecurityCode::parse("１２３４５６").unwrap_err(), ParseError::InvalidFormat);
    }

    #[test]
    fn rejection_sampling_discards_the_biased_tail() {
        let draws = [u32::MAX, SecurityCode::ACCEPT_BELOW, 1_234_567];
        let mut iter = draws.into_iter();
        let value = SecurityCode::uniform_draw(|| Ok::<_, ()>(iter.next().unwrap())).unwrap();
        assert_eq!(value, 234_567);
        assert_eq!(SecurityCode::ACCEPT_BELOW % 1_000_000, 0);
    }

    #[test]
    fn generated_codes_are_uniform() {
        // Chi-square on the leading digit and on the last digit over 50,000 codes; with 9
        // degrees of freedom, 27.88 is the 0.999 quantile.
        const N: usize = 50_000;
        let mut first = [0usize; 10];
        let mut last = [0usize; 10];
        for _ in 0..N {
            let code = SecurityCode::generate().unwrap();
            let s = code.expose().as_bytes();
            assert_eq!(s.len(), 6);
            first[(s[0] - b'0') as usize] += 1;
            last[(s[5] - b'0') as usize] += 1;
        }
        for counts in [first, last] {
            let expected = N as f64 / 10.0;
            let chi2: f64 = counts.iter().map(|&c| (c as f64 - expected).powi(2) / expected).sum();
            assert!(chi2 < 27.88, "chi-square {chi2} for {counts:?}");
        }
    }

    proptest! {
        #[test]
        fn every_draw_maps_into_range(draw in any::<u32>()) {
            let mut once = Some(draw);
            let mut fallback = 7u32;
            let value = SecurityCode::uniform_draw(|| Ok::<_, ()>(once.take().unwrap_or_else(|| { fallback += 1; fallback }))).unwrap();
            prop_assert!(value < 1_000_000);
            let code = SecurityCode::from_draw(value);
            prop_assert_eq!(code.expose().len(), 6);
            prop_assert!(SecurityCode::parse(code.expose()).is_ok());
        }
    }
}
