#!/usr/bin/env bash
# Browser tests of the web console: the real `authsec console` and the notes example on
# loopback, driven in headless Chromium (Debian's chromium package) by playwright-core, with an
# axe-core accessibility check. Installs what it needs: chromium with apt-get when missing, the
# pinned npm packages of crates/authsec-console/tests/browser, and builds the two binaries.
#
#   scripts/browser-tests.sh                       # run
#   AUTHSEC_SCREENSHOTS=docs/src/images scripts/browser-tests.sh   # also refresh the screenshots
#
# When Chromium cannot be installed the tests are reported SKIPPED (exit 0) — except with
# CI=true, where that is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
DIR=crates/authsec-console/tests/browser
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

cannot_run() {
  if [ "${CI:-}" = "true" ]; then
    echo "browser tests: FAILED to start: $1" >&2
    exit 1
  fi
  echo "browser tests: SKIPPED: $1"
  exit 0
}

if [ ! -x "$CHROMIUM" ]; then
  echo "== installing Chromium (apt-get)" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo -n"; fi
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null; }; then
    cannot_run "Chromium is not installed and apt-get could not install it"
  fi
  [ -x "$CHROMIUM" ] || cannot_run "no Chromium at $CHROMIUM"
fi
command -v node >/dev/null 2>&1 || cannot_run "Node.js is not installed"

if [ ! -f "$DIR/node_modules/.package-lock.json" ] || [ "$DIR/package-lock.json" -nt "$DIR/node_modules/.package-lock.json" ]; then
  (cd "$DIR" && npm ci --no-audit --no-fund --loglevel=error) || cannot_run "npm ci failed"
  touch "$DIR/node_modules"
fi

cargo build --quiet -p authsec-cli -p notes-server

if [ -n "${AUTHSEC_SCREENSHOTS:-}" ]; then
  AUTHSEC_SCREENSHOTS="$(cd "$(dirname "$AUTHSEC_SCREENSHOTS")" && pwd)/$(basename "$AUTHSEC_SCREENSHOTS")"
  export AUTHSEC_SCREENSHOTS
fi
export CHROMIUM AUTHSEC_BIN_DIR="${AUTHSEC_BIN_DIR:-$ROOT/target/debug}"
cd "$DIR"
exec node --test --test-concurrency=1 --test-reporter=spec console.test.mjs
