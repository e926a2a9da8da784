//! `load`: the launch-day load (issue 9, item 6) — a measurement, not a test; `scripts/load.sh`
//! runs it. Two steps:
//!
//! - `load seed --holders N --out DIR` writes a registry of N certificate files, each with an
//!   email of its own (`certificates.csv`, an empty `invoices.csv` and `links.csv`), for the
//!   local API's `--seed DIR`: every holder recovers a file of their own, as on launch day,
//!   so no per-certificate cooldown or limit is shared between holders.
//! - `load run` drives N holders, at most C at a time, through the whole email-code path —
//!   `POST /recovery/lookup`, `POST /recovery/code`, the code read from the email,
//!   `POST /recovery/verify`, `GET /me/certificate` — against a local API on DynamoDB Local,
//!   then checks the table (every holder linked exactly once, to its own file; no file linked
//!   twice; one link event per file) and the outbox (one code and one link notice per
//!   holder), and writes requests per second and p50/p99 per route to a Markdown file.
//!
//! The codes come from the local API's terminal output (`--emails-log`, its standard output
//! redirected to a file), where the outbox prints each email as it is sent: reading it costs
//! the API nothing. `GET /dev/outbox` returns every email kept so far on each call — 4,000 of
//! them by the end of a 2,000-holder run — so polling it would measure the outbox, not the
//! service; it is read once, after the run, for the email check.

use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Launch-day load: holders through the email-code path on the local API (not a test)")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes a registry of N files (certificates.csv, invoices.csv, links.csv) into DIR.
    Seed {
        #[arg(long)]
        holders: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Drives the holders, checks the table and the outbox, writes the results.
    Run(RunArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// The local API, e.g. http://127.0.0.1:3000 (started with --seed of `load seed`).
    #[arg(long)]
    api: String,
    /// Holders to take through the path (each recovers its own file: the seed's first N).
    #[arg(long)]
    holders: usize,
    /// Holders in flight at once.
    #[arg(long)]
    concurrency: usize,
    /// The local API's standard output, where its outbox prints each email.
    #[arg(long)]
    emails_log: PathBuf,
    /// The DynamoDB endpoint and table the local API uses, for the link check after the run.
    #[arg(long)]
    dynamodb_endpoint: String,
    #[arg(long)]
    table: String,
    /// Where to write the results (Markdown); printed on standard output as well.
    #[arg(long)]
    results: Option<PathBuf>,
    /// What the results file says about where it ran (commit, build, machine).
    #[arg(long, default_value = "")]
    context: String,
    /// `NAME=PID` of a process whose CPU time during the run goes in the results (the local
    /// API, DynamoDB Local); the driver's own is always there.
    #[arg(long = "cpu-of", value_parser = parse_process)]
    cpu_of: Vec<(String, u32)>,
}

fn parse_process(raw: &str) -> Result<(String, u32), String> {
    let (name, pid) = raw.split_once('=').ok_or("NAME=PID")?;
    Ok((name.to_owned(), pid.parse().map_err(|_| "PID must be a number")?))
}

/// CPU seconds (user + system) a process has used so far, from `/proc/<pid>/stat` (Linux).
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0) // USER_HZ is 100 on Linux
}

/// Holder `i`: its account, its file, its date of birth and its address.
struct Holder {
    account: String,
    certificate: String,
    date_of_birth: String,
    email: String,
}

fn holder(i: usize) -> Holder {
    let date_of_birth = time::macros::date!(1940 - 01 - 01) + time::Duration::days((i as i64 * 7_919) % 20_000);
    Holder {
        account: format!("load-holder-{i:05}"),
        certificate: format!("LD{i:06}"),
        date_of_birth: date_of_birth.to_string(),
        email: format!("titulaire.{i}@charge.exemple.ca"),
    }
}

