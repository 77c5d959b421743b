#!/usr/bin/env bash
# The MSRV check: every workspace crate inherits the one `rust-version` of the root
# Cargo.toml, and no dependency in the lockfile declares a newer one (uuid 1.29 through rmcp,
# for one, needs 1.89). Building with that exact toolchain (`cargo +1.89 check --workspace
# --all-targets`) needs it installed (`rustup toolchain install 1.89`); this check needs
# nothing but cargo and python3, and clippy's `incompatible_msrv` lint (on by default, run with
# -D warnings by scripts/test) refuses standard library items newer than the MSRV in our code.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --format-version 1 --locked --filter-platform "$(rustc -vV | sed -n "s/^host: //p")" | python3 -c '
import json, re, sys
meta = json.load(sys.stdin)
def v(s): return (tuple(int(x) for x in re.findall(r"\d+", s or "0")) + (0, 0, 0))[:3]
ws = set(meta["workspace_members"])
pkgs = {p["id"]: p for p in meta["packages"]}
msrvs = {pkgs[i]["rust_version"] for i in ws}
if len(msrvs) != 1 or None in msrvs:
    sys.exit(f"msrv: workspace crates declare {sorted(map(str, msrvs))}; each must say rust-version.workspace = true")
msrv = msrvs.pop()
used = {n["id"] for n in meta["resolve"]["nodes"]}
newer = sorted("%s %s needs %s" % (pkgs[i]["name"], pkgs[i]["version"], pkgs[i]["rust_version"])
               for i in used - ws if v(pkgs[i].get("rust_version")) > v(msrv))
if newer:
    sys.exit(f"msrv: the workspace says {msrv} but\n  " + "\n  ".join(newer))
print(f"msrv: {len(ws)} workspace crates on rust-version {msrv}; {len(used - ws)} dependencies declare no newer one")
'
