use super::{Email, Mailer, MailerError};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

/// Sends through Amazon SES v2 from the configured sender address.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    sender: String,
}

impl SesMailer {
    pub fn new(client: aws_sdk_sesv2::Client, sender: impl Into<String>) -> Self {
        Self { client, sender: sender.into() }
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
    async fn send(&self, email: &Email) -> Result<(), MailerError> {
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(Body::builder().text(content(&email.text)?).html(content(&email.html)?).build())
            .build();
        self.client
            .send_email()
            .from_email_address(&self.sender)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| {
                // Only the error code: SES messages can quote the recipient's address.
                use aws_sdk_sesv2::error::ProvideErrorMetadata;
                MailerError(e.code().unwrap_or("transport_error").to_owned())
            })?;
        Ok(())
    }
}