fn seed(holders: usize, out: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    let mut certificates = std::io::BufWriter::new(std::fs::File::create(out.join("certificates.csv"))?);
    writeln!(certificates, "certificate_number,holder_name,date_of_birth,email,phone,language,status,expires_on")?;
    for i in 0..holders {
        let h = holder(i);
        let language = if i % 2 == 0 { "fr" } else { "en" };
        // Written as the registry writes them (`LD-000001`); the API normalizes.
        let number = format!("{}-{}", &h.certificate[..2], &h.certificate[2..]);
        writeln!(
            certificates,
            "{number},Titulaire Numéro {i},{},{},514-555-{:04},{language},active,2028-06-30",
            h.date_of_birth,
            h.email,
            i % 10_000
        )?;
    }
    certificates.flush()?;
    std::fs::write(out.join("invoices.csv"), "invoice_number,certificate_number,issued_on,amount\n")?;
    std::fs::write(out.join("links.csv"), "certificate_number,account\n")?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Lookup,
    SendCode,
    /// From the code's `200` to the email in the local API's output: not a request.
    CodeArrives,
    Verify,
    MyCertificate,
}

impl Step {
    const ALL: [Step; 5] = [Step::Lookup, Step::SendCode, Step::CodeArrives, Step::Verify, Step::MyCertificate];

    fn label(self) -> &'static str {
        match self {
            Step::Lookup => "`POST /recovery/lookup`",
            Step::SendCode => "`POST /recovery/code`",
            Step::CodeArrives => "code email seen (not a request)",
            Step::Verify => "`POST /recovery/verify`",
            Step::MyCertificate => "`GET /me/certificate`",
        }
    }

    fn is_request(self) -> bool {
        self != Step::CodeArrives
    }
}

/// Where each holder waits for its code: the email-log reader hands it over.
#[derive(Default)]
struct Mailboxes(Mutex<HashMap<String, Mailbox>>);

enum Mailbox {
    Waiting(tokio::sync::oneshot::Sender<String>),
    Arrived(String),
}

impl Mailboxes {
    /// Called before the code is asked for, so no email can be missed.
    fn expect(&self, to: &str) -> tokio::sync::oneshot::Receiver<String> {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let mut boxes = self.0.lock().unwrap();
        match boxes.remove(to) {
            Some(Mailbox::Arrived(code)) => {
                let _ = sender.send(code);
            }
            _ => {
                boxes.insert(to.to_owned(), Mailbox::Waiting(sender));
            }
        }
        receiver
    }

    fn deliver(&self, to: &str, code: String) {
        let mut boxes = self.0.lock().unwrap();
        match boxes.remove(to) {
            Some(Mailbox::Waiting(sender)) => {
                let _ = sender.send(code);
            }
            _ => {
                boxes.insert(to.to_owned(), Mailbox::Arrived(code));
            }
        }
    }
}

/// Whether a subject is a security code email's ("Votre code de sécurité — …", "Your security
/// code — …"; the code itself is only in the body).
fn is_code_subject(subject: &str) -> bool {
    subject.starts_with("Votre code de sécurité") || subject.starts_with("Your security code")
}

/// A body line that is a security code: exactly six digits.
fn code_line(line: &str) -> Option<String> {
    (line.len() == 6 && line.bytes().all(|b| b.is_ascii_digit())).then(|| line.to_owned())
}

