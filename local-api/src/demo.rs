//! The demo registry kept in the repository (`seed/demo/`): what the local API loads when no
//! `--seed` folder is given, and what every end-to-end test starts from.

use certificate_recovery::seed::SeedFiles;
use std::collections::HashMap;

const CERTIFICATES: &str = include_str!("../../seed/demo/certificates.csv");
const INVOICES: &str = include_str!("../../seed/demo/invoices.csv");
const LINKS: &str = include_str!("../../seed/demo/links.csv");

/// The demo registry, its emails optionally tagged (`name+tag@domain`) so that apps sharing
/// one mailbox (moto's, in the tests) each receive only their own mail.
#[derive(Debug, Clone)]
pub struct DemoRegistry {
    certificates: String,
    /// The email on file of each certificate (its registry form, e.g. `AG100001`).
    pub emails: HashMap<String, String>,
}

impl DemoRegistry {
    pub fn new(email_tag: Option<&str>) -> Self {
        let mut emails = HashMap::new();
        let mut lines = Vec::new();
        for (i, line) in CERTIFICATES.lines().enumerate() {
            let mut cells: Vec<String> = line.split(',').map(str::to_owned).collect();
            if i > 0 && cells.len() > 3 && !cells[3].is_empty() {
                if let Some(tag) = email_tag {
                    cells[3] = cells[3].replacen('@', &format!("+{tag}@"), 1);
                }
                emails.insert(cells[0].replace('-', ""), cells[3].clone());
            }
            lines.push(cells.join(","));
        }
        Self { certificates: lines.join("\n") + "\n", emails }
    }

    /// The three files, ready for [`certificate_recovery::seed::load`].
    pub fn files(&self) -> SeedFiles<&[u8]> {
        SeedFiles {
            certificates: self.certificates.as_bytes(),
            invoices: INVOICES.as_bytes(),
            links: Some(LINKS.as_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_registry_is_valid_and_tags_only_emails() {
        let today = time::macros::date!(2026 - 11 - 29);
        let plain = DemoRegistry::new(None);
        let files: Vec<_> =
            certificate_recovery::seed::certificates(plain.files().certificates, today).unwrap().collect();
        assert!(files.iter().all(Result::is_ok), "{files:?}");
        assert_eq!(plain.emails["AG100001"], "jeanne.tremblay@exemple.ca");
        let tagged = DemoRegistry::new(Some("t1"));
        assert_eq!(tagged.emails["AG100001"], "jeanne.tremblay+t1@exemple.ca");
        assert_eq!(tagged.emails.len(), plain.emails.len());
    }
}
