#!/usr/bin/env bash
# `mlgate serve` next to `mlflow models serve` and a bare Starlette app, in one run of the shared
# harness's serving benchmark (../shared/bench/serve_bench.py, loaded with wrk on 127.0.0.1).
# Writes benchmarks/results/serve.json, serve.log and serve.md (the section for RESULTS.md).
#
# Usage (from anywhere):  bash benchmarks/run_serving.sh
# Environment:
#   PEER_VENV    peer venv with MLflow, uvicorn and the bare app's libraries
#                (default ~/.cache/mlgate-bench-peers; built by run_peers.sh when missing)
#   ROUNDS       rounds per server and case (default 3)
#   DURATION     seconds per wrk run (default 20)
#   CONCURRENCY  default 1,16;  BATCH  rows per request, default 1,100
#   MAX_LOAD     start only once the 1-minute load average is below this (default 0.7)
#   WAIT_MAX     give up waiting for a quiet machine after this many seconds (default 1800)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$(cd "$REPO/../shared/bench" && pwd)
OUT=$REPO/benchmarks/results
VENV=${PEER_VENV:-$HOME/.cache/mlgate-bench-peers}
PY=$VENV/bin/python
# mlgate serves from its own venv: the harness starts this command with {port} and {model_pkl}
PRODUCT="$REPO/.venv/bin/python -m mlgate.bench_serve --host 127.0.0.1 --port {port} \
--model {model_pkl}"

if [ ! -x "$PY" ]; then
  SETUP_ONLY=1 PEER_VENV=$VENV bash "$REPO/benchmarks/run_peers.sh"
fi
if ! command -v wrk >/dev/null; then
  apt-get update && apt-get install -y wrk
fi

load1() { cut -d' ' -f1 /proc/loadavg; }
waited=0
until awk -v l="$(load1)" -v m="${MAX_LOAD:-0.7}" 'BEGIN { exit !(l < m) }'; do
  if [ "$waited" -ge "${WAIT_MAX:-1800}" ]; then
    echo "the machine stayed busy (load $(load1)) for ${waited}s; not measuring" >&2
    exit 1
  fi
  echo "waiting for a quiet machine: load $(load1), need < ${MAX_LOAD:-0.7}" >&2
  sleep 30
  waited=$((waited + 30))
done

mkdir -p "$OUT"
LOG=$OUT/serve.log
{
  echo "machine: $(nproc) cpus, $(free -m | awk '/Mem:/{print $2}') MiB, kernel $(uname -r)"
  echo "started $(date -u +%FT%TZ); load $(cat /proc/loadavg)"
  "$PY" "$BENCH/serve_bench.py" --rounds "${ROUNDS:-3}" --duration "${DURATION:-20}" \
    --concurrency "${CONCURRENCY:-1,16}" --batch "${BATCH:-1,100}" \
    --servers mlflow,baseline --product-cmd "$PRODUCT" \
    --workdir "$HOME/.cache/mlgate-bench-serve/harness" --out "$OUT/serve.json"
  echo "finished $(date -u +%FT%TZ); load $(cat /proc/loadavg)"
} 2>&1 | tee "$LOG"
"$REPO/.venv/bin/python" "$REPO/benchmarks/report.py" "$OUT" "$OUT/serve.md" --serving-only \
  --command "bash benchmarks/run_serving.sh"
