#!/usr/bin/env python3
"""Check a large file with mlgate.scale and report wall time and peak memory.

Writes the benchmark harness's synthetic frames (``../shared/bench/synth.py``: 20 numeric and 5
text columns, six of them shifted in ``current``) to Parquet or CSV once, then runs
``profile_file`` on the current file and ``drift_files`` on reference vs current, each in a fresh
process, and prints one JSON line per check with the wall time and the process's peak RSS
(``ru_maxrss``, which includes the interpreter and imported libraries).

Usage:
    python benchmarks/big_files.py --rows 10000000 --format parquet --dir DIR
    python benchmarks/big_files.py --rows 10000000 --format csv --dir DIR --keep
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent.parent / "shared" / "bench"
GENERATE_ROWS = 1_000_000  # rows generated at a time, so the writer never holds 10M rows


def write_files(rows: int, fmt: str, folder: Path) -> tuple[Path, Path]:
    """Write reference and current files of ``rows`` rows in pieces; return their paths."""
    sys.path.insert(0, str(BENCH))
    import pyarrow as pa
    import pyarrow.parquet as pq
    import synth

    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / f"reference-{rows}.{fmt}", folder / f"current-{rows}.{fmt}"
    if all(p.exists() for p in paths):
        return paths
    for path, shifted in zip(paths, (False, True), strict=True):
        tmp = path.with_suffix(".part")
        writer = None
        for piece, start in enumerate(range(0, rows, GENERATE_ROWS)):
            n = min(GENERATE_ROWS, rows - start)
            # one seed per piece: the pieces differ, and the whole is reproducible
            frame = synth._frame(n, 7 + 2 * piece + shifted, shifted=shifted)
            if fmt == "csv":
                frame.to_csv(tmp, mode="a", header=piece == 0, index=False)
                continue
            table = pa.Table.from_pandas(frame, preserve_index=False)
            writer = writer or pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
        if writer is not None:
            writer.close()
        tmp.rename(path)
    return paths


def run_check(check: str, paths: tuple[Path, Path], chunk_rows: int) -> dict:
    """Run one check in this process and return its time and peak RSS."""
    from mlgate.scale import drift_files, profile_file

    base = _rss_mib()
    started = time.perf_counter()
    if check == "profile_file":
        result = profile_file(paths[1], chunk_rows=chunk_rows)
    else:
        result = drift_files(paths[0], paths[1], chunk_rows=chunk_rows)
    return {
        "check": check,
        "file": paths[1].name,
        "file_mib": round(paths[1].stat().st_size / 2**20),
        "chunk_rows": chunk_rows,
        "wall_s": round(time.perf_counter() - started, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_before_mib": round(base, 1),
        "status": result.status,
        "summary": result.summary,
        "loadavg_after": Path("/proc/loadavg").read_text().split()[0],
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "mlgate-big")
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--out", type=Path, help="write the results here as JSON")
    parser.add_argument("--checks", default="profile_file,drift_files")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()

    paths = write_files(args.rows, args.format, args.dir)
    if args.worker:
        sys.stdout.write(json.dumps(run_check(args.worker, paths, args.chunk_rows)) + "\n")
        return
    results = []
    for check in args.checks.split(","):
        command = [
            sys.executable,
            __file__,
            "--rows",
            str(args.rows),
            "--format",
            args.format,
            "--dir",
            str(args.dir),
            "--chunk-rows",
            str(args.chunk_rows),
            "--worker",
            check,
        ]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        sys.stdout.write(json.dumps(results[-1]) + "\n")
        sys.stdout.flush()
    if args.out:
        payload = {"rows": args.rows, "format": args.format, "results": results}
        args.out.write_text(json.dumps(payload, indent=1))
    if not args.keep:
        for path in paths:
            path.unlink()


if __name__ == "__main__":
    main()
