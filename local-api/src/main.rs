//! `local-api`: every route on 127.0.0.1:3000 in one process (README: "On a fresh machine").

use clap::Parser;
use local_api::{LocalApi, Options, Seed, demo::DemoRegistry};
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Certificate-file recovery, all routes locally: embedded store, outbox, development tokens")]
struct Args {
    /// Port on 127.0.0.1.
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// A folder with certificates.csv and invoices.csv (and optionally links.csv) to seed
    /// instead of the demo data.
    #[arg(long)]
    seed: Option<PathBuf>,
    /// Use this DynamoDB endpoint (e.g. DynamoDB Local) instead of the embedded store.
    #[arg(long)]
    dynamodb_endpoint: Option<String>,
    /// Send mail through this SES v2 endpoint (e.g. moto) instead of the outbox.
    #[arg(long)]
    ses_endpoint: Option<String>,
    /// Table name with --dynamodb-endpoint (created when missing).
    #[arg(long, env = "TABLE_NAME", default_value = "certificate-recovery-local")]
    table: String,
    /// Sender address with --ses-endpoint (its domain identity is created when missing).
    #[arg(long, env = "SENDER_ADDRESS", default_value = "no-reply@opc.local.test")]
    sender: String,
    /// Verify tokens against the issuers of the environment, as in Lambda (CITIZEN_ISSUER,
    /// CITIZEN_AUDIENCE, CITIZEN_JWKS_URL…, the same STAFF_*) instead of the development
    /// issuer, e.g. an OpenID provider on this machine (plain http to loopback only).
    #[arg(long)]
    issuers_from_env: bool,
    /// The holder's page's config.json (a file), instead of local mode.
    #[arg(long)]
    web_config: Option<PathBuf>,
    /// The Office's page's config.json (a file), instead of local mode.
    #[arg(long)]
    agent_web_config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    certificate_recovery::telemetry::init_terminal();
    let args = Args::parse();
    let read = |path: Option<PathBuf>| path.map(std::fs::read_to_string).transpose();
    let pages = local_api::web::PageConfigs::new(read(args.web_config)?, read(args.agent_web_config)?)?;
    let options = Options {
        seed: args.seed.map_or_else(|| Seed::Demo(DemoRegistry::new(None)), Seed::Dir),
        dynamodb_endpoint: args.dynamodb_endpoint,
        ses_endpoint: args.ses_endpoint,
        table: args.table,
        sender: args.sender,
        print_emails: true,
        settings: certificate_recovery::settings::RuleSettings::from_env()?,
        issuers_from_env: args.issuers_from_env,
        pages,
        ..Options::new(args.port)
    };
    let api = LocalApi::build(options).await?;
    println!("Certificate-file recovery — local API on http://{}", api.address);
    println!("  token:  curl -s -X POST http://{}/dev/token -d '{{\"sub\":\"moi\"}}'", api.address);
    println!("  emails: curl -s http://{}/dev/outbox", api.address);
    api.run_until_stopped(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    Ok(())
}
