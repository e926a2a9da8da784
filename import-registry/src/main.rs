//! `import-registry`: loads `certificates.csv` and `invoices.csv` (the registry's CSV format, README "Loading the registry") into the recovery
//! table. Streams the files (memory stays flat whatever their size), validates every row and
//! reports bad ones by line and reason without writing them, upserts good rows in batches of
//! 25 (a re-import never drops a link or an audit event: those are other items), and exits
//! non-zero when any row was rejected.

use certificate_recovery::seed::{self, RowError};
use certificate_recovery::store::EmployeeEmail;
use certificate_recovery::store::dynamodb::{DynamoStore, RegistryBatch, RegistryRow};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use tokio::task::JoinSet;

const BATCH: usize = 25;
/// Batches in flight at once: enough to keep DynamoDB busy, few enough to keep memory flat.
const IN_FLIGHT: usize = 8;

#[derive(Parser)]
#[command(about = "Load the Office's registry (certificates.csv, invoices.csv) into the recovery table")]
struct Args {
    /// certificates.csv: certificate_number,holder_name,date_of_birth,email,phone,language,status,expires_on
    #[arg(long)]
    certificates: Option<PathBuf>,
    /// invoices.csv: invoice_number,certificate_number,issued_on,amount
    #[arg(long)]
    invoices: Option<PathBuf>,
    /// A DynamoDB endpoint (DynamoDB Local; the table is created there when missing); AWS's
    /// otherwise.
    #[arg(long)]
    dynamodb_endpoint: Option<String>,
    /// The table (the stack's `TableName` output).
    #[arg(long, env = "TABLE_NAME")]
    table: String,
    /// Validate only: read and check every row, write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Put the registry's email over an email an employee set after a phone call. Without it,
    /// the employee's email is kept (the registry may predate the call) and counted.
    #[arg(long)]
    replace_employee_emails: bool,
}

#[derive(Default)]
struct Tally {
    read: u64,
    imported: u64,
    rejected: u64,
    batches: u64,
    retries: u64,
    /// Files whose employee-set email was kept over a different registry email.
    kept_employee_emails: u64,
}

/// Counts the bytes read, for the progress bar.
struct Counting<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

fn progress(path: &Path) -> std::io::Result<(Counting<std::fs::File>, ProgressBar)> {
    let file = std::fs::File::open(path)?;
    let bar = ProgressBar::new(file.metadata()?.len());
    bar.set_style(
        ProgressStyle::with_template("{msg:>16} [{bar:30}] {bytes}/{total_bytes} {elapsed} eta {eta}")
            .expect("template")
            .progress_chars("=> "),
    );
    bar.set_message(path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
    Ok((Counting { inner: file, bar: bar.clone() }, bar))
}

async fn store(args: &Args) -> DynamoStore {
    let config = certificate_recovery::local_aws::sdk_config().await;
    DynamoStore::new(certificate_recovery::local_aws::dynamodb(&config, args.dynamodb_endpoint.as_deref()), &args.table)
}

struct Importer {
    store: Option<Arc<DynamoStore>>,
    batch: Vec<RegistryRow>,
    keys: HashSet<String>,
    /// Keys of the batches sent and maybe not written yet: a row repeating one waits for them,
    /// so the last row of a key is the one that stays.
    keys_in_flight: HashSet<String>,
    in_flight: JoinSet<Result<(RegistryBatch, usize), String>>,
    tally: Tally,
    employee_email: EmployeeEmail,
}

impl Importer {
    async fn push(&mut self, row: RegistryRow) -> Result<(), String> {
        // A batch may not name an item twice: a repeated row starts a new batch (last wins).
        if self.keys.contains(&row.key()) {
            self.flush().await?;
        }
        self.keys.insert(row.key());
        self.batch.push(row);
        if self.batch.len() == BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), String> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.batch);
        let keys = std::mem::take(&mut self.keys);
        self.tally.batches += 1;
        let Some(store) = self.store.clone() else {
            self.tally.imported += rows.len() as u64;
            return Ok(());
        };
        if !self.keys_in_flight.is_disjoint(&keys) {
            while !self.in_flight.is_empty() {
                self.settle_one().await?;
            }
        }
        if self.in_flight.is_empty() {
            self.keys_in_flight.clear();
        }
        self.keys_in_flight.extend(keys);
        while self.in_flight.len() >= IN_FLIGHT {
            self.settle_one().await?;
        }
        let employee_email = self.employee_email;
        self.in_flight.spawn(async move {
            let batch = store.put_registry_batch(&rows, employee_email).await.map_err(|e| e.to_string())?;
            Ok((batch, rows.len()))
        });
        Ok(())
    }

    async fn settle_one(&mut self) -> Result<(), String> {
        if let Some(done) = self.in_flight.join_next().await {
            let (batch, written) = done.map_err(|e| e.to_string())??;
            self.tally.retries += batch.retries as u64;
            self.tally.kept_employee_emails += batch.kept_employee_emails as u64;
            self.tally.imported += written as u64;
        }
        Ok(())
    }

    async fn finish(&mut self) -> Result<(), String> {
        self.flush().await?;
        while !self.in_flight.is_empty() {
            self.settle_one().await?;
        }
        Ok(())
    }

    async fn rows<T>(
        &mut self,
        file: &str,
        rows: Result<impl Iterator<Item = Result<T, RowError>>, RowError>,
        into: impl Fn(T) -> RegistryRow,
    ) -> Result<(), String> {
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                self.tally.rejected += 1;
                eprintln!("{file}: {e}");
                return Ok(());
            }
        };
        for row in rows {
            self.tally.read += 1;
            match row {
                Ok(row) => self.push(into(row)).await?,
                Err(e) => {
                    self.tally.rejected += 1;
                    eprintln!("{file}: {e}");
                }
            }
        }
        Ok(())
    }
}

