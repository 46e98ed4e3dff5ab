#!/usr/bin/env python3
"""Which columns does each tool call drifted, as the number of rows grows?

The harness's synthetic frames (``../shared/bench/synth.py``: 25 columns, of which num_03,
num_09, num_15, cat_1 and cat_4 carry a material shift and num_00 a negligible one of 0.05
standard deviations) are compared at each size by mlgate and by the peers, each in a fresh
process. A tool that decides on p-values flags more columns as rows grow; one that decides on
effect sizes should flag exactly the five material shifts at every size.

- mlgate: up to 1M rows the in-memory ``drift`` check with its default thresholds (through
  ``mlgate.bench_adapters.drift``, as the harness calls it); above that the larger-than-memory
  path, ``mlgate.scale.drift_files``, on Parquet files written from the same frames. Its peak
  RSS is the worker process's ``ru_maxrss`` (interpreter and libraries included; writing the
  files happens in another process).
- peers (whylogs, Evidently's default preset, Evidently's KS/chi-square preset): the harness's
  own worker (``drift_bench.py --worker``), which builds the frames, calls the peer and reads
  its drift decision, run with the peer venv's Python under an address-space limit, so that a
  peer that does not fit in memory fails cleanly instead of exhausting the machine.

Usage:
    nice -n 10 python benchmarks/drift_sizes.py --sizes 10000,100000,1000000,10000000
    python benchmarks/drift_sizes.py --sizes 10000 --tools mlgate --peer-python PYTHON
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent.parent / "shared" / "bench"
MATERIAL = ["cat_1", "cat_4", "num_03", "num_09", "num_15"]
PEERS = ["whylogs", "evidently_default", "evidently_ks"]
IN_MEMORY_MAX_ROWS = 1_000_000  # above this mlgate checks files out of core
WRITE_ROWS = 1_000_000  # rows converted to Arrow at a time when writing the files
RESULT_PREFIX = "@@RESULT "


def _mlgate_in_memory(rows: int, seed: int) -> dict:
    sys.path.insert(0, str(BENCH))
    import common
    import synth

    reference, current, spec = synth.make_frames(rows, seed)
    common.reset_peak_rss()
    started = time.perf_counter()
    from mlgate.bench_adapters import drift

    flags = drift(reference, current, spec)
    return {
        "path": "in-memory check_drift",
        "wall_s": round(time.perf_counter() - started, 2),
        "peak_rss_mib": round(common.peak_rss_mib()),
        "drifted": sorted(name for name, drifted in flags.items() if drifted),
    }


def _write_files(rows: int, seed: int, folder: Path) -> tuple[Path, Path]:
    """Write the harness's frames of ``rows`` rows (the very frames the peers get) to Parquet."""
    sys.path.insert(0, str(BENCH))
    import pyarrow as pa
    import pyarrow.parquet as pq
    import synth

    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / f"reference-{rows}-{seed}.parquet", folder / f"current-{rows}-{seed}.parquet"
    if all(p.exists() for p in paths):
        return paths
    frames = synth.make_frames(rows, seed)[:2]
    for path, frame in zip(paths, frames, strict=True):
        tmp = path.with_suffix(".part")
        writer = None
        for start in range(0, rows, WRITE_ROWS):
            table = pa.Table.from_pandas(
                frame.iloc[start : start + WRITE_ROWS], preserve_index=False
            )
            writer = writer or pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
        assert writer is not None
        writer.close()
        tmp.rename(path)
    return paths


def _mlgate_files(rows: int, seed: int, folder: Path) -> dict:
    from mlgate.scale import drift_files

    reference, current = _write_files(rows, seed, folder)  # already written by the driver
    started = time.perf_counter()
    result = drift_files(reference, current)
    rows_out = result.tables["features"]
    return {
        "path": "out-of-core drift_files on Parquet",
        "wall_s": round(time.perf_counter() - started, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "file_mib": round(current.stat().st_size / 2**20),
        "drifted": sorted(r["feature"] for r in rows_out if r["drifted"]),
    }


def _run(command: list[str], timeout: float, memory_gib: float | None) -> dict:
    """Run a worker; return its result line, or its status when it failed or ran out of time."""

    def limit() -> None:  # in the child: a peer that outgrows the limit fails with MemoryError
        if memory_gib:
            size = int(memory_gib * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (size, size))
        os.nice(10)

    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, preexec_fn=limit
        )
    except subprocess.TimeoutExpired:
        return {"status": f"timeout after {timeout:.0f} s"}
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return {"status": "ok", **json.loads(line[len(RESULT_PREFIX) :])}
    tail = done.stderr.strip().splitlines()[-3:]
    memory = any("MemoryError" in line or "bad_alloc" in line for line in done.stderr.splitlines())
    status = f"did not fit in {memory_gib:g} GiB" if memory and memory_gib else "error"
    return {
        "status": status,
        "returncode": done.returncode,
        "stderr_tail": tail,
        "elapsed_s": round(time.perf_counter() - started, 1),
    }


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _verdict(drifted: list[str]) -> dict:
    flagged = set(drifted)
    return {
        "n_flagged": len(flagged),
        "false_alarms": sorted(flagged - set(MATERIAL)),
        "missed": sorted(set(MATERIAL) - flagged),
        "exact": flagged == set(MATERIAL),
    }


