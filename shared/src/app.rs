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
    /// The code-hashing key: `None` in a Lambda function whose routes hash nothing
    /// ([`crate::code_hash_secret::CodeHashKeys::None`]), which never reads the secret. Reach it
    /// through [`App::code_hasher`].
    pub hasher: Option<CodeHasher>,
    pub clock: Arc<dyn Clock>,
}

/// A route that hashes reached a function that holds no code-hashing key (its start read no
/// secret): a 503, and nothing changed. Each function's binary holds only its own routes
/// (`lambda::entry`), so this is a wiring mistake that the start plan test guards.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("this function holds no code-hashing key")]
pub struct NoCodeHashKey;

/// What a Lambda function makes ready before its first invocation, besides its settings and
/// clients: the versions of the code-hashing secret its routes use, and the issuer whose keys
/// it fetches so that the first signed-in request verifies at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartPlan {
    pub code_hash_keys: crate::code_hash_secret::CodeHashKeys,
    pub issuer: Option<crate::auth::Issuer>,
}

impl StartPlan {
    /// Whether the function reads the code-hashing secret (and so builds a Secrets Manager client).
    pub fn reads_secret(self) -> bool {
        self.code_hash_keys != crate::code_hash_secret::CodeHashKeys::None
    }
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
    Secret(#[from] crate::code_hash_secret::SecretError),
    #[error("the function reads the code-hashing secret but was given no Secrets Manager client")]
    NoSecretsClient,
}

/// The SDK's own limits: a call that hangs fails fast into a 503 instead of reaching the
/// function's timeout (`Timeout` in `template.yaml`, whose comment gives the arithmetic).
pub fn sdk_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(1))
        .operation_attempt_timeout(std::time::Duration::from_millis(1500))
        .operation_timeout(std::time::Duration::from_secs(3))
        .build()
}

/// The SDK clients a function uses, built once per container. SES v2 only for a function
/// that sends email ([`crate::lambda::Function::sends_email`]): without it the function's
/// mailer refuses ([`NoMail`]).
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sesv2: Option<aws_sdk_sesv2::Client>,
    /// Only for a function that reads the code-hashing secret.
    pub secrets_manager: Option<aws_sdk_secretsmanager::Client>,
}

/// The mailer of a function that sends no email: no SES client is built for it, and a send
/// (which no route of the function makes) is refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMail;

#[async_trait::async_trait]
impl Mailer for NoMail {
    async fn send(
        &self,
        _email: &crate::mailer::Email,
    ) -> Result<crate::mailer::MessageId, crate::mailer::MailerError> {
        Err(crate::mailer::MailerError("this function sends no email (no SES client)".to_owned()))
    }
}

/// The key of the item read at start to open the DynamoDB connection: no item has it (keys
/// are `<KIND>#…`), so the read finds nothing and costs 0.5 read unit.
pub const OPENING_KEY: &str = "connection-opening";

/// Opens the DynamoDB connection before the first invocation: one `GetItem` of a key no item
/// has (an action every function's policy allows), so the TCP and TLS handshakes are paid at
/// init and the first request reuses the pooled connection. Bounded by [`sdk_timeouts`]; a
/// failure is logged and the function starts anyway (its first request then opens the
/// connection, as before).
pub async fn open_dynamodb(client: &aws_sdk_dynamodb::Client, table: &str) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let started = std::time::Instant::now();
    let outcome = client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(OPENING_KEY.to_owned()))
        .key("sk", AttributeValue::S(OPENING_KEY.to_owned()))
        .projection_expression("pk")
        .send()
        .await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match outcome {
        Ok(_) => tracing::debug!(elapsed_ms, "DynamoDB connection opened at start"),
        Err(e) => tracing::warn!(
            elapsed_ms,
            error = %aws_smithy_types::error::display::DisplayErrorContext(&e),
            "the DynamoDB connection could not be opened at start; the first request will open it"
        ),
    }
}

/// A setting that must be there and not blank.
fn required(env: &dyn Fn(&str) -> Option<String>, name: &'static str) -> Result<String, StartupError> {
    env(name).filter(|v| !v.trim().is_empty()).ok_or(StartupError::Missing(name))
}

