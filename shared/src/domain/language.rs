use serde::{Deserialize, Serialize};

/// The languages people read: French first, English available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Fr,
    En,
}

impl Language {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "fr" => Some(Self::Fr),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::Fr => "fr",
            Self::En => "en",
        }
    }

    /// Picks French or English from an `Accept-Language` header by quality; French when the
    /// header is missing or names neither.
    pub fn negotiate(accept_language: Option<&str>) -> Self {
        let Some(header) = accept_language else {
            return Self::Fr;
        };
        let mut best: Option<(f32, usize, Self)> = None;
        for (index, part) in header.split(',').enumerate() {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality =
                pieces.find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok())).unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            let Some(language) = Self::parse(primary) else {
                continue;
            };
            if quality <= 0.0 {
                continue;
            }
            let better = match best {
                None => true,
                Some((q, i, _)) => quality > q || (quality == q && index < i),
            };
            if better {
                best = Some((quality, index, language));
            }
        }
        best.map(|(_, _, l)| l).unwrap_or(Self::Fr)
    }
}

#[cfg(test)]
mod tests {
    use super::Language;

    #[test]
    fn negotiates_french_by_default() {
        assert_eq!(Language::negotiate(None), Language::Fr);
        assert_eq!(Language::negotiate(Some("de-DE, es")), Language::Fr);
        assert_eq!(Language::negotiate(Some("en-CA,en;q=0.9,fr;q=0.8")), Language::En);
        assert_eq!(Language::negotiate(Some("fr-CA, en;q=0.5")), Language::Fr);
        assert_eq!(Language::negotiate(Some("en;q=0.4, fr;q=0.9")), Language::Fr);
        assert_eq!(Language::negotiate(Some("fr;q=0, en")), Language::En);
    }
}
