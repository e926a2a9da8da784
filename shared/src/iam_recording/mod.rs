//! Which AWS calls each Lambda function makes, recorded while the tests run against the
//! emulators, so that a test (`local-api/tests/api/iam_parity.rs`) can hold every function's IAM
//! policy in `template.yaml` to exactly the calls it makes.
//!
//! Only the emulator clients of [`crate::local_aws`] carry the [`Recorder`], and only when
//! `IAM_RECORDING_DIR` is set; the deployed functions build their clients in
//! [`crate::app::App::from_lambda_env`] and never reach this module. The function a call is
//! made for is a task-local set around the handler by the local API's dispatcher
//! ([`serving`]) and around a function's start-up by the tests ([`starting`]); calls made
//! outside both (table creation, seeding, a test's own checks, the store contract) are
//! recorded without a function. The function no route serves, `delivery-events`, is named by
//! its binary name ([`serving_as`], [`starting_as`]).
//!
//! The store port's method a call is made in is recorded too, when the store is wrapped in a
//! [`RecordingStore`]: the parity test then counts, for a function, every path of the methods
//! it calls that any test walked (the store contract walks the races and retries a function's
//! own tests cannot make happen on demand).
//!
//! Each process appends its records to its own file in the directory, one JSON object a line,
//! each distinct record once.

mod store;

use crate::lambda::Function;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{BeforeSerializationInterceptorContextRef, Input};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

pub use store::{RecordingStore, StoreCallHook};

/// The directory the records go to; no recording without it.
pub const DIR_VARIABLE: &str = "IAM_RECORDING_DIR";

/// When a call is made: while a function starts (before its first invocation) or while it
/// serves a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Init,
    Request,
}

#[derive(Debug, Clone, Copy)]
struct Scope {
    /// The function's binary name (`lookup`, `delivery-events`).
    function: &'static str,
    phase: Phase,
}

tokio::task_local! {
    static SCOPE: Scope;
    /// The store port's method a call is made in ([`RecordingStore`]).
    static STORE_METHOD: &'static str;
}

/// Runs `future` (a handler call) as `function` serving a request.
pub async fn serving<F: Future>(function: Function, future: F) -> F::Output {
    serving_as(function.name(), future).await
}

/// Runs `future` (a function's start-up) as `function` starting.
pub async fn starting<F: Future>(function: Function, future: F) -> F::Output {
    starting_as(function.name(), future).await
}

/// Runs `future` (an invocation) as the function whose binary is `binary` (the one no route
/// serves: [`crate::lambda::DELIVERY_EVENTS`]).
pub async fn serving_as<F: Future>(binary: &'static str, future: F) -> F::Output {
    SCOPE.scope(Scope { function: binary, phase: Phase::Request }, future).await
}

/// Runs `future` (a start-up) as the function whose binary is `binary`.
pub async fn starting_as<F: Future>(binary: &'static str, future: F) -> F::Output {
    SCOPE.scope(Scope { function: binary, phase: Phase::Init }, future).await
}

/// One IAM action a call needs, on what, made by which function (if any).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Record {
    /// The function's binary name (`lookup`), or `None` outside any function.
    pub function: Option<String>,
    pub phase: Option<Phase>,
    /// The SDK's service and operation names (`DynamoDB`, `TransactWriteItems`).
    pub service: String,
    pub operation: String,
    /// The IAM action the call needs (`dynamodb:ConditionCheckItem`).
    pub action: String,
    /// What it acts on: `table`, `index/<name>` (a DynamoDB query on an index), `identity`
    /// (SES), `secret` (Secrets Manager).
    pub resource: String,
    /// The store port's method the call was made in (`record_code_sent`), when the store
    /// was wrapped in a [`RecordingStore`]: a function that calls a method may take any path
    /// of it that a test walked, even one its own tests did not (the store contract walks them
    /// all).
    pub store_method: Option<String>,
    /// The program that made the call (a test binary, the local API).
    pub source: String,
}

