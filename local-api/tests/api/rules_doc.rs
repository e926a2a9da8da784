//! `docs/rules.md` is the project's account of its rules: every link in it must lead to a file
//! that holds the function, type or test it names; every setting must be there; every rule
//! the code cites (`docs/rules.md#name`) must exist.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn rules() -> String {
    std::fs::read_to_string(root().join("docs/rules.md")).expect("docs/rules.md")
}

/// Every `[`name`](path)` of the document.
fn named_links(text: &str) -> Vec<(String, String)> {
    let pattern = regex_lite::Regex::new(r"\[`([^`]+)`\]\(([^)#]+)(#[^)]*)?\)").unwrap();
    pattern.captures_iter(text).map(|c| (c[1].to_owned(), c[2].to_owned())).collect()
}

/// The anchors the rules define (`<a id="code-tries">`).
fn anchors(text: &str) -> HashSet<String> {
    let pattern = regex_lite::Regex::new(r#"<a id="([a-z0-9-]+)"></a>"#).unwrap();
    pattern.captures_iter(text).map(|c| c[1].to_owned()).collect()
}

#[test]
fn every_link_leads_to_what_it_names() {
    let text = rules();
    let links = named_links(&text);
    assert!(links.len() > 80, "the rules name their code and tests: {} links", links.len());
    let mut broken = Vec::new();
    for (name, path) in links {
        let file = root().join("docs").join(&path);
        let Ok(source) = std::fs::read_to_string(&file) else {
            broken.push(format!("{name}: no file {path}"));
            continue;
        };
        let item = name.rsplit("::").next().unwrap();
        let defined = [format!("fn {item}("), format!("fn {item}<"), format!("struct {item}"), format!("enum {item}")]
            .iter()
            .any(|definition| source.contains(definition.as_str()));
        if !defined {
            broken.push(format!("{name}: {path} defines no `{item}`"));
        }
    }
    assert!(broken.is_empty(), "broken links in docs/rules.md:\n{}", broken.join("\n"));
}

#[test]
fn every_setting_has_its_rule() {
    let text = rules();
    for (variable, default, _) in certificate_recovery::settings::SETTINGS {
        assert!(
            text.contains(&format!("`{variable}` = {default}")),
            "docs/rules.md does not state {variable} = {default}"
        );
    }
}

#[test]
fn every_rule_the_code_cites_exists() {
    let defined = anchors(&rules());
    let cite = regex_lite::Regex::new(r"docs/rules\.md#([a-z0-9-]+)").unwrap();
    let mut missing = Vec::new();
    let mut cited = 0;
    let mut stack = vec![root().join("shared/src"), root().join("local-api/src"), root().join("import-registry/src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let source = std::fs::read_to_string(&path).unwrap();
                for c in cite.captures_iter(&source) {
                    cited += 1;
                    if !defined.contains(&c[1]) {
                        missing.push(format!("{}: {}", path.display(), &c[1]));
                    }
                }
            }
        }
    }
    assert!(cited >= 10, "the code cites its rules by name: {cited} citations");
    assert!(missing.is_empty(), "cited rules missing from docs/rules.md:\n{}", missing.join("\n"));
}
