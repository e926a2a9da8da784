//! The capacity meter: an SDK interceptor on the benchmark's DynamoDB client (never a Lambda's)
//! that asks every call for its consumed capacity (`ReturnConsumedCapacity=TOTAL`, set on the
//! input before it is serialized) and counts, per operation, the calls made and the capacity
//! units DynamoDB reports (DynamoDB Local computes them as DynamoDB does: 0.5 per 4 KB for an
//! eventually consistent read, 1 per 1 KB written, twice that in a transaction).

use aws_sdk_dynamodb::operation as op;
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextMut, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// What one route's call cost: calls per operation, failed calls, capacity units.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    /// Calls per DynamoDB operation (`GetItem`…).
    pub calls: BTreeMap<String, u32>,
    /// Calls DynamoDB refused (a condition that did not hold, a cancelled transaction): billed
    /// as writes, but reported without capacity.
    pub refused: u32,
    pub read_units: f64,
    pub write_units: f64,
    /// Round trips one after the other: a call started while another is in flight (the two
    /// halves of a `join!`) adds none — what the route's latency sees.
    pub sequential: u32,
}

impl Reading {
    pub fn round_trips(&self) -> u32 {
        self.calls.values().sum()
    }

    /// `GetItem ×2, TransactWriteItems`.
    pub fn calls_text(&self) -> String {
        self.calls
            .iter()
            .map(|(name, n)| if *n == 1 { name.clone() } else { format!("{name} ×{n}") })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Debug, Clone, Default)]
pub struct Meter {
    reading: Arc<Mutex<Reading>>,
    in_flight: Arc<Mutex<u32>>,
}

fn is_read(operation: &str) -> bool {
    matches!(operation, "GetItem" | "Query" | "Scan" | "BatchGetItem" | "TransactGetItems")
}

impl Meter {
    /// The DynamoDB client `client` with this meter on it.
    pub fn on(&self, client: aws_sdk_dynamodb::Client) -> aws_sdk_dynamodb::Client {
        let config = client.config().to_builder().interceptor(self.clone()).build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    /// The reading since the last `take`, and a new one started.
    pub fn take(&self) -> Reading {
        std::mem::take(&mut *self.reading.lock().unwrap())
    }

    fn started(&self) {
        let mut in_flight = self.in_flight.lock().unwrap();
        if *in_flight == 0 {
            self.reading.lock().unwrap().sequential += 1;
        }
        *in_flight += 1;
    }

    fn add(&self, operation: &str, capacity: &[&ConsumedCapacity], refused: bool) {
        {
            let mut in_flight = self.in_flight.lock().unwrap();
            *in_flight = in_flight.saturating_sub(1);
        }
        let mut reading = self.reading.lock().unwrap();
        *reading.calls.entry(operation.to_owned()).or_default() += 1;
        if refused {
            reading.refused += 1;
        }
        let units: f64 = capacity.iter().filter_map(|c| c.capacity_units).sum();
        if is_read(operation) {
            reading.read_units += units;
        } else {
            reading.write_units += units;
        }
    }
}

/// The operations the store makes, each with its input and output, and whether its output
/// reports one `ConsumedCapacity` (`one`) or one per table (`many`).
macro_rules! operations {
    ($each:ident) => {
        $each!(get_item, GetItemInput, GetItemOutput, one);
        $each!(put_item, PutItemInput, PutItemOutput, one);
        $each!(update_item, UpdateItemInput, UpdateItemOutput, one);
        $each!(delete_item, DeleteItemInput, DeleteItemOutput, one);
        $each!(query, QueryInput, QueryOutput, one);
        $each!(transact_write_items, TransactWriteItemsInput, TransactWriteItemsOutput, many);
        $each!(transact_get_items, TransactGetItemsInput, TransactGetItemsOutput, many);
        $each!(batch_get_item, BatchGetItemInput, BatchGetItemOutput, many);
        $each!(batch_write_item, BatchWriteItemInput, BatchWriteItemOutput, many);
    };
}

/// `ReturnConsumedCapacity=TOTAL` on the input of any of [`operations`].
fn ask_for_capacity(input: &mut aws_smithy_runtime_api::client::interceptors::context::Input) {
    macro_rules! ask {
        ($op:ident, $input:ident, $output:ident, $n:ident) => {
            if let Some(i) = input.downcast_mut::<op::$op::$input>() {
                i.return_consumed_capacity = Some(ReturnConsumedCapacity::Total);
                return;
            }
        };
    }
    operations!(ask);
}

/// The capacity the output of any of [`operations`] reports.
fn capacity_of(output: &aws_smithy_runtime_api::client::interceptors::context::Output) -> Vec<&ConsumedCapacity> {
    macro_rules! read {
        ($op:ident, $input:ident, $output:ident, one) => {
            if let Some(o) = output.downcast_ref::<op::$op::$output>() {
                return o.consumed_capacity.iter().collect();
            }
        };
        ($op:ident, $input:ident, $output:ident, many) => {
            if let Some(o) = output.downcast_ref::<op::$op::$output>() {
                return o.consumed_capacity.iter().flatten().collect();
            }
        };
    }
    operations!(read);
    Vec::new()
}

impl Intercept for Meter {
    fn name(&self) -> &'static str {
        "CapacityMeter"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        ask_for_capacity(context.input_mut());
        self.started();
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg.load::<Metadata>().map(|m| m.name().to_owned()).unwrap_or_else(|| "?".to_owned());
        match context.output_or_error() {
            Some(Ok(output)) => self.add(&operation, &capacity_of(output), false),
            _ => self.add(&operation, &[], true),
        }
        Ok(())
    }
}