/// The IAM actions and resources one call needs: one for most operations; for a DynamoDB
/// transaction, one per kind of item in it (a `ConditionCheck` item needs
/// `dynamodb:ConditionCheckItem`, not `dynamodb:TransactWriteItems`, which is no IAM action).
pub fn actions_of(service: &str, operation: &str, input: &Input) -> Result<Vec<(String, String)>, BoxError> {
    use aws_sdk_dynamodb::operation as ddb;
    let table = || "table".to_owned();
    match service {
        "DynamoDB" => match operation {
            "TransactWriteItems" => {
                let input = input
                    .downcast_ref::<ddb::transact_write_items::TransactWriteItemsInput>()
                    .ok_or("TransactWriteItems with another input type")?;
                let mut kinds: Vec<(String, String)> = Vec::new();
                for item in input.transact_items() {
                    let kinds_of_item = [
                        (item.put().is_some(), "PutItem"),
                        (item.update().is_some(), "UpdateItem"),
                        (item.delete().is_some(), "DeleteItem"),
                        (item.condition_check().is_some(), "ConditionCheckItem"),
                    ];
                    for (_, action) in kinds_of_item.iter().filter(|(present, _)| *present) {
                        let pair = (format!("dynamodb:{action}"), table());
                        if !kinds.contains(&pair) {
                            kinds.push(pair);
                        }
                    }
                }
                Ok(kinds)
            }
            "TransactGetItems" => Ok(vec![("dynamodb:GetItem".to_owned(), table())]),
            "Query" => {
                let input = input.downcast_ref::<ddb::query::QueryInput>().ok_or("Query with another input type")?;
                let resource = input.index_name().map_or_else(table, |index| format!("index/{index}"));
                Ok(vec![("dynamodb:Query".to_owned(), resource)])
            }
            "Scan" => {
                let input = input.downcast_ref::<ddb::scan::ScanInput>().ok_or("Scan with another input type")?;
                let resource = input.index_name().map_or_else(table, |index| format!("index/{index}"));
                Ok(vec![("dynamodb:Scan".to_owned(), resource)])
            }
            _ => Ok(vec![(format!("dynamodb:{operation}"), table())]),
        },
        // SES v2's IAM actions keep the `ses:` prefix.
        "SESv2" => Ok(vec![(format!("ses:{operation}"), "identity".to_owned())]),
        "Secrets Manager" => Ok(vec![(format!("secretsmanager:{operation}"), "secret".to_owned())]),
        other => Err(format!("no IAM mapping for the service {other}").into()),
    }
}

/// Appends records to this process's file in the recording directory.
struct Sink {
    path: PathBuf,
    seen: Mutex<HashSet<Record>>,
}

/// The program's name, without the hash cargo gives test binaries.
fn source() -> String {
    let name = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unknown".to_owned());
    match name.rsplit_once('-') {
        Some((base, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => base.to_owned(),
        _ => name,
    }
}

impl Sink {
    /// The process's sink, when `IAM_RECORDING_DIR` is set.
    fn get() -> Option<&'static Sink> {
        static SINK: OnceLock<Option<Sink>> = OnceLock::new();
        SINK.get_or_init(|| {
            let dir = PathBuf::from(std::env::var_os(DIR_VARIABLE).filter(|d| !d.is_empty())?);
            std::fs::create_dir_all(&dir).expect("the IAM recording directory can be created");
            let path = dir.join(format!("{}-{}.jsonl", source(), std::process::id()));
            Some(Sink { path, seen: Mutex::new(HashSet::new()) })
        })
        .as_ref()
    }

    fn write(&self, record: Record) -> Result<(), BoxError> {
        let mut seen = self.seen.lock().map_err(|_| "the IAM recording lock is poisoned")?;
        if seen.contains(&record) {
            return Ok(());
        }
        let mut line = serde_json::to_vec(&record)?;
        line.push(b'\n');
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&self.path)?;
        file.write_all(&line)?;
        seen.insert(record);
        Ok(())
    }
}

/// The interceptor: records each operation before it is sent, whether it then succeeds or
/// fails.
#[derive(Debug, Clone, Copy)]
pub struct Recorder {
    _private: (),
}

impl Recorder {
    /// A recorder when `IAM_RECORDING_DIR` is set, else `None` (nothing recorded).
    pub fn from_env() -> Option<Self> {
        Sink::get().map(|_| Self { _private: () })
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "IamRecorder"
    }