/// Follows the local API's output as it grows: `──── email to <to> ────`, then
/// `Subject: <subject>`, then the text, whose line of six digits is the code. Runs on a thread
/// of its own until `stop`.
fn follow_emails(path: PathBuf, mailboxes: Arc<Mailboxes>, stop: Arc<std::sync::atomic::AtomicBool>) {
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = std::io::BufReader::new(file);
    let mut line = String::new();
    let mut partial = String::new();
    let mut to: Option<String> = None;
    let mut code_for: Option<String> = None;
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            Ok(_) => {}
            Err(e) => panic!("{}: {e}", path.display()),
        }
        partial.push_str(&line);
        if !partial.ends_with('\n') {
            continue; // the rest of the line is not written yet
        }
        let complete = std::mem::take(&mut partial);
        let complete = complete.trim_end();
        if let Some(rest) = complete.strip_prefix("──── email to ") {
            to = rest.strip_suffix(" ────").map(str::to_owned);
            code_for = None;
        } else if let Some(subject) = complete.strip_prefix("Subject: ") {
            code_for = to.take().filter(|_| is_code_subject(subject));
        } else if let Some(code) = code_line(complete)
            && let Some(to) = code_for.take()
        {
            mailboxes.deliver(&to, code);
        }
    }
}

#[derive(Default)]
struct Timings(Mutex<BTreeMap<Step, Vec<Duration>>>);

impl Timings {
    fn record(&self, step: Step, took: Duration) {
        self.0.lock().unwrap().entry(step).or_default().push(took);
    }
}

struct Driver {
    client: reqwest::Client,
    api: String,
    tokens: Vec<String>,
    mailboxes: Arc<Mailboxes>,
    timings: Timings,
}

impl Driver {
    async fn call(
        &self,
        step: Step,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut request = self.client.request(method, format!("{}{path}", self.api)).bearer_auth(token);
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let started = Instant::now();
        let response = request.send().await.map_err(|e| format!("{path}: {e}"))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| format!("{path}: {e}"))?;
        self.timings.record(step, started.elapsed());
        let body: Value = serde_json::from_str(&text).map_err(|_| format!("{path}: {status} {text}"))?;
        if status != 200 {
            return Err(format!("{path}: {status} {body}"));
        }
        Ok(body)
    }

    /// One holder's whole recovery; any answer but the expected one is an error.
    async fn recover(&self, i: usize) -> Result<(), String> {
        let h = holder(i);
        let token = &self.tokens[i];
        let expect_state = |body: &Value, state: &str| -> Result<(), String> {
            (body["state"] == state).then_some(()).ok_or_else(|| format!("expected {state}: {body}"))
        };
        let matched = self
            .call(
                Step::Lookup,
                reqwest::Method::POST,
                "/recovery/lookup",
                token,
                Some(json!({"certificateNumber": h.certificate, "dateOfBirth": h.date_of_birth})),
            )
            .await?;
        expect_state(&matched, "matched")?;
        let code = self.mailboxes.expect(&h.email);
        let sent = self.call(Step::SendCode, reqwest::Method::POST, "/recovery/code", token, Some(json!({}))).await?;
        expect_state(&sent, "code_sent")?;
        let waiting = Instant::now();
        let code = tokio::time::timeout(Duration::from_secs(30), code)
            .await
            .map_err(|_| format!("no code email to holder {i} in 30 s"))?
            .map_err(|_| format!("holder {i}: mailbox closed"))?;
        self.timings.record(Step::CodeArrives, waiting.elapsed());
        let linked = self
            .call(Step::Verify, reqwest::Method::POST, "/recovery/verify", token, Some(json!({"code": code})))
            .await?;
        expect_state(&linked, "linked")?;
        let mine = self.call(Step::MyCertificate, reqwest::Method::GET, "/me/certificate", token, None).await?;
        if mine["number"] != h.certificate.as_str() {
            return Err(format!("holder {i}: GET /me/certificate answered {mine}"));
        }
        Ok(())
    }
}

/// Nearest-rank percentile of sorted durations, in milliseconds.
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1].as_secs_f64() * 1000.0
}

/// What the table holds after the run (one scan): the links of accounts, the owners of files,
/// and the link events of each file.
#[derive(Default)]
struct TableLinks {
    links: HashMap<String, Vec<String>>,
    owners: HashMap<String, Vec<String>>,
    link_events: HashMap<String, usize>,
}

