//! The DynamoDB adapter: one table, `pk`/`sk` keys, `expires_at` as the TTL attribute on
//! every expiring item, conditional writes for every counter, one `TransactWriteItems` for
//! the link. A file's link is an item of its own, so a registry import's plain puts keep it.
//! Expired items read as absent even before the TTL sweep.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | certificate file (registry fields) | `CERT#<number>` | `FILE` |
//! | the account a file is linked to | `CERT#<number>` | `OWNER` |
//! | 24 h counter of a certificate | `CERT#<number>` | `COUNTER#<kind>` |
//! | audit event (TTL: its time + the store's audit retention) | `CERT#<number>` | `AUDIT#<ns>#<id>` |
//! | invoice | `INVOICE#<number>` | `INVOICE` |
//! | recovery session | `ACCOUNT#<sub>` | `SESSION` |
//! | link | `ACCOUNT#<sub>` | `LINK` |
//! | open assistance request of an account | `ACCOUNT#<sub>` | `ASSISTANCE` |
//! | 24 h counter of an account | `ACCOUNT#<sub>` | `COUNTER#<kind>` |
//! | assistance request | `ASSISTANCE#<reference>` | `REQUEST` (GSI `gsi1`: `ASSISTANCE#open`, `<created ms>#<reference>` while open) |

mod items;

use super::*;
use crate::audit::AuditEvent;
use crate::domain::{
    AccountSubject, AssistanceRequest, CertificateFile, CertificateNumber, Invoice, InvoiceNumber, RecoverySession,
};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, KeysAndAttributes, Projection, ProjectionType, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    ScalarAttributeType, TimeToLiveSpecification, TransactWriteItem, Update,
};
use items::*;
use std::collections::HashMap;
use std::time::Duration;
use time::OffsetDateTime;

pub use items::{GSI_OPEN_ASSISTANCE, TTL_ATTRIBUTE};

/// What one registry batch took: retries of unprocessed items, and the files whose
/// employee-set email was kept over the registry's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegistryBatch {
    pub retries: u32,
    pub kept_employee_emails: u32,
}

/// One row of the registry, ready to put.
#[derive(Debug, Clone)]
pub enum RegistryRow {
    Certificate(CertificateFile),
    Invoice(Invoice),
}

impl RegistryRow {
    /// The item's key: a batch may not name one twice.
    pub fn key(&self) -> String {
        match self {
            Self::Certificate(file) => cert_pk(&file.number),
            Self::Invoice(invoice) => invoice_pk(&invoice.number),
        }
    }
}

type Item = HashMap<String, AttributeValue>;

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    audit_retention: Duration,
}

fn unavailable<E: ProvideErrorMetadata + std::fmt::Debug>(error: SdkError<E>) -> StoreError {
    let code = error.code().unwrap_or("transport_error").to_owned();
    let message = error.message().unwrap_or_default().to_owned();
    StoreError::Unavailable(format!("{code}: {message}"))
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
fn item_before_refusal(error: &SdkError<aws_sdk_dynamodb::operation::update_item::UpdateItemError>) -> Option<Item> {
    match error.as_service_error()? {
        aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c) => {
            c.item().cloned()
        }
        _ => None,
    }
}

fn is_condition_failure<E: ProvideErrorMetadata>(error: &SdkError<E>) -> bool {
    error.code() == Some("ConditionalCheckFailedException")
}

/// Why a transaction was cancelled, from the reason DynamoDB gives for each of its items.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cancellation {
    /// Some items failed their condition (which ones, in order): a refusal, not a failure.
    Conditions(Vec<bool>),
    /// Only conflicts with other transactions in flight: worth trying again.
    ConflictOnly,
    /// Anything else (throughput, validation, …).
    Other,
}

fn cancellation_of(reasons: &[Option<&str>]) -> Cancellation {
    let failed: Vec<bool> = reasons.iter().map(|r| *r == Some("ConditionalCheckFailed")).collect();
    if failed.iter().any(|f| *f) {
        return Cancellation::Conditions(failed);
    }
    let conflict = reasons.contains(&Some("TransactionConflict"));
    let only_conflicts = reasons.iter().all(|r| matches!(r, None | Some("None") | Some("TransactionConflict")));
    if conflict && only_conflicts { Cancellation::ConflictOnly } else { Cancellation::Other }
}

fn cancellation(
    error: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError>,
) -> Cancellation {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
            let reasons: Vec<Option<&str>> = e.cancellation_reasons().iter().map(|r| r.code()).collect();
            cancellation_of(&reasons)
        }
        // Another transaction on the same items is still in progress.
        Some(TransactWriteItemsError::TransactionInProgressException(_)) => Cancellation::ConflictOnly,
        _ => Cancellation::Other,
    }
}

/// Tries of a transaction cancelled only by conflicts with other transactions, before a 503.
const CONFLICT_TRIES: u32 = 4;

/// The pause before another try of a conflicting transaction: 10, 20, 40 ms, plus up to as much
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

fn values(pairs: &[(&str, AttributeValue)]) -> Option<Item> {
    Some(pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect())
}

