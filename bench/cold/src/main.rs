//! `bench-cold CONFIG.json`: the harness of `scripts/bench-cold.sh` (see `bench/README.md`).
//!
//! It plays Lambda's Runtime API on 127.0.0.1 (a fresh port for each start): starts a
//! bootstrap with the environment Lambda sets, times exec → its first
//! `GET /2018-06-01/runtime/invocation/next` (init), hands it the target's event and times the
//! poll → the POSTed response (an invocation), then kills it. Each target is started `runs`
//! times on its own and `runs` times alone in a cgroup v1 CPU group (`cgroup`, whose
//! `cpu.cfs_quota_us` the script set from the template's memory size), the targets and the two
//! modes interleaved round by round so that drift on the machine falls on all alike; then once
//! more in each mode for `1 + warm` invocations (the warm figures). Prints the markdown table
//! on stdout and writes every measurement to `raw` (JSON).

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

/// What the Runtime API tells the harness.
enum Msg {
    /// A poll for the next event, held until the harness answers it (or forever).
    Next { at: Instant, reply: oneshot::Sender<(String, Bytes)> },
    /// `POST .../invocation/{id}/response` or `.../error`.
    Done { at: Instant, body: Bytes, error: bool },
    /// `POST /2018-06-01/runtime/init/error`.
    InitError { body: Bytes },
}

type Tx = mpsc::UnboundedSender<Msg>;

fn plain(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    Response::builder().status(status).body(Full::new(Bytes::from_static(body.as_bytes()))).expect("a valid response")
}

async fn runtime_api(request: Request<Incoming>, tx: Tx, arn: String) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    const NEXT: &str = "/2018-06-01/runtime/invocation/next";
    const INVOCATION: &str = "/2018-06-01/runtime/invocation/";
    if method == Method::GET && path == NEXT {
        let at = Instant::now();
        let (reply, answer) = oneshot::channel();
        if tx.send(Msg::Next { at, reply }).is_ok()
            && let Ok((id, event)) = answer.await
        {
            let deadline = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_millis() + 29_000;
            return Ok(Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "application/json")
                .header("lambda-runtime-aws-request-id", id)
                .header("lambda-runtime-deadline-ms", deadline.to_string())
                .header("lambda-runtime-invoked-function-arn", arn)
                .header(
                    "lambda-runtime-trace-id",
                    "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0",
                )
                .body(Full::new(event))
                .expect("a valid response"));
        }
        // No more events for this process: the poll is held until the harness kills it.
        return std::future::pending().await;
    }
    if method == Method::POST && path.starts_with(INVOCATION) {
        let error = path.ends_with("/error");
        if !error && !path.ends_with("/response") {
            return Ok(plain(StatusCode::NOT_FOUND, "{}"));
        }
        let body = request.into_body().collect().await?.to_bytes();
        let _ = tx.send(Msg::Done { at: Instant::now(), body, error });
        return Ok(plain(StatusCode::ACCEPTED, "{\"status\":\"OK\"}"));
    }
    if method == Method::POST && path == "/2018-06-01/runtime/init/error" {
        let body = request.into_body().collect().await?.to_bytes();
        let _ = tx.send(Msg::InitError { body });
        return Ok(plain(StatusCode::ACCEPTED, "{\"status\":\"OK\"}"));
    }
    // An extension registering (lambda_runtime's graceful-shutdown helper, when used): accepted,
    // and its event poll never answered.
    if method == Method::POST && path == "/2020-01-01/extension/register" {
        return Ok(Response::builder()
            .status(StatusCode::OK)
            .header("lambda-extension-identifier", "bench-cold-extension")
            .body(Full::new(Bytes::from_static(
                b"{\"functionName\":\"bench\",\"functionVersion\":\"$LATEST\",\"handler\":\"bootstrap\"}",
            )))
            .expect("a valid response"));
    }
    if method == Method::GET && path == "/2020-01-01/extension/event/next" {
        return std::future::pending().await;
    }
    Ok(plain(StatusCode::NOT_FOUND, "{}"))
}

/// Serves the Runtime API on `listener` until aborted; dropping the task drops every
/// connection with it.
async fn serve(listener: TcpListener, tx: Tx, arn: String) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        let (tx, arn) = (tx.clone(), arn.clone());
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |request| runtime_api(request, tx.clone(), arn.clone()));
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
        while connections.try_join_next().is_some() {}
    }
}

struct Target {
    name: String,
    bootstrap: PathBuf,
    event: Bytes,
    env: Vec<(String, String)>,
    zip_bytes: Option<u64>,
    log: PathBuf,
    baseline: bool,
}

/// One start of one process.
struct Start {
    init: Duration,
    invocations: Vec<Duration>,
    answers: Vec<String>,
    hwm_kib: Option<u64>,
}

