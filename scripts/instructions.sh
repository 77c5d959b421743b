#!/usr/bin/env bash
# The layer's cost per request in CPU instructions (deterministic, unlike wall-clock timings on
# a shared machine): runs, under valgrind's callgrind, with and without the layer, N and 2N
# requests each, a trivial inner service (the layer's own cost) and the notes example's rmcp
# service (the ratio a real server sees), and prints instructions per request and the ratios.
#
#   scripts/instructions.sh [N]      (default N = 2000)
#
# Installs valgrind (Debian) when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-2000}"

if ! command -v valgrind >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
fi
# The executable of bench target $2 of package $1.
bench_bin() {
  cargo bench -p "$1" --bench "$2" --no-run --message-format=json 2>/dev/null \
    | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == sys.argv[1] and m.get("executable"):
        print(m["executable"])' "$2"
}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Total instructions ("Ir") of one run.
instructions() {
  valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$1" "$2" "$3" >/dev/null 2>"$out/log"
  sed -n 's/^summary: //p' "$out/cg"
}

# Bare and protected, two run lengths each: their difference cancels start-up (runtime, key
# generation, the first validation), whatever it costs.
measure() {
  local title=$1 bin
  bin=$(bench_bin "$2" "$3")
  [ -x "$bin" ] || { echo "could not build the $3 bench" >&2; exit 1; }
  python3 - "$title" "$n" "$(instructions "$bin" bare "$n")" "$(instructions "$bin" bare $((2 * n)))" \
    "$(instructions "$bin" protected "$n")" "$(instructions "$bin" protected $((2 * n)))" <<'PY'
import sys
title = sys.argv[1]
n, bare_1, bare_2, prot_1, prot_2 = (int(x) for x in sys.argv[2:])
per_bare = (bare_2 - bare_1) / n
per_prot = (prot_2 - prot_1) / n
print(f"== {title} ({n} requests per run)")
print(f"  alone, per request:                {per_bare:,.0f} instructions")
print(f"  through AuthSecLayer, per request: {per_prot:,.0f} instructions")
print(f"  the layer adds, per request:       {per_prot - per_bare:,.0f} instructions")
print(f"  protected / bare:                  {per_prot / per_bare:.3f}")
PY
}

measure "a trivial inner service (benches/layer_instructions.rs)" authsec layer_instructions
measure "the notes example's rmcp service, 2026-07-28 stateless tools/call (examples/notes-server/benches/rmcp_instructions.rs)" \
  notes-server rmcp_instructions
