#!/usr/bin/env bash
# What authsec adds to an rmcp server, in crates: the table in docs/src/guide/rmcp.md.
#
# Builds nothing. Writes a scratch adopter crate outside the repository (rmcp with server,
# macros and the Streamable HTTP server transport; axum; tokio; tracing-subscriber), resolves
# it without and with authsec (each dependency line below) and counts the unique crates
# (name and version) of `cargo tree -e normal,build`, the adopter itself excluded.
#
#   scripts/crate-count.sh            # resolves offline, from the local registry cache
#   ONLINE=1 scripts/crate-count.sh   # lets cargo fetch the index
#   VERBOSE=1 scripts/crate-count.sh  # also lists the crates each line adds
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
offline=--offline
[[ "${ONLINE:-}" == 1 ]] && offline=

mkdir -p "$scratch/src"
echo 'fn main() {}' >"$scratch/src/main.rs"
base='[package]
name = "adopter"
version = "0.1.0"
edition = "2021"

[workspace]

[dependencies]
rmcp = { version = "3.11", features = ["server", "macros", "transport-streamable-http-server"] }
axum = "0.8"
tokio = { version = "1", features = ["full"] }
tracing-subscriber = { version = "0.3", features = ["env-filter"] }'

# The unique crates of the adopter's normal and build dependency graph, one "name vX.Y.Z" a line.
crates() {
    (cd "$scratch" && cargo tree $offline -q -e normal,build --prefix none) |
        sed 's/ (.*//' | grep -v '^adopter v' | sort -u
}

echo "$base" >"$scratch/Cargo.toml"
crates >"$scratch/base.txt"
echo "rmcp server alone: $(wc -l <"$scratch/base.txt") crates"
echo
echo "| authsec dependency line | crates added |"
echo "|---|---|"
for line in 'features = ["rmcp"]' 'default-features = false, features = ["rmcp", "axum"]'; do
    printf '%s\nauthsec = { path = "%s/crates/authsec", %s }\n' "$base" "$repo" "$line" >"$scratch/Cargo.toml"
    crates >"$scratch/with.txt"
    echo "| \`$line\` | $(comm -13 "$scratch/base.txt" "$scratch/with.txt" | wc -l) |"
    if [[ "${VERBOSE:-}" == 1 ]]; then
        comm -13 "$scratch/base.txt" "$scratch/with.txt" | sed 's/^/    /'
    fi
done