/// The cgroup v1 group's `tasks` file, opened for the child to write `0` (itself) into
/// between fork and exec: only the process under test enters the group, before its first
/// instruction.
struct Group {
    tasks: std::fs::File,
    name: String,
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn answer_of(body: &[u8], error: bool) -> String {
    if error {
        return "error".to_owned();
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => match v.get("statusCode").and_then(Value::as_u64) {
            Some(code) => code.to_string(),
            None => "ok".to_owned(),
        },
        Err(_) => "ok".to_owned(),
    }
}

async fn next_message(
    rx: &mut mpsc::UnboundedReceiver<Msg>,
    child: &mut tokio::process::Child,
    waiting_for: &str,
) -> Result<Msg, String> {
    tokio::select! {
        m = rx.recv() => m.ok_or_else(|| "the runtime API stopped".to_owned()),
        status = child.wait() => Err(format!("the process exited ({}) before {waiting_for}", status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string()))),
        _ = tokio::time::sleep(Duration::from_secs(60)) => Err(format!("no {waiting_for} within 60 s")),
    }
}

async fn start(target: &Target, group: Option<&Group>, invocations: usize) -> Result<Start, String> {
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let arn = format!("arn:aws:lambda:ca-central-1:123456789012:function:{}", target.name);
    let server = tokio::spawn(serve(listener, tx, arn));
    let result = run_process(target, group, invocations, address, &mut rx).await;
    server.abort();
    result
}

async fn run_process(
    target: &Target,
    group: Option<&Group>,
    invocations: usize,
    address: std::net::SocketAddr,
    rx: &mut mpsc::UnboundedReceiver<Msg>,
) -> Result<Start, String> {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(&target.log).map_err(|e| e.to_string())?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    let mut command = tokio::process::Command::new(&target.bootstrap);
    command
        .env_clear()
        .envs(target.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .current_dir(target.bootstrap.parent().unwrap_or(std::path::Path::new("/")))
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(log2)
        .kill_on_drop(true);
    if let Some(group) = group {
        let fd: RawFd = group.tasks.as_raw_fd();
        // SAFETY: between fork and exec only write(2), which is async-signal-safe, and
        // last_os_error (errno) run.
        unsafe {
            command.pre_exec(move || {
                if libc::write(fd, b"0".as_ptr().cast(), 1) == 1 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
    }
    let exec = Instant::now();
    let mut child = command.spawn().map_err(|e| format!("cannot start {}: {e}", target.bootstrap.display()))?;
    let pid = child.id().ok_or("no pid")?;
    let outcome: Result<Start, String> = async {
        let (init, mut reply) = match next_message(rx, &mut child, "the first poll").await? {
            Msg::Next { at, reply } => (at - exec, reply),
            Msg::InitError { body } => return Err(format!("init error: {}", String::from_utf8_lossy(&body))),
            Msg::Done { .. } => return Err("a response before any event".to_owned()),
        };
        let mut times = Vec::with_capacity(invocations);
        let mut answers = Vec::with_capacity(invocations);
        let mut hwm_kib = None;
        for i in 0..invocations {
            let sent = Instant::now();
            reply.send((format!("bench-{pid}-{i}"), target.event.clone())).map_err(|_| "the poll went away")?;
            match next_message(rx, &mut child, "the response").await? {
                Msg::Done { at, body, error } => {
                    times.push(at - sent);
                    answers.push(answer_of(&body, error));
                }
                Msg::InitError { body } => return Err(format!("init error: {}", String::from_utf8_lossy(&body))),
                Msg::Next { .. } => return Err("a poll before the response".to_owned()),
            }
            if i == 0 {
                hwm_kib = vm_hwm_kib(pid);
            }
            reply = match next_message(rx, &mut child, "the next poll").await? {
                Msg::Next { reply, .. } => reply,
                _ => return Err("no poll after the response".to_owned()),
            };
        }
        if let Some(group) = group {
            let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
            let wanted = format!("/{}", group.name);
            if !cgroups.lines().any(|l| l.contains(":cpu") && l.ends_with(&wanted)) {
                return Err(format!("the process is not in the cpu group {}: {cgroups}", group.name));
            }
        }
        Ok(Start { init, invocations: times, answers, hwm_kib })
    }
    .await;
    let _ = child.start_kill();
    let _ = child.wait().await;
    outcome
}

fn percentile(values: &[Duration], q: f64) -> Option<Duration> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

fn ms(d: Option<Duration>) -> String {
    match d {
        Some(d) => format!("{:.1}", d.as_secs_f64() * 1e3),
        None => "—".to_owned(),
    }
}

fn ratio(a: Option<Duration>, b: Option<Duration>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if !b.is_zero() => format!("{:.2}×", a.as_secs_f64() / b.as_secs_f64()),
        _ => "—".to_owned(),
    }
}

#[derive(Default)]
struct Results {
    /// Per mode (0 = alone, 1 = quota): the cold starts (one invocation each).
    cold: [Vec<Start>; 2],
    /// Per mode: the start with `1 + warm` invocations.
    warm: [Option<Start>; 2],
    failure: Option<String>,
}

fn str_field<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    v.get(key).and_then(Value::as_str).ok_or_else(|| format!("config: `{key}` is missing"))
}

fn read_targets(config: &Value) -> Result<Vec<Target>, String> {
    let common: Vec<(String, String)> = config["env"]
        .as_object()
        .ok_or("config: `env` is missing")?
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    let mut targets = Vec::new();
    for t in config["targets"].as_array().ok_or("config: `targets` is missing")? {
        let name = str_field(t, "name")?.to_owned();
        let event_path = str_field(t, "event")?;
        let mut event = std::fs::read_to_string(event_path).map_err(|e| format!("{event_path}: {e}"))?;
        if let Some(tokens) = config["tokens"].as_object() {
            for (placeholder, token) in tokens {
                event = event.replace(placeholder, token.as_str().unwrap_or_default());
            }
        }
        serde_json::from_str::<Value>(&event).map_err(|e| format!("{event_path}: not JSON: {e}"))?;
        let mut env = common.clone();
        if let Some(extra) = t["env"].as_object() {
            env.extend(extra.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())));
        }
        let bootstrap = PathBuf::from(str_field(t, "bootstrap")?);
        let task_root = bootstrap.parent().map(|p| p.display().to_string()).unwrap_or_default();
        env.extend([
            ("AWS_LAMBDA_FUNCTION_NAME".to_owned(), name.clone()),
            ("AWS_LAMBDA_LOG_GROUP_NAME".to_owned(), format!("/aws/lambda/{name}")),
            ("LAMBDA_TASK_ROOT".to_owned(), task_root.clone()),
            ("LAMBDA_RUNTIME_DIR".to_owned(), task_root),
        ]);
        targets.push(Target {
            log: PathBuf::from(config["logs"].as_str().unwrap_or("/tmp")).join(format!("{name}.log")),
            zip_bytes: t["zip_bytes"].as_u64(),
            baseline: t["baseline"].as_bool().unwrap_or(false),
            name,
            bootstrap,
            event: Bytes::from(event),
            env,
        });
    }
    if targets.iter().filter(|t| t.baseline).count() != 1 {
        return Err("config: exactly one target must be the baseline".to_owned());
    }
    Ok(targets)
}

