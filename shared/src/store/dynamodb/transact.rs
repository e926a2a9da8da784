//! `TransactWriteItems`: the builders of its items (a put, an update, a delete, a condition
//! check, each on a key under a [`Condition`]) and sending one, tried again while it only
//! conflicts with other transactions.

use super::items::with_audit_expiry;
use super::{CONFLICT_TRIES, DynamoStore, Item, built, conflict_backoff, unavailable};
use crate::store::StoreResult;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update};
use std::collections::HashMap;

/// A condition expression and the placeholders it uses (`#name`, `:value`). An update's own
/// expression takes its placeholders from here too: DynamoDB shares them between the two.
#[derive(Debug, Default)]
pub struct Condition {
    expression: Option<String>,
    names: HashMap<String, String>,
    values: Item,
}

impl Condition {
    /// No condition: the write happens whatever the item is.
    pub fn none() -> Self {
        Self::default()
    }

    pub fn new(expression: impl Into<String>) -> Self {
        Self { expression: Some(expression.into()), ..Self::default() }
    }

    /// `#placeholder` stands for the attribute `name` (a reserved word, or a name given at run
    /// time).
    pub fn name(mut self, placeholder: &str, name: &str) -> Self {
        self.names.insert(placeholder.to_owned(), name.to_owned());
        self
    }

    pub fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
        self.values.insert(placeholder.to_owned(), value);
        self
    }

    pub fn values<'a>(mut self, pairs: impl IntoIterator<Item = (&'a str, AttributeValue)>) -> Self {
        self.values.extend(pairs.into_iter().map(|(placeholder, value)| (placeholder.to_owned(), value)));
        self
    }

    /// The expression and its placeholders, as the SDK's builders take them: none rather than
    /// an empty map, which DynamoDB refuses.
    fn parts(self) -> (Option<String>, Option<HashMap<String, String>>, Option<Item>) {
        let names = (!self.names.is_empty()).then_some(self.names);
        let values = (!self.values.is_empty()).then_some(self.values);
        (self.expression, names, values)
    }
}

/// The key of the item `pk`, `sk`.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    Item::from([("pk".to_owned(), AttributeValue::S(pk.into())), ("sk".to_owned(), AttributeValue::S(sk.into()))])
}

/// Puts `item` (all of it, replacing the item of its key) under `condition`.
pub fn put(table: &str, item: Item, condition: Condition) -> StoreResult<TransactWriteItem> {
    let (expression, names, values) = condition.parts();
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .set_condition_expression(expression)
        .set_expression_attribute_names(names)
        .set_expression_attribute_values(values);
    Ok(TransactWriteItem::builder().put(built(put.build())?).build())
}

/// Updates the item of `key` with `expression` under `condition` (whose placeholders
/// `expression` may use).
pub fn update(
    table: &str,
    key: Item,
    expression: impl Into<String>,
    condition: Condition,
) -> StoreResult<TransactWriteItem> {
    let (condition, names, values) = condition.parts();
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key))
        .update_expression(expression)
        .set_condition_expression(condition)
        .set_expression_attribute_names(names)
        .set_expression_attribute_values(values);
    Ok(TransactWriteItem::builder().update(built(update.build())?).build())
}

/// Deletes the item of `key` under `condition`.
pub fn delete(table: &str, key: Item, condition: Condition) -> StoreResult<TransactWriteItem> {
    let (expression, names, values) = condition.parts();
    let delete = Delete::builder()
        .table_name(table)
        .set_key(Some(key))
        .set_condition_expression(expression)
        .set_expression_attribute_names(names)
        .set_expression_attribute_values(values);
    Ok(TransactWriteItem::builder().delete(built(delete.build())?).build())
}

/// Writes nothing, but the transaction happens only if the item of `key` meets `condition`.
pub fn check(table: &str, key: Item, condition: Condition) -> StoreResult<TransactWriteItem> {
    let (expression, names, values) = condition.parts();
    let check = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(key))
        .set_condition_expression(expression)
        .set_expression_attribute_names(names)
        .set_expression_attribute_values(values);
    Ok(TransactWriteItem::builder().condition_check(built(check.build())?).build())
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

fn cancellation(error: &SdkError<TransactWriteItemsError>) -> Cancellation {
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

impl DynamoStore {
    /// One `TransactWriteItems`: `Err(failed)` names the items whose condition failed. A
    /// cancellation caused only by conflicts with other transactions is tried again (bounded,
    /// with jitter) before it becomes a 503.
    pub(super) async fn transact(&self, items: Vec<TransactWriteItem>) -> StoreResult<Result<(), Vec<bool>>> {
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

    /// An unconditional put in a transaction, an audit event getting its expiry
    /// ([`with_audit_expiry`]).
    pub(super) fn put_item(&self, item: Item) -> StoreResult<TransactWriteItem> {
        put(&self.table, with_audit_expiry(item, self.audit_retention), Condition::none())
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
}
