#!/usr/bin/env bash
# Round trips, capacity and cost per path (issue 13) — a measurement, not a test, not in CI:
#   scripts/bench-paths.sh [WALKS]       (default 5 walks per path; writes bench/results-paths.md)
# Starts a fresh DynamoDB Local in memory on a free 127.0.0.1 port, walks every path in process
# (bench/src/walk.rs: each route's API Gateway fixture through the functions' router, on the
# DynamoDB store) with the capacity meter on the store's client (bench/src/meter.rs), prints the
# tables and writes them, then stops what it started. The counts do not depend on the build
# profile: a debug build (seconds after `scripts/test-all.sh`). The cost table reads each
# function's warm p50 under the CPU quota from bench/results-cold.md (scripts/bench-cold.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$ROOT"
walks=${1:-5}
trap stop_servers EXIT
install_dynamodb_local
cargo build --locked -p bench --bin paths
start_dynamodb_local
target/debug/paths --walks "$walks" --out bench/results-paths.md
