//! The mailer port: SES v2 in AWS ([`ses::SesMailer`]), an outbox in process
//! ([`outbox::Outbox`]).

pub mod outbox;
pub mod ses;
pub mod templates;

use serde::Serialize;

/// An email ready to send: the address, and the text and HTML bodies in one language.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The body may hold a security code and the address is personal data.
        f.debug_struct("Email").field("subject", &self.subject).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the email could not be sent: {0}")]
pub struct MailerError(pub String);

/// The id the mail service gave a message it accepted: SES's delivery events name it.
pub type MessageId = String;

#[async_trait::async_trait]
pub trait Mailer: Send + Sync {
    /// Sends `email`; the answer is the message's id.
    async fn send(&self, email: &Email) -> Result<MessageId, MailerError>;
}
