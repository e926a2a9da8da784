#!/usr/bin/env bash
# Launch-day load (issue 9, item 6) — a measurement, not a test, not in CI:
#   scripts/load.sh [HOLDERS] [CONCURRENCY] [RESULTS]     (defaults: 2000, 50, docs/load.md)
# Builds the local API and the `load` driver (crate bench/) in release — the workspace profile,
# fat LTO: minutes on two cores the first time — starts a fresh DynamoDB Local in memory on a
# free 127.0.0.1 port, writes a registry of one certificate file per holder, starts the local
# API on DynamoDB Local with that seed and no SES endpoint (its outbox prints each email on its
# output, where the driver reads the codes), drives the holders through lookup, code, verify
# and GET /me/certificate, checks the table and the outbox, writes RESULTS, and stops what it
# started. Exits non-zero on any error, lost or doubled link.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$ROOT"
holders=${1:-2000}
concurrency=${2:-50}
results=${3:-docs/load.md}
work=$(mktemp -d -t load.XXXXXX)
trap stop_servers EXIT

install_dynamodb_local
echo "==> cargo build --release -p local-api -p bench"
cargo build --release --locked -p local-api -p bench

echo "==> DynamoDB Local (in memory, 127.0.0.1)"
ddb_port=$(free_port)
(cd "$DDB_DIR" && exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
    -inMemory -port "$ddb_port" -disableTelemetry) >"$work/dynamodb-local.log" 2>&1 &
PIDS+=($!)
ddb_pid=$!
dynamodb="http://127.0.0.1:$ddb_port"
wait_for "$dynamodb" 60 || die "DynamoDB Local did not start (see $work/dynamodb-local.log)"

echo "==> a registry of $holders files, and the local API on it"
target/release/load seed --holders "$holders" --out "$work/seed"
api_port=$(free_port)
table="load-$(date +%s)"
# Default settings and log level, as deployed; its output (emails and logs) goes to a file.
target/release/local-api --port "$api_port" --seed "$work/seed" --dynamodb-endpoint "$dynamodb" \
    --table "$table" >"$work/local-api.out" 2>"$work/local-api.err" &
PIDS+=($!)
api_pid=$!
for ((i = 0; i < 3000; i++)); do
  grep -q "local API on http://" "$work/local-api.out" 2>/dev/null && break
  kill -0 "${PIDS[-1]}" 2>/dev/null || die "the local API stopped (see $work/local-api.err)"
  sleep 0.1
done
grep -q "local API on http://" "$work/local-api.out" || die "the local API did not start in 300 s"

echo "==> $holders holders, $concurrency at a time"
context="Run $(date -u +%Y-%m-%dT%H:%MZ) at commit \`$(git describe --always --dirty)\` with \
\`scripts/load.sh $holders $concurrency\`: $(rustc --version | cut -d' ' -f1-2), the workspace release \
profile (opt-level \"z\", fat LTO, as the Lambda bootstraps), DynamoDB Local \
$(sed -n 's/^Version:[[:space:]]*//p' "$work/dynamodb-local.log") on Java $(java -version 2>&1 | head -1 | cut -d'"' -f2); \
the driver, the local API and DynamoDB Local share the machine's CPUs with whatever else runs on it."
target/release/load run --api "http://127.0.0.1:$api_port" --holders "$holders" --concurrency "$concurrency" \
    --emails-log "$work/local-api.out" --dynamodb-endpoint "$dynamodb" --table "$table" \
    --results "$results" --context "$context" --cpu-of "local API=$api_pid" --cpu-of "DynamoDB Local=$ddb_pid" \
  || die "the load run failed; its files (the local API's output, DynamoDB Local's log) are kept in $work"
rm -rf "$work"
