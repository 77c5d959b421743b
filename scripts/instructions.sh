#!/usr/bin/env bash
# The layer's cost per request in CPU instructions (deterministic, unlike wall-clock timings on
# a shared machine): runs benches/layer_instructions.rs under valgrind's callgrind with and
# without the layer, N requests each, and prints instructions per request and their ratio.
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
bin=$(cargo bench -p authsec --bench layer_instructions --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "layer_instructions" and m.get("executable"):
        print(m["executable"])')
[ -x "$bin" ] || { echo "could not build the layer_instructions bench" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Total instructions ("Ir") of one run.
instructions() {
  valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$bin" "$1" "$2" >/dev/null 2>"$out/log"
  sed -n 's/^summary: //p' "$out/cg"
}
# Two run lengths each: their difference cancels start-up (runtime, key generation, the first
# validation), whatever it costs.
bare_1=$(instructions bare "$n")
bare_2=$(instructions bare $((2 * n)))
prot_1=$(instructions protected "$n")
prot_2=$(instructions protected $((2 * n)))
python3 - "$n" "$bare_1" "$bare_2" "$prot_1" "$prot_2" <<'PY'
import sys
n, bare_1, bare_2, prot_1, prot_2 = (int(x) for x in sys.argv[1:])
per_bare = (bare_2 - bare_1) / n
per_prot = (prot_2 - prot_1) / n
print(f"requests per run:                   {n}")
print(f"inner service alone, per request:   {per_bare:,.0f} instructions")
print(f"through AuthSecLayer, per request:  {per_prot:,.0f} instructions")
print(f"the layer adds, per request:        {per_prot - per_bare:,.0f} instructions")
PY