async fn table_links(endpoint: &str, table: &str) -> Result<TableLinks, String> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let config = certificate_recovery::local_aws::sdk_config().await;
    let client = certificate_recovery::local_aws::dynamodb(&config, Some(endpoint));
    let mut found = TableLinks::default();
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    let text = |item: &HashMap<String, AttributeValue>, name: &str| {
        item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
    };
    loop {
        let page = client
            .scan()
            .table_name(table)
            .filter_expression("sk = :link OR sk = :owner OR (begins_with(sk, :audit) AND #action = :linked)")
            .expression_attribute_names("#action", "action")
            .expression_attribute_values(":link", AttributeValue::S("LINK".into()))
            .expression_attribute_values(":owner", AttributeValue::S("OWNER".into()))
            .expression_attribute_values(":audit", AttributeValue::S("AUDIT#".into()))
            .expression_attribute_values(":linked", AttributeValue::S("link".into()))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| format!("scan: {e:?}"))?;
        for item in page.items() {
            let (pk, sk) = (text(item, "pk"), text(item, "sk"));
            match sk.as_str() {
                "LINK" => found
                    .links
                    .entry(pk.trim_start_matches("ACCOUNT#").to_owned())
                    .or_default()
                    .push(text(item, "certificate_number")),
                "OWNER" => found
                    .owners
                    .entry(pk.trim_start_matches("CERT#").to_owned())
                    .or_default()
                    .push(text(item, "linked_account")),
                _ if text(item, "outcome") == "linked" => {
                    *found.link_events.entry(pk.trim_start_matches("CERT#").to_owned()).or_default() += 1;
                }
                _ => {}
            }
        }
        match page.last_evaluated_key() {
            Some(key) => start = Some(key.clone()),
            None => return Ok(found),
        }
    }
}

/// The table after the run: one line per finding, empty when every holder is linked exactly
/// once to its own file and no file twice.
fn check_links(found: &TableLinks, holders: usize) -> Vec<String> {
    let mut problems = Vec::new();
    let mut files_linked: HashMap<&str, usize> = HashMap::new();
    for certificates in found.links.values() {
        for c in certificates {
            *files_linked.entry(c.as_str()).or_default() += 1;
        }
    }
    for i in 0..holders {
        let h = holder(i);
        if found.links.get(&h.account).map(Vec::as_slice) != Some(std::slice::from_ref(&h.certificate)) {
            problems.push(format!("{}: link {:?}", h.account, found.links.get(&h.account)));
        }
        if found.owners.get(&h.certificate).map(Vec::as_slice) != Some(std::slice::from_ref(&h.account)) {
            problems.push(format!("{}: owner {:?}", h.certificate, found.owners.get(&h.certificate)));
        }
        if found.link_events.get(&h.certificate).copied().unwrap_or(0) != 1 {
            problems.push(format!("{}: {:?} link events", h.certificate, found.link_events.get(&h.certificate)));
        }
    }
    for (file, n) in &files_linked {
        if *n > 1 {
            problems.push(format!("{file} is linked to {n} accounts"));
        }
    }
    if found.links.len() != holders || found.owners.len() != holders {
        problems.push(format!("{} links and {} owners for {holders} holders", found.links.len(), found.owners.len()));
    }
    problems
}

