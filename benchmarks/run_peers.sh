#!/usr/bin/env bash
# mlgate next to Evidently and plain numpy/scipy/pandas baselines, in one run of the shared
# harness (../shared/bench), then the 10M-row file checks; writes benchmarks/RESULTS.md.
#
# Usage (from anywhere):  bash benchmarks/run_peers.sh
# Environment:
#   PEER_VENV      peer venv (default ~/.cache/mlgate-bench-peers; built when missing)
#   ROWS           row counts (default 100000,1000000)
#   RUNS_SMALL     rounds below 500k rows (default 5);  RUNS_LARGE  rounds from 500k (default 3)
#   DRIFT_TOOLS    default baseline_ks_chi2_psi,baseline_wd_js,product,evidently_default
#   QUALITY_TOOLS  default baseline_pandas,product,evidently_summary
#   BIG_ROWS       rows of the file checks (default 10000000; 0 skips them)
#   BIG_FORMATS    default parquet (csv also works: writing 2 x 3 GB of CSV takes ~20 min)
#   BIG_DIR        where the big files go (default /tmp/mlgate-big; removed afterwards)
#   SETUP_ONLY=1   build the venv and stop
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$(cd "$REPO/../shared/bench" && pwd)
OUT=$REPO/benchmarks/results
VENV=${PEER_VENV:-$HOME/.cache/mlgate-bench-peers}
PY=$VENV/bin/python
ROWS=${ROWS:-100000,1000000}
DRIFT_TOOLS=${DRIFT_TOOLS:-baseline_ks_chi2_psi,baseline_wd_js,product,evidently_default}
QUALITY_TOOLS=${QUALITY_TOOLS:-baseline_pandas,product,evidently_summary}
# fairlearn is the one library mlgate.checks imports that the peer requirements lack; the same
# versions as mlgate's own venv, without dependencies so nothing the peers pinned moves.
EXTRA=(fairlearn==0.15.0 narwhals==2.29.0)

if [ ! -x "$PY" ]; then
  python3 -m venv "$VENV"
  "$PY" -m pip install --quiet --upgrade pip
  # the anchors' pins include pandas 2.3.3: Evidently 0.7 does not import under pandas 3
  "$PY" -m pip install --quiet -r "$BENCH/requirements-anchors.txt"
fi
"$PY" -m pip install --quiet --no-deps -e "$REPO" "${EXTRA[@]}"
"$PY" -c "import mlgate.bench_adapters, evidently, pandas; print('peer venv ok: pandas', pandas.__version__)"
[ "${SETUP_ONLY:-0}" = 1 ] && exit 0

mkdir -p "$OUT"
export ANCHOR_PRODUCT_DRIFT=mlgate.bench_adapters:drift
export ANCHOR_PRODUCT_QUALITY=mlgate.bench_adapters:quality
LOG=$OUT/run.log
steal() { awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8, $9}' /proc/stat; }
stage() {  # name, command...: logs start/end, load average and CPU steal around a stage
  local name=$1 s0 s1; shift
  s0=$(steal)
  echo "=== $name start $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
  "$@"
  s1=$(steal)
  echo "=== $name end $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg) steal% $(
    echo "$s0 $s1" | awk '{t=$3-$1; s=$4-$2; printf "%.1f", ((t+s)>0 ? 100*s/(t+s) : 0)}')"
}
{
  echo "machine: $(nproc) cpus, $(free -m | awk '/Mem:/{print $2}') MiB, kernel $(uname -r)"
  echo "started $(date -u +%FT%TZ); load $(cat /proc/loadavg)"
  top -bn1 | head -12
  IFS=, read -ra SIZES <<< "$ROWS"
  for rows in "${SIZES[@]}"; do
    runs=${RUNS_SMALL:-5}; [ "$rows" -ge 500000 ] && runs=${RUNS_LARGE:-3}
    stage "drift-$rows" "$PY" "$BENCH/drift_bench.py" --rows "$rows" --runs "$runs" \
      --tools "$DRIFT_TOOLS" --timeout 400 --out "$OUT/drift-$rows.json"
    stage "quality-$rows" "$PY" "$BENCH/quality_bench.py" --rows "$rows" --runs "$runs" \
      --tools "$QUALITY_TOOLS" --timeout 400 --out "$OUT/quality-$rows.json"
  done
  if [ "${BIG_ROWS:-10000000}" != 0 ]; then
    IFS=, read -ra FORMATS <<< "${BIG_FORMATS:-parquet}"
    for fmt in "${FORMATS[@]}"; do
      stage "files-$fmt" "$REPO/.venv/bin/python" "$REPO/benchmarks/big_files.py" \
        --rows "${BIG_ROWS:-10000000}" --format "$fmt" --dir "${BIG_DIR:-/tmp/mlgate-big}" \
        --out "$OUT/files-$fmt-${BIG_ROWS:-10000000}.json"
    done
  fi
  echo "finished $(date -u +%FT%TZ); load $(cat /proc/loadavg)"
  top -bn1 | head -12
} 2>&1 | tee "$LOG"
"$REPO/.venv/bin/python" "$REPO/benchmarks/report.py" "$OUT" "$REPO/benchmarks/RESULTS.md" \
  --command "bash benchmarks/run_peers.sh" --log "$LOG"
