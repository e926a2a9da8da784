use super::{Email, Mailer, MailerError, MessageId};
use serde::Serialize;
use std::sync::Mutex;
use time::OffsetDateTime;

/// An email the outbox kept, with the time it was "sent".
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SentEmail {
    #[serde(flatten)]
    pub email: Email,
    /// The id a mail service would have given it (SES's events name it; `/dev/ses-event`
    /// takes it).
    pub message_id: String,
    #[serde(with = "crate::time_format::instant")]
    pub sent_at: OffsetDateTime,
}

/// The in-process mailer: keeps every email, oldest first, and optionally prints it (the
/// local API's terminal). It can be told to fail, to prove nothing half-done is left.
#[derive(Default)]
pub struct Outbox {
    sent: Mutex<Vec<SentEmail>>,
    print: bool,
    failing: std::sync::atomic::AtomicBool,
}

impl Outbox {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn printing() -> Self {
        Self { print: true, ..Self::default() }
    }

    pub fn sent(&self) -> Vec<SentEmail> {
        self.sent.lock().expect("outbox lock").clone()
    }

    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, std::sync::atomic::Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl Mailer for Outbox {
    async fn send(&self, email: &Email) -> Result<MessageId, MailerError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(MailerError("the outbox was told to fail".into()));
        }
        if self.print {
            // Development output on the terminal, not a log line.
            println!(
                "\n──── email to {} ────\nSubject: {}\n\n{}\n────────────────────────",
                email.to, email.subject, email.text
            );
        }
        // Shaped as SES's: 60 characters of hex and dashes, unique.
        let message_id = format!("0100{}-{}-000000", crate::ids::random_hex(14), crate::ids::random_hex(16));
        self.sent.lock().expect("outbox lock").push(SentEmail {
            email: email.clone(),
            message_id: message_id.clone(),
            sent_at: OffsetDateTime::now_utc(),
        });
        Ok(message_id)
    }
}
