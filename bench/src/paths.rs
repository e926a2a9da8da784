//! `scripts/bench-paths.sh`: every route on its common and failure paths, walked in process
//! against DynamoDB Local through the store the Lambda functions use, with the capacity meter
//! on its client: the DynamoDB calls (round trips) and SES sends of each route beside the
//! minimum its rule allows, the capacity units each path consumes, and what a million
//! recoveries in a day cost. Prints markdown and writes it to `--out`.

use bench::meter::{Meter, Reading};
use bench::walk::{Observer, Path_, Step, Walker, options, registry};
use clap::Parser;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

#[derive(Parser)]
struct Args {
    /// DynamoDB Local.
    #[arg(long, env = "DYNAMODB_ENDPOINT")]
    dynamodb_endpoint: String,
    /// Walks per path (each on its own certificate file and account).
    #[arg(long, default_value_t = 5)]
    walks: usize,
    /// Where the markdown goes.
    #[arg(long, default_value = "bench/results-paths.md")]
    out: std::path::PathBuf,
    /// The cold-path results, for each function's warm p50 under the CPU quota.
    #[arg(long, default_value = "bench/results-cold.md")]
    cold: std::path::PathBuf,
}

/// The fewest DynamoDB round trips and SES sends each route's rule allows, and why
/// (`bench/README.md`, "Round trips").
fn minimum(step: Step) -> (u32, u32, &'static str) {
    match step {
        Step::LookupMatch => (
            4,
            0,
            "read the account's view (session, link, counters: one Query of its partition); reserve the \
             lookup try atomically against both limits (one conditional write per counter item, account and \
             certificate, which live in different partitions: a transaction would be one trip but 2× the \
             units); read the file (GetItem); open the session with its audit event (one transaction)",
        ),
        Step::LookupNoMatch => (
            4,
            0,
            "the same reads and reservation as a match; then the failure is counted and audited once (one \
             transaction) — the try stays counted",
        ),
        Step::SendCode => (
            3,
            1,
            "read the session and its file (one Query of the account partition, one GetItem of the file); \
             the code recorded with the send counters and the audit in one transaction, conditional on the \
             cooldown and limits; then the email (SES)",
        ),
        Step::DeliveryEvent => {
            (2, 0, "read the message record (GetItem); put the delivery on the message, the code and the file in one transaction")
        }
        Step::RecoveryState => (1, 0, "one Query of the account's partition: session, code, link"),
        Step::VerifyWrongCode => (
            4,
            0,
            "read the session and file; reserve the try on the code and on the 24 h counters (one \
             transaction); the refusal audited (PutItem)",
        ),
        Step::VerifyCode => (
            4,
            1,
            "read the session and file; reserve the try; then the link — file, account, session, try, audit, \
             report token — in one transaction; the link notice (SES)",
        ),
        Step::MyCertificate => (2, 0, "the account's link (Query), then its file (GetItem)"),
        Step::WrongInvoice => (4, 0, "as a wrong code: session and file, the reserved try, the audited refusal"),
        Step::CheckInvoice => (5, 1, "session, file and the invoice (GetItem); the reserved try; the link transaction; the notice"),
        Step::Assistance => (3, 0, "session and file; the request, its queue entry and audit in one transaction"),
        Step::AgentList => (1, 0, "one Query of the queue index"),
        Step::AgentGet => (3, 0, "the request, its file (GetItem each); the employee's view audited (PutItem)"),
        Step::AgentResolve => (
            3,
            2,
            "the request and its file; the close, the email change with its hold and the audit in one \
             transaction; a notice to the old address and one to the new",
        ),
        Step::AgentAudit => (2, 0, "the trail (Query of the file's audit partition); the reading audited (PutItem)"),
        Step::ReportDescribe => (1, 0, "the report by its token's hash (GetItem)"),
        Step::ReportConfirm => (2, 0, "the report; the unlink, freeze, request and audit in one transaction"),
    }
}

/// What each route's calls cost, recorded by step.
struct Recorder {
    meter: Meter,
    outbox: Arc<certificate_recovery::mailer::outbox::Outbox>,
    sent_before: Mutex<usize>,
    readings: Mutex<Vec<(Step, u16, Reading, usize)>>,
}

impl Observer for Recorder {
    fn begin(&self, _step: Step) {
        self.meter.take();
        *self.sent_before.lock().unwrap() = self.outbox.sent().len();
    }

    fn end(&self, step: Step, status: u16) {
        let reading = self.meter.take();
        let sent = self.outbox.sent().len() - *self.sent_before.lock().unwrap();
        self.readings.lock().unwrap().push((step, status, reading, sent));
    }
}

