//! Certificate-file recovery for the Office de la protection du consommateur: the rules of
//! `SPEC.md`, the store and mailer ports with their adapters, and the HTTP handlers every
//! Lambda function and the local API run.

pub mod app;
pub mod assistance_desk;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod code_hash_secret;
pub mod delivery;
pub mod domain;
pub mod error_code;
pub mod http;
pub mod iam_recording;
pub mod ids;
mod jwks_fetch;
pub mod lambda;
pub mod local_aws;
pub mod mailer;
pub mod recovery;
pub mod report;
pub mod security_code_hash;
pub mod seed;
pub mod settings;
pub mod store;
pub mod telemetry;
pub mod time_format;

#[cfg(any(test, feature = "dev-issuer"))]
pub mod dev_issuer;

pub use app::App;
