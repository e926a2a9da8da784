#!/usr/bin/env bash
# cargo-lambda's emulator, scripted: the functions run under `cargo lambda watch` against
# DynamoDB Local and moto with dev/lambda.env (report reads its code-hashing secret at start from
# moto's Secrets Manager), and `cargo lambda invoke` sends them events/: `lookup` gets
# events/lookup.json (with a development token) and must answer as the local API does;
# `report` gets events/report-describe.json and events/report-confirm.json (no token: the
# route needs no sign-in) and must answer 410 `report_expired` (the fixtures' token is no
# notice's); `delivery-events` gets SES's three events/ses-*.json (SNS records) and must
# answer without error (they name messages that are not this table's: nothing to do).
# Needs DYNAMODB_ENDPOINT and SES_ENDPOINT (scripts/test-all.sh starts them) and cargo-lambda
# in .venv.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$ROOT"
: "${DYNAMODB_ENDPOINT:?start DynamoDB Local first (scripts/test-all.sh does)}"
: "${SES_ENDPOINT:?start moto first (scripts/test-all.sh does)}"
[ -x "$VENV/bin/cargo-lambda" ] || die "cargo-lambda is not installed in .venv"
export PATH="$VENV/bin:$PATH"
trap stop_servers EXIT

table="smoke-$(date +%s)"
api_port=$(free_port)
watch_port=$(free_port)
work=$(mktemp -d)

# The local API seeds the demo registry into DynamoDB Local (and creates the table).
cargo build --quiet -p local-api
target/debug/local-api --port "$api_port" --dynamodb-endpoint "$DYNAMODB_ENDPOINT" \
  --ses-endpoint "$SES_ENDPOINT" --table "$table" >"$work/local-api.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$api_port/dev/jwks.json" 60 || die "the local API did not start ($work/local-api.log)"

# The code-hashing secret lives in moto's Secrets Manager, rotated once (AWSCURRENT and
# AWSPREVIOUS): the function reads it at start from the ARN alone, as in AWS.
secret_arn=$("$VENV/bin/python" - "$SES_ENDPOINT" "$table" <<'PY'
import secrets, sys, boto3
client = boto3.client("secretsmanager", endpoint_url=sys.argv[1], region_name="ca-central-1",
                      aws_access_key_id="local", aws_secret_access_key="local")
arn = client.create_secret(Name=f"code-hash-{sys.argv[2]}", SecretString=secrets.token_urlsafe(48))["ARN"]
client.put_secret_value(SecretId=arn, SecretString=secrets.token_urlsafe(48))
print(arn)
PY
) || die "cannot create the code-hashing secret in moto"

cargo lambda watch -A 127.0.0.1 -P "$watch_port" --env-file dev/lambda.env \
  --env-var "TABLE_NAME=$table" \
  --env-var "CODE_HASH_SECRET_ARN=$secret_arn" \
  --env-var "AWS_ENDPOINT_URL_DYNAMODB=$DYNAMODB_ENDPOINT" \
  --env-var "AWS_ENDPOINT_URL_SESV2=$SES_ENDPOINT" \
  --env-var "AWS_ENDPOINT_URL_SECRETS_MANAGER=$SES_ENDPOINT" >"$work/watch.log" 2>&1 &
PIDS+=($!)
sleep 1

token_for() {
  curl -s -X POST "http://127.0.0.1:$api_port/dev/token" -d "{\"sub\":\"$1\"}" | sed 's/.*"token":"\([^"]*\)".*/\1/'
}
sed "s/REPLACE-WITH-A-CITIZEN-ID-TOKEN/$(token_for smoke-lambda)/" events/lookup.json >"$work/lookup.json"

# invoke FUNCTION FILE: the function's answer (JSON) to the event in FILE. The function
# compiles on its first invocation: allow a few minutes on a cold machine.
invoke() {
  local function=$1 file=$2 answer=""
  for _ in $(seq 1 60); do
    # A function that cannot start (say, its secret unreadable) leaves the invoke waiting.
    if answer=$(timeout 300 cargo lambda invoke "$function" --invoke-address 127.0.0.1 --invoke-port "$watch_port" \
        --data-file "$file" --output-format json 2>"$work/invoke.err"); then
      printf '%s' "$answer"
      return 0
    fi
    if grep -q '"cannot start"' "$work/watch.log"; then
      tail -5 "$work/watch.log" >&2
      die "the $function function did not start"
    fi
    sleep 5
  done
  cat "$work/invoke.err" "$work/watch.log" | tail -30 >&2
  die "cargo lambda invoke $function failed"
}

answer=$(invoke lookup "$work/lookup.json")

local_answer=$(curl -s -X POST "http://127.0.0.1:$api_port/recovery/lookup" \
  -H "authorization: Bearer $(token_for smoke-local)" -H 'content-type: application/json' \
  -d '{"certificateNumber":"AG-100001","dateOfBirth":"1980-02-29"}')

python3 - "$answer" "$local_answer" <<'PY'
import json, sys
lambda_answer, local_answer = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert lambda_answer["statusCode"] == 200, lambda_answer
body = json.loads(lambda_answer["body"])
assert body == local_answer, (body, local_answer)
assert body["state"] == "matched", body
print("    cargo lambda invoke lookup answered as the local API does:", json.dumps(body, ensure_ascii=False))
PY

# "This wasn't me", as API Gateway hands it over with no sign-in: the fixtures' token is no
# notice's, so both routes answer the one refusal.
for event in report-describe report-confirm; do
  answer=$(invoke report "events/$event.json")
  python3 - "$event" "$answer" <<'PY'
import json, sys
name, answer = sys.argv[1], json.loads(sys.argv[2])
assert answer["statusCode"] == 410, answer
body = json.loads(answer["body"])
assert body["code"] == "report_expired" and body["status"] == 410, body
print(f"    cargo lambda invoke report ({name}): 410 report_expired")
PY
done

# SES's events as SNS delivers them: each read and looked up (a GetItem on the table), none of
# this table's messages, so nothing changes — and the invocation succeeds (a store failure
# would fail it, for Lambda to retry).
for event in ses-delivery ses-bounce ses-complaint; do
  answer=$(invoke delivery-events "events/$event.json")
  python3 - "$event" "$answer" <<'PY'
import json, sys
name, answer = sys.argv[1], json.loads(sys.argv[2])
assert answer == 1, f"{name}: {answer!r} (the number of SES events read)"
print(f"    cargo lambda invoke delivery-events ({name}): 1 event read, not one of this table's messages")
PY
done