impl DynamoStore {
    /// The store on `table`, keeping audit events for the default retention (SPEC §4).
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
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition")
        };
        let key =
            |name: &str, kind| KeySchemaElement::builder().attribute_name(name).key_type(kind).build().expect("key");
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute("pk"))
            .attribute_definitions(attribute("sk"))
            .attribute_definitions(attribute("gsi1pk"))
            .attribute_definitions(attribute("gsi1sk"))
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range))
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(GSI_OPEN_ASSISTANCE)
                    .key_schema(key("gsi1pk", KeyType::Hash))
                    .key_schema(key("gsi1sk", KeyType::Range))
                    .projection(Projection::builder().projection_type(ProjectionType::All).build())
                    .build()
                    .expect("index"),
            )
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceInUseException") => return Ok(()),
            Err(e) => return Err(unavailable(e)),
        }
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder().enabled(true).attribute_name(TTL_ATTRIBUTE).build().expect("ttl"),
            )
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

    /// `BatchGetItem` of any number of keys, 100 (DynamoDB's most) per request.
    async fn batch_get(&self, keys: Vec<(String, String)>) -> StoreResult<Vec<Item>> {
        let mut items = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            items.extend(self.batch_get_100(chunk.to_vec()).await?);
        }
        Ok(items)
    }

    async fn batch_get_100(&self, keys: Vec<(String, String)>) -> StoreResult<Vec<Item>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut pending = KeysAndAttributes::builder();
        for (pk, sk) in keys {
            pending = pending.keys(HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))]));
        }
        let mut request = Some(pending.build().expect("keys"));
        let mut items = Vec::new();
        for attempt in 0..6u32 {
            let Some(keys) = request.take() else { break };
            let out =
                self.client.batch_get_item().request_items(&self.table, keys).send().await.map_err(unavailable)?;
            if let Some(mut responses) = out.responses {
                items.extend(responses.remove(&self.table).unwrap_or_default());
            }
            request = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).filter(|k| !k.keys.is_empty());
            if request.is_some() {
                tokio::time::sleep(std::time::Duration::from_millis(25 << attempt)).await;
            }
        }
        if request.is_some() {
            return Err(StoreError::Unavailable("a batch read left keys unprocessed".into()));
        }
        Ok(items)
    }

    /// Registry import: puts up to 25 files and invoices in one `BatchWriteItem`, retrying the
    /// unprocessed ones with exponential backoff. Files are plain puts of their registry
    /// fields: links and audit events are other items and stay. Answers how many retries it
    /// took.
    pub async fn put_registry_batch(
        &self,
        rows: &[RegistryRow],
        employee_email: EmployeeEmail,
    ) -> StoreResult<RegistryBatch> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        let files: Vec<CertificateFile> = rows
            .iter()
            .filter_map(|row| match row {
                RegistryRow::Certificate(file) => Some(file.clone()),
                RegistryRow::Invoice(_) => None,
            })
            .collect();
        let kept_employee_emails = self.employee_emails_kept(&files, employee_email).await?.len() as u32;
        let mut pending: Vec<WriteRequest> = rows
            .iter()
            .map(|row| {
                let item = match row {
                    RegistryRow::Certificate(file) => file_item(file),
                    RegistryRow::Invoice(invoice) => invoice_item(invoice),
                };
                WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(item)).build().expect("put"))
                    .build()
            })
            .collect();
        let mut retries = 0;
        for attempt in 0..10u32 {
            if pending.is_empty() {
                return Ok(RegistryBatch { retries, kept_employee_emails });
            }
            if attempt > 0 {
                retries += 1;
                tokio::time::sleep(std::time::Duration::from_millis((50u64 << attempt.min(6)).min(3_000))).await;
            }
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, std::mem::take(&mut pending))
                .send()
                .await
                .map_err(unavailable)?;
            pending = out.unprocessed_items.and_then(|mut u| u.remove(&self.table)).unwrap_or_default();
        }
        if pending.is_empty() {
            Ok(RegistryBatch { retries, kept_employee_emails })
        } else {
            Err(StoreError::Unavailable(format!("{} items stayed unprocessed after retries", pending.len())))
        }
    }

    /// The files among `files` whose email an employee set, differing from the registry's:
    /// kept (answered) or, with `Replace`, dropped so the registry's email applies.
    async fn employee_emails_kept(
        &self,
        files: &[CertificateFile],
        employee_email: EmployeeEmail,
    ) -> StoreResult<Vec<CertificateNumber>> {
        let keys = files.iter().map(|f| (cert_pk(&f.number), EMPLOYEE_EMAIL_SK.to_owned())).collect();
        let mut kept = Vec::new();
        for item in self.batch_get(keys).await? {
            let pk = get_s(&item, "pk")?;
            let Some(file) = files.iter().find(|f| cert_pk(&f.number) == pk) else { continue };
            let Some(employee) = opt_s(&item, "email") else { continue };
            match employee_email {
                EmployeeEmail::Keep => {
                    if file.email.as_ref().map(|e| e.as_str()) != Some(employee.as_str()) {
                        kept.push(file.number.clone());
                    }
                }
                // The registry's email applies again; when the employee changed it stays, so
                // codes sent before that change stay dead.
                EmployeeEmail::Replace => {
                    self.client
                        .update_item()
                        .table_name(&self.table)
                        .key("pk", s(pk))
                        .key("sk", s(EMPLOYEE_EMAIL_SK))
                        .update_expression("REMOVE email")
                        .send()
                        .await
                        .map_err(unavailable)?;
                }
            }
        }
        Ok(kept)
    }

    async fn put(&self, item: Item) -> StoreResult<()> {
        let item = with_audit_expiry(item, self.audit_retention);
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(unavailable)?;
        Ok(())
    }

    /// Adds one to a 24 h counter unless it reached `max` in its current window; answers the
    /// count with this one and the window's end, or when the lock ends.
    async fn reserve(
        &self,
        pk: &str,
        counter: Counter,
        max: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> StoreResult<Result<WindowCount, OffsetDateTime>> {
        let sk = counter_sk(counter);
        for _ in 0..5 {
            let update = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(pk))
                .key("sk", s(sk.clone()))
                .update_expression("SET #count = #count + :one")
                .condition_expression("window_ends_ms > :now AND #count < :max")
                .expression_attribute_names("#count", "count")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":now", ms(now))
                .expression_attribute_values(":max", n(max as i64))
                .return_values(ReturnValue::AllNew)
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
            let added = retry_conflicts(|| update.clone().send()).await;
            match added {
                Ok(out) => {
                    let item = out.attributes.unwrap_or_default();
                    return Ok(Ok(count_from_item(&item)?));
                }
                Err(e) if is_condition_failure(&e) => {
                    let old = item_before_refusal(&e);
                    let current = old.as_ref().map(count_from_item).transpose()?.filter(|c| c.window_ends > now);
                    match current {
                        Some(c) if c.count >= max => return Ok(Err(c.window_ends)),
                        // Changed between the two reads of the condition: try again.
                        Some(_) => continue,
                        None => {}
                    }
                }
                Err(e) => return Err(unavailable(e)),
            }
            let ends = now + window;
            let restarted = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(counter_item(pk.to_owned(), counter, 1, ends)))
                .condition_expression("attribute_not_exists(pk) OR window_ends_ms <= :now")
                .expression_attribute_values(":now", ms(now))
                .send()
                .await;
            match restarted {
                Ok(_) => return Ok(Ok(WindowCount { count: 1, window_ends: ends })),
                Err(e) if is_condition_failure(&e) => continue,
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(StoreError::Unavailable("counter kept changing under concurrent writes".into()))
    }

    /// When a refusal on one counter ends, given that the other counter of the same try may be
    /// used up too and end later: the holder is told the later time (one read, refusals only).
    async fn locked_until_also(
        &self,
        pk: &str,
        counter: Counter,
        max: u32,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<OffsetDateTime> {
        let other = self.get(pk.to_owned(), &counter_sk(counter)).await?;
        let other = other.as_ref().map(count_from_item).transpose()?.and_then(|c| WindowCount::current(Some(c), now));
        Ok(match other {
            Some(c) if c.count >= max => until.max(c.window_ends),
            _ => until,
        })
    }

    /// Takes one back from a counter, if it is still in the window it was added in.
    async fn release(&self, pk: &str, counter: Counter, window_ends: OffsetDateTime) -> StoreResult<()> {
        let released = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(counter_sk(counter)))
            .update_expression("SET #count = #count - :one")
            .condition_expression("window_ends_ms = :ends AND #count > :zero")
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":ends", ms(window_ends))
            .send()
            .await;
        match released {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// One `TransactWriteItems`: `Err(failed)` names the items whose condition failed. A
    /// cancellation caused only by conflicts with other transactions is tried again (bounded,
    /// with jitter) before it becomes a 503.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> StoreResult<Result<(), Vec<bool>>> {
        let mut attempt = 0;
        loop {
            let sent = self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
            let error = match sent {
                Ok(_) => return Ok(Ok(())),
                Err(e) => e,
            };
            match cancellation(&error) {
                Cancellation::Conditions(failed) => return Ok(Err(failed)),
                Cancellation::ConflictOnly if attempt + 1 < CONFLICT_TRIES => {
                    tracing::info!(attempt, "transaction conflicted with another; trying again");
                    tokio::time::sleep(conflict_backoff(attempt)).await;
                    attempt += 1;
                }
                _ => return Err(unavailable(error)),
            }
        }
    }

    /// Takes one back from a session's count of tries — `code_attempts` of the code `code_id`,
    /// or `invoice_attempts` — if it is still that session (and code).
    async fn release_session_try(
        &self,
        account: &AccountSubject,
        session_id: &str,
        attribute: &str,
        code_id: Option<&str>,
    ) -> StoreResult<()> {
        let mut condition = "session_id = :sid AND #tries > :zero".to_owned();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(account_pk(account)))
            .key("sk", s(SESSION_SK))
            .update_expression("SET #tries = #tries - :one")
            .expression_attribute_names("#tries", attribute)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":sid", s(session_id));
        if let Some(code_id) = code_id {
            condition.push_str(" AND code_id = :cid");
            update = update.expression_attribute_values(":cid", s(code_id));
        }
        match update.condition_expression(condition).send().await {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn release_code_attempt(&self, code_try: &CodeTry) -> StoreResult<()> {
        self.release_session_try(&code_try.account, &code_try.session_id, "code_attempts", Some(&code_try.code_id))
            .await
    }

    async fn release_invoice_attempt(&self, invoice_try: &InvoiceTry) -> StoreResult<()> {
        self.release_session_try(&invoice_try.account, &invoice_try.session_id, "invoice_attempts", None).await
    }

    fn put_item(&self, item: Item) -> TransactWriteItem {
        let item = with_audit_expiry(item, self.audit_retention);
        TransactWriteItem::builder()
            .put(Put::builder().table_name(&self.table).set_item(Some(item)).build().expect("put"))
            .build()
    }

    fn session_of(&self, items: &[Item], now: OffsetDateTime) -> StoreResult<Option<RecoverySession>> {
        items
            .iter()
            .find(|i| sk_of(i) == SESSION_SK)
            .map(session_from_item)
            .transpose()
            .map(|s| s.filter(|s| s.expires_at > now))
    }
}