/// The SES mailer: from `SENDER_ADDRESS`, with the configuration set `SES_CONFIGURATION_SET`
/// (delivery events).
fn ses_mailer(
    client: aws_sdk_sesv2::Client,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Arc<dyn Mailer>, StartupError> {
    let sender = required(env, "SENDER_ADDRESS")?;
    let mailer =
        crate::mailer::ses::SesMailer::new(client, sender).with_configuration_set(env("SES_CONFIGURATION_SET"));
    Ok(Arc::new(mailer))
}

/// The SDK configuration of a Lambda function: the default chain, the SDK's timeouts, the
/// HTTPS client of [`https_client`].
async fn lambda_sdk_config() -> aws_config::SdkConfig {
    aws_config::from_env().timeout_config(sdk_timeouts()).http_client(https_client()).load().await
}

/// The roots of Amazon Trust Services (Amazon Root CA 1 to 4 and Starfield Services Root
/// Certificate Authority - G2, as <https://www.amazontrust.com/repository/> lists them), which
/// issue the certificates of the AWS endpoints the functions call (DynamoDB, SES, Secrets
/// Manager): 5 certificates, 6 KB, parsed when the first connection is made.
const AMAZON_TRUST_SERVICES_ROOTS: &str = include_str!("../certs/amazon-trust-services.pem");

/// The variable naming a PEM bundle the AWS clients trust instead of the compiled-in roots (the
/// name the AWS CLI and SDKs give it): a local endpoint behind its own CA, as the cold-path
/// benchmark's TLS terminator has. Lambda never sets it.
pub const CA_BUNDLE_VARIABLE: &str = "AWS_CA_BUNDLE";

/// The HTTPS client of a Lambda function: the SDK's default one (hyper, rustls with aws-lc)
/// trusting the Amazon Trust Services roots compiled in, rather than reading and parsing the
/// system's CA bundle at start (`rustls-native-certs`: every file of `/etc/ssl/certs` on
/// Debian, `/etc/pki/tls/certs` in Lambda) — the largest part of init after the runtime's own.
/// With [`CA_BUNDLE_VARIABLE`] set, the certificates of that file instead (read here, once);
/// a file that cannot be read or holds no certificate is logged and the compiled-in roots are
/// kept (a malformed certificate in it stops the start at the first connection). No proxy, as
/// Lambda has none (the SDK's default client reads `HTTPS_PROXY`).
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls;
    let compiled_in = || tls::TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS.as_bytes());
    let trust = match std::env::var_os(CA_BUNDLE_VARIABLE) {
        None => compiled_in(),
        Some(path) => match std::fs::read(&path) {
            Ok(pem) if pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") => {
                tls::TrustStore::empty().with_pem_certificate(pem)
            }
            Ok(_) => {
                tracing::error!(path = %path.to_string_lossy(), "AWS_CA_BUNDLE holds no certificate; the compiled-in roots are trusted");
                compiled_in()
            }
            Err(e) => {
                tracing::error!(path = %path.to_string_lossy(), error = %e, "AWS_CA_BUNDLE cannot be read; the compiled-in roots are trusted");
                compiled_in()
            }
        },
    };
    let builder = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc));
    // Building the context only stores the trust store: it cannot fail.
    match tls::TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        Err(_) => builder.build_https(),
    }
}

