//! `scripts/bench-paths.sh`: every route on its common and failure paths, walked in process
//! against DynamoDB Local through the store the Lambda functions use, with the capacity meter
//! on its client: the DynamoDB calls (round trips) and SES sends of each route beside the
//! minimum its rule allows, the capacity units each path consumes, and what a million
//! recoveries in a day cost. Prints markdown and writes it to `--out`.

use bench::meter::{Meter, Reading};
use bench::walk::{Journey, Observer, Step, Walker, options, registry};
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

/// What `SESSION` stands for in [`minimum`]'s reasons.
const SESSION_READS: &str = "the session, its code and the link (Query of the account's partition), then the file \
                             and its counters (Query of the file's partition; its number is known only from the first)";

/// The fewest DynamoDB round trips and SES sends each route's rules allow with the data model as
/// it is — no write units traded for round trips — and why (`bench/README.md`, "Round trips").
fn minimum(step: Step) -> (u32, u32, &'static str) {
    match step {
        Step::LookupMatch => (
            6,
            0,
            "the file read (Query of its partition) beside the reservation; the try reserved on the account, then \
             on the certificate (a conditional UpdateItem each, in two partitions, one after the other: a \
             certificate slot is only taken by a try that holds an account slot); on a match both given back \
             (two UpdateItems) at the same time as the session is opened with its audit event (one transaction). \
             Giving back inside the session's transaction would save two calls at twice their write units",
        ),
        Step::LookupNoMatch => {
            (4, 0, "the same read and reservation; the refusal audited (PutItem); the try stays counted")
        }
        Step::SendCode => (
            4,
            1,
            "SESSION; the code, the send counters and the audit in one conditional transaction; the email; then \
             the message record with its audit (one transaction): it is keyed by SES's message id, which only \
             the send returns (a record written before the send, keyed by an id of ours passed as a message tag, \
             would save this call — not done)",
        ),
        Step::DeliveryEvent => (
            2,
            0,
            "the message record (GetItem); the delivery put on the message, the code and the file (one transaction)",
        ),
        Step::RecoveryState => (2, 0, "SESSION"),
        Step::VerifyWrongCode => (
            5,
            0,
            "SESSION; the try reserved on the code (the session item) and on the certificate's wrong codes (two \
             partitions, at the same time); the refusal audited (PutItem)",
        ),
        Step::VerifyCode => (
            7,
            1,
            "SESSION; the two reservations; the link (file, account, session, audit, report token) in one \
             transaction; the certificate's wrong-code count given back (UpdateItem); the link notice; its \
             message record",
        ),
        Step::MyCertificate => {
            (2, 0, "the account's link (Query of its partition), then the file (Query of its partition)")
        }
        Step::WrongInvoice => (
            7,
            0,
            "SESSION; the invoice (GetItem); the try reserved on the session, the account and the certificate \
             (three conditional UpdateItems, at the same time); the refusal audited (PutItem)",
        ),
        Step::CheckInvoice => (
            10,
            1,
            "SESSION; the invoice; the three reservations; the link transaction; the account's and the \
             certificate's counts given back (the link consumed the session's); the link notice; its message record",
        ),
        Step::Assistance => (3, 0, "SESSION; the request, its queue entry and its audit in one transaction"),
        Step::AgentList => (
            2,
            0,
            "the queue (Query of the index); the files' contact details (one BatchGetItem): the queue entry does \
             not copy the file, whose email and phone change",
        ),
        Step::AgentGet => (3, 0, "the request (GetItem); its file (Query); the employee's reading audited (PutItem)"),
        Step::AgentResolve => (
            4,
            2,
            "the request; its file; the close, the email change with its hold and the audit in one transaction; \
             a notice to the old address and one to the new; one write of both message records",
        ),
        Step::AgentAudit => (2, 0, "the trail (Query of the file's partition); the reading audited (PutItem)"),
        Step::ReportDescribe => (1, 0, "the report by its token's keyed hash (GetItem)"),
        Step::ReportConfirm => (
            3,
            0,
            "the report; the file (what still stands: the link, the hold); the unlink or the restore, the freeze, \
             the request and the audit in one transaction",
        ),
    }
}

/// A walk's steps: what each answered, cost and sent.
type Walked = Vec<(Step, u16, Reading, usize)>;

/// What each route's calls cost, recorded by step.
struct Recorder {
    meter: Meter,
    outbox: Arc<certificate_recovery::mailer::outbox::Outbox>,
    sent_before: Mutex<usize>,
    readings: Mutex<Walked>,
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
    let holders = registry(&dir, args.walks * Journey::ALL.len()).expect("the registry is written");
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
    let mut per_path: Vec<(Journey, Walked)> = Vec::new();
    let mut holders = holders.iter();
    for path in Journey::ALL {
        let mut first = None;
        for _ in 0..args.walks {
            recorder.readings.lock().unwrap().clear();
            walker.walk(path, holders.next().unwrap(), &recorder).await;
            let readings = std::mem::take(&mut *recorder.readings.lock().unwrap());
            match &first {
                None => first = Some(readings),
                Some(first) => {
                    for ((s1, c1, r1, m1), (s2, c2, r2, m2)) in first.iter().zip(&readings) {
                        assert!(
                            s1 == s2 && c1 == c2 && r1.calls == r2.calls && m1 == m2,
                            "{path:?} {s1:?}: walks differ"
                        );
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
        "| function | route | path | status | DynamoDB calls | round trips | minimum | one after the other | refused | read units | write units | SES | minimum SES |"
    );
    let _ = writeln!(out, "|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
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
                "| `{function}` | `{route}` | {path} | {status} | {} | {} | {min_trips} | {} | {} | {:.1} | {:.1} | {sent} | {min_ses} |",
                reading.calls_text(),
                reading.round_trips(),
                reading.sequential,
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
        let why = why.replace("SESSION", SESSION_READS);
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