    // Not `read_before_execution`: a client's interceptors run that hook before the operation's
    // own configuration (which holds its `Metadata`) is in the bag.
    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let metadata = cfg.load::<Metadata>().ok_or("an operation without metadata")?;
        let scope = SCOPE.try_with(|scope| *scope).ok();
        let store_method = STORE_METHOD.try_with(|method| *method).ok();
        let sink = Sink::get().ok_or("IAM_RECORDING_DIR is no longer set")?;
        for (action, resource) in actions_of(metadata.service(), metadata.name(), context.input())? {
            sink.write(Record {
                function: scope.map(|s| s.function.to_owned()),
                phase: scope.map(|s| s.phase),
                service: metadata.service().to_owned(),
                operation: metadata.name().to_owned(),
                action,
                resource,
                store_method: store_method.map(str::to_owned),
                source: source(),
            })?;
        }
        Ok(())
    }
}

/// Every record in `dir`, from every process that wrote there.
pub fn read_dir(dir: &std::path::Path) -> std::io::Result<Vec<Record>> {
    let mut records = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            for line in std::fs::read_to_string(&path)?.lines().filter(|l| !l.trim().is_empty()) {
                records.push(serde_json::from_str(line).map_err(|e| {
                    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", path.display()))
                })?);
            }
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::query::QueryInput;
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
    use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put, TransactWriteItem, Update};

    fn pairs(service: &str, operation: &str, input: Input) -> Vec<(String, String)> {
        actions_of(service, operation, &input).unwrap()
    }

    #[test]
    fn a_transaction_needs_one_action_per_kind_of_item() {
        let put = Put::builder().table_name("t").item("pk", aws_sdk_dynamodb::types::AttributeValue::S("a".into()));
        let key = |k: &str| ("pk".to_owned(), aws_sdk_dynamodb::types::AttributeValue::S(k.into()));
        let items = vec![
            TransactWriteItem::builder().put(put.clone().build().unwrap()).build(),
            TransactWriteItem::builder().put(put.build().unwrap()).build(),
            TransactWriteItem::builder()
                .condition_check(
                    ConditionCheck::builder()
                        .table_name("t")
                        .key(key("b").0, key("b").1)
                        .condition_expression("attribute_exists(pk)")
                        .build()
                        .unwrap(),
                )
                .build(),
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name("t")
                        .key(key("c").0, key("c").1)
                        .update_expression("SET a = :a")
                        .build()
                        .unwrap(),
                )
                .build(),
            TransactWriteItem::builder()
                .delete(Delete::builder().table_name("t").key(key("d").0, key("d").1).build().unwrap())
                .build(),
        ];
        let input = TransactWriteItemsInput::builder().set_transact_items(Some(items)).build().unwrap();
        let actions: Vec<String> =
            pairs("DynamoDB", "TransactWriteItems", Input::erase(input)).into_iter().map(|(a, _)| a).collect();
        assert_eq!(
            actions,
            ["dynamodb:PutItem", "dynamodb:ConditionCheckItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
        );
    }

    #[test]
    fn a_query_on_an_index_acts_on_the_index() {
        let on_table = QueryInput::builder().table_name("t").build().unwrap();
        let on_index = QueryInput::builder().table_name("t").index_name("gsi1").build().unwrap();
        assert_eq!(
            pairs("DynamoDB", "Query", Input::erase(on_table)),
            [("dynamodb:Query".to_owned(), "table".to_owned())]
        );
        assert_eq!(
            pairs("DynamoDB", "Query", Input::erase(on_index)),
            [("dynamodb:Query".to_owned(), "index/gsi1".to_owned())]
        );
    }

    #[test]
    fn other_operations_are_their_own_action_and_unknown_services_are_refused() {
        let any = || Input::erase(());
        assert_eq!(pairs("DynamoDB", "GetItem", any()), [("dynamodb:GetItem".to_owned(), "table".to_owned())]);
        assert_eq!(pairs("SESv2", "SendEmail", any()), [("ses:SendEmail".to_owned(), "identity".to_owned())]);
        assert_eq!(
            pairs("Secrets Manager", "GetSecretValue", any()),
            [("secretsmanager:GetSecretValue".to_owned(), "secret".to_owned())]
        );
        assert!(actions_of("S3", "GetObject", &any()).is_err());
        assert!(actions_of("DynamoDB", "Query", &any()).is_err(), "a Query whose input cannot be read");
    }
}
