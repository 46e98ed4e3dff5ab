"""Batch scoring with several workers, resumable runs, and what a run records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from mlgate.errors import ConflictError, ValidationError
from mlgate.lifecycle.deploy import load_scorer, predict_file
from mlgate.lifecycle.models import get_model_version
from mlgate.lifecycle.service import Governance
from mlgate.registry.models import AuditEvent
from mlgate.runlog import log_dir
from tests.fixtures import Cli, synthetic_frame
from tests.serving.deployed import copy_of, deployed_workspace

ROWS = 2_300
CHUNK = 400  # six chunks, the last one short


class Stop(Exception):
    """Raised from a progress callback to interrupt a run part-way."""


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with version 1 deployed for batch, and the same input as CSV and Parquet."""
    root = deployed_workspace(tmp_path_factory.mktemp("batch") / "ws")
    frame = synthetic_frame(ROWS, seed=5).drop(columns="y")
    frame.to_csv(root / "input.csv", index=False)
    frame.to_parquet(root / "input.parquet", index=False, row_group_size=1_000)
    return root


@pytest.fixture
def ws(template: Path, tmp_path: Path) -> Path:
    """A private copy of the template."""
    return copy_of(template, tmp_path / "ws")


def _gov(root: Path) -> Governance:
    return Governance.open(root, "alice")


def _stop_after(chunks: int):  # type: ignore[no-untyped-def]
    seen = []

    def progress(what: str, done: int, total: int | None) -> None:
        seen.append(done)
        if len(seen) == chunks:
            raise Stop(f"stopped after {done} rows")

    return progress


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_two_workers_write_the_same_output_as_one(ws: Path, suffix: str) -> None:
    gov = _gov(ws)
    one = predict_file(gov, ws / f"input{suffix}", ws / f"one{suffix}", chunk_rows=CHUNK)
    two = predict_file(
        gov, ws / f"input{suffix}", ws / f"two{suffix}", chunk_rows=CHUNK, workers=2
    )

    assert (one.rows, two.rows) == (ROWS, ROWS)
    assert two.workers == 2
    pd.testing.assert_frame_equal(_read(one.output), _read(two.output))
    if suffix == ".csv":
        assert one.output_sha256 == two.output_sha256


def test_scores_match_the_model_called_directly(ws: Path) -> None:
    gov = _gov(ws)
    run = predict_file(gov, ws / "input.parquet", ws / "out.parquet", chunk_rows=CHUNK, workers=3)

    scorer = load_scorer(gov, get_model_version(gov, 1))
    source = pd.read_parquet(ws / "input.parquet")
    expected = scorer.model.predict_proba(source[scorer.features])[:, scorer.positive_column]
    written = pd.read_parquet(run.output)
    np.testing.assert_allclose(written["score"].to_numpy(), expected, rtol=0, atol=0)
    pd.testing.assert_frame_equal(written[source.columns], source)


@pytest.mark.parametrize(("suffix", "workers"), [(".csv", 1), (".parquet", 1), (".csv", 2)])
def test_interrupted_run_resumes_to_the_uninterrupted_output(
    ws: Path, suffix: str, workers: int
) -> None:
    gov = _gov(ws)
    source, output = ws / f"input{suffix}", ws / f"out{suffix}"
    reference = predict_file(gov, source, ws / f"ref{suffix}", chunk_rows=CHUNK)
    work = ws / f".out{suffix}.work"

    with pytest.raises(Stop, match="stopped after 1200 rows"):
        predict_file(gov, source, output, None, CHUNK, _stop_after(3), workers, resume=True)

    assert not output.exists()
    assert not (ws / f".out{suffix}.partial").exists()
    parts = sorted(p.name for p in work.glob("part-*"))
    assert parts[:3] == [f"part-00000{i}{suffix}" for i in range(3)]
    manifest = json.loads((work / "manifest.json").read_text())
    assert manifest["chunk_rows"] == CHUNK
    assert manifest["input_sha256"] == reference.input_sha256

    resumed = predict_file(gov, source, output, None, CHUNK, None, workers, resume=True)

    assert resumed.rows == ROWS
    assert resumed.chunks_resumed == len(parts)
    assert not work.exists()
    pd.testing.assert_frame_equal(_read(output), _read(reference.output))
    if suffix == ".csv":
        assert resumed.output_sha256 == reference.output_sha256


