//! Structured JSON logs. Nothing personal is ever passed to a log macro: domain types that
//! hold personal data redact themselves in `Debug`.

use tracing::level_filters::LevelFilter;

/// `LOG_LEVEL` (error, warn, info, debug, trace); info when unset or unknown. A plain level
/// rather than an `EnvFilter`: it keeps the regex engine out of every bootstrap.
fn level() -> LevelFilter {
    std::env::var("LOG_LEVEL").ok().and_then(|l| l.trim().parse().ok()).unwrap_or(LevelFilter::INFO)
}

pub fn init_json() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_max_level(level())
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .try_init();
}

pub fn init_terminal() {
    let _ = tracing_subscriber::fmt().with_max_level(level()).with_target(false).try_init();
}
