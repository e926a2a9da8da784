#!/usr/bin/env bash
# The cold path, measured (issue 13, part 1; bench/README.md): every function's release
# bootstrap and a bare lambda_http hello-world started against a local Lambda Runtime API
# (bench/cold), on their own and alone in a cgroup v1 CPU group with the quota Lambda gives the
# template's MemorySize; DynamoDB Local, moto (Secrets Manager, SES) and the issuers' JWKS reached
# through TLS (stunnel, a throwaway CA made here, trusted through AWS_CA_BUNDLE and SSL_CERT_FILE), so every
# handshake is in the figures. Prints the markdown table and writes bench/results-cold.md.
#
# Not part of CI. Needs root (the cgroup, the network namespace), stunnel4 and openssl from
# Debian (`apt-get install -y stunnel4`), Java 17 and npm (DynamoDB Local), python3 — the
# README's setup. Builds first (~8-10 min on 2 cores from cold); BENCH_SKIP_BUILD=1 reuses the
# last build. BENCH_RUNS (default 21) starts per target and mode, BENCH_WARM (default 200)
# warm invocations per target and mode.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$ROOT"
die() { echo "bench-cold: $*" >&2; exit 1; }

RUNS=${BENCH_RUNS:-21}
WARM=${BENCH_WARM:-200}
RESULTS=${BENCH_RESULTS:-$ROOT/bench/results-cold.md}

# ---------------------------------------------------------------------------------------------
# Inside the namespaces (the second half of this script, run by the first through unshare):
# a network namespace with only loopback, so nothing here — DynamoDB Local included, which
# binds every interface — is reachable from outside; a PID namespace, so every process started
# here dies with it.
if [ "${1:-}" = "--inside" ]; then
  : "${BENCH_WORK:?}" "${BENCH_CGROUP:?}" "${BENCH_QUOTA:?}" "${BENCH_MEMORY:?}" "${BENCH_TARGET:?}"
  work=$BENCH_WORK
  ip link set lo up
  trap stop_servers EXIT
  install_dynamodb_local
  start_dynamodb_local
  start_moto

  # A throwaway CA and a certificate for 127.0.0.1 (RSA 2048, as AWS's endpoints present).
  tls=$work/tls
  mkdir -p "$tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=bench-cold throwaway CA" \
    -keyout "$tls/ca.key" -out "$tls/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' >"$tls/server.ext"
  openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial -days 1 \
    -extfile "$tls/server.ext" -out "$tls/server.pem" 2>/dev/null
  # What the functions trust. The AWS clients: this CA alone (AWS_CA_BUNDLE, app::https_client),
  # in place of the five Amazon Trust Services roots compiled in — the same work. The issuer's
  # JWKS fetch (rustls-native-certs): the system's roots and this CA in one file (SSL_CERT_FILE),
  # as Lambda's provided.al2023 keeps them in one bundle (/etc/pki/tls/certs/ca-bundle.crt).
  cat /etc/ssl/certs/ca-certificates.crt "$tls/ca.pem" >"$tls/bundle.pem"

  # The issuers' JWKS (the development key's public half), served over HTTPS like an issuer's.
  mkdir -p "$work/jwks"
  cp dev/jwks.json "$work/jwks/jwks.json"
  jwks_port=$(free_port)
  python3 -m http.server --bind 127.0.0.1 --directory "$work/jwks" "$jwks_port" >"$work/jwks.log" 2>&1 &
  PIDS+=($!)

  ddb_tls=$(free_port) aws_tls=$(free_port) jwks_tls=$(free_port)
  cat >"$work/stunnel.conf" <<EOF
