#!/usr/bin/env bash
# Builds every function's bootstrap exactly as `sam build` does — at the workspace root, no -p
# (so Cargo.toml's default-members decide the features), one
# `cargo lambda build --release --bin <Binary>` per function of template.yaml (for x86_64, see
# below) — then zips each as `sam deploy`
# packages it (deflate) and checks it: at most 3 MB, built without the development feature and
# holding no development-only string. Prints binary and zip sizes.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$ROOT"
[ -x "$VENV/bin/cargo-lambda" ] || die "cargo-lambda is not installed in .venv"
export PATH="$VENV/bin:$PATH"

# The functions SAM builds: the template's `BuildProperties: { Binary: <name> }`.
mapfile -t functions < <(sed -n 's/^ *BuildProperties: { Binary: \([a-z0-9-]*\) }$/\1/p' template.yaml)
[ "${#functions[@]}" -gt 0 ] || die "template.yaml names no function binary"
# The architecture: x86_64 here, whatever samconfig.toml deploys (arm64). Only the x86_64 Rust
# standard library comes with the build machines (an arm64 one cannot be counted on), so this
# check builds what SAM builds — same root, same selection, same profile — for x86_64; an arm64
# bootstrap of the same code is of the same order of size (docs/measurements.md).
flags=()

for f in "${functions[@]}"; do
  echo "==> cargo lambda build --release ${flags[*]} --bin $f"
  cargo lambda build --release "${flags[@]}" --bin "$f"
done

# The features cargo resolved for that selection (the root, no -p): never the local API's
# development token issuer. (Dead code would not show in the binary after LTO; the feature does.)
features=$(cargo tree --offline -e features -i certificate-recovery --prefix none)
if grep -F 'feature "dev-issuer"' <<<"$features" >/dev/null; then
  die "a build at the workspace root turns on certificate-recovery's dev-issuer feature (Cargo.toml default-members)"
fi

# Where cargo put them (SAM asks cargo metadata the same).
target=$(cargo metadata --format-version 1 --no-deps --offline \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
limit=$((3 * 1000 * 1000))
printf '    %-16s %12s %12s\n' function "binary (B)" "zip (B)"
for f in "${functions[@]}"; do
  bootstrap="$target/lambda/$f/bootstrap"
  zip="$target/lambda/$f/bootstrap.zip"
  [ -f "$bootstrap" ] || die "$f: no bootstrap at $bootstrap"
  zip_bootstrap "$bootstrap" "$zip"
  binary=$(stat -c %s "$bootstrap")
  zipped=$(stat -c %s "$zip")
  printf '    %-16s %12s %12s\n' "$f" "$binary" "$zipped"
  [ "$zipped" -le "$limit" ] || die "$f: bootstrap.zip is $zipped bytes, over 3 MB"
  # Read whole first: `grep -q` closing a pipe early would fail it under pipefail.
  if grep -a -c -e '/dev/token' -e 'urn:opc:dev:citizen' -e 'IAM_RECORDING_DIR' "$bootstrap" >/dev/null; then
    die "$f: the bootstrap holds development-only code"
  fi
done
