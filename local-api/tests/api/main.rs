//! The local API's end-to-end tests, one test crate (as zero2prod's `tests/api/`): every
//! module starts the whole local API with [`common::spawn_app`] (or its variants) on the
//! memory store and outbox, and again on DynamoDB Local and moto when the test command
//! started them (`on_both_backends!`).

#[macro_use]
mod common;
mod fault_layer;

mod abuse;
mod assistance_desk;
mod dynamodb_outage;
mod enumeration;
mod events;
mod fault_matrix;
mod hostile_input;
mod iam_parity;
mod invoice_link_notice;
mod limits_across_sessions;
mod parity;
mod races;
mod recovery_paths;
mod rules_doc;
mod takeover_defences;
mod template;
mod tokens;
mod web_pages;