foreground = yes
pid =
output = $work/stunnel.log
debug = err
cert = $tls/server.pem
key = $tls/server.key
[dynamodb]
accept = 127.0.0.1:$ddb_tls
connect = ${DYNAMODB_ENDPOINT#http://}
[moto]
accept = 127.0.0.1:$aws_tls
connect = ${SES_ENDPOINT#http://}
[jwks]
accept = 127.0.0.1:$jwks_tls
connect = 127.0.0.1:$jwks_port
EOF
  stunnel4 "$work/stunnel.conf" >"$work/stunnel.out" 2>&1 &
  PIDS+=($!)
  for url in "https://127.0.0.1:$ddb_tls/" "https://127.0.0.1:$aws_tls/moto-api/data.json" "https://127.0.0.1:$jwks_tls/jwks.json"; do
    ok=
    for _ in $(seq 1 100); do
      if curl -s -o /dev/null --cacert "$tls/ca.pem" "$url"; then ok=1; break; fi
      sleep 0.1
    done
    [ -n "$ok" ] || die "stunnel does not answer $url (see $work/stunnel.log)"
  done

  # The table with the demo registry (import-registry, straight to DynamoDB Local), the
  # code-hashing secret (rotated once, as in lambda-smoke.sh) and the sender's SES identity.
  table="bench-cold"
  # The functions' access key: DynamoDB Local keeps one database per key and region.
  AWS_REGION=ca-central-1 AWS_ACCESS_KEY_ID=ASIABENCHCOLDLOCAL00 AWS_SECRET_ACCESS_KEY=bench-cold-local-secret-key \
    "$BENCH_TARGET/lambda/import-registry/bootstrap" --certificates seed/demo/certificates.csv \
    --invoices seed/demo/invoices.csv --dynamodb-endpoint "$DYNAMODB_ENDPOINT" --table "$table" \
    >"$work/import.log" 2>&1 || die "import-registry failed (see $work/import.log)"
  secret_arn=$("$VENV/bin/python" - "$SES_ENDPOINT" <<'PY'
import secrets, sys, boto3
kw = dict(endpoint_url=sys.argv[1], region_name="ca-central-1", aws_access_key_id="bench", aws_secret_access_key="bench")
sm = boto3.client("secretsmanager", **kw)
arn = sm.create_secret(Name="bench-cold-code-hash", SecretString=secrets.token_urlsafe(48))["ARN"]
sm.put_secret_value(SecretId=arn, SecretString=secrets.token_urlsafe(48))
boto3.client("sesv2", **kw).create_email_identity(EmailIdentity="opc.local.test")
print(arn)
PY
  ) || die "cannot create the secret and the SES identity in moto"

  # The harness's configuration: Lambda's environment, the template's variables (Globals and
  # each function's own), the fixtures with development tokens (signed with dev/dev-issuer.pem,
  # whose public half the JWKS above serves).
  "$VENV/bin/python" - "$work" "$BENCH_TARGET" "$BENCH_MEMORY" "$BENCH_QUOTA" "$BENCH_CGROUP" "$RUNS" "$WARM" \
      "https://127.0.0.1:$ddb_tls" "https://127.0.0.1:$aws_tls" "https://127.0.0.1:$jwks_tls/jwks.json" \
      "$secret_arn" "$table" "$tls/bundle.pem" "$tls/ca.pem" <<'PY'
import base64, json, os, re, sys, time
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

(work, target, memory, quota, cgroup, runs, warm, ddb, aws, jwks, secret_arn, table, bundle, ca) = sys.argv[1:]

def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

key = serialization.load_pem_private_key(open("dev/dev-issuer.pem", "rb").read(), None)
def token(issuer, sub, roles):
    now = int(time.time())
    head = b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "dev-local"}).encode())
    body = b64(json.dumps({"iss": issuer, "aud": "certificate-recovery-local", "sub": sub, "roles": roles,
                           "iat": now, "nbf": now, "exp": now + 6 * 3600}).encode())
    signature = key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{b64(signature)}"

values = {
    "TABLE_NAME": table,
    "SENDER_ADDRESS": "no-reply@opc.local.test",
    "CITIZEN_ISSUER": "urn:opc:dev:citizen",
    "CITIZEN_AUDIENCE": "certificate-recovery-local",
    "CITIZEN_JWKS_URL": jwks,
    "CITIZEN_JWT_ALGORITHM": "RS256",
    "STAFF_ISSUER": "urn:opc:dev:staff",
    "STAFF_AUDIENCE": "certificate-recovery-local",
    "STAFF_JWKS_URL": jwks,
    "STAFF_JWT_ALGORITHM": "RS256",
    "CODE_HASH_SECRET_ARN": secret_arn,
    "LOG_LEVEL": "info",
    "EMAIL_CHANGE_HOLD_SECONDS": "86400",
    # The topic and configuration set of events/ses-delivery.json: delivery-events records it.
    "SES_CONFIGURATION_SET": "certificate-recovery-MailConfigurationSet-EXAMPLE1a2b",
    "DELIVERY_EVENTS_TOPIC_ARN": "arn:aws:sns:ca-central-1:123456789012:certificate-recovery-DeliveryEventsTopic-EXAMPLE3c4d",
    "HOLDER_PAGE_URL": "https://recovery.example.ca",
}

