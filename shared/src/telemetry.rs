//! Structured JSON logs. Nothing personal is ever passed to a log macro: domain types that
//! hold personal data redact themselves in `Debug`.

use tracing_subscriber::EnvFilter;

pub fn init_json() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(EnvFilter::try_from_env("LOG_LEVEL").unwrap_or_else(|_| EnvFilter::new("info")))
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .try_init();
}

pub fn init_terminal() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("LOG_LEVEL").unwrap_or_else(|_| EnvFilter::new("info")))
        .with_target(false)
        .try_init();
}
