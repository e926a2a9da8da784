//! Reading the emails the outbox holds, as a holder reads them: the security code of a code
//! email, the "this wasn't me" token of a notice (the tests and the benchmark's walks).

/// The security code in an email's text: its one six-digit word (panics on none or two).
#[track_caller]
pub fn code_in(body: &str) -> String {
    let words: Vec<&str> = body
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    assert!(!words.is_empty(), "no code in: {body}");
    assert!(words.iter().all(|w| *w == words[0]), "more than one code in: {body}");
    words[0].to_owned()
}

/// The "this wasn't me" token of a notice: what follows `/signalement/` in its body.
#[track_caller]
pub fn report_token(body: &str) -> String {
    let (_, after) = body.split_once("/signalement/").unwrap_or_else(|| panic!("no report link in: {body}"));
    let token: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    assert_eq!(token.len(), 22, "{body}");
    token
}