/// The Secrets Manager client, only for a function that reads the code-hashing secret.
fn secrets_manager_for(config: &aws_config::SdkConfig, plan: StartPlan) -> Option<aws_sdk_secretsmanager::Client> {
    plan.reads_secret().then(|| aws_sdk_secretsmanager::Client::new(config))
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl App {
    /// The one way to build an `App`: the Lambda functions (through
    /// [`App::from_lambda_settings`]), the local API and the tests all come here. The clock is
    /// the system's; [`App::with_clock`] sets another (the tests' manual clock).
    pub fn new(
        settings: RuleSettings,
        store: Arc<dyn Store>,
        mailer: Arc<dyn Mailer>,
        tokens: TokenVerifier,
        hasher: CodeHasher,
    ) -> Self {
        Self { settings, store, mailer, tokens, hasher: Some(hasher), clock: Arc::new(SystemClock) }
    }

    /// The code-hashing key, for the routes that hash (codes, report tokens).
    pub fn code_hasher(&self) -> Result<&CodeHasher, NoCodeHashKey> {
        self.hasher.as_ref().ok_or(NoCodeHashKey)
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The Lambda configuration of a function that sends no email, from the process
    /// environment and the SDK's default chain: no SES client is built, the mailer is
    /// [`NoMail`]. See [`App::from_lambda_settings`] for the rest.
    pub async fn from_lambda_env(plan: StartPlan) -> Result<Self, StartupError> {
        let config = lambda_sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let secrets_manager = secrets_manager_for(&config, plan);
        Self::start(process_env, dynamodb, secrets_manager, plan, |_| Ok(Arc::new(NoMail))).await
    }

    /// The same for a function that sends email: with the SES v2 client and mailer. A separate
    /// entry point (not a flag) so that a function that sends no email never links SES.
    pub async fn from_lambda_env_mailing(plan: StartPlan) -> Result<Self, StartupError> {
        let config = lambda_sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let secrets_manager = secrets_manager_for(&config, plan);
        let sesv2 = aws_sdk_sesv2::Client::new(&config);
        Self::start(process_env, dynamodb, secrets_manager, plan, move |env| ses_mailer(sesv2, env)).await
    }

    /// The Lambda configuration: rule settings, DynamoDB table `TABLE_NAME` (its connection
    /// opened here: [`open_dynamodb`]), SES v2 when `clients` has it, from `SENDER_ADDRESS` with
    /// the configuration set `SES_CONFIGURATION_SET` (delivery events), else the [`NoMail`]
    /// mailer; the versions of the code-hashing secret `plan` names, read from Secrets Manager
    /// at `CODE_HASH_SECRET_ARN` (none, and no ARN needed, for a function that hashes
    /// nothing), all from `env`; the issuers from the process environment (`CITIZEN_*` /
    /// `STAFF_*`), the keys of `plan`'s issuer fetched. The network calls here — the secret,
    /// the DynamoDB opening, the issuer's keys — are made at the same time, once per container.
    pub async fn from_lambda_settings(
        env: impl Fn(&str) -> Option<String>,
        clients: AwsClients,
        plan: StartPlan,
    ) -> Result<Self, StartupError> {
        let AwsClients { dynamodb, sesv2, secrets_manager } = clients;
        Self::start(env, dynamodb, secrets_manager, plan, move |env| match sesv2 {
            Some(client) => ses_mailer(client, env),
            None => Ok(Arc::new(NoMail)),
        })
        .await
    }

    /// What every start does; generic over how the mailer is made, so that a binary links only
    /// the mailer it makes.
    async fn start(
        env: impl Fn(&str) -> Option<String>,
        dynamodb: aws_sdk_dynamodb::Client,
        secrets_manager: Option<aws_sdk_secretsmanager::Client>,
        plan: StartPlan,
        mailer: impl FnOnce(&dyn Fn(&str) -> Option<String>) -> Result<Arc<dyn Mailer>, StartupError>,
    ) -> Result<Self, StartupError> {
        let settings = RuleSettings::from_lookup(&env)?;
        let tokens = TokenVerifier::from_env()?;
        let table = required(&env, "TABLE_NAME")?;
        let mailer = mailer(&env)?;
        use crate::code_hash_secret::CodeHashKeys;
        let secret = match (plan.code_hash_keys, secrets_manager) {
            (CodeHashKeys::None, _) => None,
            (keys, Some(client)) => Some((client, required(&env, crate::code_hash_secret::ARN_VARIABLE)?, keys)),
            (_, None) => return Err(StartupError::NoSecretsClient),
        };
        // The secret, the DynamoDB connection and the issuer's keys, at once: three round trips
        // in the time of the longest.
        let hasher = async {
            match &secret {
                Some((client, arn, keys)) => crate::code_hash_secret::load(client, arn, *keys).await.map(Some),
                None => Ok(None),
            }
        };
        let issuer_keys = async {
            if let Some(issuer) = plan.issuer {
                tokens.fetch_at_start(issuer).await;
            }
        };
        let (hasher, (), ()) = tokio::join!(hasher, open_dynamodb(&dynamodb, &table), issuer_keys);
        let hasher = hasher?;
        let store =
            crate::store::dynamodb::DynamoStore::new(dynamodb, table).with_audit_retention(settings.audit_retention);
        Ok(Self { settings, store: Arc::new(store), mailer, tokens, hasher, clock: Arc::new(SystemClock) })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_compiled_in_roots_are_the_five_of_amazon_trust_services() {
        let roots = super::AMAZON_TRUST_SERVICES_ROOTS;
        assert_eq!(roots.matches("-----BEGIN CERTIFICATE-----").count(), 5);
        assert_eq!(roots.matches("-----END CERTIFICATE-----").count(), 5);
        // Building the client reads no file and parses nothing yet.
        let _client = super::https_client();
    }
}
