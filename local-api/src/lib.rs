//! The local API: every route on 127.0.0.1 in one process, calling the very handlers the
//! Lambda functions run, with an embedded store seeded with demo data, an outbox instead of
//! SES, and a development token issuer (README: "On a fresh machine").

pub mod demo;
mod dev_routes;
pub mod notices;
mod server;
pub mod web;

use certificate_recovery::auth::{IssuerSettings, IssuerVerifier, JwksSource, TokenVerifier};
use certificate_recovery::clock::{Clock, SystemClock};
use certificate_recovery::dev_issuer::DevIssuer;
use certificate_recovery::mailer::{Mailer, outbox::Outbox, ses::SesMailer};
use certificate_recovery::security_code_hash::CodeHasher;
use certificate_recovery::settings::RuleSettings;
use certificate_recovery::store::{Store, dynamodb::DynamoStore, memory::MemoryStore};
use certificate_recovery::{App, iam_recording, local_aws};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub const AUDIENCE: &str = "certificate-recovery-local";
/// The development issuers (the same in `dev/lambda.env`).
pub const CITIZEN_ISSUER: &str = "urn:opc:dev:citizen";
pub const STAFF_ISSUER: &str = "urn:opc:dev:staff";

/// What the store starts with.
#[derive(Debug, Clone)]
pub enum Seed {
    /// The demo registry (`seed/demo/`).
    Demo(demo::DemoRegistry),
    /// A folder with `certificates.csv`, `invoices.csv` and optionally `links.csv`.
    Dir(PathBuf),
}

#[derive(Clone)]
pub struct Options {
    pub port: u16,
    pub seed: Seed,
    pub dynamodb_endpoint: Option<String>,
    pub ses_endpoint: Option<String>,
    pub table: String,
    pub sender: String,
    pub print_emails: bool,
    pub settings: RuleSettings,
    pub clock: Arc<dyn Clock>,
    /// Wraps the store the routes use, once seeded (the tests' fault layer and call log).
    pub wrap_store: Option<StoreWrap>,
    /// Wraps the mailer the routes use (the tests' fault layer).
    pub wrap_mailer: Option<MailerWrap>,
    /// Rebuilds the DynamoDB client before the store is made (the benchmark's capacity meter, an
    /// SDK interceptor).
    pub wrap_dynamodb: Option<DynamoDbWrap>,
    /// Verify tokens against the issuers of the environment (`CITIZEN_*`, `STAFF_*`, as in
    /// Lambda) instead of the development issuer: a real OpenID provider on this machine.
    pub issuers_from_env: bool,
    /// The pages' `config.json`s, instead of local mode (`oidc` mode against those issuers).
    pub pages: web::PageConfigs,
}

pub type StoreWrap = Arc<dyn Fn(Arc<dyn Store>) -> Arc<dyn Store> + Send + Sync>;
pub type MailerWrap = Arc<dyn Fn(Arc<dyn Mailer>) -> Arc<dyn Mailer> + Send + Sync>;
pub type DynamoDbWrap = Arc<dyn Fn(aws_sdk_dynamodb::Client) -> aws_sdk_dynamodb::Client + Send + Sync>;

impl Options {
    pub fn new(port: u16) -> Self {
        Self {
            port,
            seed: Seed::Demo(demo::DemoRegistry::new(None)),
            dynamodb_endpoint: None,
            ses_endpoint: None,
            table: "certificate-recovery-local".into(),
            sender: "no-reply@opc.local.test".into(),
            print_emails: false,
            settings: RuleSettings::default(),
            clock: Arc::new(SystemClock),
            wrap_store: None,
            wrap_mailer: None,
            wrap_dynamodb: None,
            issuers_from_env: false,
            pages: web::PageConfigs::default(),
        }
    }
}