# template.yaml: Globals' variables, and each function's binary with its own variables.
template = open("template.yaml").read()
resources = template.split("\nResources:\n", 1)[1]
globals_block = template.split("\nGlobals:\n", 1)[1].split("\nResources:\n", 1)[0]
var = re.compile(r"^ {8,}([A-Z][A-Z0-9_]*): ", re.M)
global_vars = var.findall(globals_block.split("Variables:", 1)[1])
functions = []
for block in re.split(r"\n(?=  [A-Za-z0-9]+:\n)", resources):
    binary = re.search(r"BuildProperties: \{ Binary: ([a-z0-9-]+) \}", block)
    if binary:
        own = var.findall(block.split("Variables:", 1)[1]) if "Variables:" in block else []
        functions.append((binary.group(1), own))
missing = sorted({v for v in global_vars + [v for _, o in functions for v in o]} - values.keys())
if missing:
    sys.exit(f"bench-cold: template.yaml passes {missing}: give them a value in scripts/bench-cold.sh")

env = {
    # What Lambda sets (provided.al2023).
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": memory,
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_STREAM_NAME": time.strftime("%Y/%m/%d") + "/[$LATEST]0123456789abcdef0123456789abcdef",
    "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    "AWS_REGION": "ca-central-1",
    "AWS_DEFAULT_REGION": "ca-central-1",
    "AWS_ACCESS_KEY_ID": "ASIABENCHCOLDLOCAL00",
    "AWS_SECRET_ACCESS_KEY": "bench-cold-local-secret-key",
    "AWS_SESSION_TOKEN": "bench-cold-local-session-token",
    "_HANDLER": "bootstrap",
    "TZ": ":UTC",
    "LANG": "en_US.UTF-8",
    "PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
    # Where the SDK finds the services here, and what the HTTPS clients trust.
    "AWS_ENDPOINT_URL_DYNAMODB": ddb,
    "AWS_ENDPOINT_URL_SESV2": aws,
    "AWS_ENDPOINT_URL_SECRETS_MANAGER": aws,
    "AWS_CA_BUNDLE": ca,
    "SSL_CERT_FILE": bundle,
}
env.update({v: values[v] for v in global_vars})

fixtures = {"agent-desk": "agent-list-requests", "report": "report-describe", "delivery-events": "ses-delivery"}
targets = [{"name": "hello", "baseline": True, "bootstrap": f"{target}/lambda/bench-hello/bootstrap",
            "event": "events/lookup.json", "zip_bytes": os.path.getsize(f"{target}/lambda/bench-hello/bootstrap.zip")}]
for name, own in functions:
    event = f"events/{name}.json" if os.path.exists(f"events/{name}.json") else f"events/{fixtures.get(name, name)}.json"
    targets.append({"name": name, "bootstrap": f"{target}/lambda/{name}/bootstrap", "event": event,
                    "zip_bytes": os.path.getsize(f"{target}/lambda/{name}/bootstrap.zip"),
                    "env": {v: values[v] for v in own}})

config = {
    "runs": int(runs), "warm": int(warm), "cgroup": cgroup, "logs": f"{work}/logs", "raw": f"{work}/raw.json",
    "quota_label": "quota", "env": env, "targets": targets,
    "tokens": {"REPLACE-WITH-A-CITIZEN-ID-TOKEN": token("urn:opc:dev:citizen", "bench-cold-holder", []),
               "REPLACE-WITH-A-STAFF-ID-TOKEN": token("urn:opc:dev:staff", "bench-cold-agent", ["agent"])},
}
os.makedirs(f"{work}/logs", exist_ok=True)
json.dump(config, open(f"{work}/config.json", "w"), indent=2)
PY
  echo "==> bench-cold: $RUNS starts per target and mode, then $WARM warm invocations (logs: $work/logs)" >&2
  "$BENCH_TARGET/release/bench-cold" "$work/config.json" >"$work/table.md"
  exit 0
fi

# ---------------------------------------------------------------------------------------------
# Outside: check, install, build, make the CPU group, then run the above in the namespaces.
[ "$(id -u)" = 0 ] || die "run as root: the cgroup v1 CPU group and the network namespace need it"
[ -w /sys/fs/cgroup/cpu ] || die "no writable cgroup v1 cpu controller at /sys/fs/cgroup/cpu"
need stunnel4 "apt-get install -y stunnel4"
need openssl "apt-get install -y openssl"
need unshare "util-linux"
need ip "apt-get install -y iproute2"
need curl "apt-get install -y curl"
install_python_tools
install_dynamodb_local
export PATH="$VENV/bin:$PATH"

