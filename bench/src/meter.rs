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

/// `ReturnConsumedCapacity=TOTAL` on the inputs of the operations the store makes.
fn ask_for_capacity(input: &mut aws_smithy_runtime_api::client::interceptors::context::Input) {
    let total = Some(ReturnConsumedCapacity::Total);
    if let Some(i) = input.downcast_mut::<op::get_item::GetItemInput>() {
        i.return_consumed_capacity = total;
    } else if let Some(i) = input.downcast_mut::<op::put_item::PutItemInput>() {
        i.return_consumed_capacity = total;
    } else if let Some(i) = input.downcast_mut::<op::update_item::UpdateItemInput>() {
        i.return_consumed_capacity = total;
    } else if let Some(i) = input.downcast_mut::<op::delete_item::DeleteItemInput>() {
        i.return_consumed_capacity = total;
    } else if let Some(i) = input.downcast_mut::<op::query::QueryInput>() {
        i.return_consumed_capacity = total;
    } else if let Some(i) = input.downcast_mut::<op::transact_write_items::TransactWriteItemsInput>() {
        i.return_consumed_capacity = total;
    } else if let Some(i) = input.downcast_mut::<op::transact_get_items::TransactGetItemsInput>() {
        i.return_consumed_capacity = total;
    } else if let Some(i) = input.downcast_mut::<op::batch_get_item::BatchGetItemInput>() {
        i.return_consumed_capacity = total;
    } else if let Some(i) = input.downcast_mut::<op::batch_write_item::BatchWriteItemInput>() {
        i.return_consumed_capacity = total;
    }
}

/// The capacity an operation's output reports.
fn capacity_of(output: &aws_smithy_runtime_api::client::interceptors::context::Output) -> Vec<&ConsumedCapacity> {
    if let Some(o) = output.downcast_ref::<op::get_item::GetItemOutput>() {
        o.consumed_capacity.iter().collect()
    } else if let Some(o) = output.downcast_ref::<op::put_item::PutItemOutput>() {
        o.consumed_capacity.iter().collect()
    } else if let Some(o) = output.downcast_ref::<op::update_item::UpdateItemOutput>() {
        o.consumed_capacity.iter().collect()
    } else if let Some(o) = output.downcast_ref::<op::delete_item::DeleteItemOutput>() {
        o.consumed_capacity.iter().collect()
    } else if let Some(o) = output.downcast_ref::<op::query::QueryOutput>() {
        o.consumed_capacity.iter().collect()
    } else if let Some(o) = output.downcast_ref::<op::transact_write_items::TransactWriteItemsOutput>() {
        o.consumed_capacity.iter().flatten().collect()
    } else if let Some(o) = output.downcast_ref::<op::transact_get_items::TransactGetItemsOutput>() {
        o.consumed_capacity.iter().flatten().collect()
    } else if let Some(o) = output.downcast_ref::<op::batch_get_item::BatchGetItemOutput>() {
        o.consumed_capacity.iter().flatten().collect()
    } else if let Some(o) = output.downcast_ref::<op::batch_write_item::BatchWriteItemOutput>() {
        o.consumed_capacity.iter().flatten().collect()
    } else {
        Vec::new()
    }
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
