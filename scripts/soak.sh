#!/usr/bin/env bash
# Soak test of the notes example protected by authsec in remote_required policy mode.
#
# Builds (release) and starts, on free 127.0.0.1 ports: `authsec console` (SQLite in a fresh
# temporary directory) as authorization server and policy store, and `notes-server` configured
# against it (AUTHSEC_POLICY_MODE=remote_required, AUTHSEC_VALIDATION_MODE=auto: JWT checks and
# introspection), its introspection calls going through a fault-injection proxy. Then, for
# --duration seconds, concurrent MCP sessions (tools/list and tools/call of every tool) carry
# valid tokens of clients with various scopes, expired, wrong-audience, revoked, unknown
# (opaque), tampered (bad signature) and missing tokens, while a schedule rotates the token
# service's signing key, remaps/unmaps/maps back tools through the admin API, restarts the
# console on the same port and database, and makes introspection refuse, hang and slow down.
# An oracle computes the expected answer of every request (status and denial reason; the exact
# tools/list) from the policy in force and the token; requests in flight across a policy change
# or inside an injected fault window may get either answer and are counted as ambiguous.
#
# Reports requests, wrong decisions, 5xx outside fault windows, the notes server's RSS after
# warm-up and at the end, p50/p99 latency; ends with "N passed, M failed". Exit status 0 only
# with no wrong decision, no 5xx outside a fault window and RSS growth below 10 % (judged
# from 10-minute runs on).
#
# usage: scripts/soak.sh [--duration SECS (1800)] [--concurrency N (16)]
#                        [--validation-mode auto|jwt_and_introspect|jwt_or_introspect]
#                        [--token-lifetime SECS (60)] [--seed N]
# CI runs the 2-minute version: scripts/soak.sh --duration 120
set -euo pipefail
cd "$(dirname "$0")/.."

for arg in "$@"; do
  case "$arg" in
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  esac
done

echo "== building (release): authsec, notes-server, authsec-soak"
cargo build --release --quiet -p authsec-cli -p notes-server -p authsec-soak

tmp=$(mktemp -d "${TMPDIR:-/tmp}/authsec-soak.XXXXXX")
soak_pid=
cleanup() {
  if [ -n "$soak_pid" ]; then kill "$soak_pid" 2>/dev/null || true; wait "$soak_pid" 2>/dev/null || true; fi
  # The console and notes server are the soak's children; if it died hard, stop them here.
  if [ -f "$tmp/pids" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$tmp/pids"
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

target/release/authsec-soak \
  --authsec target/release/authsec \
  --notes-server target/release/notes-server \
  --work-dir "$tmp" "$@" &
soak_pid=$!
status=0
wait "$soak_pid" || status=$?
soak_pid=
exit "$status"
