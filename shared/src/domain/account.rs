use super::ParseError;
use std::fmt;

/// The signed-in account: the `sub` claim of a verified ID token. Opaque and pseudonymous.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccountSubject(String);

impl AccountSubject {
    pub const MAX_LEN: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        if raw.is_empty() {
            return Err(ParseError::Empty);
        }
        if raw.len() > Self::MAX_LEN {
            return Err(ParseError::TooLong);
        }
        if raw.chars().any(char::is_control) {
            return Err(ParseError::InvalidFormat);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
