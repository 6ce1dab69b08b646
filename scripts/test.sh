#!/usr/bin/env bash
# Runs Bulwark's whole test suite on a fresh Debian machine that has the Rust toolchain.
# It installs what the suite needs and is missing (it runs apt-get only when something is absent),
# builds once, and runs every test: unit, property, and end-to-end against the real binary.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
python3 -m venv --help >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq "${need_apt[@]}"
  fi
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install the Rust toolchain (https://rustup.rs) and re-run" >&2
  exit 1
fi

cargo build --workspace --all-targets --locked
cargo test --workspace --locked

# Fuzz smoke: the webhook body parser and planner under libFuzzer for 30 s, from the committed seeds.
# cargo-fuzz needs nightly features; RUSTC_BOOTSTRAP lets the one stable toolchain provide them. The target is
# safe Rust, so it runs without a sanitizer: it looks for panics, hangs and runaway memory.
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --version 0.13.2
corpus="$(mktemp -d)"
(cd signals/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none alert_parse "$corpus" seeds/alert_parse \
  -- -max_total_time="${BULWARK_FUZZ_SECONDS:-30}" -timeout=5 -rss_limit_mb=1024)
rm -rf "$corpus"

# The HTTP API against its OpenAPI document with schemathesis (no 5xx answers).
bash scripts/api-fuzz.sh
