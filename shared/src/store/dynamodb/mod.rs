//! The DynamoDB adapter: one table, `pk`/`sk` keys, `expires_at` as the TTL attribute on
//! every expiring item, conditional writes for every counter, one `TransactWriteItems` for
//! the link. A file's link is an item of its own, so a registry import's plain puts keep it.
//! Expired items read as absent even before the TTL sweep.
//!
//! Every item the adapter writes (the constants are in `items.rs`):
//!
//! | item | pk | sk | TTL |
//! |---|---|---|---|
//! | certificate file (registry fields) | `CERT#<number>` | `FILE` | |
//! | a failed delivery (bounce, complaint) to the file's current address: state, when | `CERT#<number>` | `FILE#DELIVERY` (`FILE_DELIVERY_SK`) | |
//! | the email an employee set on a file, and when; during its hold, until when and the address before (`restored_by_report` when a report put that address back: no employee's) | `CERT#<number>` | `FILE#EMAIL` | |
//! | the file's recovery frozen: `open_reports`, the string set of its open reported requests' references | `CERT#<number>` | `FILE#FROZEN` (`FROZEN_SK`) | |
//! | the account a file is linked to | `CERT#<number>` | `OWNER` | |
//! | lookup failures of a certificate in 24 h | `CERT#<number>` | `COUNTER#lookup_failures` (`LOOKUP_FAILURES_SK`) | window end |
//! | code sends of a certificate in 24 h, and its last send | `CERT#<number>` | `COUNTER#code_sends` | window end, or the last send's cooldown if later |
//! | wrong codes of a certificate in 24 h | `CERT#<number>` | `COUNTER#wrong_codes` | window end |
//! | refused invoices of a certificate in 24 h | `CERT#<number>` | `COUNTER#refused_invoices` (`REFUSED_INVOICES_SK`) | window end |
//! | audit event | `CERT#<number>` | `AUDIT#<20-digit ns>#<id>` | its time + the store's audit retention |
//! | marker of a refusal already in the trail (once per window) | `REFUSAL#<number>#<actor type>#<actor id>` | `<action>#<outcome>` | end of the window |
//! | invoice | `INVOICE#<number>` | `INVOICE` | |
//! | recovery session, with its security code and what SES reported of the code's email (`code_delivery`) | `ACCOUNT#<sub>` | `SESSION` | session end |
//! | link | `ACCOUNT#<sub>` | `LINK` | |
//! | open assistance request of an account (a copy of the request) | `ACCOUNT#<sub>` | `ASSISTANCE` | |
//! | lookup failures of an account in 24 h | `ACCOUNT#<sub>` | `COUNTER#lookup_failures` (`LOOKUP_FAILURES_SK`) | window end |
//! | refused invoices of an account in 24 h | `ACCOUNT#<sub>` | `COUNTER#refused_invoices` (`REFUSED_INVOICES_SK`) | window end |
//! | assistance request (a reported one with its `reported` kind) | `ASSISTANCE#<reference>` | `REQUEST` (GSI `gsi1`: `ASSISTANCE#open`, `<0 reported, 1 not>#<13-digit created ms>#<reference>` while open) | |
//! | "this wasn't me" link: kind, file, account, when the event happened, and once used when and the request it opened | `REPORT#<token hash>` | `REPORT` | its expiry (240 h after the event) |
//! | message sent (no address, no content): purpose (a code: account, session, code id), file, the file's email-changed time at the send, delivery state | `MESSAGE#<SES message id>` | `MESSAGE` | sent + 30 days (`MESSAGE_RETENTION`) |
//!
//! The port's traits are implemented one per file: `registry.rs`, `recovery.rs` (with
//! `limits.rs`, the 24 h counters and the tries, and `link.rs`, the link transaction),
//! `desk.rs`, `audit.rs`, `report.rs`, `delivery.rs`. Items to and from domain types are in
//! `items.rs`, the builders of a transaction's items in `transact.rs`.

mod audit;
mod delivery;
mod desk;
mod items;
mod limits;
mod link;
mod recovery;
mod registry;
mod report;
mod transact;

use super::{StoreError, StoreResult};
use crate::domain::RecoverySession;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use items::{SESSION_SK, s, session_from_item, sk_of, with_audit_expiry};
use std::collections::HashMap;
use std::time::Duration;
use time::OffsetDateTime;

pub use items::{GSI_OPEN_ASSISTANCE, TTL_ATTRIBUTE};
pub use registry::{RegistryBatch, RegistryRow};

type Item = HashMap<String, AttributeValue>;

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    audit_retention: Duration,
}

/// A failed call: the store is unavailable (a 503), with DynamoDB's code and message.
fn unavailable<E: ProvideErrorMetadata + std::fmt::Debug>(error: SdkError<E>) -> StoreError {
    let code = error.code().unwrap_or("transport_error").to_owned();
    let message = error.message().unwrap_or_default().to_owned();
    StoreError::Unavailable(format!("{code}: {message}"))
}

/// A request part the SDK would not build: only a required field left unset can make it fail,
/// which is a bug of this adapter, answered as the store being unavailable rather than a panic.
fn built<T>(part: Result<T, BuildError>) -> StoreResult<T> {
    part.map_err(|e| StoreError::Unavailable(format!("a DynamoDB request could not be built: {e}")))
}

