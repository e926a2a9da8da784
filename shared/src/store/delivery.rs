//! Email delivery (`docs/rules.md#delivery`): the messages sent, kept by SES message id, and
//! what SES reports about them — on the message, on a code's session, on the file.

use super::StoreResult;
use crate::audit::AuditEvent;
use crate::domain::{Delivery, SentMessage};
use std::sync::Arc;
use time::OffsetDateTime;

/// How long a sent message is kept to match SES's events to it (complaints can come days later).
pub const MESSAGE_RETENTION: time::Duration = time::Duration::days(30);

/// SES reported on a message: its new state (later than the one read).
#[derive(Debug, Clone)]
pub struct DeliveryUpdate {
    /// The message as read.
    pub message: SentMessage,
    pub delivery: Delivery,
    pub at: OffsetDateTime,
    /// A failure of the file's address itself (a bounce that is not a full mailbox, a
    /// complaint, of a message to the file's address): it goes on the file, with its audit
    /// event, while the file's email is the one the message went to.
    pub on_file: bool,
    /// The audit event of a failure put on the file.
    pub audit: Option<AuditEvent>,
}

#[async_trait::async_trait]
pub trait DeliveryStore: Send + Sync {
    /// After a message left: the message (to match SES's events to it) and the send's audit
    /// event, in one write.
    async fn record_message(&self, message: &SentMessage, audit: &AuditEvent) -> StoreResult<()>;

    /// A message sent in the last 30 days.
    async fn message(&self, message_id: &str, now: OffsetDateTime) -> StoreResult<Option<SentMessage>>;

    /// SES's report: the message's state; a security code's, on its session while the session
    /// holds that code; a failure (bounce, complaint) of a message to the file's address, on
    /// the file while its email is the one the message went to, with its audit event. Never
    /// takes a state back (see [`Delivery::after`]).
    async fn record_delivery(&self, update: &DeliveryUpdate) -> StoreResult<()>;
}

/// A shared store forwards to the store it shares (see [`super::Store`]).
#[async_trait::async_trait]
impl<S: DeliveryStore + ?Sized> DeliveryStore for Arc<S> {
    async fn record_message(&self, message: &SentMessage, audit: &AuditEvent) -> StoreResult<()> {
        (**self).record_message(message, audit).await
    }
    async fn message(&self, message_id: &str, now: OffsetDateTime) -> StoreResult<Option<SentMessage>> {
        (**self).message(message_id, now).await
    }
    async fn record_delivery(&self, update: &DeliveryUpdate) -> StoreResult<()> {
        (**self).record_delivery(update).await
    }
}
