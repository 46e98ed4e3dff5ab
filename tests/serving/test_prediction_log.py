"""The prediction log writes every queued row, drops sensitive columns and reads windows back."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from mlgate.serving.predictions import PredictionLog, read_predictions


def _record(log: PredictionLog, ids: list[str], version: int = 3) -> None:
    features = pd.DataFrame({"x1": np.arange(len(ids), dtype=float), "sex": ["f"] * len(ids)})
    log.record(
        ids, version, features, np.array([1] * len(ids)), np.linspace(0, 1, len(ids)), 2.5, "rest"
    )


def test_every_row_is_written_once_without_sensitive_columns(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "log", sensitive=["sex"], flush_rows=7, flush_seconds=0.05)
    for batch in range(20):
        _record(log, [f"r{batch}-{i}" for i in range(3)])
    log.close()

    frame = pd.concat(list(read_predictions(tmp_path / "log")), ignore_index=True)
    assert sorted(frame["request_id"]) == sorted(f"r{b}-{i}" for b in range(20) for i in range(3))
    assert log.written == 60
    assert log.dropped == 0
    assert "f.sex" not in frame.columns
    assert list(frame.columns[:7]) == [
        "ts",
        "request_id",
        "channel",
        "model_version",
        "latency_ms",
        "prediction",
        "score",
    ]
    assert frame["f.x1"].tolist().count(2.0) == 20
    assert set(frame["model_version"]) == {3}


def test_a_window_reads_only_its_rows(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "log", flush_seconds=0.01)
    _record(log, ["a", "b"])
    log.close()
    now = datetime.now(UTC)

    assert len(pd.concat(read_predictions(tmp_path / "log", now - timedelta(minutes=1)))) == 2
    assert list(read_predictions(tmp_path / "log", now + timedelta(seconds=1))) == []
    assert list(read_predictions(tmp_path / "missing")) == []


def test_a_full_queue_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    disk_stalled = threading.Event()

    class StalledLog(PredictionLog):
        def _run(self) -> None:
            disk_stalled.wait()
            super()._run()

    log = StalledLog(tmp_path / "log", max_queued=1, flush_seconds=0.01)
    for i in range(200):
        _record(log, [f"r{i}"])
    disk_stalled.set()
    log.close()

    assert log.dropped == 199
    assert log.written == 1
