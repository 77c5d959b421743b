#!/usr/bin/env bash
# Protected vs unprotected throughput of the notes example, measured in the same run.
#
# Starts a loopback token issuer, the notes server behind authsec and the same server with
# --unprotected (both pinned to one core with taskset), then runs ROUNDS pairs of wrk runs of
# one tools/call (list_notes, needs notes:read) with a repeated valid token. Each run opens a
# fresh MCP session; the order within a pair alternates so drift cancels. Prints requests/s for
# each run, the ratio protected / unprotected of each pair, and the median ratio (robust to
# other load on the machine) and the ratio of the means.
#
# Environment knobs (defaults in brackets):
#   DURATION [5s]  CONNECTIONS [32]  ROUNDS [10]  SERVER_CPU [0]  LOAD_CPU [1]
#   TRANSPORT [sessions | stateless]  SERVER_LOG [warn]  (AUTHSEC_LOG of both servers)
#   PROTECTED_PORT [18081]  UNPROTECTED_PORT [18082]
# Every request is sent to 127.0.0.1 only; every run is bounded by DURATION.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-32}
ROUNDS=${ROUNDS:-10}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
TRANSPORT=${TRANSPORT:-sessions}
SERVER_LOG=${SERVER_LOG:-warn}
PROTECTED_PORT=${PROTECTED_PORT:-18081}
UNPROTECTED_PORT=${UNPROTECTED_PORT:-18082}

die() { echo "load-notes: $*" >&2; exit 1; }

command -v taskset >/dev/null || die "taskset not found (util-linux)"
command -v curl >/dev/null || die "curl not found"
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
  fi
  command -v wrk >/dev/null || die "wrk not found: install it (apt-get install wrk)"
fi

case "$TRANSPORT" in
  sessions) TRANSPORT_FLAG=() ;;
  stateless) TRANSPORT_FLAG=(--stateless) ;;
  *) die "TRANSPORT must be sessions or stateless" ;;
esac

echo "== building (release)"
cargo build --release --quiet -p notes-server --bin notes-server -p authsec-cli --bin authsec
BIN=target/release/notes-server
CLI_BIN=target/release/authsec

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

RESOURCE="http://127.0.0.1:$PROTECTED_PORT/mcp"
# A token valid for 6 h: long enough for any run of this script.
taskset -c "$LOAD_CPU" "$CLI_BIN" dev-issuer "$RESOURCE" "notes:read" --expires-in-secs 21600 >"$tmp/issuer.out" &
pids+=($!)
for _ in $(seq 100); do grep -q '^TOKEN=' "$tmp/issuer.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^TOKEN=' "$tmp/issuer.out" || die "the token issuer did not start"
ISSUER=$(sed -n 's/^AUTHSEC_ISSUER=//p' "$tmp/issuer.out")
JWKS_URL=$(sed -n 's/^AUTHSEC_JWKS_URL=//p' "$tmp/issuer.out")
TOKEN=$(sed -n 's/^TOKEN=//p' "$tmp/issuer.out")

wait_port() {
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
    sleep 0.1
  done
  die "server on port $1 did not start (see its log above)"
}

echo "== starting servers on CPU $SERVER_CPU ($TRANSPORT)"
AUTHSEC_LOG=$SERVER_LOG taskset -c "$SERVER_CPU" "$BIN" --unprotected "${TRANSPORT_FLAG[@]}" \
  --listen "127.0.0.1:$UNPROTECTED_PORT" 2>"$tmp/unprotected.log" &
pids+=($!)
AUTHSEC_LOG=$SERVER_LOG \
AUTHSEC_ISSUER=$ISSUER \
AUTHSEC_JWKS_URL=$JWKS_URL \
AUTHSEC_RESOURCE_URI=$RESOURCE \
AUTHSEC_TOOL_SCOPES_JSON='{"list_notes":["notes:read"],"add_note":["notes:write"],"delete_note":["notes:admin"],"server_time":[],"whoami":[]}' \
  taskset -c "$SERVER_CPU" "$BIN" "${TRANSPORT_FLAG[@]}" \
  --listen "127.0.0.1:$PROTECTED_PORT" 2>"$tmp/protected.log" &
pids+=($!)
wait_port "$UNPROTECTED_PORT" || { cat "$tmp/unprotected.log"; exit 1; }
wait_port "$PROTECTED_PORT" || { cat "$tmp/protected.log"; exit 1; }

ACCEPT='application/json, text/event-stream'
CALL_FMT='{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"list_notes","arguments":{}}}'
# shellcheck disable=SC2059
CALL=$(printf "$CALL_FMT" 1)

