#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL server on loopback, then removes the server.
#
#   scripts/with-postgres.sh cargo test -p authsec-console
#
# The command sees AUTHSEC_TEST_DATABASE_URL=postgres://authsec@127.0.0.1:<port>/authsec_test,
# an empty database it may use freely. PostgreSQL is installed with apt-get when initdb/pg_ctl
# are missing. The cluster lives in a temporary directory owned by the `postgres` user when
# run as root (PostgreSQL refuses to run as root), listens on 127.0.0.1 only, trusts local
# connections, and is stopped and deleted on exit, whatever the command's outcome.
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi

find_pg_bin() {
  # initdb on the PATH may be a lone symlink: use the directory it points into.
  local d candidates=()
  if command -v initdb >/dev/null 2>&1; then
    candidates+=("$(dirname "$(readlink -f "$(command -v initdb)")")")
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    candidates+=("$d")
  done
  for d in ${candidates[@]+"${candidates[@]}"}; do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/createdb" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

if ! PG_BIN="$(find_pg_bin)"; then
  echo "== installing PostgreSQL (apt-get)" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  PG_BIN="$(find_pg_bin)" || { echo "PostgreSQL binaries not found after installation" >&2; exit 1; }
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/authsec-pg.XXXXXX")"
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres: "$TMP"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

cleanup() {
  local rc=$?
  if [ -f "$TMP/data/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$TMP/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

as_pg "$PG_BIN/initdb" -D "$TMP/data" -U authsec --auth=trust --encoding=UTF8 --no-locale >"$TMP/initdb.log" 2>&1 \
  || { cat "$TMP/initdb.log" >&2; exit 1; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

started=""
for _ in 1 2 3 4 5 6 7 8; do
  PORT=$(( 20000 + RANDOM % 40000 ))
  port_in_use "$PORT" && continue
  # fsync off: a throwaway cluster need not survive a power cut.
  if as_pg "$PG_BIN/pg_ctl" -D "$TMP/data" -l "$TMP/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -k $TMP -c fsync=off -c full_page_writes=off" \
      start >/dev/null 2>&1; then
    started=1
    break
  fi
done
if [ -z "$started" ]; then
  echo "could not start PostgreSQL; its log:" >&2
  cat "$TMP/server.log" >&2 || true
  exit 1
fi

as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U authsec authsec_test
export AUTHSEC_TEST_DATABASE_URL="postgres://authsec@127.0.0.1:$PORT/authsec_test"
echo "== PostgreSQL $("$PG_BIN/pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$PORT (AUTHSEC_TEST_DATABASE_URL=$AUTHSEC_TEST_DATABASE_URL)" >&2

"$@"
