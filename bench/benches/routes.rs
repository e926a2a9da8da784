//! CPU per request, in process, per route on the memory store (criterion): `cargo bench -p bench
//! --bench routes` (`scripts/bench-routes.sh` writes the table). Each iteration walks its path
//! for a certificate file and an account of its own (untimed) and times only the route's call:
//! the router, the token's verification (RS256), the rules and the store's work — no network.

use bench::walk::{Journey, Observer, Step, Walker, options, registry};
use criterion::{Criterion, criterion_group, criterion_main};
use std::cell::Cell;
use std::time::{Duration, Instant};

/// Times one step, ignores the others.
struct Stopwatch {
    step: Step,
    started: Cell<Option<Instant>>,
    total: Cell<Duration>,
    status: Cell<u16>,
}

impl Observer for Stopwatch {
    fn begin(&self, step: Step) {
        if step == self.step {
            self.started.set(Some(Instant::now()));
        }
    }
    fn end(&self, step: Step, status: u16) {
        if step == self.step
            && let Some(started) = self.started.take()
        {
            self.total.set(self.total.get() + started.elapsed());
            self.status.set(status);
        }
    }
}

/// Certificate files per local API: when they are used up, a new one is built (untimed).
const FILES: usize = 2_000;

/// A walker and its unused files, renewed when they run out.
struct Pool {
    dir: std::path::PathBuf,
    holders: Vec<bench::walk::Holder>,
    walker: Option<Walker>,
    next: usize,
}

impl Pool {
    async fn holder(&mut self) -> (&Walker, bench::walk::Holder) {
        if self.walker.is_none() || self.next == self.holders.len() {
            self.walker = Some(Walker::new(options(self.dir.clone(), None, "bench-routes")).await);
            self.next = 0;
        }
        self.next += 1;
        (self.walker.as_ref().unwrap(), self.holders[self.next - 1].clone())
    }
}

/// The path that reaches `step`, stopped there.
fn path_to(step: Step) -> Journey {
    Journey::ALL.into_iter().find(|p| p.steps().contains(&step)).expect("every step is on a path")
}

fn routes(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let dir = std::env::temp_dir().join(format!("bench-routes-{}", std::process::id()));
    let holders = registry(&dir, FILES).expect("the registry is written");
    let pool = tokio::sync::Mutex::new(Pool { dir: dir.clone(), holders, walker: None, next: 0 });
    let mut group = c.benchmark_group("route");
    group.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for step in Step::ALL {
        let (function, route, path) = step.label();
        let id = format!("{function} | {route} | {path}");
        group.bench_function(id, |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let pool = &pool;
                async move {
                    let watch = Stopwatch {
                        step,
                        started: Cell::new(None),
                        total: Cell::new(Duration::ZERO),
                        status: Cell::new(0),
                    };
                    for _ in 0..iters {
                        let mut pool = pool.lock().await;
                        let (walker, holder) = pool.holder().await;
                        walker.walk(path_to(step), &holder, &watch).await;
                    }
                    watch.total.get()
                }
            })
        });
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, routes);
criterion_main!(benches);