fn answers_summary(results: &Results) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let starts = results.cold.iter().flatten().chain(results.warm.iter().flatten());
    for start in starts {
        for a in &start.answers {
            *counts.entry(a.as_str()).or_default() += 1;
        }
    }
    counts.iter().map(|(a, n)| format!("{a} ×{n}")).collect::<Vec<_>>().join(", ")
}

fn table(targets: &[Target], results: &[Results], quota_label: &str) -> String {
    let base = targets.iter().position(|t| t.baseline).expect("one baseline");
    let inits = |r: &Results, mode: usize| r.cold[mode].iter().map(|s| s.init).collect::<Vec<_>>();
    let firsts = |r: &Results, mode: usize| {
        r.cold[mode].iter().filter_map(|s| s.invocations.first().copied()).collect::<Vec<_>>()
    };
    let warm =
        |r: &Results, mode: usize| r.warm[mode].as_ref().map(|s| s.invocations[1..].to_vec()).unwrap_or_default();
    let base_init = [percentile(&inits(&results[base], 0), 0.5), percentile(&inits(&results[base], 1), 0.5)];
    let mut out = String::new();
    out.push_str(&format!(
        "| function | init p50 | init p95 | × hello | init p50, {q} | init p95, {q} | × hello, {q} | 1st invocation p50 | warm p50 | warm p99 | 1st invocation p50, {q} | warm p50, {q} | warm p99, {q} | 1st ÷ warm p50, {q} | peak RSS (MiB) | zip (KB) | answers |\n",
        q = quota_label
    ));
    out.push_str("|---|");
    out.push_str(&"---:|".repeat(15));
    out.push_str("---|\n");
    for (t, r) in targets.iter().zip(results) {
        let (i0, i1) = (inits(r, 0), inits(r, 1));
        let (f0, f1) = (firsts(r, 0), firsts(r, 1));
        let (w0, w1) = (warm(r, 0), warm(r, 1));
        let mut hwm: Vec<u64> = r.cold.iter().flatten().filter_map(|s| s.hwm_kib).collect();
        hwm.sort();
        let hwm =
            hwm.get(hwm.len() / 2).map(|k| format!("{:.1}", *k as f64 / 1024.0)).unwrap_or_else(|| "—".to_owned());
        let zip = t.zip_bytes.map(|b| format!("{:.0}", b as f64 / 1000.0)).unwrap_or_else(|| "—".to_owned());
        let name = if t.baseline { format!("*{}* (bare runtime)", t.name) } else { format!("`{}`", t.name) };
        let mut answers = answers_summary(r);
        if let Some(failure) = &r.failure {
            answers = format!("{answers}; FAILED: {}", failure.replace('|', "/").replace('\n', " "));
        }
        let p50_i0 = percentile(&i0, 0.5);
        let p50_i1 = percentile(&i1, 0.5);
        out.push_str(&format!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {hwm} | {zip} | {answers} |\n",
            ms(p50_i0),
            ms(percentile(&i0, 0.95)),
            ratio(p50_i0, base_init[0]),
            ms(p50_i1),
            ms(percentile(&i1, 0.95)),
            ratio(p50_i1, base_init[1]),
            ms(percentile(&f0, 0.5)),
            ms(percentile(&w0, 0.5)),
            ms(percentile(&w0, 0.99)),
            ms(percentile(&f1, 0.5)),
            ms(percentile(&w1, 0.5)),
            ms(percentile(&w1, 0.99)),
            ratio(percentile(&f1, 0.5), percentile(&w1, 0.5)),
        ));
    }
    out
}