#[async_trait::async_trait]
impl RegistryStore for DynamoStore {
    async fn certificate(&self, number: &CertificateNumber) -> StoreResult<Option<CertificateFile>> {
        file_from_items(&self.partition(cert_pk(number), Some(FILE_SK)).await?)
    }

    async fn invoice(&self, number: &InvoiceNumber) -> StoreResult<Option<Invoice>> {
        self.get(invoice_pk(number), INVOICE_SK).await?.as_ref().map(invoice_from_item).transpose()
    }

    async fn certificates(&self, numbers: &[CertificateNumber]) -> StoreResult<Vec<CertificateFile>> {
        let mut unique: Vec<&CertificateNumber> = numbers.iter().collect();
        unique.sort();
        unique.dedup();
        let keys = unique
            .iter()
            .flat_map(|n| [(cert_pk(n), FILE_SK.to_owned()), (cert_pk(n), EMPLOYEE_EMAIL_SK.to_owned())])
            .collect();
        let items = self.batch_get(keys).await?;
        let mut by_file: HashMap<String, Vec<Item>> = HashMap::new();
        for item in items {
            by_file.entry(get_s(&item, "pk")?.to_owned()).or_default().push(item);
        }
        let mut files = Vec::with_capacity(by_file.len());
        for items in by_file.values() {
            files.extend(file_from_items(items)?);
        }
        Ok(numbers.iter().filter_map(|n| files.iter().find(|f| &f.number == n).cloned()).collect())
    }

    async fn upsert_certificate(&self, file: &CertificateFile, employee_email: EmployeeEmail) -> StoreResult<bool> {
        let kept = self.employee_emails_kept(std::slice::from_ref(file), employee_email).await?;
        self.put(file_item(file)).await?;
        Ok(!kept.is_empty())
    }

    async fn upsert_invoice(&self, invoice: &Invoice) -> StoreResult<()> {
        self.put(invoice_item(invoice)).await
    }
}

#[async_trait::async_trait]
impl RecoveryStore for DynamoStore {
    async fn reserve_lookup(
        &self,
        account: &AccountSubject,
        certificate: &CertificateNumber,
        limits: LookupLimits,
        now: OffsetDateTime,
    ) -> StoreResult<Result<LookupReservation, OffsetDateTime>> {
        let account_pk = account_pk(account);
        let cert_pk = cert_pk(certificate);
        // The account first, then the certificate: a certificate slot is only taken by a try
        // that holds an account slot, so one account's burst cannot lock the certificate.
        let account_window_ends = match self
            .reserve(&account_pk, Counter::LookupFailuresOfAccount, limits.per_account, limits.window, now)
            .await?
        {
            Ok(count) => count.window_ends,
            Err(until) => {
                let until = self
                    .locked_until_also(
                        &cert_pk,
                        Counter::LookupFailuresOfCertificate,
                        limits.per_certificate,
                        now,
                        until,
                    )
                    .await?;
                return Ok(Err(until));
            }
        };
        let reserved = self
            .reserve(&cert_pk, Counter::LookupFailuresOfCertificate, limits.per_certificate, limits.window, now)
            .await;
        match reserved {
            Ok(Ok(certificate_count)) => Ok(Ok(LookupReservation {
                account: account.clone(),
                certificate: certificate.clone(),
                account_window_ends,
                certificate_window_ends: certificate_count.window_ends,
            })),
            Ok(Err(until)) => {
                self.release(&account_pk, Counter::LookupFailuresOfAccount, account_window_ends).await?;
                Ok(Err(until))
            }
            Err(e) => {
                self.release(&account_pk, Counter::LookupFailuresOfAccount, account_window_ends).await?;
                Err(e)
            }
        }
    }

