#!/usr/bin/env bash
# cargo-lambda's emulator, scripted: the `lookup` function runs under `cargo lambda watch`
# against DynamoDB Local and moto with dev/lambda.env (its code-hashing secret read at start
# from moto's Secrets Manager), `cargo lambda invoke` sends it
# events/lookup.json (with a development token), and its answer must be the local API's.
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

# The function compiles on its first invocation: allow a few minutes on a cold machine.
answer=""
for _ in $(seq 1 60); do
  # A function that cannot start (say, its secret unreadable) leaves the invoke waiting.
  if answer=$(timeout 300 cargo lambda invoke lookup --invoke-address 127.0.0.1 --invoke-port "$watch_port" \
      --data-file "$work/lookup.json" --output-format json 2>"$work/invoke.err"); then
    break
  fi
  answer=""
  if grep -q '"cannot start"' "$work/watch.log"; then
    tail -5 "$work/watch.log"
    die "the lookup function did not start"
  fi
  sleep 5
done
[ -n "$answer" ] || { cat "$work/invoke.err" "$work/watch.log" | tail -30; die "cargo lambda invoke lookup failed"; }

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
