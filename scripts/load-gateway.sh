#!/usr/bin/env bash
# Throughput through `authsec gateway` vs directly to the upstream, measured in the same run.
#
# The upstream is @modelcontextprotocol/server-everything (pinned in interop/package.json) in
# Streamable HTTP mode. The upstream and the gateway share one core (taskset), wrk runs on the
# other: through the gateway, every request costs the gateway's CPU *and* the upstream's, on
# the same core the upstream has to itself when called directly — the ratio is what putting
# the gateway in front costs.
#
# A loopback dev issuer mints one token (scope demo:read); every request repeats it (the
# verified-token cache path). Each request is a tools/call of `echo` with a fresh JSON-RPC id
# in an initialized session (one session per target). After a warm-up of each target, ROUNDS
# alternating measured runs; prints requests/s per round, the per-round ratio and the medians.
#
# On a machine where other work also runs on SERVER_CPU, requests/s is not all it seems: the
# scheduler shares the core between processes, and gateway + upstream are two processes where
# the upstream alone is one, so the gateway can even look faster than direct. The script
# therefore also reads the CPU time each process spent (/proc/PID/stat) and reports the
# CPU-bound ratio: upstream CPU per request direct ÷ (upstream + gateway CPU per request through
# the gateway) — the throughput ratio on a saturated core of one's own.
#
# Environment knobs (defaults in brackets):
#   DURATION [10s]  WARMUP [3s]  CONNECTIONS [16]  ROUNDS [5]  SERVER_CPU [0]  LOAD_CPU [1]
#   UPSTREAM_PORT [18091]  GATEWAY_PORT [18092]  GATEWAY_LOG [warn]  (AUTHSEC_LOG of the gateway)
# Everything listens on and is sent to 127.0.0.1 only; every run is bounded by DURATION.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
CONNECTIONS=${CONNECTIONS:-16}
ROUNDS=${ROUNDS:-5}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
UPSTREAM_PORT=${UPSTREAM_PORT:-18091}
GATEWAY_PORT=${GATEWAY_PORT:-18092}
GATEWAY_LOG=${GATEWAY_LOG:-warn}

die() { echo "load-gateway: $*" >&2; exit 1; }

command -v taskset >/dev/null || die "taskset not found (util-linux)"
command -v curl >/dev/null || die "curl not found"
command -v node >/dev/null || die "node not found (server-everything is a Node server)"
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
  fi
  command -v wrk >/dev/null || die "wrk not found: install it (apt-get install wrk)"
fi
EVERYTHING=interop/node_modules/@modelcontextprotocol/server-everything/dist/index.js
if [ ! -f "$EVERYTHING" ]; then
  (cd interop && npm ci --no-audit --no-fund --loglevel=error)
fi
# Binds the upstream to 127.0.0.1 (server-everything itself listens on every interface).
PRELOAD=crates/authsec-gateway/tests/common/harness.mjs

echo "== building (release)"
cargo build --release --quiet -p authsec-cli --bin authsec
cargo build --release --quiet -p authsec-gateway --example dev-issuer
BIN=target/release/authsec
ISSUER_BIN=target/release/examples/dev-issuer

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

RESOURCE="http://127.0.0.1:$GATEWAY_PORT/mcp"
taskset -c "$LOAD_CPU" "$ISSUER_BIN" "$RESOURCE" "demo:read" >"$tmp/issuer.out" &
pids+=($!)
for _ in $(seq 100); do grep -q '^TOKEN=' "$tmp/issuer.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^TOKEN=' "$tmp/issuer.out" || die "the dev issuer did not start"
ISSUER=$(sed -n 's/^AUTHSEC_ISSUER=//p' "$tmp/issuer.out")
JWKS_URL=$(sed -n 's/^AUTHSEC_JWKS_URL=//p' "$tmp/issuer.out")
TOKEN=$(sed -n 's/^TOKEN=//p' "$tmp/issuer.out")

wait_port() {
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
    sleep 0.1
  done
  return 1
}

echo "== starting server-everything and the gateway on CPU $SERVER_CPU"
PORT=$UPSTREAM_PORT taskset -c "$SERVER_CPU" node --import "./$PRELOAD" "$EVERYTHING" streamableHttp \
  >/dev/null 2>"$tmp/upstream.log" &
UPSTREAM_PID=$!
pids+=($UPSTREAM_PID)
wait_port "$UPSTREAM_PORT" || { cat "$tmp/upstream.log"; die "server-everything did not start"; }
AUTHSEC_LOG=$GATEWAY_LOG \
AUTHSEC_ISSUER=$ISSUER \
AUTHSEC_JWKS_URL=$JWKS_URL \
AUTHSEC_RESOURCE_URI=$RESOURCE \
AUTHSEC_TOOL_SCOPES_JSON='{"echo":["demo:read"],"get-sum":["demo:math"]}' \
  taskset -c "$SERVER_CPU" "$BIN" gateway --upstream "http://127.0.0.1:$UPSTREAM_PORT/mcp" \
  --listen "127.0.0.1:$GATEWAY_PORT" 2>"$tmp/gateway.log" &
GATEWAY_PID=$!
pids+=($GATEWAY_PID)
wait_port "$GATEWAY_PORT" || { cat "$tmp/gateway.log"; die "the gateway did not start"; }

ACCEPT='application/json, text/event-stream'
CALL_FMT='{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"message":"load"}}}'
# shellcheck disable=SC2059
CALL=$(printf "$CALL_FMT" 1)