/// Sends a single-item write again when it met a transaction in flight on the same item
/// (`TransactionConflictException`, which the SDK does not retry): a double-clicked verify
/// whose twin is inside its link transaction must not become a 503.
async fn retry_conflicts<T, E, F, Fut>(send: F) -> Result<T, SdkError<E>>
where
    E: ProvideErrorMetadata,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E>>>,
{
    let mut attempt = 0;
    loop {
        match send().await {
            Err(e) if e.code() == Some("TransactionConflictException") && attempt + 1 < CONFLICT_TRIES => {
                tokio::time::sleep(conflict_backoff(attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// The item as it was when a conditional update was refused (asked for with
/// `ReturnValuesOnConditionCheckFailure::AllOld`).
fn item_before_refusal(error: &SdkError<UpdateItemError>) -> Option<Item> {
    match error.as_service_error()? {
        UpdateItemError::ConditionalCheckFailedException(c) => c.item().cloned(),
        _ => None,
    }
}

fn is_condition_failure<E: ProvideErrorMetadata>(error: &SdkError<E>) -> bool {
    error.code() == Some("ConditionalCheckFailedException")
}

/// Tries of a write cancelled only by conflicts with other transactions, before a 503.
const CONFLICT_TRIES: u32 = 4;

/// The pause before another try of a conflicting write: 10, 20, 40 ms, plus up to as much
/// again at random so that two requests that collided do not collide again.
fn conflict_backoff(attempt: u32) -> std::time::Duration {
    let base = 10u64 << attempt.min(5);
    let mut byte = [0u8; 2];
    let jitter = match getrandom::fill(&mut byte) {
        Ok(()) => u64::from(u16::from_le_bytes(byte)) % base.max(1),
        Err(_) => base / 2,
    };
    std::time::Duration::from_millis(base + jitter)
}

impl DynamoStore {
    /// The store on `table`, keeping audit events for the default retention (`docs/rules.md#audit-retention`).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), audit_retention: crate::settings::RuleSettings::default().audit_retention }
    }

    /// Audit events expire this long after they happened (`AUDIT_RETENTION_DAYS`): their
    /// TTL attribute, and absent from reads from then on.
    pub fn with_audit_retention(mut self, retention: Duration) -> Self {
        self.audit_retention = retention;
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table (keys, GSI, on-demand, TTL) when it does not exist: the local API
    /// and tests. In AWS the SAM template owns the table.
    pub async fn create_table_if_missing(&self) -> StoreResult<()> {
        match self.client.describe_table().table_name(&self.table).send().await {
            Ok(_) => return Ok(()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => {}
            Err(e) => return Err(unavailable(e)),
        }
        let attribute = |name: &str| {
            built(AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build())
        };
        let key = |name: &str, kind| built(KeySchemaElement::builder().attribute_name(name).key_type(kind).build());
        let index = GlobalSecondaryIndex::builder()
            .index_name(GSI_OPEN_ASSISTANCE)
            .key_schema(key("gsi1pk", KeyType::Hash)?)
            .key_schema(key("gsi1sk", KeyType::Range)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build());
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute("pk")?)
            .attribute_definitions(attribute("sk")?)
            .attribute_definitions(attribute("gsi1pk")?)
            .attribute_definitions(attribute("gsi1sk")?)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .global_secondary_indexes(built(index.build())?)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceInUseException") => return Ok(()),
            Err(e) => return Err(unavailable(e)),
        }
        let ttl = TimeToLiveSpecification::builder().enabled(true).attribute_name(TTL_ATTRIBUTE).build();
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(built(ttl)?)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get(&self, pk: String, sk: &str) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    /// All items of a partition whose sort key is at least `from` (one consistent query).
    async fn partition(&self, pk: String, from: Option<&str>) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .expression_attribute_values(":pk", s(pk.clone()))
                .set_exclusive_start_key(start.take());
            query = match from {
                Some(from) => query
                    .key_condition_expression("pk = :pk AND sk >= :from")
                    .expression_attribute_values(":from", s(from)),
                None => query.key_condition_expression("pk = :pk"),
            };
            let out = query.send().await.map_err(unavailable)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    /// A plain put of `item`, outside any transaction (an audit event gets its expiry).
    async fn put(&self, item: Item) -> StoreResult<()> {
        let item = with_audit_expiry(item, self.audit_retention);
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(unavailable)?;
        Ok(())
    }

    /// The live recovery session among an account's items.
    fn session_of(&self, items: &[Item], now: OffsetDateTime) -> StoreResult<Option<RecoverySession>> {
        items
            .iter()
            .find(|i| sk_of(i) == SESSION_SK)
            .map(session_from_item)
            .transpose()
            .map(|s| s.filter(|s| s.expires_at > now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_backoff_grows_with_jitter_and_stays_short() {
        for attempt in 0..CONFLICT_TRIES {
            let base = 10u64 << attempt;
            for _ in 0..50 {
                let pause = conflict_backoff(attempt).as_millis() as u64;
                assert!((base..2 * base).contains(&pause), "attempt {attempt}: {pause} ms");
            }
        }
        let worst: u64 = (0..CONFLICT_TRIES - 1).map(|a| 2 * (10u64 << a)).sum();
        assert!(worst < 200, "all retries together stay well under the SDK timeout: {worst} ms");
    }
}
