#!/usr/bin/env bash
# Sets everything up, then runs `mlgate demo` end to end (embedded SQLite, nothing to start).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/mlgate demo --path mlgate-demo --force "$@"