def test_resume_refuses_a_work_folder_of_another_chunk_size(ws: Path) -> None:
    gov = _gov(ws)
    source, output = ws / "input.csv", ws / "out.csv"
    with pytest.raises(Stop):
        predict_file(gov, source, output, None, CHUNK, _stop_after(2), resume=True)

    with pytest.raises(ConflictError, match="chunk_rows was 400, now 500") as caught:
        predict_file(gov, source, output, None, 500, resume=True)

    assert "run again without --resume" in (caught.value.hint or "")
    assert not output.exists()


def test_interrupted_run_without_resume_leaves_no_files(ws: Path) -> None:
    before = sorted(p.name for p in ws.iterdir())

    with pytest.raises(Stop):
        predict_file(_gov(ws), ws / "input.csv", ws / "out.csv", None, CHUNK, _stop_after(2), 2)

    assert sorted(p.name for p in ws.iterdir()) == before


def test_worker_count_below_one_is_refused(ws: Path) -> None:
    with pytest.raises(ValidationError, match="--workers must be at least 1; got 0"):
        predict_file(_gov(ws), ws / "input.csv", ws / "out.csv", workers=0)


def test_signature_errors_from_workers_name_the_column(ws: Path) -> None:
    frame = synthetic_frame(ROWS, seed=5).drop(columns="y")
    frame.loc[ROWS - 5, "x1"] = float("inf")
    frame.to_csv(ws / "bad.csv", index=False)

    with pytest.raises(ValidationError, match="column x1 has 1 infinite value"):
        predict_file(_gov(ws), ws / "bad.csv", ws / "out.csv", chunk_rows=CHUNK, workers=2)

    assert not (ws / "out.csv").exists()


def test_run_record_names_workers_rows_and_version(ws: Path, cli: Cli) -> None:
    result = cli(
        "predict", "input.parquet", "--output", "out.parquet", "--workers", "2",
        "--chunk-rows", str(CHUNK), "--resume", cwd=ws,
    )  # fmt: skip

    assert result.code == 0, result.text
    assert f"Scored {ROWS} rows with model version 1" in result.out
    gov = _gov(ws)
    with gov.transaction() as session:
        event = session.execute(
            select(AuditEvent).where(AuditEvent.action == "batch.scored")
        ).scalar_one()
    assert event.subject == "model:v1"
    assert event.payload["rows"] == ROWS
    assert event.payload["workers"] == 2
    assert event.payload["chunk_rows"] == CHUNK
    assert event.payload["chunks_resumed"] == 0
    assert event.payload["seconds"] > 0
    logged = (log_dir(gov.workspace) / "prediction.jsonl").read_text().splitlines()
    record = json.loads(logged[-1])
    assert (record["rows"], record["workers"], record["model_version"]) == (ROWS, 2, 1)


def test_predict_command_resumes_a_stopped_run(ws: Path, cli: Cli) -> None:
    with pytest.raises(Stop):
        predict_file(
            _gov(ws), ws / "input.csv", ws / "out.csv", None, CHUNK, _stop_after(4), 1, True
        )

    result = cli(
        "predict", "input.csv", "--output", "out.csv", "--chunk-rows", str(CHUNK), "--resume",
        cwd=ws,
    )  # fmt: skip

    assert result.code == 0, result.text
    assert "4 chunk(s) were taken over from the stopped run" in result.out
    assert len(pd.read_csv(ws / "out.csv")) == ROWS


ORPHAN_SCRIPT = """
import os, sys, time
from pathlib import Path
from mlgate.lifecycle.deploy import predict_file
from mlgate.lifecycle.service import Governance

root = Path(sys.argv[1])

def progress(what, done, total):
    children = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        children |= set((task / "children").read_text().split())
    (root / "workers.txt").write_text(" ".join(sorted(children)))
    time.sleep(600)

predict_file(Governance.open(root, "alice"), root / "input.csv", root / "out.csv", None, 400,
             progress, 2, False)
"""


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\\nState:\\tZ" not in status  # a zombie has exited; only its parent entry remains


def test_workers_end_when_their_parent_is_killed(ws: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    parent = subprocess.Popen([sys.executable, "-c", ORPHAN_SCRIPT, str(ws)])
    try:
        deadline = time.monotonic() + 120
        while not (ws / "workers.txt").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = [int(pid) for pid in (ws / "workers.txt").read_text().split()]
        assert len(workers) >= 2  # two workers (spawn may add its resource tracker)
    finally:
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()

    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [pid for pid in workers if _alive(pid)] == []
