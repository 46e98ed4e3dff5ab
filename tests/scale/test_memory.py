"""Peak memory of the file checks stays within a per-row budget that reaches 2 GiB at 10M rows.

What is asserted, and why: profile_file and then drift_files run in one fresh process on two
Parquet files of 2M rows x 25 columns (20 numeric, 5 text: the benchmark's shape). The process's
peak RSS (``VmHWM``, reset after the imports) minus its RSS once the libraries are imported must
stay below ``(2 GiB - that baseline) x 2M / 10M``: the budget a check may spend per row if it is to
check 10M rows within 2 GiB. Charging every byte above the baseline to the rows is conservative:
the batch buffers and allocator pools are the same at any size, so a run that fits the budget at 2M
rows fits it with more room at 10M (``benchmarks/RESULTS.md`` measures the 10M run itself).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

GOAL_MIB = 2048
GOAL_ROWS = 10_000_000
ROWS = 2_000_000
PIECE = 500_000

# The peak is VmHWM after resetting it through /proc/self/clear_refs, not ru_maxrss: the latter
# survives exec, so it would include the pytest process this worker was forked from.
WORKER = """
import json, sys
from mlgate.scale import drift_files, profile_file

def status(field):
    with open("/proc/self/status") as lines:
        return next(int(line.split()[1]) for line in lines if line.startswith(field)) / 1024

with open("/proc/self/clear_refs", "w") as reset:
    reset.write("5")
base = status("VmRSS:")
reference, current = sys.argv[1], sys.argv[2]
profile_file(current)
drift_files(reference, current)
print(json.dumps({"base_mib": base, "peak_mib": status("VmHWM:")}))
"""


def _write(path: Path, rows: int, seed: int) -> None:
    writer = None
    for start in range(0, rows, PIECE):
        n = min(PIECE, rows - start)
        rng = np.random.default_rng([seed, start])
        columns = {
            f"x{i:02d}": pa.array(rng.normal(seed * (i % 2) * 0.1, 1.0 + i % 3, n))
            for i in range(20)
        }
        for i in range(5):
            levels = pa.array([f"L{j}" for j in range(5 * (i + 1))])
            columns[f"c{i}"] = pc.take(levels, pa.array(rng.integers(0, len(levels), n)))
        table = pa.table(columns)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()


def _measure(reference: Path, current: Path) -> tuple[float, float]:
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(reference), str(current)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    return measured["base_mib"], measured["peak_mib"]


@pytest.mark.slow
def test_peak_memory_per_row_fits_2_gib_at_10_million_rows(tmp_path: Path) -> None:
    reference, current = tmp_path / "reference.parquet", tmp_path / "current.parquet"
    _write(reference, ROWS, 0)
    _write(current, ROWS, 1)

    base, peak = _measure(reference, current)
    budget = (GOAL_MIB - base) * ROWS / GOAL_ROWS
    assert peak - base < budget, (
        f"{ROWS} rows took {peak - base:.0f} MiB above the {base:.0f} MiB baseline; the budget "
        f"for 2 GiB at {GOAL_ROWS} rows is {budget:.0f} MiB"
    )
