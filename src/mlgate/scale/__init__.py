"""Checks on data files larger than memory.

:func:`profile_file` (data quality) and :func:`drift_files` (drift) stream a CSV or Parquet file
once, keep each column in a scratch file, and then compute column by column, so a
10-million-row, 25-column file is checked within 2 GB of memory. Their results equal those of
the in-memory checks on the same file; :mod:`mlgate.scale.files` explains how.
"""

from __future__ import annotations

from mlgate.scale._scan import DEFAULT_CHUNK_ROWS, Progress
from mlgate.scale.files import drift_files, profile_file

__all__ = ["DEFAULT_CHUNK_ROWS", "Progress", "drift_files", "profile_file"]