/// The outbox after the run (one `GET /dev/outbox`): each holder's address got exactly one
/// code email and one other (the link notice), and nobody else got mail.
async fn check_outbox(client: &reqwest::Client, api: &str, holders: usize) -> Result<(usize, Vec<String>), String> {
    let emails: Value = client
        .get(format!("{api}/dev/outbox"))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let emails = emails.as_array().ok_or("the outbox is not a list")?;
    let mut per_address: HashMap<&str, (usize, usize)> = HashMap::new();
    for email in emails {
        let to = email["to"].as_str().unwrap_or_default();
        let entry = per_address.entry(to).or_default();
        if is_code_subject(email["subject"].as_str().unwrap_or_default()) {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    }
    let mut problems = Vec::new();
    for i in 0..holders {
        let h = holder(i);
        let got = per_address.get(h.email.as_str()).copied().unwrap_or_default();
        if got != (1, 1) {
            problems.push(format!("{}: {} code emails and {} others", h.email, got.0, got.1));
        }
    }
    if per_address.len() != holders {
        problems.push(format!("mail went to {} addresses for {holders} holders", per_address.len()));
    }
    Ok((emails.len(), problems))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

async fn run(args: RunArgs) -> Result<bool, String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(args.concurrency)
        .build()
        .map_err(|e| e.to_string())?;
    // Sign-ins are not part of the path: every holder's token is minted before the clock starts.
    let mut tokens = Vec::with_capacity(args.holders);
    for i in 0..args.holders {
        let answer: Value = client
            .post(format!("{}/dev/token", args.api))
            .body(json!({"sub": holder(i).account}).to_string())
            .send()
            .await
            .map_err(|e| format!("/dev/token: {e}"))?
            .json()
            .await
            .map_err(|e| format!("/dev/token: {e}"))?;
        tokens.push(answer["token"].as_str().ok_or(format!("/dev/token answered {answer}"))?.to_owned());
    }
    let mailboxes = Arc::new(Mailboxes::default());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let follower = {
        let (path, mailboxes, stop) = (args.emails_log.clone(), mailboxes.clone(), stop.clone());
        std::thread::spawn(move || follow_emails(path, mailboxes, stop))
    };
    let driver = Arc::new(Driver {
        client: client.clone(),
        api: args.api.clone(),
        tokens,
        mailboxes,
        timings: Timings::default(),
    });

    let mut processes: Vec<(String, String)> =
        args.cpu_of.iter().map(|(name, pid)| (name.clone(), pid.to_string())).collect();
    processes.push(("load driver".into(), "self".into()));
    let cpu_before: Vec<Option<f64>> = processes.iter().map(|(_, pid)| cpu_seconds(pid)).collect();
    let load_before = load_average();
    eprintln!("load: {} holders, {} at a time, against {}", args.holders, args.concurrency, args.api);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let started = Instant::now();
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (driver, next, errors, holders) = (driver.clone(), next.clone(), errors.clone(), args.holders);
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= holders {
                        return;
                    }
                    if let Err(e) = driver.recover(i).await {
                        errors.lock().unwrap().push(e);
                    }
                    if (i + 1) % 500 == 0 {
                        eprintln!("  {} holders started", i + 1);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.map_err(|e| e.to_string())?;
    }
    let wall = started.elapsed();
    let load_after = load_average();
    let cpu_used: Vec<String> = processes
        .iter()
        .zip(&cpu_before)
        .map(|((name, pid), before)| match (before, cpu_seconds(pid)) {
            (Some(before), Some(after)) => format!("{name} {:.1} s", after - before),
            _ => format!("{name} unknown"),
        })
        .collect();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    follower.join().map_err(|_| "the email-log reader panicked")?;

    let errors = errors.lock().unwrap().clone();
    let found = table_links(&args.dynamodb_endpoint, &args.table).await?;
    let link_problems = check_links(&found, args.holders);
    let (emails, outbox_problems) = check_outbox(&client, &args.api, args.holders).await?;

    let timings = driver.timings.0.lock().unwrap().clone();
    let requests: usize = timings.iter().filter(|(s, _)| s.is_request()).map(|(_, v)| v.len()).sum();
    let complete = args.holders - errors.len();
    let seconds = wall.as_secs_f64();
    let mut out = String::new();
    let line = |out: &mut String, text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line(&mut out, "# Launch-day load: the email-code path on DynamoDB Local".into());
    line(&mut out, String::new());
    line(
        &mut out,
        "Written by `scripts/load.sh` (not part of CI): a release build of the local API on a fresh DynamoDB \
         Local (in memory, started by the script on 127.0.0.1), seeded with one certificate file per holder, \
         no SES endpoint (the outbox); the driver is `bench`'s `load` binary. Each holder signs in (its token \
         is minted before the clock starts), then `POST /recovery/lookup`, `POST /recovery/code`, reads its \
         code from the local API's output (where the outbox prints each email), `POST /recovery/verify` and \
         `GET /me/certificate`; any other answer is an error. After the run the driver scans the table and \
         reads `GET /dev/outbox` once."
            .into(),
    );
    line(&mut out, String::new());
    if !args.context.is_empty() {
        line(&mut out, args.context.clone());
        line(&mut out, String::new());
    }
    line(&mut out, "| | |".into());
    line(&mut out, "|---|---|".into());
    line(&mut out, format!("| holders (complete recoveries / started) | **{complete}** / {} |", args.holders));
    line(&mut out, format!("| concurrent holders | {} |", args.concurrency));
    line(&mut out, format!("| errors | **{}** |", errors.len()));
    line(&mut out, format!("| wall time | {seconds:.1} s |"));
    line(&mut out, format!("| requests | {requests} ({:.0} per second) |", requests as f64 / seconds));
    line(&mut out, format!("| recoveries per second | {:.1} |", complete as f64 / seconds));
    line(
        &mut out,
        format!(
            "| machine | {} CPUs; load average {load_before} before, {load_after} after |",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        ),
    );
    line(
        &mut out,
        format!(
            "| CPU time during the run ({:.0} CPU-seconds available) | {} |",
            seconds * std::thread::available_parallelism().map_or(1, |n| n.get()) as f64,
            cpu_used.join("; ")
        ),
    );
    line(&mut out, String::new());
    line(&mut out, "| step | count | per second | p50 ms | p99 ms | max ms |".into());
    line(&mut out, "|---|---:|---:|---:|---:|---:|".into());
    for step in Step::ALL {
        let mut took = timings.get(&step).cloned().unwrap_or_default();
        if took.is_empty() {
            continue;
        }
        took.sort();
        line(
            &mut out,
            format!(
                "| {} | {} | {:.0} | {:.1} | {:.1} | {:.1} |",
                step.label(),
                took.len(),
                took.len() as f64 / seconds,
                percentile(&took, 50.0),
                percentile(&took, 99.0),
                percentile(&took, 100.0)
            ),
        );
    }
    line(&mut out, String::new());
    line(&mut out, "Checked after the run:".into());
    line(&mut out, String::new());
    let verdict = |problems: &[String]| {
        if problems.is_empty() { "**ok**".to_owned() } else { format!("**{} problems**", problems.len()) }
    };
    let linked_once = (0..args.holders)
        .filter(|i| {
            let h = holder(*i);
            found.links.get(&h.account).map(Vec::as_slice) == Some(std::slice::from_ref(&h.certificate))
        })
        .count();
    let doubled = {
        let mut per_file: HashMap<&str, usize> = HashMap::new();
        found.links.values().flatten().for_each(|c| *per_file.entry(c.as_str()).or_default() += 1);
        per_file.values().filter(|n| **n > 1).count()
    };
    line(
        &mut out,
        format!(
            "- the table ({}): {linked_once} of {} holders linked exactly once, to their own file; {} accounts \
             with a link, {} files with an owner, {} link events; files linked twice: {doubled}; holders without \
             their link: {}",
            verdict(&link_problems),
            args.holders,
            found.links.len(),
            found.owners.len(),
            found.link_events.values().sum::<usize>(),
            args.holders - linked_once,
        ),
    );
    line(
        &mut out,
        format!(
            "- the outbox ({}): {emails} emails, exactly one code and one link notice per holder",
            verdict(&outbox_problems)
        ),
    );
    for problem in link_problems.iter().chain(&outbox_problems).chain(&errors).take(20) {
        line(&mut out, format!("  - {problem}"));
    }
    print!("{out}");
    if let Some(path) = &args.results {
        std::fs::write(path, &out).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("results written to {}", path.display());
    }
    Ok(errors.is_empty() && link_problems.is_empty() && outbox_problems.is_empty())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let outcome = match args.command {
        Command::Seed { holders, out } => seed(holders, &out).map(|()| true).map_err(|e| e.to_string()),
        Command::Run(run_args) => run(run_args).await,
    };
    match outcome {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("load: errors or link problems (see above)");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("load: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_of_this_process_is_read_and_grows() {
        let before = cpu_seconds("self").expect("/proc/self/stat");
        let mut x = 0u64;
        let spin = Instant::now();
        while spin.elapsed() < Duration::from_millis(300) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        assert!(x > 0);
        assert!(cpu_seconds("self").unwrap() > before, "300 ms of spinning shows");
        assert_eq!(parse_process("local API=42"), Ok(("local API".into(), 42)));
        assert!(parse_process("42").is_err());
    }

    #[test]
    fn code_subjects_in_both_languages_and_nothing_else() {
        assert!(is_code_subject("Votre code de sécurité — Office de la protection du consommateur"));
        assert!(is_code_subject("Your security code — Office de la protection du consommateur"));
        assert!(!is_code_subject("Votre dossier de certificat a été associé à un compte"));
        assert_eq!(code_line("000042").as_deref(), Some("000042"));
        assert_eq!(code_line("12345"), None);
        assert_eq!(code_line("AG1000"), None);
    }

    #[test]
    fn the_seed_is_valid_registry_data_with_distinct_files_and_addresses() {
        let dir = std::env::temp_dir().join(format!("load-seed-{}", std::process::id()));
        seed(300, &dir).unwrap();
        let csv = std::fs::read(dir.join("certificates.csv")).unwrap();
        let today = time::OffsetDateTime::now_utc().date();
        let files: Vec<_> =
            certificate_recovery::seed::certificates(csv.as_slice(), today).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(files.len(), 300);
        let numbers: std::collections::HashSet<_> = files.iter().map(|f| f.number.as_str().to_owned()).collect();
        let emails: std::collections::HashSet<_> = (0..300).map(|i| holder(i).email).collect();
        assert_eq!((numbers.len(), emails.len()), (300, 300));
        assert_eq!(files[7].number.as_str(), holder(7).certificate);
        assert!(
            files[7]
                .date_of_birth
                .matches(&certificate_recovery::domain::DateOfBirth::parse(&holder(7).date_of_birth, today).unwrap())
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn mailboxes_hand_over_a_code_whether_it_comes_before_or_after_the_wait() {
        let boxes = Mailboxes::default();
        let mut early = boxes.expect("a@x.ca");
        boxes.deliver("a@x.ca", "111111".into());
        assert_eq!(early.try_recv().unwrap(), "111111");
        boxes.deliver("b@x.ca", "222222".into());
        assert_eq!(boxes.expect("b@x.ca").try_recv().unwrap(), "222222");
    }

    #[test]
    fn the_link_check_finds_a_doubled_and_a_missing_link() {
        let mut found = TableLinks::default();
        for i in 0..3 {
            let h = holder(i);
            found.links.insert(h.account.clone(), vec![h.certificate.clone()]);
            found.owners.insert(h.certificate.clone(), vec![h.account.clone()]);
            found.link_events.insert(h.certificate.clone(), 1);
        }
        assert!(check_links(&found, 3).is_empty());
        found.links.insert("someone-else".into(), vec![holder(1).certificate]);
        found.links.remove(&holder(2).account);
        let problems = check_links(&found, 3);
        assert!(problems.iter().any(|p| p.contains("linked to 2 accounts")), "{problems:?}");
        assert!(problems.iter().any(|p| p.starts_with(&holder(2).account)), "{problems:?}");
    }
}
