#!/usr/bin/env bash
# API fuzzing: schemathesis against openapi.yaml on the local API (memory store, outbox,
# development tokens) on a free 127.0.0.1 port. Every check (no 5xx; status code, content
# type, headers and body as the document declares; schema-valid requests accepted and invalid
# ones refused; auth enforced), with the exceptions in scripts/api-fuzz/schemathesis.toml.
# Tokens come from the local API's `POST /dev/token` (scripts/api-fuzz/hooks.py): citizen
# tokens for many subjects, some set up in each recovery state first, and a staff token
# (roles ["agent"]) for /agent/... .
#
#   scripts/api-fuzz.sh [MAX_EXAMPLES [MAX_SECONDS]]    (defaults 60 and 120; also
#                                                         API_FUZZ_EXAMPLES, API_FUZZ_SECONDS)
#
# Bounded: at most MAX_EXAMPLES generated cases per operation and phase, and MAX_SECONDS for
# the whole run. API_FUZZ_SEED=N replays a run. The report (JUnit) lands in
# target/api-fuzz/. Part of scripts/test-all.sh; needs the venv's schemathesis
# (tools.sh install_python_tools).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
EXAMPLES="${1:-${API_FUZZ_EXAMPLES:-60}}"
SECONDS_MAX="${2:-${API_FUZZ_SECONDS:-120}}"
ST="$VENV/bin/st"
[ -x "$ST" ] || { echo "api-fuzz: $ST missing (scripts/tools.sh install_python_tools installs it)" >&2; exit 1; }

OUT="$ROOT/target/api-fuzz"
rm -rf "$OUT"
mkdir -p "$OUT"

cargo build -p local-api --locked --quiet
port=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
export API_FUZZ_URL="http://127.0.0.1:$port"
export API_FUZZ_WAIVED="$OUT/waived.txt"
# Hypothesis's cache under target/, not in the working tree.
export HYPOTHESIS_STORAGE_DIRECTORY="$OUT/hypothesis"
"$VENV/bin/python" scripts/api-fuzz/hooks.py seed "$OUT/seed"

# A 2 s resend cooldown (60 s in production) so sends are reached, not mostly the cooldown's
# 429; every other rule at its default.
CODE_RESEND_COOLDOWN_SECONDS=2 "$ROOT/target/debug/local-api" --port "$port" --seed "$OUT/seed" \
  >"$OUT/local-api.log" 2>&1 &
api_pid=$!
trap 'kill "$api_pid" 2>/dev/null || true; wait "$api_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -s -o /dev/null "$API_FUZZ_URL/recovery" && break
  sleep 0.1
done
curl -s -o /dev/null "$API_FUZZ_URL/recovery" || { echo "api-fuzz: the local API did not start (see $OUT/local-api.log)" >&2; exit 1; }

seed_args=()
[ -n "${API_FUZZ_SEED:-}" ] && seed_args=(--seed "$API_FUZZ_SEED")
echo "api-fuzz: schemathesis on $API_FUZZ_URL, at most $EXAMPLES cases per operation and phase, ${SECONDS_MAX}s"
status=0
"$ST" --config-file scripts/api-fuzz/schemathesis.toml run openapi.yaml \
  --url "$API_FUZZ_URL" \
  --checks all \
  --exclude-checks unsupported_method,allow_header_conformance \
  --generation-database none \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "$EXAMPLES" \
  --max-time "$SECONDS_MAX" \
  --workers 2 \
  --request-timeout 10 \
  --no-color \
  --report junit,har --report-junit-path "$OUT/junit.xml" --report-har-path "$OUT/requests.har" \
  "${seed_args[@]}" || status=$?
if [ -s "$API_FUZZ_WAIVED" ]; then
  echo "api-fuzz: waived (400 for what JSON Schema cannot rule out; see scripts/api-fuzz/hooks.py):"
  sort "$API_FUZZ_WAIVED" | uniq -c | sed 's/^/  /'
fi
if grep -q 'panicked' "$OUT/local-api.log"; then
  echo "api-fuzz: the local API panicked (see $OUT/local-api.log)" >&2
  status=1
fi
exit "$status"
