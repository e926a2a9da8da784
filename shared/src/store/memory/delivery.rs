//! The messages sent and what SES reports about them ([`DeliveryStore`]).

use super::MemoryStore;
use crate::audit::AuditEvent;
use crate::domain::{EmailDeliveryProblem, MessagePurpose, SentMessage};
use crate::store::{DeliveryStore, DeliveryUpdate, MESSAGE_RETENTION, StoreResult};
use time::OffsetDateTime;

#[async_trait::async_trait]
impl DeliveryStore for MemoryStore {
    async fn record_message(&self, message: &SentMessage, audit: &AuditEvent) -> StoreResult<()> {
        let mut state = self.state();
        state.messages.insert(message.message_id.clone(), message.clone());
        state.audit(audit.clone());
        Ok(())
    }

    async fn message(&self, message_id: &str, now: OffsetDateTime) -> StoreResult<Option<SentMessage>> {
        let state = self.state();
        Ok(state.messages.get(message_id).filter(|m| m.sent_at + MESSAGE_RETENTION > now).cloned())
    }

    async fn record_delivery(&self, update: &DeliveryUpdate) -> StoreResult<()> {
        let mut state = self.state();
        let message = &update.message;
        let Some(stored) = state.messages.get_mut(&message.message_id) else {
            return Ok(());
        };
        // Nothing new (a late or repeated report): nothing changes, not even the time.
        if stored.delivery.after(update.delivery) == stored.delivery {
            return Ok(());
        }
        stored.delivery = stored.delivery.after(update.delivery);
        let delivery = stored.delivery;
        if let MessagePurpose::SecurityCode { account, session_id, code_id } = &message.purpose
            && let Some(code) = state
                .sessions
                .get_mut(account)
                .filter(|s| &s.id == session_id)
                .and_then(|s| s.code.as_mut())
                .filter(|c| &c.id == code_id)
        {
            code.delivery = code.delivery.after(delivery);
        }
        let to_file_address = !matches!(message.purpose, MessagePurpose::NoticeToOldAddress);
        if update.on_file
            && delivery.failed()
            && to_file_address
            && let Some(file) = state.files.get_mut(&message.certificate_number)
            && file.email_changed_at == message.file_email_changed_at
        {
            file.protection.email_delivery = Some(EmailDeliveryProblem { state: delivery, at: update.at });
            if let Some(event) = &update.audit {
                state.audit(event.clone());
            }
        }
        Ok(())
    }
}
