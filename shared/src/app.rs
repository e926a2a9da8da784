//! Everything a handler needs, built once per container.

use crate::auth::TokenVerifier;
use crate::clock::{Clock, SystemClock};
use crate::mailer::Mailer;
use crate::security_code_hash::CodeHasher;
use crate::settings::RuleSettings;
use crate::store::Store;
use std::sync::Arc;

pub struct App {
    pub settings: RuleSettings,
    pub store: Arc<dyn Store>,
    pub mailer: Arc<dyn Mailer>,
    pub tokens: TokenVerifier,
    pub hasher: CodeHasher,
    pub clock: Arc<dyn Clock>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Setting(#[from] crate::settings::SettingError),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthConfigError),
    #[error("setting {0} is missing")]
    Missing(&'static str),
    #[error(transparent)]
    Secret(#[from] crate::security_code_hash::WeakSecret),
}

/// The SDK's own limits: a call that hangs fails fast into a 503 instead of reaching the
/// function's timeout (20 s in `template.yaml`, above four sequential operations).
pub fn sdk_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(1))
        .operation_attempt_timeout(std::time::Duration::from_millis(1500))
        .operation_timeout(std::time::Duration::from_secs(3))
        .build()
}

fn required(name: &'static str) -> Result<String, StartupError> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty()).ok_or(StartupError::Missing(name))
}

impl App {
    /// The Lambda configuration: DynamoDB table `TABLE_NAME`, SES v2 from `SENDER_ADDRESS`,
    /// issuers from `CITIZEN_*` / `STAFF_*`, the code-hashing secret `CODE_HASH_SECRET`.
    /// Builds the SDK clients once; nothing touches the network here.
    pub async fn from_lambda_env() -> Result<Self, StartupError> {
        let settings = RuleSettings::from_env()?;
        let tokens = TokenVerifier::from_env()?;
        let secret = secrecy::SecretString::from(required("CODE_HASH_SECRET")?);
        let hasher = match std::env::var("CODE_HASH_SECRET_PREVIOUS").ok().filter(|v| !v.is_empty()) {
            Some(previous) => CodeHasher::rotating(&secret, &secrecy::SecretString::from(previous))?,
            None => CodeHasher::new(&secret)?,
        };
        let table = required("TABLE_NAME")?;
        let sender = required("SENDER_ADDRESS")?;
        let config = aws_config::from_env().timeout_config(sdk_timeouts()).load().await;
        let store = crate::store::dynamodb::DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table)
            .with_audit_retention(settings.audit_retention);
        let mailer = crate::mailer::ses::SesMailer::new(aws_sdk_sesv2::Client::new(&config), sender);
        Ok(Self {
            settings,
            store: Arc::new(store),
            mailer: Arc::new(mailer),
            tokens,
            hasher,
            clock: Arc::new(SystemClock),
        })
    }
}