/// Each function's warm p50 under the quota (ms), from the cold-path results table.
fn warm_p50_under_quota(text: &str) -> BTreeMap<String, f64> {
    let mut lines = text.lines().filter(|l| l.starts_with('|'));
    let Some(header) = lines.next() else { return BTreeMap::new() };
    let columns: Vec<&str> = header.split('|').map(str::trim).collect();
    let Some(at) = columns.iter().position(|c| *c == "warm p50, quota") else { return BTreeMap::new() };
    lines
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            Some((cells.get(1)?.trim_matches('`').to_owned(), cells.get(at)?.parse().ok()?))
        })
        .collect()
}

/// List prices, USD (see the table's note for their region and date).
const DYNAMODB_PER_MILLION_READ_UNITS: f64 = 0.125;
const DYNAMODB_PER_MILLION_WRITE_UNITS: f64 = 0.625;
const LAMBDA_PER_MILLION_REQUESTS: f64 = 0.20;
const LAMBDA_PER_GB_SECOND_ARM64: f64 = 0.000_013_333_4;
const HTTP_API_PER_MILLION_REQUESTS: f64 = 1.00;
const SES_PER_THOUSAND_EMAILS: f64 = 0.10;
/// What a DynamoDB or SES round trip adds to a warm invocation in a region (the local figures
/// reach DynamoDB Local over loopback in ~0.1 ms).
const REGION_ROUND_TRIP_MS: f64 = 5.0;
const MEMORY_GB: f64 = 0.25;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    let dir = std::env::temp_dir().join(format!("bench-paths-{}", std::process::id()));
    let holders = registry(&dir, args.walks * Path_::ALL.len()).expect("the registry is written");
    let meter = Meter::default();
    let mut options = options(dir.clone(), Some(args.dynamodb_endpoint.clone()), "bench-paths");
    options.table = format!("bench-paths-{}", certificate_recovery::ids::random_hex(4));
    let wrap = meter.clone();
    options.wrap_dynamodb = Some(Arc::new(move |client| wrap.on(client)));
    let walker = Walker::new(options).await;
    let recorder = Recorder {
        meter,
        outbox: walker.api.outbox.clone().expect("the outbox"),
        sent_before: Mutex::new(0),
        readings: Mutex::new(Vec::new()),
    };

    // Each path `walks` times, each walk on a certificate file of its own.
    let mut per_path: Vec<(Path_, Vec<(Step, u16, Reading, usize)>)> = Vec::new();
    let mut holders = holders.iter();
    for path in Path_::ALL {
        let mut first = None;
        for _ in 0..args.walks {
            recorder.readings.lock().unwrap().clear();
            walker.walk(path, holders.next().unwrap(), &recorder).await;
            let readings = std::mem::take(&mut *recorder.readings.lock().unwrap());
            match &first {
                None => first = Some(readings),
                Some(first) => {
                    for ((s1, c1, r1, m1), (s2, c2, r2, m2)) in first.iter().zip(&readings) {
                        assert!(s1 == s2 && c1 == c2 && r1.calls == r2.calls && m1 == m2, "{path:?} {s1:?}: walks differ");
                    }
                }
            }
        }
        per_path.push((path, first.unwrap()));
    }
    let _ = std::fs::remove_dir_all(&dir);

    let mut out = String::new();
    let now = time::OffsetDateTime::now_utc();
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let _ = writeln!(out, "# Round trips, capacity and cost per path (`scripts/bench-paths.sh`)\n");
    let _ = writeln!(
        out,
        "- **When**: {} UTC; commit {commit}. **Walks**: {} per path, each on its own certificate file and account; every walk of a path made the same calls (checked).",
        now.format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]")).unwrap(),
        args.walks
    );
    let _ = writeln!(
        out,
        "- **How**: each request is its route's API Gateway fixture (`events/`) through the router the functions run, on the DynamoDB store over DynamoDB Local; an SDK interceptor on that client (`bench/src/meter.rs`) sets `ReturnConsumedCapacity=TOTAL` on every call and counts the calls and the units DynamoDB Local reports (it applies DynamoDB's rules: 0.5 per 4 KB eventually consistent read, 1 per KB written, ×2 in a transaction). SES sends are the outbox's. *refused* are calls DynamoDB refused (a condition that did not hold): billed, but reported without units.\n"
    );
    let _ = writeln!(out, "## Per route\n");
    let _ = writeln!(
        out,
        "| function | route | path | status | DynamoDB calls | round trips | minimum | refused | read units | write units | SES | minimum SES |"
    );
    let _ = writeln!(out, "|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut seen = std::collections::BTreeSet::new();
    let mut above_minimum = Vec::new();
    for (_, readings) in &per_path {
        for (step, status, reading, sent) in readings {
            if !seen.insert(*step) {
                continue;
            }
            let (function, route, path) = step.label();
            let (min_trips, min_ses, _) = minimum(*step);
            if reading.round_trips() > min_trips || *sent as u32 > min_ses {
                above_minimum.push(*step);
            }
            let _ = writeln!(
                out,
                "| `{function}` | `{route}` | {path} | {status} | {} | {} | {min_trips} | {} | {:.1} | {:.1} | {sent} | {min_ses} |",
                reading.calls_text(),
                reading.round_trips(),
                reading.refused,
                reading.read_units,
                reading.write_units
            );
        }
    }
    let _ = writeln!(out, "\n### The minimum each rule allows, and why\n");
    for step in Step::ALL {
        let (function, route, path) = step.label();
        let (trips, ses, why) = minimum(step);
        let _ = writeln!(out, "- **`{function}` `{route}`, {path}** — {trips} DynamoDB, {ses} SES: {why}.");
    }
    if !above_minimum.is_empty() {
        let _ = writeln!(out, "\nAbove the minimum: {above_minimum:?}.");
    }

    // Cost per recovery and per million a day.
    let warm = warm_p50_under_quota(&std::fs::read_to_string(&args.cold).unwrap_or_default());
    let _ = writeln!(out, "\n## Per path, and a million recoveries in a day\n");
    let _ = writeln!(
        out,
        "| path | invocations | HTTP requests | round trips | read units | write units | emails | Lambda GB-s | cost per recovery (USD) | a million a day (USD) |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (path, readings) in &per_path {
        let invocations = readings.len() as f64;
        let http = readings.iter().filter(|(s, ..)| *s != Step::DeliveryEvent).count() as f64;
        let trips: u32 = readings.iter().map(|(_, _, r, _)| r.round_trips()).sum();
        let reads: f64 = readings.iter().map(|(_, _, r, _)| r.read_units).sum();
        // A refused write is billed as at least one unit.
        let writes: f64 = readings.iter().map(|(_, _, r, _)| r.write_units + r.refused as f64).sum();
        let emails: usize = readings.iter().map(|(.., m)| m).sum();
        let seconds: f64 = readings
            .iter()
            .map(|(s, _, r, m)| {
                let own = warm.get(s.label().0).copied().unwrap_or(2.0);
                (own + (r.round_trips() as f64 + *m as f64) * REGION_ROUND_TRIP_MS).ceil() / 1000.0
            })
            .sum();
        let gb_seconds = seconds * MEMORY_GB;
        let cost = reads * DYNAMODB_PER_MILLION_READ_UNITS / 1e6
            + writes * DYNAMODB_PER_MILLION_WRITE_UNITS / 1e6
            + invocations * LAMBDA_PER_MILLION_REQUESTS / 1e6
            + gb_seconds * LAMBDA_PER_GB_SECOND_ARM64
            + http * HTTP_API_PER_MILLION_REQUESTS / 1e6
            + emails as f64 * SES_PER_THOUSAND_EMAILS / 1e3;
        let _ = writeln!(
            out,
            "| {} | {invocations} | {http} | {trips} | {reads:.1} | {writes:.1} | {emails} | {gb_seconds:.4} | {cost:.6} | {:.0} |",
            path.name(),
            cost * 1e6
        );
    }
    let _ = writeln!(
        out,
        "\n- **Prices** (USD, on-demand list prices of **us-east-1** as AWS published them in 2025, the last this project checked; this machine cannot reach AWS's price list, and ca-central-1's are a few percent higher — check before quoting): DynamoDB on-demand ${DYNAMODB_PER_MILLION_READ_UNITS} per million read units and ${DYNAMODB_PER_MILLION_WRITE_UNITS} per million write units; Lambda ${LAMBDA_PER_MILLION_REQUESTS} per million requests and ${LAMBDA_PER_GB_SECOND_ARM64} per GB-s (arm64, the template's default); HTTP API ${HTTP_API_PER_MILLION_REQUESTS} per million requests; SES ${SES_PER_THOUSAND_EMAILS} per thousand emails. Free tiers left out; storage, logs and data transfer left out."
    );
    let _ = writeln!(
        out,
        "- **Lambda duration** per invocation: the function's warm p50 under the CPU quota (`{}`), plus {REGION_ROUND_TRIP_MS} ms per DynamoDB or SES round trip (in a region, against ~0.1 ms over loopback here), rounded up to the millisecond as Lambda bills; {MEMORY_GB} GB. Cold starts (one per container, not per request) and the secret's read at start are left out.",
        args.cold.display()
    );
    let _ = writeln!(
        out,
        "- **The no-match path** is what a guess costs; the report path is the email-code path's first three routes and the report's two."
    );
    print!("{out}");
    std::fs::write(&args.out, &out).expect("the results file is written");
    eprintln!("bench-paths: written to {}", args.out.display());
}