/// Peak resident memory of this process (Linux), for the summary.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.certificates.is_none() && args.invoices.is_none() {
        eprintln!("import-registry: give --certificates FILE, --invoices FILE, or both");
        return ExitCode::from(2);
    }
    let started = Instant::now();
    let store = if args.dry_run { None } else { Some(Arc::new(store(&args).await)) };
    if let (Some(store), Some(_)) = (&store, &args.dynamodb_endpoint)
        && let Err(e) = store.create_table_if_missing().await
    {
        eprintln!("import-registry: {e}");
        return ExitCode::from(1);
    }
    let mut importer = Importer {
        store,
        batch: Vec::new(),
        keys: HashSet::new(),
        keys_in_flight: HashSet::new(),
        in_flight: JoinSet::new(),
        tally: Tally::default(),
        employee_email: if args.replace_employee_emails { EmployeeEmail::Replace } else { EmployeeEmail::Keep },
    };
    let today = time::OffsetDateTime::now_utc().date();
    let result = async {
        if let Some(path) = &args.certificates {
            let (reader, bar) = progress(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let name = path.display().to_string();
            importer.rows(&name, seed::certificates(reader, today), RegistryRow::Certificate).await?;
            importer.finish().await?;
            bar.finish_and_clear();
        }
        if let Some(path) = &args.invoices {
            let (reader, bar) = progress(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let name = path.display().to_string();
            importer.rows(&name, seed::invoices(reader), RegistryRow::Invoice).await?;
            importer.finish().await?;
            bar.finish_and_clear();
        }
        Ok::<(), String>(())
    }
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    let t = &importer.tally;
    let verb = if args.dry_run { "valid (dry run, nothing written)" } else { "imported" };
    eprintln!(
        "rows read: {}, {verb}: {}, rejected: {}, employee emails kept: {}, batches: {}, retries: {}, {:.1} s, {:.0} rows/s, peak RSS {} MiB",
        t.read,
        t.imported,
        t.rejected,
        t.kept_employee_emails,
        t.batches,
        t.retries,
        elapsed,
        t.read as f64 / elapsed.max(0.001),
        peak_rss_kib().map_or("?".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0)),
    );
    match result {
        Err(e) => {
            eprintln!("import-registry: stopped: {e}");
            ExitCode::from(1)
        }
        Ok(()) if t.rejected > 0 => ExitCode::from(1),
        Ok(()) => ExitCode::SUCCESS,
    }
}
