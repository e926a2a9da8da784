//! The SES v2 adapter against moto's server: the email it sends is the one moto received.

use certificate_recovery::domain::{CertificateNumber, EmailAddress, Language, SecurityCode};
use certificate_recovery::mailer::{Mailer, ses::SesMailer, templates};
use serde_json::Value;

#[tokio::test]
async fn sends_the_security_code_email_through_ses_v2() {
    let Some(endpoint) = crate::emulators::moto_endpoint() else { return };
    let client = crate::emulators::moto_ses(&endpoint).await;
    let mailer = SesMailer::new(client, "no-reply@opc.test");

    let tag = certificate_recovery::ids::random_hex(6);
    let to = EmailAddress::parse(&format!("holder+{tag}@exemple.ca")).unwrap();
    let code = SecurityCode::parse("482915").unwrap();
    let email = templates::security_code(&to, Language::En, &code, &CertificateNumber::parse("AG-1").unwrap(), 15);
    mailer.send(&email).await.expect("SES accepts the email");

    let messages = crate::emulators::moto_messages(&endpoint).await;
    let sent: Vec<&Value> = messages.iter().filter(|m| m["destinations"]["ToAddresses"][0] == to.as_str()).collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["source"], "no-reply@opc.test");
    assert_eq!(sent[0]["subject"], "Your security code — Office de la protection du consommateur");
    let html = sent[0]["body"].as_str().unwrap();
    assert!(html.contains("482915") && html.contains("lang=\"en\"") && html.contains("15 minutes"));

    // An unverified sender is refused, and the error names no address.
    let stranger = SesMailer::new(mailer.client().clone(), "someone@unverified.example");
    let error = stranger.send(&email).await.unwrap_err().to_string();
    assert!(!error.contains(to.as_str()), "{error}");
}