    async fn release_lookup(&self, reservation: &LookupReservation) -> StoreResult<()> {
        let (account, certificate) = (account_pk(&reservation.account), cert_pk(&reservation.certificate));
        let (a, c) = tokio::join!(
            self.release(&account, Counter::LookupFailuresOfAccount, reservation.account_window_ends),
            self.release(&certificate, Counter::LookupFailuresOfCertificate, reservation.certificate_window_ends),
        );
        a.and(c)
    }

    async fn open_session(&self, session: &RecoverySession, audit: AuditEvent) -> StoreResult<()> {
        let items = vec![self.put_item(session_item(session)), self.put_item(audit_item(&audit))];
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::Unavailable("unconditional session write was cancelled".into())),
        }
    }

    async fn session_context(
        &self,
        account: &AccountSubject,
        now: OffsetDateTime,
    ) -> StoreResult<Option<SessionContext>> {
        let account_items = self.partition(account_pk(account), None).await?;
        let Some(session) = self.session_of(&account_items, now)? else {
            return Ok(None);
        };
        let account_link = account_items.iter().find(|i| sk_of(i) == LINK_SK).map(link_from_item).transpose()?;
        // Counters and the file sort after "COUNTER#", audit events before: one query.
        let certificate_items = self.partition(cert_pk(&session.certificate_number), Some(COUNTER_PREFIX)).await?;
        let counter = |c: Counter| -> StoreResult<Option<WindowCount>> {
            let sk = counter_sk(c);
            Ok(certificate_items
                .iter()
                .find(|i| sk_of(i) == sk)
                .map(count_from_item)
                .transpose()?
                .and_then(|c| WindowCount::current(Some(c), now)))
        };
        let sends_sk = counter_sk(Counter::CodeSendsOfCertificate);
        let last_code_sent_for_certificate = match certificate_items.iter().find(|i| sk_of(i) == sends_sk) {
            Some(item) => last_sent_from_item(item)?,
            None => None,
        };
        Ok(Some(SessionContext {
            file: file_from_items(&certificate_items)?,
            code_sends_of_certificate: counter(Counter::CodeSendsOfCertificate)?,
            last_code_sent_for_certificate,
            wrong_codes_of_certificate: counter(Counter::WrongCodesOfCertificate)?,
            account_link,
            session,
        }))
    }

    async fn account_view(&self, account: &AccountSubject, now: OffsetDateTime) -> StoreResult<AccountView> {
        let items = self.partition(account_pk(account), None).await?;
        Ok(AccountView {
            session: self.session_of(&items, now)?,
            link: items.iter().find(|i| sk_of(i) == LINK_SK).map(link_from_item).transpose()?,
            open_assistance: items.iter().find(|i| sk_of(i) == ASSISTANCE_SK).map(assistance_from_item).transpose()?,
        })
    }

    async fn record_code_sent(&self, send: &CodeSend) -> StoreResult<Result<(), CodeSendRefused>> {
        let cert = &send.certificate_number;
        let edge = send.now - send.cooldown;
        // The counter item outlives its window while the cooldown of its last send runs.
        let counter_ttl = ttl((send.now + send.window).max(send.now + send.cooldown));
        let mut as_read = Some((send.certificate_sends, send.certificate_last_sent));
        for _ in 0..3 {
            let (current, last_sent) = match as_read.take() {
                Some(read) => read,
                None => {
                    let item = self.get(cert_pk(cert), &counter_sk(Counter::CodeSendsOfCertificate)).await?;
                    match item {
                        Some(item) => {
                            (WindowCount::current(Some(count_from_item(&item)?), send.now), last_sent_from_item(&item)?)
                        }
                        None => (None, None),
                    }
                }
            };
            if last_sent.is_some_and(|at| at > edge) {
                return Ok(Err(CodeSendRefused::TooSoon));
            }
            if current.is_some_and(|c| c.count >= send.max_sends_per_certificate) {
                return Ok(Err(CodeSendRefused::CertificateSendsUsedUp));
            }
            // The cooldown and the count are the certificate's, whatever the session or account.
            let cooled = "(attribute_not_exists(last_sent_ms) OR last_sent_ms <= :edge)";
            let counter_write = match current {
                None => {
                    let mut item =
                        counter_item(cert_pk(cert), Counter::CodeSendsOfCertificate, 1, send.now + send.window);
                    item.insert("last_sent_ms".into(), ms(send.now));
                    item.insert(TTL_ATTRIBUTE.into(), counter_ttl.clone());
                    TransactWriteItem::builder()
                        .put(
                            Put::builder()
                                .table_name(&self.table)
                                .set_item(Some(item))
                                .condition_expression(format!(
                                    "(attribute_not_exists(pk) OR window_ends_ms <= :now) AND {cooled}"
                                ))
                                .set_expression_attribute_values(values(&[(":now", ms(send.now)), (":edge", ms(edge))]))
                                .build()
                                .expect("put"),
                        )
                        .build()
                }
                Some(c) => TransactWriteItem::builder()
                    .update(
                        Update::builder()
                            .table_name(&self.table)
                            .key("pk", s(cert_pk(cert)))
                            .key("sk", s(counter_sk(Counter::CodeSendsOfCertificate)))
                            .update_expression("SET #count = #count + :one, last_sent_ms = :now, #ttl = :ttl")
                            .condition_expression(format!("window_ends_ms = :ends AND #count < :max AND {cooled}"))
                            .expression_attribute_names("#count", "count")
                            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                            .set_expression_attribute_values(values(&[
                                (":one", n(1)),
                                (":now", ms(send.now)),
                                (":edge", ms(edge)),
                                (":ttl", counter_ttl.clone()),
                                (":ends", ms(c.window_ends)),
                                (":max", n(send.max_sends_per_certificate as i64)),
                            ]))
                            .build()
                            .expect("update"),
                    )
                    .build(),
            };
            let code = &send.code;
            let mut session_values = vec![
                (":cid", s(&code.id)),
                (":hash", s(&code.hash)),
                (":now", ms(send.now)),
                (":cexp", ms(code.expires_at)),
                (":zero", n(0)),
                (":one", n(1)),
                (":sid", s(&send.session_id)),
                (":before", n(send.sends_before as i64)),
                (":max", n(send.max_sends as i64)),
                (":edge", ms(edge)),
            ];
            let mut session_update = "SET code_id = :cid, code_hash = :hash, code_issued_ms = :now, code_expires_ms = :cexp, code_attempts = :zero, sends = sends + :one, last_sent_ms = :now".to_owned();
            if let Some(replaced) = &send.replaced_hash {
                session_update
                    .push_str(", replaced_hashes = list_append(if_not_exists(replaced_hashes, :empty), :replaced)");
                session_values.push((":empty", AttributeValue::L(vec![])));
                session_values.push((":replaced", AttributeValue::L(vec![s(replaced)])));
            }
            let session_write = TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(&self.table)
                        .key("pk", s(account_pk(&send.account)))
                        .key("sk", s(SESSION_SK))
                        .update_expression(session_update)
                        .condition_expression(
                            "session_id = :sid AND sends = :before AND sends < :max AND session_expires_ms > :now AND (attribute_not_exists(last_sent_ms) OR last_sent_ms <= :edge)",
                        )
                        .set_expression_attribute_values(values(&session_values))
                        .build()
                        .expect("update"),
                )
                .build();
            match self.transact(vec![session_write, counter_write]).await? {
                Ok(()) => return Ok(Ok(())),
                Err(failed) if failed.first() == Some(&true) => {
                    let items = self.partition(account_pk(&send.account), Some(SESSION_SK)).await?;
                    let session = self.session_of(&items, send.now)?;
                    return Ok(Err(match session {
                        Some(s) if s.id == send.session_id && s.sends >= send.max_sends => {
                            CodeSendRefused::SessionSendsUsedUp
                        }
                        Some(s)
                            if s.id == send.session_id
                                && s.last_sent_at.is_some_and(|at| at + send.cooldown > send.now) =>
                        {
                            CodeSendRefused::TooSoon
                        }
                        _ => CodeSendRefused::SessionChanged,
                    }));
                }
                // The certificate's counter moved under us (another send, from any session):
                // read it again, then refuse or retry.
                Err(_) => continue,
            }
        }
        Err(StoreError::Unavailable("certificate send counter kept changing".into()))
    }

    async fn undo_code_sent(&self, undo: &CodeSendUndo) -> StoreResult<()> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(account_pk(&undo.account)))
            .key("sk", s(SESSION_SK))
            .condition_expression("session_id = :sid AND code_id = :new")
            .expression_attribute_values(":sid", s(&undo.session_id))
            .expression_attribute_values(":new", s(&undo.code_id))
            .expression_attribute_values(":one", n(1));
        let mut set = vec!["sends = sends - :one".to_owned()];
        let mut remove = Vec::new();
        match &undo.previous_code {
            Some(code) => {
                set.push("code_id = :pcid, code_hash = :phash, code_issued_ms = :pissued, code_expires_ms = :pexp, code_attempts = :pattempts".into());
                update = update
                    .expression_attribute_values(":pcid", s(&code.id))
                    .expression_attribute_values(":phash", s(&code.hash))
                    .expression_attribute_values(":pissued", ms(code.issued_at))
                    .expression_attribute_values(":pexp", ms(code.expires_at))
                    .expression_attribute_values(":pattempts", n(code.attempts as i64));
            }
            None => remove.extend(["code_id", "code_hash", "code_issued_ms", "code_expires_ms", "code_attempts"]),
        }
        if undo.previous_replaced_code_hashes.is_empty() {
            remove.push("replaced_hashes");
        } else {
            set.push("replaced_hashes = :preplaced".into());
            let hashes = undo.previous_replaced_code_hashes.iter().map(s).collect();
            update = update.expression_attribute_values(":preplaced", AttributeValue::L(hashes));
        }
        match undo.previous_last_sent_at {
            Some(at) => {
                set.push("last_sent_ms = :plast".into());
                update = update.expression_attribute_values(":plast", ms(at));
            }
            None => remove.push("last_sent_ms"),
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        match update.update_expression(expression).send().await {
            Ok(_) => {}
            Err(e) if is_condition_failure(&e) => return Ok(()),
            Err(e) => return Err(unavailable(e)),
        }
        // The send never happened: its count and its cooldown are given back, unless a later
        // send already replaced them.
        let restore = match undo.previous_certificate_last_sent {
            Some(_) => "SET #count = #count - :one, last_sent_ms = :previous",
            None => "SET #count = #count - :one REMOVE last_sent_ms",
        };
        let taken_back = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(cert_pk(&undo.certificate_number)))
            .key("sk", s(counter_sk(Counter::CodeSendsOfCertificate)))
            .update_expression(restore)
            .condition_expression("#count > :zero AND last_sent_ms = :sent")
            .expression_attribute_names("#count", "count")
            .set_expression_attribute_values(Some(
                [(":one".to_owned(), n(1)), (":zero".to_owned(), n(0)), (":sent".to_owned(), ms(undo.sent_at))]
                    .into_iter()
                    .chain(undo.previous_certificate_last_sent.map(|at| (":previous".to_owned(), ms(at))))
                    .collect(),
            ))
            .send()
            .await;
        match taken_back {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn reserve_code_try(&self, code_try: &CodeTry) -> StoreResult<CodeTryCounted> {
        let cert = cert_pk(&code_try.certificate_number);
        let on_code = async {
            let update = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(account_pk(&code_try.account)))
                .key("sk", s(SESSION_SK))
                .update_expression("SET code_attempts = code_attempts + :one")
                .condition_expression(
                    "session_id = :sid AND code_id = :cid AND code_attempts < :max AND session_expires_ms > :now",
                )
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":sid", s(&code_try.session_id))
                .expression_attribute_values(":cid", s(&code_try.code_id))
                .expression_attribute_values(":max", n(code_try.max_attempts as i64))
                .expression_attribute_values(":now", ms(code_try.now))
                .return_values(ReturnValue::UpdatedNew)
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
            let counted = retry_conflicts(|| update.clone().send()).await;
            match counted {
                Ok(out) => Ok(Ok(get_n(out.attributes.as_ref().unwrap_or(&HashMap::new()), "code_attempts")? as u32)),
                Err(e) if is_condition_failure(&e) => {
                    let old = item_before_refusal(&e);
                    let same_code = old.as_ref().is_some_and(|item| {
                        opt_s(item, "session_id").as_deref() == Some(code_try.session_id.as_str())
                            && opt_s(item, "code_id").as_deref() == Some(code_try.code_id.as_str())
                            && get_ms(item, "session_expires_ms").is_ok_and(|at| at > code_try.now)
                    });
                    Ok(Err(if same_code { CodeTryCounted::AttemptsUsedUp } else { CodeTryCounted::CodeGone }))
                }
                Err(e) => Err(unavailable(e)),
            }
        };
        let on_certificate = self.reserve(
            &cert,
            Counter::WrongCodesOfCertificate,
            code_try.max_wrong_per_certificate,
            code_try.window,
            code_try.now,
        );
        let (on_code, on_certificate) = tokio::join!(on_code, on_certificate);
        match (on_code, on_certificate) {
            (Ok(Ok(attempts)), Ok(Ok(count))) => Ok(CodeTryCounted::Reserved(CodeTryReservation {
                attempts,
                certificate_window_ends: count.window_ends,
            })),
            // One side refused or failed: the other side's count is given back.
            (on_code, on_certificate) => {
                if let Ok(Ok(count)) = &on_certificate {
                    self.release(&cert, Counter::WrongCodesOfCertificate, count.window_ends).await?;
                }
                if let Ok(Ok(_)) = &on_code {
                    self.release_code_attempt(code_try).await?;
                }
                match (on_code?, on_certificate?) {
                    (Err(refused), _) => Ok(refused),
                    (_, Err(until)) => Ok(CodeTryCounted::CertificateUsedUp { until }),
                    (Ok(_), Ok(_)) => unreachable!("both reserved is answered above"),
                }
            }
        }
    }

    async fn release_code_try(
        &self,
        code_try: &CodeTry,
        reservation: &CodeTryReservation,
        code_too: bool,
    ) -> StoreResult<()> {
        let cert = cert_pk(&code_try.certificate_number);
        let certificate = self.release(&cert, Counter::WrongCodesOfCertificate, reservation.certificate_window_ends);
        if code_too {
            let (a, b) = tokio::join!(certificate, self.release_code_attempt(code_try));
            a.and(b)
        } else {
            certificate.await
        }
    }

    async fn reserve_invoice_try(&self, invoice_try: &InvoiceTry) -> StoreResult<InvoiceTryCounted> {
        let (account, cert) = (account_pk(&invoice_try.account), cert_pk(&invoice_try.certificate_number));
        let (window, now) = (invoice_try.window, invoice_try.now);
        // The account first: a certificate slot is only taken by a try that holds an account
        // slot, so one account's burst cannot close the certificate's invoice path alone.
        let of_account = match self
            .reserve(&account, Counter::RefusedInvoicesOfAccount, invoice_try.max_per_account, window, now)
            .await?
        {
            Ok(count) => count,
            Err(until) => {
                let until = self
                    .locked_until_also(
                        &cert,
                        Counter::RefusedInvoicesOfCertificate,
                        invoice_try.max_per_certificate,
                        now,
                        until,
                    )
                    .await?;
                return Ok(InvoiceTryCounted::Locked { until });
            }
        };
        let on_certificate =
            self.reserve(&cert, Counter::RefusedInvoicesOfCertificate, invoice_try.max_per_certificate, window, now);
        let on_session = async {
            let update = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(account.clone()))
                .key("sk", s(SESSION_SK))
                .update_expression("SET invoice_attempts = invoice_attempts + :one")
                .condition_expression("session_id = :sid AND invoice_attempts < :max AND session_expires_ms > :now")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":sid", s(&invoice_try.session_id))
                .expression_attribute_values(":max", n(invoice_try.max_per_session as i64))
                .expression_attribute_values(":now", ms(now))
                .return_values(ReturnValue::UpdatedNew)
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
            let counted = retry_conflicts(|| update.clone().send()).await;
            match counted {
                Ok(out) => {
                    Ok(Ok(get_n(out.attributes.as_ref().unwrap_or(&HashMap::new()), "invoice_attempts")? as u32))
                }
                Err(e) if is_condition_failure(&e) => {
                    let old = item_before_refusal(&e);
                    let same_session = old.as_ref().is_some_and(|item| {
                        opt_s(item, "session_id").as_deref() == Some(invoice_try.session_id.as_str())
                            && get_ms(item, "session_expires_ms").is_ok_and(|at| at > now)
                    });
                    Ok(Err(if same_session {
                        InvoiceTryCounted::SessionUsedUp
                    } else {
                        InvoiceTryCounted::SessionGone
                    }))
                }
                Err(e) => Err(unavailable(e)),
            }
        };
        let (on_certificate, on_session) = tokio::join!(on_certificate, on_session);
        match (on_certificate, on_session) {
            (Ok(Ok(of_certificate)), Ok(Ok(session_attempts))) => {
                Ok(InvoiceTryCounted::Reserved(InvoiceTryReservation { session_attempts, of_account, of_certificate }))
            }
            (on_certificate, on_session) => {
                self.release(&account, Counter::RefusedInvoicesOfAccount, of_account.window_ends).await?;
                if let Ok(Ok(count)) = &on_certificate {
                    self.release(&cert, Counter::RefusedInvoicesOfCertificate, count.window_ends).await?;
                }
                if let Ok(Ok(_)) = &on_session {
                    self.release_invoice_attempt(invoice_try).await?;
                }
                match (on_certificate?, on_session?) {
                    (Err(until), _) => Ok(InvoiceTryCounted::Locked { until }),
                    (_, Err(refused)) => Ok(refused),
                    (Ok(_), Ok(_)) => unreachable!("both reserved is answered above"),
                }
            }
        }
    }

    async fn release_invoice_try(
        &self,
        invoice_try: &InvoiceTry,
        reservation: &InvoiceTryReservation,
    ) -> StoreResult<()> {
        let (account, cert) = (account_pk(&invoice_try.account), cert_pk(&invoice_try.certificate_number));
        let (a, c, s) = tokio::join!(
            self.release(&account, Counter::RefusedInvoicesOfAccount, reservation.of_account.window_ends),
            self.release(&cert, Counter::RefusedInvoicesOfCertificate, reservation.of_certificate.window_ends),
            self.release_invoice_attempt(invoice_try),
        );
        a.and(c).and(s)
    }

    async fn link(&self, command: &LinkCommand) -> StoreResult<LinkOutcome> {
        let now = command.now;
        let account = &command.account;
        let number = &command.certificate_number;
        let mut session_values =
            vec![(":sid", s(&command.session_id)), (":cert", s(number.as_str())), (":now", ms(now))];
        let session_condition = match &command.proof {
            // The try that proves it was counted before the comparison: within the limit.
            LinkProof::SecurityCode { code_id, max_attempts, .. } => {
                session_values.push((":cid", s(code_id)));
                session_values.push((":max", n(*max_attempts as i64)));
                "session_id = :sid AND certificate_number = :cert AND session_expires_ms > :now AND code_id = :cid AND code_attempts <= :max AND code_expires_ms > :now"
            }
            LinkProof::Invoice { max_attempts } => {
                session_values.push((":max", n(*max_attempts as i64)));
                "session_id = :sid AND certificate_number = :cert AND session_expires_ms > :now AND invoice_attempts <= :max"
            }
        };
        let mut items = vec![
            TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(&self.table)
                        .key("pk", s(account_pk(account)))
                        .key("sk", s(SESSION_SK))
                        .condition_expression(session_condition)
                        .set_expression_attribute_values(values(&session_values))
                        .build()
                        .expect("delete"),
                )
                .build(),
        ];

        items.push(
            TransactWriteItem::builder()
                .condition_check(
                    ConditionCheck::builder()
                        .table_name(&self.table)
                        .key("pk", s(cert_pk(number)))
                        .key("sk", s(FILE_SK))
                        .condition_expression("attribute_exists(pk)")
                        .build()
                        .expect("condition check"),
                )
                .build(),
        );
        // A code sent before an employee changed the file's email is dead.
        if let LinkProof::SecurityCode { issued_at, .. } = &command.proof {
            items.push(
                TransactWriteItem::builder()
                    .condition_check(
                        ConditionCheck::builder()
                            .table_name(&self.table)
                            .key("pk", s(cert_pk(number)))
                            .key("sk", s(EMPLOYEE_EMAIL_SK))
                            .condition_expression("attribute_not_exists(pk) OR changed_ms <= :issued")
                            .set_expression_attribute_values(values(&[(":issued", ms(*issued_at))]))
                            .build()
                            .expect("condition check"),
                    )
                    .build(),
            );
        }
        // Invoices never move a link: with one, the file must be unlinked whatever was read.
        let mut owner_put = Put::builder().table_name(&self.table).set_item(Some(owner_item(number, account, now)));
        owner_put = match (&command.proof, &command.file_linked_account) {
            (LinkProof::Invoice { .. }, _) | (_, None) => owner_put.condition_expression("attribute_not_exists(pk)"),
            (_, Some(previous)) => owner_put
                .condition_expression("linked_account = :previous")
                .set_expression_attribute_values(values(&[(":previous", s(previous.as_str()))])),
        };
        items.push(TransactWriteItem::builder().put(owner_put.build().expect("put")).build());

        let mut link_put = Put::builder().table_name(&self.table).set_item(Some(link_item(account, number, now)));
        link_put = match &command.account_linked_certificate {
            None => link_put.condition_expression("attribute_not_exists(pk)"),
            Some(old) => link_put
                .condition_expression("certificate_number = :old")
                .set_expression_attribute_values(values(&[(":old", s(old.as_str()))])),
        };
        items.push(TransactWriteItem::builder().put(link_put.build().expect("put")).build());

        if let Some(previous) = command.file_linked_account.as_ref().filter(|p| *p != account) {
            items.push(
                TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(&self.table)
                            .key("pk", s(account_pk(previous)))
                            .key("sk", s(LINK_SK))
                            .condition_expression("certificate_number = :cert")
                            .set_expression_attribute_values(values(&[(":cert", s(number.as_str()))]))
                            .build()
                            .expect("delete"),
                    )
                    .build(),
            );
        }
        if let Some(old) = command.account_linked_certificate.as_ref().filter(|old| *old != number) {
            items.push(
                TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(&self.table)
                            .key("pk", s(cert_pk(old)))
                            .key("sk", s(OWNER_SK))
                            .condition_expression("linked_account = :account")
                            .set_expression_attribute_values(values(&[(":account", s(account.as_str()))]))
                            .build()
                            .expect("delete"),
                    )
                    .build(),
            );
        }
        items.extend(command.audit.iter().map(|e| self.put_item(audit_item(e))));
        Ok(match self.transact(items).await? {
            Ok(()) => LinkOutcome::Linked,
            Err(_) => LinkOutcome::Conflict,
        })
    }

    async fn open_assistance_request(
        &self,
        request: &AssistanceRequest,
        audit: AuditEvent,
    ) -> StoreResult<AssistanceOpened> {
        let marker = TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(assistance_marker_item(request)))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()
                    .expect("put"),
            )
            .build();
        let items = vec![marker, self.put_item(assistance_item(request)), self.put_item(audit_item(&audit))];
        match self.transact(items).await? {
            Ok(()) => Ok(AssistanceOpened::Created),
            Err(_) => {
                let existing = self
                    .get(account_pk(&request.account), ASSISTANCE_SK)
                    .await?
                    .ok_or_else(|| StoreError::Unavailable("assistance marker changed during the request".into()))?;
                Ok(AssistanceOpened::AlreadyOpen(assistance_from_item(&existing)?))
            }
        }
    }

    async fn counter(&self, counter: Counter, key: &str, now: OffsetDateTime) -> StoreResult<Option<WindowCount>> {
        let pk = match counter {
            Counter::LookupFailuresOfAccount | Counter::RefusedInvoicesOfAccount => format!("{ACCOUNT_PREFIX}{key}"),
            Counter::LookupFailuresOfCertificate
            | Counter::CodeSendsOfCertificate
            | Counter::WrongCodesOfCertificate
            | Counter::RefusedInvoicesOfCertificate => format!("{CERT_PREFIX}{key}"),
        };
        Ok(self
            .get(pk, &counter_sk(counter))
            .await?
            .as_ref()
            .map(count_from_item)
            .transpose()?
            .and_then(|c| WindowCount::current(Some(c), now)))
    }
}

