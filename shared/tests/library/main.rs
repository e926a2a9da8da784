//! The library's tests, one test crate: the store contract (memory and DynamoDB Local), the
//! SES v2 adapter and its logs (moto), and the parsing properties. `code_hash_secret.rs` stays
//! a binary of its own: it sets the process environment before any thread starts.

mod emulators;

mod parsing_properties;
mod ses_logs;
mod ses_mailer;
mod store_contract;
