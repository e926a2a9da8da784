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
            "Votre code de sécurité — Office de la protection du consommateur".to_owned(),
            vec![
                format!("Voici votre code de sécurité pour récupérer votre dossier de certificat {certificate} auprès de l’Office de la protection du consommateur :"),
                format!("{code}"),
                format!("Ce code est valide pendant {lifetime_minutes} minutes et ne peut servir qu’une fois. Ne le communiquez à personne : l’Office ne vous le demandera jamais par téléphone."),
                "Si vous n’avez pas demandé ce code, ignorez ce courriel : personne ne peut accéder à votre dossier sans lui. Si vous recevez des codes que vous n’avez pas demandés, communiquez avec l’Office.".to_owned(),
            ],
        ),
        Language::En => (
            "Your security code — Office de la protection du consommateur".to_owned(),
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

/// A notice: its paragraphs, then its "this wasn't me" link (the text shows the URL; the HTML
/// a button-like link with the URL beside it, for clients that strip links).
fn notice_with_report_link(
    to: &EmailAddress,
    language: Language,
    subject: String,
    lines: Vec<String>,
    report_url: &str,
) -> Email {
    let label = match language {
        Language::Fr => "Ce n’était pas moi",
        Language::En => "This wasn’t me",
    };
    let sep = match language {
        Language::Fr => " : ",
        Language::En => ": ",
    };
    let validity = match language {
        Language::Fr => "Ce lien est valide 10 jours et ne sert qu’une fois.",
        Language::En => "This link is valid for 10 days and can be used once.",
    };
    let mut html_lines: Vec<String> = lines.iter().map(|l| escape(l)).collect();
    html_lines.push(format!(
        "<a href=\"{url}\" style=\"display:inline-block;padding:10px 16px;background:#095797;color:#ffffff;text-decoration:none;font-weight:bold\">{label}</a><br><span style=\"font-size:13px;color:#555\">{url}<br>{validity}</span>",
        url = escape(report_url),
        label = escape(label),
        validity = escape(validity),
    ));
    Email {
        to: to.as_str().to_owned(),
        subject: subject.clone(),
        text: format!("{}\n\n{label}{sep}{report_url}\n{validity}\n\n{}\n", lines.join("\n\n"), signature(language)),
        html: html_page(language, &subject, &html_lines),
    }
}

/// The notice sent to the email on file after every successful link.
/// Its last paragraph is the "this wasn't me" link (`docs/rules.md#this-wasnt-me`).
pub fn link_notice(
    to: &EmailAddress,
    language: Language,
    certificate: &CertificateNumber,
    when: &str,
    report_url: &str,
) -> Email {
    let (subject, lines) = match language {
        Language::Fr => (
            "Votre dossier de certificat a été associé à un compte".to_owned(),
            vec![
                format!("Le {when}, votre dossier de certificat {certificate} a été associé à un compte du service d’authentification gouvernemental."),
                "Si c’est vous, vous n’avez rien à faire.".to_owned(),
                "Si ce n’est pas vous, signalez-le sans tarder par ce lien : le compte perdra l’accès à votre dossier et l’Office vous rappellera.".to_owned(),
            ],
        ),
        Language::En => (
            "Your certificate file was linked to an account".to_owned(),
            vec![
                format!("On {when}, your certificate file {certificate} was linked to a government authentication service account."),
                "If this was you, there is nothing to do.".to_owned(),
                "If this was not you, report it right away with this link: the account will lose access to your file and the Office will call you back.".to_owned(),
            ],
        ),
    };
    notice_with_report_link(to, language, subject, lines, report_url)
}

/// After an employee changed the email on file: to the old address (if any) and to the new one.
pub fn email_changed(
    to: &EmailAddress,
    language: Language,
    certificate: &CertificateNumber,
    new_address: &EmailAddress,
    to_new_address: bool,
    held_until: Option<&str>,
    report_url: &str,
) -> Email {
    let masked = new_address.masked();
    let (subject, lines) = match (language, to_new_address) {
        (Language::Fr, false) => (
            "L’adresse courriel de votre dossier de certificat a été modifiée".to_owned(),
            vec![
                format!("À la suite d’une vérification par téléphone, un membre du personnel de l’Office a remplacé l’adresse courriel de votre dossier de certificat {certificate} par {masked}."),
                match held_until {
                    Some(until) => format!("Par sécurité, aucun code de sécurité ne sera envoyé à la nouvelle adresse avant le {until} ; les prochains avis et codes y seront ensuite envoyés."),
                    None => "Les prochains avis et codes de sécurité seront envoyés à la nouvelle adresse.".to_owned(),
                },
                match held_until {
                    Some(_) => "Si vous n’avez pas demandé ce changement, signalez-le sans tarder par ce lien : d’ici là, votre ancienne adresse sera rétablie, et l’Office vous rappellera.".to_owned(),
                    None => "Si vous n’avez pas demandé ce changement, signalez-le sans tarder par ce lien : la récupération en ligne de votre dossier sera suspendue et l’Office vous rappellera.".to_owned(),
                },
            ],
        ),
        (Language::Fr, true) => (
            "Cette adresse est maintenant celle de votre dossier de certificat".to_owned(),
            vec![
                format!("À la suite de votre demande d’aide, cette adresse courriel est maintenant inscrite à votre dossier de certificat {certificate}."),
                match held_until {
                    Some(until) => format!("Par sécurité, un code de sécurité pourra y être envoyé à compter du {until}. Vous pourrez alors reprendre la récupération de votre dossier : entrez votre numéro de certificat et votre date de naissance, puis demandez un code."),
                    None => "Vous pouvez reprendre la récupération de votre dossier : entrez votre numéro de certificat et votre date de naissance, puis demandez un code de sécurité. Il vous sera envoyé à cette adresse.".to_owned(),
                },
                "Si vous n’avez pas fait cette demande, signalez-le par ce lien et l’Office vous rappellera.".to_owned(),
            ],
        ),
        (Language::En, false) => (
            "The email address of your certificate file was changed".to_owned(),
            vec![
                format!("After a verification by phone, an employee of the Office replaced the email address of your certificate file {certificate} with {masked}."),
                match held_until {
                    Some(until) => format!("For your security, no security code will be sent to the new address before {until}; future notices and codes will go there after that."),
                    None => "Future notices and security codes will go to the new address.".to_owned(),
                },
                match held_until {
                    Some(_) => "If you did not ask for this change, report it right away with this link: until then your former address will be restored, and the Office will call you back.".to_owned(),
                    None => "If you did not ask for this change, report it right away with this link: online recovery of your file will be suspended and the Office will call you back.".to_owned(),
                },
            ],
        ),
        (Language::En, true) => (
            "This address is now the one on your certificate file".to_owned(),
            vec![
                format!("Following your assistance request, this email address is now on file for your certificate file {certificate}."),
                match held_until {
                    Some(until) => format!("For your security, a security code can be sent to it from {until}. You can then resume the recovery of your file: enter your certificate number and date of birth, then ask for a code."),
                    None => "You can resume the recovery of your file: enter your certificate number and date of birth, then ask for a security code. It will be sent to this address.".to_owned(),
                },
                "If you did not make this request, report it with this link and the Office will call you back.".to_owned(),
            ],
        ),
    };
    notice_with_report_link(to, language, subject, lines, report_url)
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
        // Never in the subject: SES's delivery events carry the headers.
        assert!(!fr.subject.contains("042917"));
        assert!(fr.text.contains("15 minutes"));
        assert!(fr.text.contains("Si vous n’avez pas demandé ce code"));
        assert!(fr.html.starts_with("<!DOCTYPE html>") && fr.html.contains("lang=\"fr\""));
        let en = security_code(&to, Language::En, &code, &cert, 15);
        assert!(en.text.contains("If you did not ask for this code"));
        assert!(en.subject.starts_with("Your security code"));
    }
}
