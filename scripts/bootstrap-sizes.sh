#!/usr/bin/env bash
# Builds every function's bootstrap with cargo-lambda (one cargo invocation, release profile,
# x86_64: the only Rust target on these machines) and checks each: a bootstrap.zip at most
# 3 MB, holding no development-only code. Prints binary and zip sizes.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$ROOT"
[ -x "$VENV/bin/cargo-lambda" ] || die "cargo-lambda is not installed in .venv"
export PATH="$VENV/bin:$PATH"
functions=(lookup send-code verify-code check-invoice assistance recovery-state agent-desk)
args=()
for f in "${functions[@]}"; do args+=(-p "$f"); done
cargo lambda build --release --output-format zip "${args[@]}"
limit=$((3 * 1000 * 1000))
printf '    %-16s %12s %12s\n' function "binary (B)" "zip (B)"
for f in "${functions[@]}"; do
  zip="target/lambda/$f/bootstrap.zip"
  [ -f "$zip" ] || die "$f: no bootstrap.zip"
  # The listing is read whole first: `grep -q` closing a pipe early would fail it under pipefail.
  listing=$(unzip -l "$zip")
  binary=$(awk '$4 == "bootstrap" {print $1}' <<<"$listing")
  [ -n "$binary" ] || die "$f: the zip holds no bootstrap"
  zipped=$(stat -c %s "$zip")
  printf '    %-16s %12s %12s\n' "$f" "$binary" "$zipped"
  [ "$zipped" -le "$limit" ] || die "$f: bootstrap.zip is $zipped bytes, over 3 MB"
  if unzip -p "$zip" bootstrap | grep -a -c -e '/dev/token' -e 'urn:opc:dev:citizen' >/dev/null; then
    die "$f: the bootstrap holds development-only code"
  fi
done
