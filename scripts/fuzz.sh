#!/usr/bin/env bash
# The libFuzzer targets of fuzz/ (cargo-fuzz, nightly), each for SECONDS, one after another:
#
#   scripts/fuzz.sh SECONDS [TARGET...]      (default: every target; not in CI)
#
#   request_bodies  request bodies into domain types (http::requests, http::body, domain parse)
#   token           the Authorization header and the token's claims (bearer_token, IssuerVerifier)
#   csv_rows        CSV rows of the registry import (seed::certificates, seed::invoices)
#   cursors         the staff routes' page cursors (http::cursor: queue `next`, audit `cursor`)
#
# Each starts from its committed corpus (fuzz/corpus/TARGET, never written to) and keeps
# what it finds in fuzz/corpus-work/TARGET (ignored by git). A crash lands in
# fuzz/artifacts/TARGET and fails the run; replay it with
# `cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-…` (in fuzz/). Prints the
# executions of each target. Needs the nightly toolchain; installs cargo-fuzz when missing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_EACH="${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}"
shift
ALL=(request_bodies token csv_rows cursors)
TARGETS=("${@:-${ALL[@]}}")
[[ "$SECONDS_EACH" =~ ^[0-9]+$ ]] && [ "$SECONDS_EACH" -ge 1 ] || { echo "fuzz: SECONDS must be a whole number" >&2; exit 2; }

rustup run nightly cargo --version >/dev/null 2>&1 \
  || { echo "fuzz: the nightly toolchain is needed (rustup toolchain install nightly)" >&2; exit 1; }
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz (cargo install cargo-fuzz --locked)"
  cargo install cargo-fuzz --locked
fi

cd "$ROOT/fuzz"
echo "fuzz: building the targets (release, sanitizers; the first build takes a while)"
cargo +nightly fuzz build

results=()
status=0
for target in "${TARGETS[@]}"; do
  [ -d "corpus/$target" ] || { echo "fuzz: no target $target (corpus/$target missing)" >&2; exit 2; }
  mkdir -p "corpus-work/$target" "artifacts/$target"
  log="corpus-work/$target.log"
  echo "==> $target, ${SECONDS_EACH}s"
  outcome=ok
  cargo +nightly fuzz run "$target" "corpus-work/$target" "corpus/$target" -- \
      -max_total_time="$SECONDS_EACH" -max_len=8192 -print_final_stats=1 >"$log" 2>&1 || outcome=FAILED
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  corpus=$(find "corpus-work/$target" -type f | wc -l)
  if [ "$outcome" = FAILED ]; then
    status=1
    grep -m 5 -E 'panicked|ERROR: |SUMMARY|Test unit written' "$log" | sed 's/^/    /' || true
  fi
  results+=("$(printf '%-16s %6ss %12s runs %8s/s  cov %6s  corpus %5s  %s' "$target" "$SECONDS_EACH" "${runs:-?}" "${speed:-?}" "${cov:-?}" "$corpus" "$outcome")")
done

echo
echo "Fuzzing ($(date -u +%Y-%m-%dT%H:%MZ), logs in fuzz/corpus-work/TARGET.log):"
printf '  %s\n' "${results[@]}"
exit "$status"
