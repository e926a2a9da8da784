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
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    certificate_recovery::telemetry::init_terminal();
    let args = Args::parse();
    let options = Options {
        seed: args.seed.map_or_else(|| Seed::Demo(DemoRegistry::new(None)), Seed::Dir),
        dynamodb_endpoint: args.dynamodb_endpoint,
        ses_endpoint: args.ses_endpoint,
        table: args.table,
        sender: args.sender,
        print_emails: true,
        settings: certificate_recovery::settings::RuleSettings::from_env()?,
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
