"""Whole-row work on a scanned file: exact duplicate counts and sampling complete rows.

Duplicates are counted in two steps. The scan hashed every row to 64 bits; rows whose hash occurs
once cannot repeat another row, so only rows whose hash repeats ("candidates") are read back
from the scratch files and compared in full with ``DataFrame.duplicated``. The count is therefore
exact: a hash collision only adds a candidate, never a duplicate. Equal rows always hash equal,
because the hash keys fold -0.0 into 0.0 and every NaN into one key, as ``duplicated`` does.

Candidates are compared in partitions by hash value, at most ``max_rows`` rows at a time, so a
file made mostly of repeated rows needs no more memory than one partition. Rows with equal
content have equal hashes and so always land in the same partition.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from mlgate.scale._scan import FileScan

logger = logging.getLogger(__name__)

MAX_COMPARE_ROWS = 2_000_000


def count_duplicate_rows(scan: FileScan, max_rows: int = MAX_COMPARE_ROWS) -> int:
    """Return how many rows of ``scan`` repeat an earlier row, as ``frame.duplicated()`` counts."""
    if scan.row_hashes is None:
        raise RuntimeError("the scan did not hash its rows; scan with hash_rows=True")
    candidates, hashes = _candidates(scan.row_hashes)
    if candidates.size == 0:
        return 0

    parts = max(1, math.ceil(candidates.size / max_rows))
    total = 0
    for part in range(parts):
        rows = candidates if parts == 1 else candidates[hashes % np.uint64(parts) == part]
        frame = gather(scan, np.sort(rows))
        total += int(frame.duplicated(keep="first").sum())
    logger.info(
        "scale: %d candidate rows in %d partition(s), %d duplicates", candidates.size, parts, total
    )
    return total


def gather(scan: FileScan, rows: np.ndarray, names: list[str] | None = None) -> pd.DataFrame:
    """Return the stored values of sorted ``rows`` (numbers, or codes for other values)."""
    chosen = [scan.column(n) for n in names] if names is not None else scan.columns
    return pd.DataFrame({c.name: c.take(rows) for c in chosen})


def complete_rows(scan: FileScan, names: list[str]) -> np.ndarray:
    """Return a mask of the rows whose ``names`` columns are all finite numbers."""
    mask = np.ones(scan.n_rows, dtype=bool)
    for name in names:
        values = scan.column(name).take(slice(None))
        mask &= np.isfinite(values)
    return mask


def _candidates(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(hashes, kind="stable")
    ordered = hashes[order]
    same_as_next = ordered[1:] == ordered[:-1]

    repeated = np.zeros(hashes.size, dtype=bool)
    repeated[:-1] |= same_as_next
    repeated[1:] |= same_as_next
    return order[repeated], ordered[repeated]
