//! Structured JSON logs. Nothing personal is ever passed to a log macro: domain types that
//! hold personal data redact themselves in `Debug`.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// `LOG_LEVEL` (error, warn, info, debug, trace); info when unset or unknown. A plain level
/// rather than an `EnvFilter`: it keeps the regex engine out of every bootstrap.
fn level() -> LevelFilter {
    std::env::var("LOG_LEVEL").ok().and_then(|l| l.trim().parse().ok()).unwrap_or(LevelFilter::INFO)
}

/// Our own code logs at `level`; every other crate at most at INFO, whatever `level` says.
/// The AWS SDK's and smithy's DEBUG/TRACE lines print response bodies (a DynamoDB item, an SES
/// error quoting an address) and its spans nest in ours; the Lambda runtime's TRACE line prints
/// the raw invocation event (token, body). A prefix list, not an `EnvFilter`: no regex engine.
pub fn filter(level: LevelFilter) -> Targets {
    Targets::new().with_target("certificate_recovery", level).with_default(level.min(LevelFilter::INFO))
}

/// The Lambda functions' subscriber: JSON lines to `writer`, each with an RFC 3339 `timestamp`
/// and a `level` (Lambda's log-level filtering of JSON logs reads both), filtered by
/// [`filter`].
pub fn json_subscriber<W>(level: LevelFilter, writer: W) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::registry()
        .with(filter(level))
        .with(tracing_subscriber::fmt::layer().json().with_current_span(false).with_target(false).with_writer(writer))
}

pub fn init_json() {
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = json_subscriber(level(), std::io::stdout).try_init();
}

pub fn init_terminal() {
    let _ = tracing_subscriber::fmt().with_max_level(level()).with_target(false).try_init();
}

/// A writer that keeps every line written, for tests that read the logs back (that no code,
/// address or secret is in them).
#[derive(Clone, Default)]
pub struct LogCapture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogCapture {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }

    /// Every line written so far, as JSON.
    pub fn lines(&self) -> Vec<serde_json::Value> {
        self.text().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'w> MakeWriter<'w> for LogCapture {
    type Writer = LogCapture;
    fn make_writer(&'w self) -> LogCapture {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logged(level: LevelFilter, emit: impl FnOnce()) -> Vec<serde_json::Value> {
        let capture = LogCapture::default();
        tracing::subscriber::with_default(json_subscriber(level, capture.clone()), emit);
        capture.lines()
    }

    /// Lambda's log-level filtering of JSON logs reads `level` and an RFC 3339 `timestamp`;
    /// a line without a timestamp is treated as INFO whatever its level.
    #[test]
    fn every_line_has_an_rfc3339_timestamp_and_a_level() {
        let lines = logged(LevelFilter::INFO, || {
            tracing::warn!(target: "certificate_recovery::test", "a warning");
            tracing::info!(target: "certificate_recovery::test", "some news");
        });
        assert_eq!(lines.len(), 2, "{lines:?}");
        for (line, level) in lines.iter().zip(["WARN", "INFO"]) {
            assert_eq!(line["level"], level, "{line}");
            let timestamp = line["timestamp"].as_str().unwrap_or_else(|| panic!("no timestamp: {line}"));
            time::OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|e| panic!("{timestamp} is not RFC 3339: {e}"));
        }
    }

    /// At `LOG_LEVEL=trace` our own lines pass at every level, while the AWS SDK, smithy,
    /// hyper and the Lambda runtime — whose DEBUG/TRACE lines print request and response
    /// bodies, errors with raw responses and the raw invocation event — stop at INFO.
    #[test]
    fn other_crates_stop_at_info_whatever_the_level() {
        let lines = logged(LevelFilter::TRACE, || {
            tracing::trace!(target: "certificate_recovery::store", "own trace");
            tracing::debug!(target: "certificate_recovery::store", "own debug");
            tracing::trace!(target: "aws_smithy_runtime::client::orchestrator", request = "BODY", "transmitting request");
            tracing::debug!(target: "aws_smithy_runtime::client::orchestrator", err = "RAW", "orchestrator error");
            tracing::debug!(target: "aws_sdk_sesv2::operation::send_email", "request id");
            tracing::trace!(target: "aws_sigv4::http_request", "canonical request");
            tracing::debug!(target: "aws_config::meta", "credentials");
            tracing::trace!(target: "lambda_runtime::layers::api_response", body = "EVENT", "raw JSON event");
            tracing::debug!(target: "hyper_util::client::legacy::pool", "pooling");
            tracing::trace!(target: "rustls::client", "handshake");
            tracing::info!(target: "aws_config::loader", "an SDK notice");
            tracing::warn!(target: "lambda_runtime", "a runtime warning");
        });
        let messages: Vec<&str> = lines.iter().map(|l| l["fields"]["message"].as_str().unwrap()).collect();
        assert_eq!(messages, ["own trace", "own debug", "an SDK notice", "a runtime warning"]);
    }

    /// With `LOG_LEVEL=error`, the cap never raises another crate above the level asked for.
    #[test]
    fn the_cap_never_raises_a_lower_level() {
        let lines = logged(LevelFilter::ERROR, || {
            tracing::info!(target: "aws_config::loader", "an SDK notice");
            tracing::warn!(target: "certificate_recovery::store", "own warning");
            tracing::error!(target: "certificate_recovery::store", "own error");
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0]["fields"]["message"], "own error");
    }
}