#[async_trait::async_trait]
impl DeskStore for DynamoStore {
    async fn open_assistance_requests(
        &self,
        limit: usize,
        after: Option<&QueuePosition>,
    ) -> StoreResult<(Vec<AssistanceRequest>, Option<QueuePosition>)> {
        let start = after.map(|p| {
            HashMap::from([
                ("gsi1pk".to_owned(), s(OPEN_ASSISTANCE_PK)),
                ("gsi1sk".to_owned(), s(queue_sort_key(p.created_at, &p.reference))),
                ("pk".to_owned(), s(assistance_pk(&p.reference))),
                ("sk".to_owned(), s(REQUEST_SK)),
            ])
        });
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI_OPEN_ASSISTANCE)
            .key_condition_expression("gsi1pk = :open")
            .expression_attribute_values(":open", s(OPEN_ASSISTANCE_PK))
            .scan_index_forward(true)
            .limit(limit.clamp(1, 100) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable)?;
        let page: Vec<AssistanceRequest> =
            out.items.unwrap_or_default().iter().map(assistance_from_item).collect::<StoreResult<_>>()?;
        let more = out.last_evaluated_key.is_some_and(|k| !k.is_empty());
        let next = more
            .then(|| page.last().map(|r| QueuePosition { created_at: r.created_at, reference: r.reference.clone() }))
            .flatten();
        Ok((page, next))
    }

    async fn assistance_request(&self, reference: &str) -> StoreResult<Option<AssistanceRequest>> {
        self.get(assistance_pk(reference), REQUEST_SK).await?.as_ref().map(assistance_from_item).transpose()
    }

    async fn close_assistance_request(&self, close: &CloseRequest) -> StoreResult<CloseOutcome> {
        let mut items = vec![
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(&self.table)
                        .key("pk", s(assistance_pk(&close.reference)))
                        .key("sk", s(REQUEST_SK))
                        .update_expression(
                            "SET #status = :closed, outcome = :outcome, closed_by = :agent, closed_ms = :now REMOVE gsi1pk, gsi1sk",
                        )
                        .condition_expression("#status = :open")
                        .expression_attribute_names("#status", "status")
                        .set_expression_attribute_values(values(&[
                            (":closed", s("closed")),
                            (":open", s("open")),
                            (":outcome", s(&close.outcome)),
                            (":agent", s(&close.agent)),
                            (":now", ms(close.now)),
                        ]))
                        .build()
                        .expect("update"),
                )
                .build(),
            TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(&self.table)
                        .key("pk", s(account_pk(&close.account)))
                        .key("sk", s(ASSISTANCE_SK))
                        .condition_expression("attribute_not_exists(pk) OR #reference = :reference")
                        .expression_attribute_names("#reference", "reference")
                        .set_expression_attribute_values(values(&[(":reference", s(&close.reference))]))
                        .build()
                        .expect("delete"),
                )
                .build(),
        ];
        if let Some(email) = &close.new_email {
            // The employee's email is an item of its own (a registry import keeps it); its
            // time kills every code sent before (see `link`).
            items.push(
                TransactWriteItem::builder()
                    .condition_check(
                        ConditionCheck::builder()
                            .table_name(&self.table)
                            .key("pk", s(cert_pk(&close.certificate_number)))
                            .key("sk", s(FILE_SK))
                            .condition_expression("attribute_exists(pk)")
                            .build()
                            .expect("condition check"),
                    )
                    .build(),
            );
            items.push(self.put_item(employee_email_item(&close.certificate_number, email, close.now, &close.agent)));
            for pk in [cert_pk(&close.certificate_number), account_pk(&close.account)] {
                items.push(
                    TransactWriteItem::builder()
                        .delete(
                            Delete::builder()
                                .table_name(&self.table)
                                .key("pk", s(pk))
                                .key("sk", s(counter_sk(Counter::LookupFailuresOfAccount)))
                                .build()
                                .expect("delete"),
                        )
                        .build(),
                );
            }
        }
        items.extend(close.audit.iter().map(|e| self.put_item(audit_item(e))));
        match self.transact(items).await? {
            Ok(()) => Ok(CloseOutcome::Closed),
            Err(_) => match self.assistance_request(&close.reference).await? {
                Some(request) if !request.is_open() => Ok(CloseOutcome::AlreadyClosed),
                _ => Err(StoreError::Corrupt("the request or its file changed while closing".into())),
            },
        }
    }
}