fn raw(targets: &[Target], results: &[Results]) -> Value {
    let us = |d: &Duration| d.as_micros() as u64;
    let start = |s: &Start| json!({"init_us": us(&s.init), "invocations_us": s.invocations.iter().map(us).collect::<Vec<_>>(), "answers": s.answers, "vm_hwm_kib": s.hwm_kib});
    Value::Array(
        targets
            .iter()
            .zip(results)
            .map(|(t, r)| {
                json!({
                    "name": t.name, "baseline": t.baseline, "zip_bytes": t.zip_bytes, "failure": r.failure,
                    "cold": r.cold.iter().map(|m| m.iter().map(start).collect::<Vec<_>>()).collect::<Vec<_>>(),
                    "warm": r.warm.iter().map(|w| w.as_ref().map(start)).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-cold: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let path = std::env::args().nth(1).ok_or("usage: bench-cold CONFIG.json")?;
    let config: Value = serde_json::from_str(&std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?)
        .map_err(|e| e.to_string())?;
    let targets = read_targets(&config)?;
    let runs = config["runs"].as_u64().unwrap_or(21) as usize;
    let warm = config["warm"].as_u64().unwrap_or(200) as usize;
    let cgroup = str_field(&config, "cgroup")?;
    let tasks = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("{cgroup}/tasks"))
        .map_err(|e| format!("{cgroup}/tasks: {e} (cgroup v1 cpu controller, as root)"))?;
    let group = Group { tasks, name: cgroup.rsplit('/').next().unwrap_or_default().to_owned() };
    let quota_label = config["quota_label"].as_str().unwrap_or("quota").to_owned();
    let mut results: Vec<Results> = targets.iter().map(|_| Results::default()).collect();

    for round in 0..runs {
        for mode in 0..2 {
            for (t, r) in targets.iter().zip(results.iter_mut()) {
                if r.failure.is_some() {
                    continue;
                }
                match start(t, (mode == 1).then_some(&group), 1).await {
                    Ok(s) => r.cold[mode].push(s),
                    Err(e) => {
                        eprintln!(
                            "bench-cold: {} ({}): {e} — see {}",
                            t.name,
                            ["alone", "quota"][mode],
                            t.log.display()
                        );
                        r.failure = Some(e);
                    }
                }
            }
        }
        eprintln!("bench-cold: cold starts, round {}/{runs}", round + 1);
    }
    for (t, r) in targets.iter().zip(results.iter_mut()) {
        for mode in 0..2 {
            if r.failure.is_some() {
                continue;
            }
            match start(t, (mode == 1).then_some(&group), 1 + warm).await {
                Ok(s) => r.warm[mode] = Some(s),
                Err(e) => {
                    eprintln!(
                        "bench-cold: {} warm ({}): {e} — see {}",
                        t.name,
                        ["alone", "quota"][mode],
                        t.log.display()
                    );
                    r.failure = Some(e);
                }
            }
        }
        eprintln!("bench-cold: {} warm invocations done", t.name);
    }

    if let Some(raw_path) = config["raw"].as_str() {
        std::fs::write(raw_path, serde_json::to_string_pretty(&raw(&targets, &results)).expect("JSON"))
            .map_err(|e| format!("{raw_path}: {e}"))?;
    }
    print!("{}", table(&targets, &results, &quota_label));
    if results.iter().any(|r| r.failure.is_some()) {
        return Err("some targets failed (see the table's answers column and their logs)".to_owned());
    }
    Ok(())
}
