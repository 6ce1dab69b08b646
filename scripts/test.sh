#!/usr/bin/env bash
# Runs Bulwark's whole test suite on a fresh Debian machine that has the Rust toolchain.
# It installs what the suite needs and is missing (it runs apt-get only when something is absent),
# builds once, and runs every test: unit, property, and end-to-end against the real binary.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/deps.sh
extra=()
command -v curl >/dev/null 2>&1 || extra+=(curl)
command -v python3 >/dev/null 2>&1 || extra+=(python3)
python3 -m venv --help >/dev/null 2>&1 || extra+=(python3-venv)
install_build_deps "${extra[@]}"

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
