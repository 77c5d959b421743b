#!/usr/bin/env bash
# Scale of `authsec console` as the SDKs' policy endpoint: thousands of long-polls held at once.
#
# Phase 1: one console on SQLite, 100 resource servers × 100 waiters = 10,000 concurrent
# `GET /authsec/resource-servers/{id}/sdk-policy?wait_for_generation=N` (HTTP Basic with each
# resource server's credentials), spread over 127.0.0.1-4 as source addresses. Reports the
# console's RSS (/proc) idle and with every waiter held, then changes one resource server at a
# time through the admin API (a new scope) and reports p50/p99 of the time from just before
# the admin call to each waiter — and to every waiter — of that server being answered.
# Phase 2: two consoles on one throwaway PostgreSQL (scripts/with-postgres.sh), the waiters
# split between them, and every resource server changed at once (through the first console:
# the second hears of it by LISTEN/NOTIFY), several times.
#
# The driver is bench/authsec-console-scale. Goals: < 200 MB RSS with 10,000 waiters held,
# p99 < 1 s from a change to its waiters answered.
#
# usage: scripts/console-scale.sh [--smoke] [--sqlite-only]
#   --smoke        500 waiters (10 servers × 50), 3 changes, both phases (~1 min)
#   --sqlite-only  phase 1 only
# Knobs: SERVERS [100] WAITERS [100] CHANGES [10]
set -euo pipefail
cd "$(dirname "$0")/.."

SERVERS=${SERVERS:-100}
WAITERS=${WAITERS:-100}
CHANGES=${CHANGES:-10}
POSTGRES=1
for arg in "$@"; do
  case "$arg" in
    --smoke) SERVERS=10 WAITERS=50 CHANGES=3 ;;
    --sqlite-only) POSTGRES=0 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "console-scale: unknown argument $arg" >&2; exit 2 ;;
  esac
done

# Every waiter is a socket in the driver and one in the console (one more per waiter than
# the default 1024 allows).
need=$((SERVERS * WAITERS + 1024))
if [ "$(ulimit -n)" -lt "$need" ]; then
  ulimit -n "$need" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
  [ "$(ulimit -n)" -ge "$need" ] || { echo "console-scale: ulimit -n $(ulimit -n) < $need" >&2; exit 1; }
fi

echo "== building (release): authsec, authsec-console-scale"
# Two builds, as the other scripts build the CLI alone: one build of both would unify their
# dependencies' features and rebuild the CLI's.
cargo build --release --quiet -p authsec-cli --bin authsec
cargo build --release --quiet -p authsec-console-scale
BIN=$PWD/target/release/authsec
DRIVER=$PWD/target/release/authsec-console-scale

tmp=$(mktemp -d "${TMPDIR:-/tmp}/authsec-console-scale.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "== machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); load average $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "== phase 1: one console, SQLite, $SERVERS resource servers × $WAITERS waiters, $CHANGES changes one at a time"
mkdir -p "$tmp/sqlite"
"$DRIVER" --authsec "$BIN" --work-dir "$tmp/sqlite" --servers "$SERVERS" --waiters "$WAITERS" \
  --changes "$CHANGES" || { tail -20 "$tmp"/sqlite/console-*.log >&2; exit 1; }

if [ "$POSTGRES" = 1 ]; then
  echo "== phase 2: two consoles, one PostgreSQL, $SERVERS × $WAITERS waiters split between them, every resource server changed at once, $((CHANGES > 5 ? 5 : CHANGES)) times"
  mkdir -p "$tmp/pg"
  chmod 777 "$tmp/pg"
  scripts/with-postgres.sh bash -c '"$0" --authsec "$1" --work-dir "$2" --servers "$3" --waiters "$4" \
      --changes "$5" --instances 2 --all-at-once --database-url "$AUTHSEC_TEST_DATABASE_URL" ||
      { tail -20 "$2"/console-*.log >&2; exit 1; }' \
    "$DRIVER" "$BIN" "$tmp/pg" "$SERVERS" "$WAITERS" "$((CHANGES > 5 ? 5 : CHANGES))"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
