#!/usr/bin/env bash
# Property-based HTTP testing of the whole API against its OpenAPI document (docs/openapi.json, served at
# /api/v1/openapi.json): schemathesis generates requests from the schema, including malformed ones, against
# the real binary on the embedded default config, and fails on any 5xx answer.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/debug/bulwark
[ -x "$bin" ] || cargo build -p bulwark-gateway --locked
venv=target/schemathesis-venv
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==4.32.5"
fi
data="$(mktemp -d)"
log="$data/gateway.log"
# The embedded default also starts the FIX acceptor: give it a free port, not the default 9878.
fix_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" run --data-dir "$data/data" --listen 127.0.0.1:0 --fix-port "$fix_port" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$data"' EXIT
addr=""
for _ in $(seq 1 200); do
  addr="$(sed -n 's/.*listening on http:\/\/\([0-9.:]*\).*/\1/p' "$log" | head -1)"
  [ -n "$addr" ] && break
  sleep 0.05
done
[ -n "$addr" ] || { cat "$log"; echo "gateway did not start" >&2; exit 1; }
"$venv/bin/schemathesis" run "http://$addr/api/v1/openapi.json" \
  --checks not_a_server_error --max-examples "${BULWARK_API_FUZZ_EXAMPLES:-25}" --request-timeout 10 \
  --seed 1 -H "Authorization: Bearer demo-risk-officer-token"
kill -INT $pid
wait $pid || true