def _cell(result: dict) -> str:
    """``flagged (false alarms, missed)``, or why the tool has no answer at this size."""
    if result.get("status") != "ok":
        return result.get("status", "not run")
    if result["exact"]:
        return "**5**: exactly the material shifts"
    false, missed = result["false_alarms"], result["missed"]
    text = f"{result['n_flagged']}: {len(false)} false alarm(s)"
    if "num_00" in false:
        text += " incl. num_00"
    return text + (f", missed {', '.join(missed)}" if missed else "")


def table(results: dict) -> str:
    """Return the Markdown table of flagged columns per size and tool."""
    tools = ["mlgate", *PEERS]
    lines = [
        "| rows | " + " | ".join(tools) + " |",
        "|---:|" + "---|" * len(tools),
    ]
    for rows, by_tool in sorted(results.items(), key=lambda item: int(item[0])):
        cells = [_cell(by_tool.get(tool, {})) for tool in tools]
        lines.append(f"| {int(rows):,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000,10000000")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tools", default=",".join(["mlgate", *PEERS]))
    parser.add_argument(
        "--peer-python", default=str(Path.home() / ".cache/mlgate-bench-peers/bin/python")
    )
    parser.add_argument("--peer-memory-gib", type=float, default=14.0)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per worker")
    parser.add_argument(
        "--dir", type=Path, default=Path(tempfile.gettempdir()) / "mlgate-drift-sizes"
    )
    parser.add_argument("--out", type=Path, default=HERE / "results" / "drift_sizes.json")
    parser.add_argument("--table", action="store_true", help="only print the table of --out")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker == "mlgate":
        found = _mlgate_in_memory(args.rows, args.seed)
        _say(RESULT_PREFIX + json.dumps(found))
        return
    if args.worker == "mlgate_files":
        found = _mlgate_files(args.rows, args.seed, args.dir)
        _say(RESULT_PREFIX + json.dumps(found))
        return
    if args.worker == "write":
        _write_files(args.rows, args.seed, args.dir)
        return

    tools = args.tools.split(",")
    results: dict = json.loads(args.out.read_text()) if args.out.exists() else {}
    if args.table:
        _say(table(results))
        return
    for rows in [int(r) for r in args.sizes.split(",")]:
        by_tool = results.setdefault(str(rows), {})
        for tool in tools:
            _say(f"{time.strftime('%H:%M:%S')} {rows:>10,} rows: {tool} ...")
            found = _measure(tool, rows, args)
            found.update(_verdict(found["drifted"]) if found.get("status") == "ok" else {})
            found["load_after"] = Path("/proc/loadavg").read_text().split()[0]
            by_tool[tool] = found
            wall, peak = found.get("wall_s", 0.0), found.get("peak_rss_mib", 0.0)
            _say(f"    {_cell(found)}  ({wall:.1f} s, peak {peak:.0f} MiB)")
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=1))
    _say(table(results))


def _measure(tool: str, rows: int, args: argparse.Namespace) -> dict:
    me = [
        sys.executable,
        __file__,
        "--rows",
        str(rows),
        "--seed",
        str(args.seed),
        "--dir",
        str(args.dir),
    ]
    if tool == "mlgate" and rows > IN_MEMORY_MAX_ROWS:
        subprocess.run([*me, "--worker", "write"], check=True)
        found = _run([*me, "--worker", "mlgate_files"], args.timeout, None)
        for path in args.dir.glob(f"*-{rows}-{args.seed}.parquet"):
            path.unlink()
        return found
    if tool == "mlgate":
        return _run([*me, "--worker", "mlgate"], args.timeout, None)
    harness = [args.peer_python, str(BENCH / "drift_bench.py"), "--worker", "--tool", tool]
    return _run(
        [*harness, "--rows", str(rows), "--seed", str(args.seed)],
        args.timeout,
        args.peer_memory_gib,
    )


if __name__ == "__main__":
    main()
