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
        let hasher = CodeHasher::new(&secret)?;
        let table = required("TABLE_NAME")?;
        let sender = required("SENDER_ADDRESS")?;
        let config = aws_config::load_from_env().await;
        let store = crate::store::dynamodb::DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table);
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
