use super::{Email, Mailer, MailerError, MessageId};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

/// Sends through Amazon SES v2 from the configured sender address, with the configuration
/// set whose event destination reports deliveries, bounces and complaints
/// (`docs/rules.md#delivery`).
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    sender: String,
    configuration_set: Option<String>,
}

impl SesMailer {
    pub fn new(client: aws_sdk_sesv2::Client, sender: impl Into<String>) -> Self {
        Self { client, sender: sender.into(), configuration_set: None }
    }

    /// Every message names this configuration set (`SES_CONFIGURATION_SET`).
    pub fn with_configuration_set(mut self, name: Option<String>) -> Self {
        self.configuration_set = name.filter(|n| !n.trim().is_empty());
        self
    }

    pub fn client(&self) -> &aws_sdk_sesv2::Client {
        &self.client
    }
}

fn content(data: &str) -> Result<Content, MailerError> {
    Content::builder().data(data).charset("UTF-8").build().map_err(|e| MailerError(e.to_string()))
}

#[async_trait::async_trait]
impl Mailer for SesMailer {
    // No field from the email: its subject holds the security code, and every line logged
    // inside this span (the SDK's too) would repeat it.
    #[tracing::instrument(name = "ses_send", skip_all)]
    async fn send(&self, email: &Email) -> Result<MessageId, MailerError> {
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(Body::builder().text(content(&email.text)?).html(content(&email.html)?).build())
            .build();
        let sent = self
            .client
            .send_email()
            .from_email_address(&self.sender)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|e| {
                // Only the error code: SES messages can quote the recipient's address.
                use aws_sdk_sesv2::error::ProvideErrorMetadata;
                MailerError(e.code().unwrap_or("transport_error").to_owned())
            })?;
        sent.message_id.ok_or_else(|| MailerError("SES answered without a message id".into()))
    }
}
