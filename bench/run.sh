#!/usr/bin/env bash
# authsec against the peers a user would pick instead (TypeScript SDK + jose, FastMCP +
# JWTVerifier), on one core each. One command on a fresh clone:
#
#   bench/run.sh            full comparison (release build, 5 rounds of 3 s warm-up + 10 s);
#                           writes bench/results.md
#   bench/run.sh --smoke    correctness gate + ~2 s of load per server, one round, debug build
#                           (reuses the test suite's build); writes nothing; exits non-zero on
#                           any failure
#
#   bench/run.sh --authsec-only --rounds 15 --duration 5
#                           only rmcp bare vs authsec (the auth ÷ bare goal, many short rounds);
#                           writes bench/results-authsec-only.md
#
# Other options go to bench/run.py (--rounds N, --duration S, --warmup S, --connections N,
# --server-cpu N, --load-cpu N, --out FILE). Installs what is missing: the peers from their
# lockfiles (npm ci into bench/peers/ts/node_modules; pip into bench/peers/py/.venv), and wrk
# with apt-get when run as root. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=0
for arg in "$@"; do
  [ "$arg" = --smoke ] && smoke=1
done

die() { echo "bench: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || die "$1 not found: $2"; }

need cargo "install a Rust toolchain (https://rustup.rs)"
need node "install Node.js 20 or later (with npm)"
need npm "install npm"
need python3 "install Python 3.10 or later (with venv)"
need taskset "install util-linux"

if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing wrk" >&2
    apt-get install -y -qq wrk >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null; } ||
      die "apt-get could not install wrk"
  fi
  need wrk "install wrk (apt-get install wrk)"
fi

# install_if_changed DIR LOCKFILE STAMP COMMAND...: runs COMMAND in DIR unless STAMP records the
# lockfile's current hash (an interrupted install is redone).
install_if_changed() {
  local dir=$1 lock=$2 stamp=$3
  shift 3
  local hash
  hash=$(sha256sum "$dir/$lock" | cut -d' ' -f1)
  if [ "$(cat "$dir/$stamp" 2>/dev/null)" != "$hash" ]; then
    (cd "$dir" && "$@") || die "installing the peers in $dir failed"
    echo "$hash" >"$dir/$stamp"
  fi
}

echo "== peers: TypeScript SDK (npm ci), FastMCP (pip)" >&2
install_if_changed bench/peers/ts package-lock.json node_modules/.bench-installed \
  npm ci --no-audit --no-fund --loglevel=error
py_install() {
  rm -rf .venv
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
}
install_if_changed bench/peers/py requirements.txt .venv/.bench-installed py_install

if [ "$smoke" = 1 ]; then
  # The same feature set as the workspace's test build, so after `cargo test --workspace` this
  # compiles nothing new (the integration tests need the binaries, so they are built too).
  echo "== building (debug, as the test suite does)" >&2
  cargo build --quiet --workspace --tests
  bin_dir=target/debug
else
  echo "== building (release)" >&2
  cargo build --quiet --release -p authsec-echo -p authsec-cli --bins
  bin_dir=target/release
fi

exec python3 bench/run.py --bin-dir "$bin_dir" "$@"