target=$(cargo metadata --format-version 1 --no-deps --offline \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
mapfile -t functions < <(sed -n 's/^ *BuildProperties: { Binary: \([a-z0-9-]*\) }$/\1/p' template.yaml)
[ "${#functions[@]}" -gt 0 ] || die "template.yaml names no function binary"

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  # As scripts/bootstrap-sizes.sh (and SAM) build them: at the root, one binary at a time.
  for f in "${functions[@]}"; do
    echo "==> cargo lambda build --release --bin $f" >&2
    cargo lambda build --release --bin "$f"
  done
  echo "==> cargo lambda build --release -p bench-hello; -p import-registry; cargo build --release -p bench-cold" >&2
  cargo lambda build --release -p bench-hello
  cargo lambda build --release -p import-registry
  cargo build --release -p bench-cold
fi
# Each bootstrap zipped as SAM packages it (deflate, default level), for its size.
for f in "${functions[@]}" bench-hello; do
  [ -f "$target/lambda/$f/bootstrap" ] || die "no $target/lambda/$f/bootstrap: build first (without BENCH_SKIP_BUILD)"
  zip_bootstrap "$target/lambda/$f/bootstrap" "$target/lambda/$f/bootstrap.zip"
done
[ -x "$target/lambda/import-registry/bootstrap" ] && [ -x "$target/release/bench-cold" ] \
  || die "import-registry or bench-cold is not built: build first (without BENCH_SKIP_BUILD)"

# Lambda's CPU share: MemorySize ÷ 1,769 MB of one vCPU, as a CFS quota per 100 ms period.
memory=$(awk '/^Globals:/ {g = 1} g && /^ +MemorySize:/ {print $2; exit}' template.yaml)
[[ "$memory" =~ ^[0-9]+$ ]] || die "no MemorySize in template.yaml's Globals"
quota=$(( (memory * 100000 + 1769 / 2) / 1769 ))

work=$(mktemp -d /tmp/bench-cold.XXXXXX)
group=/sys/fs/cgroup/cpu/bench-cold-$$
cleanup() { [ -d "$group" ] && rmdir "$group" 2>/dev/null || true; }
trap cleanup EXIT
mkdir "$group"
echo 100000 >"$group/cpu.cfs_period_us"
echo "$quota" >"$group/cpu.cfs_quota_us"

BENCH_WORK=$work BENCH_CGROUP=$group BENCH_QUOTA=$quota BENCH_MEMORY=$memory BENCH_TARGET=$target \
  unshare --net --pid --fork --mount-proc bash "$ROOT/scripts/bench-cold.sh" --inside \
  || die "the measurement failed (logs in $work)"

commit=$(git rev-parse --short HEAD)
branch=$(git rev-parse --abbrev-ref HEAD)
[ -z "$(git status --porcelain --untracked-files=no)" ] || commit="$commit (with uncommitted changes)"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
{
  echo "# The cold path, measured (\`scripts/bench-cold.sh\`)"
  echo
  echo "- **When**: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $commit on \`$branch\`."
  echo "- **Machine**: nproc $(nproc), $cpu, Linux $(uname -r); $(rustc --version)."
  echo "- **Command**: \`scripts/bench-cold.sh\` (BENCH_RUNS=$RUNS starts per target and mode, BENCH_WARM=$WARM warm invocations)."
  echo "- **quota**: the process alone in a cgroup v1 CPU group, \`cpu.cfs_quota_us\` = $quota of 100000 µs — template.yaml's MemorySize $memory MB ÷ 1,769 MB of a vCPU, Lambda's share. The other columns: no limit (2 cores shared with DynamoDB Local, moto and stunnel)."
  echo "- **init**: exec → first \`GET /2018-06-01/runtime/invocation/next\`, over $RUNS starts; it includes the functions' Secrets Manager read (moto through TLS). **1st invocation**: that poll answered → the response POSTed, over the same starts: the issuer's JWKS fetched and DynamoDB reached, each through a TLS handshake (stunnel). **warm**: invocations 2–$((WARM + 1)) of one more start. All times in ms; × hello is the median's ratio to the bare runtime's in this run."
  echo "- **peak RSS**: VmHWM after the first invocation (median of the starts). **zip**: the bootstrap zipped as SAM packages it (KB = 1000 B). **answers**: the status codes of every invocation of the run (the fixtures' paths: events/, with development tokens)."
  echo
  cat "$work/table.md"
} >"$RESULTS"
cat "$work/table.md"
echo "bench-cold: written to ${RESULTS#$ROOT/} (raw figures: $work/raw.json)" >&2