/// The running local API.
pub struct LocalApi {
    pub address: SocketAddr,
    pub app: Arc<App>,
    /// The outbox, unless mail goes to an SES endpoint.
    pub outbox: Option<Arc<Outbox>>,
    pub issuer: Arc<DevIssuer>,
    pub citizen_issuer: String,
    pub staff_issuer: String,
    dev: Arc<dev_routes::Dev>,
    /// Bound by [`LocalApi::build`], until serving takes it.
    listener: Option<tokio::net::TcpListener>,
    /// Serving in the background, after [`LocalApi::start`].
    background: Option<(tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
    #[error("seed: {0}")]
    Seed(#[from] certificate_recovery::seed::SeedError),
    #[error("store: {0}")]
    Store(#[from] certificate_recovery::store::StoreError),
    #[error("SES endpoint: {0}")]
    Ses(String),
    #[error("CODE_HASH_SECRET: {0}")]
    Secret(#[from] certificate_recovery::security_code_hash::WeakSecret),
    #[error("issuers: {0}")]
    Issuers(#[from] certificate_recovery::auth::AuthConfigError),
}

async fn store(options: &Options) -> Result<Arc<dyn Store>, StartError> {
    let retention = options.settings.audit_retention;
    let Some(endpoint) = &options.dynamodb_endpoint else {
        return Ok(Arc::new(MemoryStore::new().with_audit_retention(retention)));
    };
    let mut client = local_aws::dynamodb(&local_aws::sdk_config().await, Some(endpoint));
    if let Some(wrap) = &options.wrap_dynamodb {
        client = wrap(client);
    }
    let store = DynamoStore::new(client, &options.table).with_audit_retention(retention);
    store.create_table_if_missing().await?;
    if iam_recording::Recorder::from_env().is_some() {
        // The tests' IAM recording also names the store method of each call.
        return Ok(Arc::new(iam_recording::RecordingStore::new(store)));
    }
    Ok(Arc::new(store))
}

async fn mailer(options: &Options) -> Result<(Arc<dyn Mailer>, Option<Arc<Outbox>>), StartError> {
    let Some(endpoint) = &options.ses_endpoint else {
        let outbox = Arc::new(if options.print_emails { Outbox::printing() } else { Outbox::new() });
        return Ok((outbox.clone(), Some(outbox)));
    };
    let client = local_aws::sesv2(&local_aws::sdk_config().await, Some(endpoint));
    let domain = options.sender.rsplit_once('@').map_or(options.sender.as_str(), |(_, d)| d);
    if let Err(e) = client.create_email_identity().email_identity(domain).send().await {
        use aws_sdk_sesv2::error::ProvideErrorMetadata;
        if e.code() != Some("AlreadyExistsException") {
            return Err(StartError::Ses(e.code().unwrap_or("transport_error").to_owned()));
        }
    }
    Ok((Arc::new(SesMailer::new(client, &options.sender)), None))
}

fn hasher() -> Result<CodeHasher, StartError> {
    let secret = std::env::var("CODE_HASH_SECRET").unwrap_or_else(|_| certificate_recovery::ids::random_hex(32));
    Ok(CodeHasher::new(&secrecy::SecretString::from(secret))?)
}

async fn seed(store: &dyn Store, options: &Options) -> Result<(), StartError> {
    let now = options.clock.now();
    match &options.seed {
        Seed::Dir(dir) => certificate_recovery::seed::load_dir(store, dir, now).await?,
        Seed::Demo(registry) => certificate_recovery::seed::load(store, registry.files(), now).await?,
    };
    Ok(())
}

impl LocalApi {
    /// Binds 127.0.0.1 (`port` 0 picks a free one), seeds the store and builds the [`App`]
    /// the routes use; serving starts with [`LocalApi::run_until_stopped`] or
    /// [`LocalApi::start`].
    pub async fn build(options: Options) -> Result<Self, StartError> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], options.port))).await?;
        let address = listener.local_addr()?;
        let citizen_issuer = CITIZEN_ISSUER.to_owned();
        let staff_issuer = STAFF_ISSUER.to_owned();
        let issuer = Arc::new(DevIssuer::development());
        let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(issuer.jwks()).expect("dev JWKS");
        let verifier = |iss: &str| {
            IssuerVerifier::new(IssuerSettings {
                issuer: iss.to_owned(),
                audience: AUDIENCE.to_owned(),
                algorithm: jsonwebtoken::Algorithm::RS256,
                jwks: JwksSource::Inline(jwks.clone()),
            })
        };
        let tokens = if options.issuers_from_env {
            TokenVerifier::from_env()?
        } else {
            TokenVerifier { citizen: verifier(&citizen_issuer), staff: Some(verifier(&staff_issuer)) }
        };
        let mut store = store(&options).await?;
        seed(store.as_ref(), &options).await?;
        if let Some(wrap) = &options.wrap_store {
            store = wrap(store);
        }
        let (mut mailer, outbox) = mailer(&options).await?;
        if let Some(wrap) = &options.wrap_mailer {
            mailer = wrap(mailer);
        }
        // The notices' "this wasn't me" links lead to this server's page unless told otherwise.
        let mut settings = options.settings.clone();
        if settings.holder_page_url == RuleSettings::default().holder_page_url {
            settings.holder_page_url = format!("http://{address}");
        }
        let app = Arc::new(App::new(settings, store, mailer, tokens, hasher()?).with_clock(options.clock.clone()));
        let dev = Arc::new(dev_routes::Dev {
            issuer: issuer.clone(),
            citizen_issuer: citizen_issuer.clone(),
            staff_issuer: staff_issuer.clone(),
            outbox: outbox.clone(),
            pages: options.pages.clone(),
        });
        Ok(Self {
            address,
            app,
            outbox,
            issuer,
            citizen_issuer,
            staff_issuer,
            dev,
            listener: Some(listener),
            background: None,
        })
    }

    /// Builds and serves in the background, until [`LocalApi::stop`] (the tests).
    pub async fn start(options: Options) -> Result<Self, StartError> {
        let mut api = Self::build(options).await?;
        if let Some(listener) = api.listener.take() {
            let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
            let stopped = async move {
                let _ = stopped.await;
            };
            let task = tokio::spawn(server::serve(listener, api.app.clone(), api.dev.clone(), stopped));
            api.background = Some((shutdown, task));
        }
        Ok(api)
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Serves on this task until `stop` resolves (the binary: Ctrl-C). After
    /// [`LocalApi::start`] it is already serving, and this returns at once.
    pub async fn run_until_stopped(self, stop: impl std::future::Future<Output = ()> + Send) {
        if let Some(listener) = self.listener {
            server::serve(listener, self.app, self.dev, stop).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// A citizen token for `sub`.
    pub fn citizen_token(&self, sub: &str) -> String {
        self.issuer.token(&self.citizen_issuer, AUDIENCE, sub, &[], 3600)
    }

    /// A staff token for `sub` with `roles`.
    pub fn staff_token(&self, sub: &str, roles: &[&str]) -> String {
        let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
        self.issuer.token(&self.staff_issuer, AUDIENCE, sub, &roles, 3600)
    }

    /// Stops serving (what [`LocalApi::start`] started) and waits for it.
    pub async fn stop(self) {
        if let Some((shutdown, task)) = self.background {
            let _ = shutdown.send(());
            let _ = task.await;
        }
    }
}
