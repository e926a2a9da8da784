//! The emails people read, in the file's language, as text and HTML.

use super::Email;
use crate::domain::{CertificateNumber, EmailAddress, Language, SecurityCode};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn html_page(language: Language, title: &str, paragraphs: &[String]) -> String {
    let body: String = paragraphs.iter().map(|p| format!("<p>{p}</p>\n")).collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title></head>\n<body style=\"font-family:Arial,sans-serif;color:#1a1a1a\">\n<h1 style=\"font-size:20px\">{}</h1>\n{}<p style=\"color:#555\">{}</p>\n</body></html>\n",
        language.code(),
        escape(title),
        escape(title),
        body,
        escape(signature(language)),
    )
}

fn signature(language: Language) -> &'static str {
    match language {
        Language::Fr => {
            "Office de la protection du consommateur — ce courriel est envoyé automatiquement, n’y répondez pas."
        }
        Language::En => "Office de la protection du consommateur — this email is sent automatically; do not reply.",
    }
}

/// The security code email: what it is for, how long it lives, what to do if you did not ask.
pub fn security_code(
    to: &EmailAddress,
    language: Language,
    code: &SecurityCode,
    certificate: &CertificateNumber,
    lifetime_minutes: u64,
) -> Email {
    let code = code.expose();
    let (subject, lines) = match language {
        Language::Fr => (
            format!("Votre code de sécurité : {code}"),
            vec![
                format!("Voici votre code de sécurité pour récupérer votre dossier de certificat {certificate} auprès de l’Office de la protection du consommateur :"),
                format!("{code}"),
                format!("Ce code est valide pendant {lifetime_minutes} minutes et ne peut servir qu’une fois. Ne le communiquez à personne : l’Office ne vous le demandera jamais par téléphone."),
                "Si vous n’avez pas demandé ce code, ignorez ce courriel : personne ne peut accéder à votre dossier sans lui. Si vous recevez des codes que vous n’avez pas demandés, communiquez avec l’Office.".to_owned(),
            ],
        ),
        Language::En => (
            format!("Your security code: {code}"),
            vec![
                format!("Here is your security code to recover your certificate file {certificate} with the Office de la protection du consommateur:"),
                format!("{code}"),
                format!("This code is valid for {lifetime_minutes} minutes and can be used once. Do not share it with anyone: the Office will never ask you for it by phone."),
                "If you did not ask for this code, ignore this email: no one can access your file without it. If you keep receiving codes you did not ask for, contact the Office.".to_owned(),
            ],
        ),
    };
    let title = match language {
        Language::Fr => "Code de sécurité",
        Language::En => "Security code",
    };
    let html_lines: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i == 1 {
                format!("<strong style=\"font-size:28px;letter-spacing:6px\">{}</strong>", escape(l))
            } else {
                escape(l)
            }
        })
        .collect();
    Email {
        to: to.as_str().to_owned(),
        subject,
        text: format!("{}\n\n{}\n", lines.join("\n\n"), signature(language)),
        html: html_page(language, title, &html_lines),
    }
}

/// The notice sent to the email on file after every successful link.
pub fn link_notice(to: &EmailAddress, language: Language, certificate: &CertificateNumber, when: &str) -> Email {
    let (subject, lines) = match language {
        Language::Fr => (
            "Votre dossier de certificat a été associé à un compte".to_owned(),
            vec![
                format!("Le {when}, votre dossier de certificat {certificate} a été associé à un compte du service d’authentification gouvernemental."),
                "Si c’est vous, vous n’avez rien à faire.".to_owned(),
                "Si ce n’est pas vous, communiquez sans tarder avec l’Office de la protection du consommateur pour protéger votre dossier.".to_owned(),
            ],
        ),
        Language::En => (
            "Your certificate file was linked to an account".to_owned(),
            vec![
                format!("On {when}, your certificate file {certificate} was linked to a government authentication service account."),
                "If this was you, there is nothing to do.".to_owned(),
                "If this was not you, contact the Office de la protection du consommateur right away to protect your file.".to_owned(),
            ],
        ),
    };
    let html_lines: Vec<String> = lines.iter().map(|l| escape(l)).collect();
    Email {
        to: to.as_str().to_owned(),
        subject: subject.clone(),
        text: format!("{}\n\n{}\n", lines.join("\n\n"), signature(language)),
        html: html_page(language, &subject, &html_lines),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_email_says_purpose_lifetime_and_what_if_not_asked() {
        let to = EmailAddress::parse("a@b.ca").unwrap();
        let cert = CertificateNumber::parse("C-1").unwrap();
        let code = SecurityCode::parse("042917").unwrap();
        let fr = security_code(&to, Language::Fr, &code, &cert, 15);
        assert!(fr.text.contains("042917") && fr.html.contains("042917"));
        assert!(fr.text.contains("15 minutes"));
        assert!(fr.text.contains("Si vous n’avez pas demandé ce code"));
        assert!(fr.html.starts_with("<!DOCTYPE html>") && fr.html.contains("lang=\"fr\""));
        let en = security_code(&to, Language::En, &code, &cert, 15);
        assert!(en.text.contains("If you did not ask for this code"));
        assert!(en.subject.starts_with("Your security code"));
    }
}
