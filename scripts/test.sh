#!/usr/bin/env bash
# Sets everything up, makes sure PostgreSQL answers on 127.0.0.1:5432, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/services.sh
export MLGATE_TEST_POSTGRES_URL="${MLGATE_TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
exec .venv/bin/python -m pytest "$@"
