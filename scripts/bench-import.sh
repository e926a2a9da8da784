#!/usr/bin/env bash
# Benchmark of the registry import (not a test): 100,000 certificates and 300,000 invoices
# into a fresh DynamoDB Local, with the release build of import-registry. Prints rows per
# second and peak memory (the tool's own VmHWM, and /usr/bin/time's maximum resident size).
#   scripts/bench-import.sh [CERTIFICATES] [INVOICES]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$ROOT"
certificates=${1:-100000}
invoices=${2:-300000}
trap stop_servers EXIT
install_dynamodb_local
start_dynamodb_local
data="$TOOLS/bench"
mkdir -p "$data"
python3 - "$data" "$certificates" "$invoices" <<'PY'
import sys, random
out, n_cert, n_inv = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(7)
with open(f"{out}/certificates.csv", "w") as f:
    f.write("certificate_number,holder_name,date_of_birth,email,phone,language,status,expires_on\n")
    for i in range(n_cert):
        email = f"titulaire{i}@exemple.ca" if i % 5 else ""
        f.write(f"AG-{i:07d},Titulaire Numéro {i},{1940 + i % 60}-{1 + i % 12:02d}-{1 + i % 28:02d},{email},514-555-{i % 10000:04d},{'fr' if i % 4 else 'en'},active,2027-{1 + i % 12:02d}-15\n")
with open(f"{out}/invoices.csv", "w") as f:
    f.write("invoice_number,certificate_number,issued_on,amount\n")
    for i in range(n_inv):
        f.write(f"F-{i:08d},AG-{random.randrange(n_cert):07d},{2020 + i % 7}-{1 + i % 12:02d}-{1 + i % 28:02d},{100 + i % 400}.{i % 100:02d}\n")
PY
cargo build --release --quiet -p import-registry
table="bench-$(date +%s)"
echo "Importing $certificates certificates and $invoices invoices into DynamoDB Local ($table)"
/usr/bin/time -f "wall %e s, max RSS %M KiB (/usr/bin/time)" \
  target/release/import-registry --dynamodb-endpoint "$DYNAMODB_ENDPOINT" --table "$table" \
  --certificates "$data/certificates.csv" --invoices "$data/invoices.csv"
