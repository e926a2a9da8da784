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
use crate::recovery::assistance_request::AssistanceRequest;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, KeysAndAttributes, Projection, ProjectionType, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    ScalarAttributeType, TimeToLiveSpecification, TransactWriteItem, Update,
};
use items::*;
use std::collections::HashMap;

pub use items::{GSI_OPEN_ASSISTANCE, TTL_ATTRIBUTE};

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

fn is_condition_failure<E: ProvideErrorMetadata>(error: &SdkError<E>) -> bool {
    error.code() == Some("ConditionalCheckFailedException")
}

/// Which items of a cancelled transaction failed their condition, or `None` when the
/// failure was something else.
fn cancelled_conditions(
    error: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError>,
) -> Option<Vec<bool>> {
    let service = error.as_service_error()?;
    let aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(e) =
        service
    else {
        return None;
    };
    let reasons: Vec<bool> =
        e.cancellation_reasons().iter().map(|r| r.code() == Some("ConditionalCheckFailed")).collect();
    reasons.iter().any(|failed| *failed).then_some(reasons)
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

    async fn batch_get(&self, keys: Vec<(String, String)>) -> StoreResult<Vec<Item>> {
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
    pub async fn put_registry_batch(&self, rows: &[RegistryRow]) -> StoreResult<u32> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
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
                return Ok(retries);
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
            Ok(retries)
        } else {
            Err(StoreError::Unavailable(format!("{} items stayed unprocessed after retries", pending.len())))
        }
    }

    async fn put(&self, item: Item) -> StoreResult<()> {
        let item = with_audit_expiry(item, self.audit_retention);
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(unavailable)?;
        Ok(())
    }

    /// Adds one to a 24 h counter, with no limit.
    async fn bump(&self, pk: String, counter: Counter, window: Duration, now: OffsetDateTime) -> StoreResult<()> {
        self.reserve(&pk, counter, u32::MAX, window, now).await.map(|_| ())
    }

    /// Adds one to a 24 h counter unless it reached `max` in its current window; answers the
    /// window's end, or when the lock ends.
    async fn reserve(
        &self,
        pk: &str,
        counter: Counter,
        max: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> StoreResult<Result<OffsetDateTime, OffsetDateTime>> {
        let sk = counter_sk(counter);
        for _ in 0..5 {
            let added = self
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
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .send()
                .await;
            match added {
                Ok(out) => {
                    let item = out.attributes.unwrap_or_default();
                    return Ok(Ok(count_from_item(&item)?.window_ends));
                }
                Err(e) if is_condition_failure(&e) => {
                    let old = e.as_service_error().and_then(|se| match se {
                        aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(
                            c,
                        ) => c.item().cloned(),
                        _ => None,
                    });
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
                Ok(_) => return Ok(Ok(ends)),
                Err(e) if is_condition_failure(&e) => continue,
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(StoreError::Unavailable("counter kept changing under concurrent writes".into()))
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

    async fn transact(&self, items: Vec<TransactWriteItem>) -> StoreResult<Result<(), Vec<bool>>> {
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(Ok(())),
            Err(e) => match cancelled_conditions(&e) {
                Some(failed) => Ok(Err(failed)),
                None => Err(unavailable(e)),
            },
        }
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
impl Store for DynamoStore {
    async fn certificate(&self, number: &CertificateNumber) -> StoreResult<Option<CertificateFile>> {
        file_from_items(&self.partition(cert_pk(number), Some(FILE_SK)).await?)
    }

    async fn invoice(&self, number: &InvoiceNumber) -> StoreResult<Option<Invoice>> {
        self.get(invoice_pk(number), INVOICE_SK).await?.as_ref().map(invoice_from_item).transpose()
    }

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
            Ok(ends) => ends,
            Err(until) => return Ok(Err(until)),
        };
        let reserved = self
            .reserve(&cert_pk, Counter::LookupFailuresOfCertificate, limits.per_certificate, limits.window, now)
            .await;
        match reserved {
            Ok(Ok(certificate_window_ends)) => Ok(Ok(LookupReservation {
                account: account.clone(),
                certificate: certificate.clone(),
                account_window_ends,
                certificate_window_ends,
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
        Ok(Some(SessionContext {
            file: file_from_items(&certificate_items)?,
            code_sends_of_certificate: counter(Counter::CodeSendsOfCertificate)?,
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
        let mut as_read = Some(send.certificate_sends);
        for _ in 0..3 {
            let current = match as_read.take() {
                Some(read) => read,
                None => self
                    .get(cert_pk(cert), &counter_sk(Counter::CodeSendsOfCertificate))
                    .await?
                    .as_ref()
                    .map(count_from_item)
                    .transpose()?
                    .and_then(|c| WindowCount::current(Some(c), send.now)),
            };
            if current.is_some_and(|c| c.count >= send.max_sends_per_certificate) {
                return Ok(Err(CodeSendRefused::CertificateSendsUsedUp));
            }
            let counter_write = match current {
                None => TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(counter_item(
                                cert_pk(cert),
                                Counter::CodeSendsOfCertificate,
                                1,
                                send.now + send.window,
                            )))
                            .condition_expression("attribute_not_exists(pk) OR window_ends_ms <= :now")
                            .set_expression_attribute_values(values(&[(":now", ms(send.now))]))
                            .build()
                            .expect("put"),
                    )
                    .build(),
                Some(c) => TransactWriteItem::builder()
                    .update(
                        Update::builder()
                            .table_name(&self.table)
                            .key("pk", s(cert_pk(cert)))
                            .key("sk", s(counter_sk(Counter::CodeSendsOfCertificate)))
                            .update_expression("SET #count = #count + :one")
                            .condition_expression("window_ends_ms = :ends AND #count < :max")
                            .expression_attribute_names("#count", "count")
                            .set_expression_attribute_values(values(&[
                                (":one", n(1)),
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
                (":edge", ms(send.now - send.cooldown)),
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
            match self.transact(vec![session_write, counter_write, self.put_item(audit_item(&send.audit))]).await? {
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
                // The certificate counter moved under us: read it again and retry.
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
        let taken_back = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(cert_pk(&undo.certificate_number)))
            .key("sk", s(counter_sk(Counter::CodeSendsOfCertificate)))
            .update_expression("SET #count = #count - :one")
            .condition_expression("#count > :zero")
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        match taken_back {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn record_wrong_code(&self, wrong: &WrongCode) -> StoreResult<WrongCodeCounted> {
        let counted = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(account_pk(&wrong.account)))
            .key("sk", s(SESSION_SK))
            .update_expression("SET code_attempts = code_attempts + :one")
            .condition_expression(
                "session_id = :sid AND code_id = :cid AND code_attempts < :max AND session_expires_ms > :now",
            )
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":sid", s(&wrong.session_id))
            .expression_attribute_values(":cid", s(&wrong.code_id))
            .expression_attribute_values(":max", n(wrong.max_attempts as i64))
            .expression_attribute_values(":now", ms(wrong.now))
            .return_values(ReturnValue::UpdatedNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let attempts = match counted {
            Ok(out) => get_n(out.attributes.as_ref().unwrap_or(&HashMap::new()), "code_attempts")? as u32,
            Err(e) if is_condition_failure(&e) => {
                let old = e.as_service_error().and_then(|se| match se {
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c) => {
                        c.item().cloned()
                    }
                    _ => None,
                });
                let same_code = old.as_ref().is_some_and(|item| {
                    opt_s(item, "session_id").as_deref() == Some(wrong.session_id.as_str())
                        && opt_s(item, "code_id").as_deref() == Some(wrong.code_id.as_str())
                        && get_ms(item, "session_expires_ms").is_ok_and(|at| at > wrong.now)
                });
                return Ok(if same_code { WrongCodeCounted::AttemptsUsedUp } else { WrongCodeCounted::CodeGone });
            }
            Err(e) => return Err(unavailable(e)),
        };
        let (c, a) = tokio::join!(
            self.bump(cert_pk(&wrong.certificate_number), Counter::WrongCodesOfCertificate, wrong.window, wrong.now),
            self.put(audit_item(&wrong.audit)),
        );
        c.and(a)?;
        Ok(WrongCodeCounted::Attempts(attempts))
    }

    async fn record_invoice_failure(&self, failure: &InvoiceFailure) -> StoreResult<Option<u32>> {
        let counted = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(account_pk(&failure.account)))
            .key("sk", s(SESSION_SK))
            .update_expression("SET invoice_attempts = invoice_attempts + :one")
            .condition_expression("session_id = :sid AND invoice_attempts < :max AND session_expires_ms > :now")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":sid", s(&failure.session_id))
            .expression_attribute_values(":max", n(failure.max_attempts as i64))
            .expression_attribute_values(":now", ms(failure.now))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        let attempts = match counted {
            Ok(out) => get_n(out.attributes.as_ref().unwrap_or(&HashMap::new()), "invoice_attempts")? as u32,
            Err(e) if is_condition_failure(&e) => return Ok(None),
            Err(e) => return Err(unavailable(e)),
        };
        self.put(audit_item(&failure.audit)).await?;
        Ok(Some(attempts))
    }

    async fn link(&self, command: &LinkCommand) -> StoreResult<LinkOutcome> {
        let now = command.now;
        let account = &command.account;
        let number = &command.certificate_number;
        let mut session_values =
            vec![(":sid", s(&command.session_id)), (":cert", s(number.as_str())), (":now", ms(now))];
        let session_condition = match &command.proof {
            LinkProof::SecurityCode { code_id, max_attempts } => {
                session_values.push((":cid", s(code_id)));
                session_values.push((":max", n(*max_attempts as i64)));
                "session_id = :sid AND certificate_number = :cert AND session_expires_ms > :now AND code_id = :cid AND code_attempts < :max AND code_expires_ms > :now"
            }
            LinkProof::Invoice { max_attempts } => {
                session_values.push((":max", n(*max_attempts as i64)));
                "session_id = :sid AND certificate_number = :cert AND session_expires_ms > :now AND invoice_attempts < :max"
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

    async fn append_audit(&self, event: &AuditEvent) -> StoreResult<()> {
        self.put(audit_item(event)).await
    }

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

    async fn certificates(&self, numbers: &[CertificateNumber]) -> StoreResult<Vec<CertificateFile>> {
        let mut unique: Vec<&CertificateNumber> = numbers.iter().collect();
        unique.sort();
        unique.dedup();
        let keys = unique.iter().map(|n| (cert_pk(n), FILE_SK.to_owned())).collect();
        let items = self.batch_get(keys).await?;
        let mut files = Vec::with_capacity(items.len());
        for item in items {
            files.extend(file_from_items(std::slice::from_ref(&item))?);
        }
        Ok(numbers.iter().filter_map(|n| files.iter().find(|f| &f.number == n).cloned()).collect())
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
            items.push(
                TransactWriteItem::builder()
                    .update(
                        Update::builder()
                            .table_name(&self.table)
                            .key("pk", s(cert_pk(&close.certificate_number)))
                            .key("sk", s(FILE_SK))
                            .update_expression("SET email = :email")
                            .condition_expression("attribute_exists(pk)")
                            .set_expression_attribute_values(values(&[(":email", s(email.as_str()))]))
                            .build()
                            .expect("update"),
                    )
                    .build(),
            );
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

    async fn upsert_certificate(&self, file: &CertificateFile) -> StoreResult<()> {
        self.put(file_item(file)).await
    }

    async fn upsert_invoice(&self, invoice: &Invoice) -> StoreResult<()> {
        self.put(invoice_item(invoice)).await
    }

    async fn counter(&self, counter: Counter, key: &str, now: OffsetDateTime) -> StoreResult<Option<WindowCount>> {
        let pk = match counter {
            Counter::LookupFailuresOfAccount => format!("{ACCOUNT_PREFIX}{key}"),
            _ => format!("{CERT_PREFIX}{key}"),
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
