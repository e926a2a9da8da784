#!/usr/bin/env bash
# The holder's page and the Office's page in a real browser: Debian's Chromium (installed with
# apt-get when missing), playwright-core and @axe-core/playwright (npm, web/tests), against
# four local APIs (one with 2-second codes for the expiry test; one of its own for the
# Office's page, so its queue holds only its tests' requests; one for the "this wasn't me"
# reports, the email-change hold and delivery, whose notices link to its own address).
# web/tests/oidc.test.mjs starts a fifth itself, verifying tokens of two oidc-provider issuers
# it runs on loopback (the pages in oidc mode). Screenshots go to target/screenshots/, those of
# the reports, the hold and delivery to web/tests/screenshots/i12-*.png.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$ROOT"
trap stop_servers EXIT

if ! command -v chromium >/dev/null 2>&1; then
  need apt-get "Debian's package manager installs Chromium"
  apt-get install -y --no-install-recommends chromium >"$TOOLS/apt-chromium.log" 2>&1 \
    || { apt-get update >>"$TOOLS/apt-chromium.log" 2>&1 && apt-get install -y --no-install-recommends chromium >>"$TOOLS/apt-chromium.log" 2>&1; } \
    || die "apt-get install chromium failed (see .tools/apt-chromium.log)"
fi
command -v chromium >/dev/null 2>&1 || die "chromium is not installed"
need node "Node 20 runs the browser tests"
(cd web/tests && npm ci --no-audit --no-fund --silent) || die "npm ci in web/tests failed"

cargo build --quiet -p local-api
start_local_api() { # port [ENV=VALUE...]
  local port=$1; shift
  env "$@" target/debug/local-api --port "$port" >"$TOOLS/local-api-$port.log" 2>&1 &
  PIDS+=($!)
  wait_for "http://127.0.0.1:$port/config.json" 30 || die "the local API did not start (.tools/local-api-$port.log)"
}
main_port=$(free_port)
short_port=$(free_port)
agent_port=$(free_port)
report_port=$(free_port)
start_local_api "$main_port"
start_local_api "$short_port" CODE_TTL_SECONDS=2
start_local_api "$agent_port"
start_local_api "$report_port" EMAIL_CHANGE_HOLD_SECONDS=86400

rm -rf target/screenshots web/tests/screenshots
(cd web/tests && BASE_URL="http://127.0.0.1:$main_port" SHORT_CODES_URL="http://127.0.0.1:$short_port" \
  AGENT_BASE_URL="http://127.0.0.1:$agent_port" REPORT_BASE_URL="http://127.0.0.1:$report_port" LOCAL_API_BIN="$ROOT/target/debug/local-api" SCREENSHOT_DIR="$ROOT/target/screenshots" node --test --test-concurrency=1 .)
echo "    screenshots: $(ls target/screenshots | wc -l) in target/screenshots/, $(ls web/tests/screenshots | wc -l) in web/tests/screenshots/"
