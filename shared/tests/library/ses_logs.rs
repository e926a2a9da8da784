//! The security code never reaches the logs: a real send through the SES v2 adapter (against
//! moto) at TRACE level, under the subscriber the Lambda functions use, leaves neither the code
//! nor the recipient's address in any line.

use certificate_recovery::domain::{CertificateNumber, EmailAddress, Language, SecurityCode};
use certificate_recovery::mailer::{Mailer, ses::SesMailer, templates};
use certificate_recovery::telemetry::{LogCapture, json_subscriber};
use std::sync::{Arc, Mutex};
use tracing::level_filters::LevelFilter;

#[tokio::test]
async fn a_code_email_sent_at_trace_level_leaves_neither_the_code_nor_the_address_in_the_logs() {
    let Some((mailer, to, email)) = code_email("482915").await else { return };
    let tag = to.as_str().trim_start_matches("holder+").split('@').next().unwrap().to_owned();

    let capture = LogCapture::default();
    {
        // The whole test runs on this thread (current-thread runtime): the SDK's tasks too.
        let _guard = tracing::subscriber::set_default(json_subscriber(LevelFilter::TRACE, capture.clone()));
        tracing::trace!(target: "certificate_recovery::test", "capture works at trace");
        mailer.send(&email).await.expect("SES accepts the email");
    }

    // The email did go out, with the code in its body (never its subject: SES's events carry it).
    let sent = crate::emulators::moto_messages(&std::env::var("SES_ENDPOINT").unwrap()).await;
    let ours: Vec<_> = sent.iter().filter(|m| m["destinations"]["ToAddresses"][0] == to.as_str()).collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0]["subject"], "Your security code — Office de la protection du consommateur");
    assert!(ours[0]["body"].as_str().unwrap().contains("482915"));

    let text = capture.text();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["fields"]["message"] == "capture works at trace"),
        "the subscriber captured nothing at trace level: {text}"
    );
    // The SDK's DEBUG/TRACE lines print response bodies (a DynamoDB item, an SES error quoting
    // an address) and its spans repeat ours: none may pass, whatever LOG_LEVEL says.
    let below_info: Vec<_> = lines
        .iter()
        .filter(|l| l["level"] == "DEBUG" || l["level"] == "TRACE")
        .filter(|l| l["fields"]["message"] != "capture works at trace")
        .collect();
    assert!(below_info.is_empty(), "another crate logged below INFO: {below_info:#?}");
    for mut line in lines {
        // A timestamp's microseconds could be any six digits.
        line.as_object_mut().unwrap().remove("timestamp");
        let line = line.to_string();
        assert!(!line.contains("482915"), "the security code reached the logs: {line}");
        assert!(!line.contains(to.as_str()), "the recipient's address reached the logs: {line}");
        assert!(!line.contains(&tag), "the recipient's address reached the logs (encoded): {line}");
    }
}

/// Every span opened during a send — the adapter's and the SDK's — whatever a subscriber
/// keeps of them: none may carry the code or the address in its fields, since every line
/// logged inside a span repeats them.
#[tokio::test]
async fn no_span_opened_during_a_send_holds_the_code_or_the_address() {
    let Some((mailer, to, email)) = code_email("246801").await else { return };
    let spans = SpanFields::default();
    {
        use tracing_subscriber::layer::SubscriberExt;
        let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(spans.clone()));
        mailer.send(&email).await.expect("SES accepts the email");
    }
    let spans = spans.0.lock().unwrap();
    assert!(spans.iter().any(|s| s.starts_with("SESv2.SendEmail")), "no SDK span seen: {spans:?}");
    for span in spans.iter() {
        assert!(!span.contains("246801"), "a span holds the security code: {span}");
        assert!(!span.contains(to.as_str()), "a span holds the recipient's address: {span}");
    }
}

async fn code_email(code: &str) -> Option<(SesMailer, EmailAddress, certificate_recovery::mailer::Email)> {
    let endpoint = crate::emulators::moto_endpoint()?;
    let client = crate::emulators::moto_ses(&endpoint).await;
    let to = EmailAddress::parse(&format!("holder+{}@exemple.ca", certificate_recovery::ids::random_hex(6))).unwrap();
    let code = SecurityCode::parse(code).unwrap();
    let email = templates::security_code(&to, Language::En, &code, &CertificateNumber::parse("AG-1").unwrap(), 15);
    Some((SesMailer::new(client, "no-reply@opc.test"), to, email))
}

/// Records each span's name and fields (at creation and when recorded later) as text.
#[derive(Clone, Default)]
struct SpanFields(Arc<Mutex<Vec<String>>>);

struct Text<'a>(&'a mut String);

impl tracing::field::Visit for Text<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={:?}", field.name(), value));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push_str(&format!(" {}={}", field.name(), value));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for SpanFields {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut text = attrs.metadata().name().to_owned();
        attrs.record(&mut Text(&mut text));
        self.0.lock().unwrap().push(text);
    }
    fn on_record(
        &self,
        _: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut text = "(recorded later)".to_owned();
        values.record(&mut Text(&mut text));
        self.0.lock().unwrap().push(text);
    }
}
