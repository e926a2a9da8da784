//! The local API: every route on 127.0.0.1 in one process, calling the very handlers the
//! Lambda functions run, with an embedded store seeded with demo data, an outbox instead of
//! SES, and a development token issuer (SPEC §5).

mod dev_routes;
mod server;
mod web;

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

/// The demo data kept in the repository, used when no `--seed` is given.
const DEMO_CERTIFICATES: &str = include_str!("../../seed/demo/certificates.csv");
const DEMO_INVOICES: &str = include_str!("../../seed/demo/invoices.csv");
const DEMO_LINKS: &str = include_str!("../../seed/demo/links.csv");

#[derive(Clone)]
pub struct Options {
    pub port: u16,
    pub seed: Option<PathBuf>,
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
}

pub type StoreWrap = Arc<dyn Fn(Arc<dyn Store>) -> Arc<dyn Store> + Send + Sync>;
pub type MailerWrap = Arc<dyn Fn(Arc<dyn Mailer>) -> Arc<dyn Mailer> + Send + Sync>;

impl Options {
    pub fn new(port: u16) -> Self {
        Self {
            port,
            seed: None,
            dynamodb_endpoint: None,
            ses_endpoint: None,
            table: "certificate-recovery-local".into(),
            sender: "no-reply@opc.local.test".into(),
            print_emails: false,
            settings: RuleSettings::default(),
            clock: Arc::new(SystemClock),
            wrap_store: None,
            wrap_mailer: None,
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
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
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
}

async fn store(options: &Options) -> Result<Arc<dyn Store>, StartError> {
    let retention = options.settings.audit_retention;
    let Some(endpoint) = &options.dynamodb_endpoint else {
        return Ok(Arc::new(MemoryStore::new().with_audit_retention(retention)));
    };
    let client = local_aws::dynamodb(&local_aws::sdk_config().await, Some(endpoint));
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
    let today = now.date();
    match &options.seed {
        Some(dir) => {
            certificate_recovery::seed::load_dir(store, dir, today).await?;
            if let Ok(links) = std::fs::File::open(dir.join("links.csv")) {
                certificate_recovery::seed::load_links(store, links, now).await?;
            }
        }
        None => {
            let files = certificate_recovery::seed::certificates(DEMO_CERTIFICATES.as_bytes(), today)
                .expect("demo header")
                .collect::<Result<Vec<_>, _>>()
                .expect("demo certificates are valid");
            for file in &files {
                store.upsert_certificate(file, certificate_recovery::store::EmployeeEmail::Keep).await?;
            }
            for invoice in certificate_recovery::seed::invoices(DEMO_INVOICES.as_bytes()).expect("demo header") {
                store.upsert_invoice(&invoice.expect("demo invoices are valid")).await?;
            }
            certificate_recovery::seed::load_links(store, DEMO_LINKS.as_bytes(), now).await?;
        }
    }
    Ok(())
}

impl LocalApi {
    /// Starts the local API on 127.0.0.1 (`port` 0 picks a free one).
    pub async fn start(options: Options) -> Result<Self, StartError> {
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
        let tokens = TokenVerifier { citizen: verifier(&citizen_issuer), staff: Some(verifier(&staff_issuer)) };
        let mut store = store(&options).await?;
        seed(store.as_ref(), &options).await?;
        if let Some(wrap) = &options.wrap_store {
            store = wrap(store);
        }
        let (mut mailer, outbox) = mailer(&options).await?;
        if let Some(wrap) = &options.wrap_mailer {
            mailer = wrap(mailer);
        }
        let app = Arc::new(App {
            settings: options.settings.clone(),
            store,
            mailer,
            tokens,
            hasher: hasher()?,
            clock: options.clock.clone(),
        });
        let dev = Arc::new(dev_routes::Dev {
            issuer: issuer.clone(),
            citizen_issuer: citizen_issuer.clone(),
            staff_issuer: staff_issuer.clone(),
            outbox: outbox.clone(),
        });
        let (shutdown, stopped) = tokio::sync::oneshot::channel();
        let server = tokio::spawn(server::serve(listener, app.clone(), dev, stopped));
        Ok(Self { address, app, outbox, issuer, citizen_issuer, staff_issuer, shutdown: Some(shutdown), server })
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

    /// Serves until Ctrl-C.
    pub async fn wait(mut self) {
        let _ = (&mut self.server).await;
    }

    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let _ = (&mut self.server).await;
    }
}
