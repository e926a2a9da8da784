#!/usr/bin/env bash
# CPU per request, in process, per route on the memory store (issue 13) — a measurement, not a
# test, not in CI:   scripts/bench-routes.sh        (writes bench/results-routes.md)
# `cargo bench -p bench --bench routes` (criterion; the workspace's release profile — fat LTO,
# opt-level "z", as the Lambda bootstraps are built: minutes on two cores the first time), then
# one markdown table of each route's median and mean from criterion's estimates
# (target/criterion/route/*/new/estimates.json). Nothing else should run meanwhile.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$ROOT"
results=${1:-bench/results-routes.md}
rm -rf target/criterion/route
cargo bench --locked -p bench --bench routes
python3 - "$results" <<'PY'
import glob, json, os, subprocess, sys, time
rows = []
for path in sorted(glob.glob("target/criterion/route/*/new/estimates.json")):
    bench = json.load(open(os.path.join(os.path.dirname(path), "benchmark.json")))
    est = json.load(open(path))
    function, route, what = [p.strip() for p in bench["function_id"].split("|")]
    median, mean = est["median"]["point_estimate"] / 1000, est["mean"]["point_estimate"] / 1000
    low, high = est["median"]["confidence_interval"]["lower_bound"] / 1000, est["median"]["confidence_interval"]["upper_bound"] / 1000
    rows.append((function, route, what, median, low, high, mean))
order = ["lookup", "send-code", "delivery-events", "recovery-state", "verify-code", "check-invoice", "assistance", "agent-desk", "report"]
rows.sort(key=lambda r: (order.index(r[0]) if r[0] in order else 99, r[1], r[2]))
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
out = ["# CPU per request, in process, per route (`scripts/bench-routes.sh`)", "",
       f"- **When**: {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; commit {commit}; {cpu}, nproc {os.cpu_count()}.",
       "- **How**: criterion (`bench/benches/routes.rs`), the release profile of the bootstraps. Each iteration walks its path for a certificate file and an account of its own (untimed) and times one route's call through the functions' router on the memory store: the token verified (RS256), the rules, the store's work — no network, no DynamoDB. 20 samples of 3 s after 1 s of warm-up. Target: ≤ 50 µs at the median.",
       "", "| function | route | path | median (µs) | 95 % interval of the median (µs) | mean (µs) |", "|---|---|---|---:|---:|---:|"]
for f, r, w, med, lo, hi, mean in rows:
    out.append(f"| `{f}` | `{r}` | {w} | {med:.1f} | {lo:.1f}–{hi:.1f} | {mean:.1f} |")
text = "\n".join(out) + "\n"
print(text)
open(sys.argv[1], "w").write(text)
PY