# handshake PORT -> session id (empty in stateless mode)
handshake() {
  local url="http://127.0.0.1:$1/mcp" session
  session=$(curl -s -D - -o /dev/null "$url" -H "authorization: Bearer $TOKEN" \
    -H "accept: $ACCEPT" -H 'content-type: application/json' \
    -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"load-notes","version":"1"}}}' |
    tr -d '\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p')
  if [ -n "$session" ]; then
    curl -s -o /dev/null "$url" -H "authorization: Bearer $TOKEN" -H "mcp-session-id: $session" \
      -H "accept: $ACCEPT" -H 'content-type: application/json' \
      -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  fi
  echo "$session"
}

# check_call PORT SESSION: one call must return the tool's result.
check_call() {
  local out
  out=$(curl -s "http://127.0.0.1:$1/mcp" -H "authorization: Bearer $TOKEN" \
    ${2:+-H "mcp-session-id: $2"} -H "accept: $ACCEPT" -H 'content-type: application/json' -d "$CALL")
  case "$out" in
    *'"result":{"content":[{"type":"text","text":"[]"}],"isError":false}'*) ;;
    *) die "port $1: unexpected tools/call answer: $out" ;;
  esac
}

# write_lua FILE SESSION: every request carries a fresh JSON-RPC id, as a real client's would
# (a session answers each id once).
write_lua() {
  {
    echo 'wrk.method = "POST"'
    echo 'local n = 0'
    echo 'request = function()'
    echo '  n = n + 1'
    echo "  return wrk.format(nil, nil, nil, string.format([[$CALL_FMT]], n))"
    echo 'end'
    echo 'wrk.headers["Content-Type"] = "application/json"'
    echo "wrk.headers[\"Accept\"] = \"$ACCEPT\""
    echo "wrk.headers[\"Authorization\"] = \"Bearer $TOKEN\""
    [ -n "$2" ] && echo "wrk.headers[\"Mcp-Session-Id\"] = \"$2\""
    true
  } >"$1"
}

# run NAME PORT -> requests/s, on a fresh session
run() {
  local out rps session
  session=$(handshake "$2")
  check_call "$2" "$session"
  write_lua "$tmp/$1.lua" "$session"
  out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -s "$tmp/$1.lua" "http://127.0.0.1:$2/mcp")
  if grep -q 'Non-2xx' <<<"$out"; then echo "$out" >&2; die "$1: non-2xx responses under load"; fi
  rps=$(sed -n 's/^Requests\/sec: *//p' <<<"$out")
  [ -n "$rps" ] || { echo "$out" >&2; die "$1: no Requests/sec in wrk output"; }
  echo "$rps"
}

echo "== wrk -t1 -c$CONNECTIONS -d$DURATION, $ROUNDS rounds, server on CPU $SERVER_CPU, wrk on CPU $LOAD_CPU"
u_sum=0; p_sum=0; : >"$tmp/ratios"
printf '%-6s %14s %14s %7s\n' round unprotected protected ratio
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then
    u=$(run unprotected "$UNPROTECTED_PORT"); p=$(run protected "$PROTECTED_PORT")
  else
    p=$(run protected "$PROTECTED_PORT"); u=$(run unprotected "$UNPROTECTED_PORT")
  fi
  ratio=$(awk -v p="$p" -v u="$u" 'BEGIN{printf "%.3f", p/u}')
  echo "$ratio" >>"$tmp/ratios"
  u_sum=$(awk -v a="$u_sum" -v b="$u" 'BEGIN{print a+b}')
  p_sum=$(awk -v a="$p_sum" -v b="$p" 'BEGIN{print a+b}')
  printf '%-6s %14s %14s %7s\n' "$r" "$u" "$p" "$ratio"
done
median=$(sort -n "$tmp/ratios" | awk '{v[NR]=$1} END{if (NR%2) print v[(NR+1)/2]; else printf "%.3f", (v[NR/2]+v[NR/2+1])/2}')
means=$(awk -v p="$p_sum" -v u="$u_sum" 'BEGIN{printf "%.3f", p/u}')
printf '%-6s %14.0f %14.0f %7s\n' mean "$(awk -v a="$u_sum" -v n="$ROUNDS" 'BEGIN{print a/n}')" \
  "$(awk -v a="$p_sum" -v n="$ROUNDS" 'BEGIN{print a/n}')" "$means"
echo "protected / unprotected: median of pairs $median, ratio of means $means (goal >= 0.85)"
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) cores; load average: $(cut -d' ' -f1-3 /proc/loadavg); date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
