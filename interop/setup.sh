#!/usr/bin/env bash
# Installs the interop suite's pinned peers: npm packages from package-lock.json and the Python
# MCP client from requirements.txt into interop/.venv. Idempotent.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
if [ ! -x .venv/bin/python ] || [ requirements.txt -nt .venv ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
  touch .venv
fi
