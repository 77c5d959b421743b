#!/usr/bin/env bash
# Fuzzes the parsers fed by the network and by operators: every cargo-fuzz target in fuzz/,
# built the cargo-fuzz way (nightly, optimized, AddressSanitizer, debug assertions and
# overflow checks on).
#
#   scripts/fuzz.sh --smoke               each target for $AUTHSEC_FUZZ_SECONDS (default 30) s
#   scripts/fuzz.sh --long SECONDS        each target for SECONDS
#   scripts/fuzz.sh --smoke TARGET...     only these targets
#
# Each target starts from its committed seeds (fuzz/seeds/<target>) plus what earlier runs
# found (fuzz/corpus/<target>, not committed). Prints one line per target (executions,
# crashes) and exits non-zero when any target crashed; a crash leaves its input in
# fuzz/artifacts/<target>/ and the line says how to replay it. Installs the nightly
# toolchain and cargo-fuzz if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

case "${1:-}" in
  --smoke) seconds="${AUTHSEC_FUZZ_SECONDS:-30}"; shift ;;
  --long) [ $# -ge 2 ] || usage; seconds="$2"; shift 2 ;;
  *) usage ;;
esac
case "$seconds" in '' | *[!0-9]*) usage ;; esac

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "== installing the nightly toolchain"
  rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
fuzz() { cargo +nightly fuzz "$1" --fuzz-dir fuzz "${@:2}"; }
# Inputs libFuzzer saved for a failure (not its slow-unit-* notes).
failures() {
  find "$1" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' \
    -o -name 'leak-*' \) | wc -l
}

started=$SECONDS
if [ $# -gt 0 ]; then
  targets=("$@")
  echo "== building ${targets[*]}"
  for target in "${targets[@]}"; do
    fuzz build "$target"
  done
else
  mapfile -t targets < <(fuzz list)
  echo "== building ${targets[*]}"
  fuzz build
fi

# Every target fuzzes this one build, even if the sources change meanwhile.
bin="${CARGO_TARGET_DIR:-fuzz/target}/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_odr_violation=0"
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
failed=0
summary=()
for target in "${targets[@]}"; do
  corpus="fuzz/corpus/$target"
  artifacts="fuzz/artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  before="$(failures "$artifacts")"
  log="$logs/$target.log"
  echo "== $target: ${seconds} s"
  status=0
  target_started=$SECONDS
  "$bin/$target" -artifact_prefix="$artifacts/" -max_total_time="$seconds" -print_final_stats=1 \
    -timeout=10 "$corpus" "fuzz/seeds/$target" >"$log" 2>&1 || status=$?
  executions="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  crashes=$(($(failures "$artifacts") - before))
  line="$target: $((SECONDS - target_started)) s, ${executions:-0} executions, $crashes crashes"
  if [ "$status" -ne 0 ]; then
    failed=1
    tail -n 40 "$log" >&2
    newest="$(ls -t "$artifacts" | grep -E '^(crash|timeout|oom|leak)-' | head -n 1 || true)"
    if [ "$crashes" -gt 0 ] && [ -n "$newest" ]; then
      line="$line: $artifacts/$newest (replay: cargo +nightly fuzz run --fuzz-dir fuzz $target $artifacts/$newest)"
    else
      line="$target: FAILED (exit $status) without a crashing input; see the log above"
    fi
  fi
  echo "$line"
  summary+=("$line")
done

echo "== fuzz summary ($((SECONDS - started)) s including the build)"
printf '%s\n' "${summary[@]}"
exit "$failed"
