"""The prediction log writes every queued row, drops sensitive columns and reads windows back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlgate.serving.predictions import PredictionLog, read_predictions
from mlgate.serving.scorer import FloatRows

SERVER = """
import sys
import numpy as np
import pytest
import pandas as pd
from mlgate.serving.predictions import PredictionLog

log = PredictionLog(sys.argv[1], flush_seconds=0.05)
log.record(["a"], 1, pd.DataFrame({"x": [1.0]}), np.array([1]), None, 1.0, "rest")
print(log.writer_pid, flush=True)
sys.stdin.read()
"""


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


def test_batches_with_different_columns_keep_each_value_in_its_row(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "log", flush_seconds=60)
    one = pd.DataFrame({"x1": [1.5, 2.5], "region": ["n", "s"]})
    other = pd.DataFrame({"x1": [3.5], "age": [41]})
    log.record(["a", "b"], 1, one, np.array([0, 1]), None, 1.0, "rest")
    log.record(["c"], 2, other, np.array([1]), np.array([0.9]), 1.0, "stream")
    log.close()

    frame = pd.concat(read_predictions(tmp_path / "log")).set_index("request_id")
    assert frame["f.x1"].to_dict() == {"a": 1.5, "b": 2.5, "c": 3.5}
    assert frame["f.region"].tolist()[:2] == ["n", "s"]
    assert pd.isna(frame.loc["c", "f.region"])
    assert frame.loc["c", "f.age"] == 41
    assert pd.isna(frame.loc["a", "score"])
    assert frame.loc["c", "channel"] == "stream"


def test_float_frames_sharing_one_index_are_written_as_floats(tmp_path: Path) -> None:
    index = pd.Index(["a", "b"])
    first = pd.DataFrame(np.array([[0.1, 1e300], [2.5, -0.0]]), columns=index)
    second = pd.DataFrame(np.array([[3.25, np.nan]]), columns=index)
    counts = pd.DataFrame(np.array([[7, 8]]), columns=index)  # int64: not the float stack
    log = PredictionLog(tmp_path / "floats", flush_seconds=60)
    for ids, frame in ((["r0", "r1"], first), (["r2"], second)):
        log.record(ids, 1, frame, np.array([0] * len(ids)), None, 1.0, "rest")
    log.close()
    mixed = PredictionLog(tmp_path / "mixed", flush_seconds=60)
    for ids, frame in ((["r0", "r1"], first), (["r2"], counts)):
        mixed.record(ids, 1, frame, np.array([0] * len(ids)), None, 1.0, "rest")
    mixed.close()

    floats = pd.concat(read_predictions(tmp_path / "floats")).set_index("request_id")
    kept = pd.concat(read_predictions(tmp_path / "mixed")).set_index("request_id")
    assert floats["f.a"].dtype == np.float64
    assert floats["f.a"].tolist() == [0.1, 2.5, 3.25]
    assert floats["f.b"].tolist()[:2] == [1e300, 0.0]
    assert np.isnan(floats.loc["r2", "f.b"])
    assert kept["f.a"].tolist() == [0.1, 2.5, 7.0]
    assert kept["f.b"].tolist() == [1e300, 0.0, 8.0]


def test_one_odd_value_does_not_cost_the_other_rows(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "log", flush_seconds=60)
    log.record(["a"], 1, pd.DataFrame({"status": ["ok"]}), np.array([1]), None, 1.0, "rest")
    log.record(["b"], 1, pd.DataFrame({"status": [5]}), np.array([0]), None, 1.0, "rest")
    log.close()

    frame = pd.concat(read_predictions(tmp_path / "log")).set_index("request_id")
    assert log.dropped == 0
    assert frame["f.status"].to_dict() == {"a": "ok", "b": "5"}


def _gone(pid: int, within: float = 20.0) -> bool:
    """Return whether process ``pid`` has ended (or is a zombie) before ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def test_close_stops_the_writer_process(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "log", flush_seconds=60)
    _record(log, ["a"])
    log.close()
    log.close()  # a second close changes nothing

    assert _gone(log.writer_pid, within=0)
    assert log.written == 1


def test_the_writer_process_does_not_outlive_a_killed_server(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(tmp_path / "log")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        writer = int(server.stdout.readline())
        assert not _gone(writer, within=0)

        os.kill(server.pid, signal.SIGKILL)
        server.wait()

        assert _gone(writer)
    finally:
        server.kill()
        server.wait()


def test_the_writer_stops_when_its_server_dies_while_a_fork_holds_the_pipe(
    tmp_path: Path,
) -> None:
    holder = SERVER.replace(
        "print(log.writer_pid, flush=True)",
        "import os, time\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        "    time.sleep(120)\n"
        "    os._exit(0)\n"
        "print(log.writer_pid, child, flush=True)",
    )
    server = subprocess.Popen(
        [sys.executable, "-c", holder, str(tmp_path / "log")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    writer, fork = (int(n) for n in server.stdout.readline().split())
    try:
        os.kill(server.pid, signal.SIGKILL)
        server.wait()

        assert _gone(writer)  # the fork still holds the pipe open: the parent check stops it
        assert not _gone(fork, within=0)
    finally:
        os.kill(fork, signal.SIGKILL)


def test_the_terminal_interrupt_does_not_reach_the_writer(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "log", flush_seconds=60)
    _record(log, ["a", "b"])
    group = os.getpgid(log.writer_pid)
    log.close()

    assert group != os.getpgid(0)  # Ctrl+C signals the server's process group, not the writer's
    assert log.written == 2


def test_float_rows_from_the_scorer_are_written_as_float_columns(tmp_path: Path) -> None:
    index = pd.Index(["a", "b"])
    log = PredictionLog(tmp_path / "log", sensitive=["b"], flush_seconds=60)
    log.record(
        ["r0", "r1"],
        1,
        FloatRows(index, np.array([[0.5, 1.0], [1.5, 2.0]])),
        np.array(["yes", "no"]),
        np.array([0.9, 0.2]),
        1.0,
        "rest",
    )
    log.record(
        ["r2"],
        1,
        FloatRows(index, np.array([[2.5, 3.0]])),
        np.array(["yes"]),
        np.array([0.7]),
        1.0,
        "rest",
    )
    log.close()

    frame = pd.concat(read_predictions(tmp_path / "log")).set_index("request_id")
    assert frame["f.a"].dtype == np.float64
    assert frame["f.a"].to_dict() == {"r0": 0.5, "r1": 1.5, "r2": 2.5}
    assert "f.b" not in frame.columns
    assert frame["prediction"].tolist() == ["yes", "no", "yes"]
    assert frame["score"].tolist() == [0.9, 0.2, 0.7]


def test_rows_sent_to_a_dead_writer_are_counted_as_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = PredictionLog(tmp_path / "log", flush_rows=2, flush_seconds=60)
    os.kill(log.writer_pid, signal.SIGKILL)
    assert _gone(log.writer_pid)

    for batch in range(3):
        _record(log, [f"r{batch}-a", f"r{batch}-b"])
    log.close()

    assert log.written == 0
    assert log.dropped == 6
    stopped = [r for r in caplog.records if "writer for" in r.getMessage()]
    assert len(stopped) == 1
    assert "has stopped (exit code -9)" in stopped[0].getMessage()