#[async_trait::async_trait]
impl AuditStore for DynamoStore {
    async fn append_audit(&self, event: &AuditEvent) -> StoreResult<()> {
        self.put(audit_item(event)).await
    }

    async fn append_audit_once(&self, event: &AuditEvent, until: OffsetDateTime) -> StoreResult<bool> {
        let marker = Item::from([
            ("pk".to_owned(), s(refusal_pk(&event.certificate_number, &event.actor))),
            ("sk".to_owned(), s(format!("{}#{}", event.action.as_str(), event.outcome))),
            ("until_ms".to_owned(), ms(until)),
            (TTL_ATTRIBUTE.to_owned(), ttl(until)),
        ]);
        let marker = TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(marker))
                    .condition_expression("attribute_not_exists(pk) OR until_ms <= :now")
                    .set_expression_attribute_values(values(&[(":now", ms(event.at))]))
                    .build()
                    .expect("put"),
            )
            .build();
        Ok(self.transact(vec![marker, self.put_item(audit_item(event))]).await?.is_ok())
    }

    async fn audit_trail(
        &self,
        certificate: &CertificateNumber,
        limit: usize,
        after: Option<&AuditPosition>,
        now: OffsetDateTime,
    ) -> StoreResult<(Vec<AuditEvent>, Option<AuditPosition>)> {
        let limit = limit.clamp(1, 100);
        // Only live events, by their sort key: expired ones read as absent before the TTL
        // sweep, and a page is never short for them.
        let (oldest, newest) = audit_key_range(now, self.audit_retention);
        let start = match after.map(AuditPosition::sort_key) {
            Some(after) if after <= oldest => return Ok((Vec::new(), None)),
            Some(after) => {
                Some(HashMap::from([("pk".to_owned(), s(cert_pk(certificate))), ("sk".to_owned(), s(after))]))
            }
            None => None,
        };
        // One more than the page: whether more follow, without an empty last page.
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("pk = :pk AND sk BETWEEN :oldest AND :newest")
            .expression_attribute_values(":pk", s(cert_pk(certificate)))
            .expression_attribute_values(":oldest", s(oldest))
            .expression_attribute_values(":newest", s(newest))
            .scan_index_forward(false)
            .limit(limit as i32 + 1)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable)?;
        let items = out.items.unwrap_or_default();
        // A query also stops at 1 MB: then the last item read is where the next page starts.
        let cut_short = out.last_evaluated_key.is_some_and(|k| !k.is_empty());
        let last = match items.len() {
            n if n > limit => Some(&items[limit - 1]),
            n if n > 0 && cut_short => items.last(),
            _ => None,
        };
        let next = last
            .map(|item| {
                AuditPosition::from_sort_key(sk_of(item)).ok_or_else(|| StoreError::Corrupt("an audit sort key".into()))
            })
            .transpose()?;
        let events = items.iter().take(limit).map(audit_from_item).collect::<StoreResult<_>>()?;
        Ok((events, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_conflicts_are_tried_again() {
        let conflict = Some("TransactionConflict");
        assert_eq!(cancellation_of(&[Some("None"), conflict, None]), Cancellation::ConflictOnly);
        // A failed condition is a refusal, whatever else conflicted.
        assert_eq!(
            cancellation_of(&[conflict, Some("ConditionalCheckFailed")]),
            Cancellation::Conditions(vec![false, true])
        );
        assert_eq!(cancellation_of(&[conflict, Some("ThrottlingError")]), Cancellation::Other);
        assert_eq!(cancellation_of(&[Some("None"), None]), Cancellation::Other);
    }

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
