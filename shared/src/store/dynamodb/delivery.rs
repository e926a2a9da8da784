//! The messages sent and what SES reports about them ([`DeliveryStore`]).

use super::DynamoStore;
use crate::audit::AuditEvent;
use crate::domain::SentMessage;
use crate::store::{DeliveryStore, DeliveryUpdate, StoreError, StoreResult};
use time::OffsetDateTime;

#[async_trait::async_trait]
impl DeliveryStore for DynamoStore {
    async fn record_message(&self, _message: &SentMessage, _audit: &AuditEvent) -> StoreResult<()> {
        Err(StoreError::Unavailable("IN PROGRESS: message items".into()))
    }

    async fn message(&self, _message_id: &str, _now: OffsetDateTime) -> StoreResult<Option<SentMessage>> {
        Err(StoreError::Unavailable("IN PROGRESS: message items".into()))
    }

    async fn record_delivery(&self, _update: &DeliveryUpdate) -> StoreResult<()> {
        Err(StoreError::Unavailable("IN PROGRESS: message items".into()))
    }
}
