#!/usr/bin/env bash
# Starts the gateway on the embedded default (paper venue, journal in ./data, REST on 127.0.0.1:8080, FIX on
# port 9878) on a fresh Debian machine with the Rust toolchain: it installs the C/C++ build tools the FIX
# engine (QuickFIX, built from source by the quickfix crate) needs when they are missing, builds, and runs.
# Extra arguments go to `bulwark run` (e.g. --config FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
install_build_deps
exec cargo run --release --locked -p bulwark-gateway -- run "$@"