# handshake PORT -> session id
handshake() {
  local url="http://127.0.0.1:$1/mcp" session
  session=$(curl -s -D - -o /dev/null "$url" -H "authorization: Bearer $TOKEN" \
    -H "accept: $ACCEPT" -H 'content-type: application/json' \
    -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"load-gateway","version":"1"}}}' |
    tr -d '\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p')
  [ -n "$session" ] || die "port $1: no Mcp-Session-Id from initialize"
  curl -s -o /dev/null "$url" -H "authorization: Bearer $TOKEN" -H "mcp-session-id: $session" \
    -H "accept: $ACCEPT" -H 'content-type: application/json' \
    -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  echo "$session"
}

# check_call PORT SESSION: one call must return the tool's result.
check_call() {
  local out
  out=$(curl -s "http://127.0.0.1:$1/mcp" -H "authorization: Bearer $TOKEN" -H "mcp-session-id: $2" \
    -H "accept: $ACCEPT" -H 'content-type: application/json' -d "$CALL")
  case "$out" in
    *'"text":"Echo: load"'*) ;;
    *) die "port $1: unexpected tools/call answer: $out" ;;
  esac
}

# write_lua FILE SESSION: every request carries a fresh JSON-RPC id, as a real client's would.
# The direct target gets the same Authorization header (server-everything ignores it), so both
# targets receive byte-identical requests.
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
    echo "wrk.headers[\"Mcp-Session-Id\"] = \"$2\""
  } >"$1"
}

D_SESSION=$(handshake "$UPSTREAM_PORT")
G_SESSION=$(handshake "$GATEWAY_PORT")
check_call "$UPSTREAM_PORT" "$D_SESSION"
check_call "$GATEWAY_PORT" "$G_SESSION"
write_lua "$tmp/direct.lua" "$D_SESSION"
write_lua "$tmp/gateway.lua" "$G_SESSION"

# cpu_ticks PID -> user + system clock ticks so far
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK_US=$(awk -v hz="$(getconf CLK_TCK)" 'BEGIN{print 1000000 / hz}')

# run NAME PORT DURATION -> "requests/s upstream-CPU-µs/request gateway-CPU-µs/request"
run() {
  local out rps n u0 u1 g0 g1
  u0=$(cpu_ticks "$UPSTREAM_PID"); g0=$(cpu_ticks "$GATEWAY_PID")
  out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"$3" -s "$tmp/$1.lua" "http://127.0.0.1:$2/mcp")
  u1=$(cpu_ticks "$UPSTREAM_PID"); g1=$(cpu_ticks "$GATEWAY_PID")
  if grep -q 'Non-2xx' <<<"$out"; then
    echo "$out" >&2
    [ "$1" = gateway ] && tail -5 "$tmp/gateway.log" >&2
    die "$1: non-2xx responses under load"
  fi
  rps=$(sed -n 's/^Requests\/sec: *//p' <<<"$out")
  n=$(sed -n 's/^ *\([0-9][0-9]*\) requests in.*/\1/p' <<<"$out")
  [ -n "$rps" ] && [ -n "$n" ] || { echo "$out" >&2; die "$1: no Requests/sec in wrk output"; }
  awk -v rps="$rps" -v n="$n" -v u="$((u1 - u0))" -v g="$((g1 - g0))" -v t="$TICK_US" \
    'BEGIN{printf "%s %.0f %.0f\n", rps, u * t / n, g * t / n}'
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

echo "== warm-up: $WARMUP each"
run direct "$UPSTREAM_PORT" "$WARMUP" >/dev/null
run gateway "$GATEWAY_PORT" "$WARMUP" >/dev/null

echo "== wrk -t1 -c$CONNECTIONS -d$DURATION, $ROUNDS alternating rounds, servers on CPU $SERVER_CPU, wrk on CPU $LOAD_CPU"
echo "   (cpu: CPU time per request, µs, of the upstream / of the gateway)"
printf '%-6s %10s %10s %7s   %10s %14s %9s\n' round direct gateway ratio "cpu direct" "cpu via gw" "cpu ratio"
: >"$tmp/direct.txt"; : >"$tmp/gateway.txt"; : >"$tmp/ratio.txt"; : >"$tmp/cpu_ratio.txt"
for r in $(seq "$ROUNDS"); do
  read -r d du _ < <(run direct "$UPSTREAM_PORT" "$DURATION")
  read -r g gu gg < <(run gateway "$GATEWAY_PORT" "$DURATION")
  ratio=$(awk -v g="$g" -v d="$d" 'BEGIN{printf "%.3f", g/d}')
  cpu_ratio=$(awk -v d="$du" -v u="$gu" -v g="$gg" 'BEGIN{printf "%.3f", d/(u+g)}')
  echo "$d" >>"$tmp/direct.txt"; echo "$g" >>"$tmp/gateway.txt"
  echo "$ratio" >>"$tmp/ratio.txt"; echo "$cpu_ratio" >>"$tmp/cpu_ratio.txt"
  printf '%-6s %10s %10s %7s   %10s %14s %9s\n' "$r" "$d" "$g" "$ratio" "$du" "$gu + $gg" "$cpu_ratio"
done
printf '%-6s %10.0f %10.0f %7.3f   %10s %14s %9.3f\n' median "$(median <"$tmp/direct.txt")" \
  "$(median <"$tmp/gateway.txt")" "$(median <"$tmp/ratio.txt")" "" "" "$(median <"$tmp/cpu_ratio.txt")"
echo "gateway / direct requests/s (median of per-round ratios) = $(median <"$tmp/ratio.txt")"
echo "CPU-bound ratio (median) = $(median <"$tmp/cpu_ratio.txt") (goal >= 0.90)"
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); load average: $(cut -d' ' -f1-3 /proc/loadavg); date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
