"""The run logs: what training and prediction record, where, and that appending is safe."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import joblib
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from mlgate import __version__
from mlgate.checks.logs import COMMON_FIELDS, EVENT_FIELDS, EVENTS, field_problems
from mlgate.lifecycle.models import add_model, get_model_version
from mlgate.lifecycle.service import Governance
from mlgate.runlog import append_record, encode_record, log_dir, read_lines
from tests.fixtures import Cli, synthetic_frame

DOCS = Path(__file__).resolve().parents[2] / "docs" / "logging.md"


@pytest.fixture(autouse=True)
def _default_log_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLGATE_LOG_DIR", raising=False)


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_train_and_predict_write_every_documented_field(workspace: Path, cli: Cli) -> None:
    new = synthetic_frame(n=50, seed=3).drop(columns="y")
    new.to_csv(workspace / "new.csv", index=False)

    assert cli("train", cwd=workspace).code == 0
    assert cli("predict", "new.csv", "--version", "1", cwd=workspace).code == 0

    logs = workspace / ".mlgate" / "logs"
    (trained,) = records(logs / "training.jsonl")
    (scored,) = records(logs / "prediction.jsonl")
    gov = Governance.open(workspace)
    model = get_model_version(gov, 1)
    train = gov.snapshot_now().datasets["train"]

    assert list(trained) == [*COMMON_FIELDS, *EVENT_FIELDS["training"]]
    assert list(scored) == [*COMMON_FIELDS, *EVENT_FIELDS["prediction"]]
    assert field_problems(trained, "training") == []
    assert field_problems(scored, "prediction") == []

    assert trained["event"] == "training.finished"
    assert (trained["project"], trained["model_version"]) == ("demo-low", 1)
    assert trained["model_sha256"] == model.artifact_sha256
    assert trained["dataset_sha256"] == train.sha256 == sha256(workspace / "train.csv")
    assert (trained["rows"], trained["dataset_version"]) == (400, train.id)
    assert trained["features"] == ["x1", "x2", "region"]
    assert trained["params"] == model.params
    assert trained["params"]["random_state"] == 0
    assert trained["metrics"] == model.metrics
    assert trained["seconds"] == model.metrics["training_seconds"]
    assert (trained["actor"], trained["mlgate_version"]) == ("alice", __version__)

    assert scored["event"] == "prediction.batch"
    assert scored["model_sha256"] == model.artifact_sha256
    assert scored["dataset_sha256"] == sha256(workspace / "new.csv")
    assert scored["output_sha256"] == sha256(workspace / "new.scored.csv")
    assert (scored["rows"], scored["deployed"]) == (50, False)
    # Both are rounded to 4 decimals: seconds' rounding alone moves the quotient by up to 1e-3.
    assert scored["latency_ms"] == pytest.approx(scored["seconds"] * 1000 / 50, abs=2e-3)
    assert scored["run_id"] != trained["run_id"]
    for record in (trained, scored):
        assert datetime.fromisoformat(record["ts"]).utcoffset() == timedelta(0)


def test_records_hold_no_row_values(workspace: Path, cli: Cli) -> None:
    frame = synthetic_frame()
    frame.to_csv(workspace / "new.csv", index=False, columns=["x1", "x2", "region", "group"])

    assert cli("train", cwd=workspace).code == 0
    assert cli("predict", "new.csv", "--version", "1", cwd=workspace).code == 0

    text = "".join(p.read_text() for p in (workspace / ".mlgate" / "logs").glob("*.jsonl"))
    values = [repr(float(v)) for v in frame[["x1", "x2"]].to_numpy().ravel()]
    assert not [v for v in values if v in text]
    assert '"n"' not in text  # the region values
    assert '"s"' not in text


def test_documentation_describes_every_field_and_event() -> None:
    text = DOCS.read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `([a-z0-9_]+)` \|", text, flags=re.MULTILINE))

    fields = set(COMMON_FIELDS) | {f for kind in EVENT_FIELDS.values() for f in kind}
    assert fields <= rows
    assert all(f"`{event}`" in text for event in EVENTS)


def test_added_model_is_logged_without_training_time(workspace: Path) -> None:
    gov = Governance.open(workspace, actor="alice")
    data = synthetic_frame()[["x1", "x2"]]
    joblib.dump(LogisticRegression().fit(data, data["x1"] > 0), workspace / "model.joblib")

    version = add_model(gov, workspace / "model.joblib", allow_pickle=True)

    (record,) = records(workspace / ".mlgate" / "logs" / "training.jsonl")
    assert record["event"] == "model.added"
    assert record["seconds"] is None
    assert record["origin"] == "added from model.joblib"
    assert record["model_sha256"] == version.artifact_sha256
    assert field_problems(record, "training") == []


def test_log_dir_follows_mlgate_log_dir(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gov = Governance.open(workspace)
    assert log_dir(gov.workspace) == workspace / ".mlgate" / "logs"

    monkeypatch.setenv("MLGATE_LOG_DIR", "ops/logs")
    assert log_dir(gov.workspace) == workspace / "ops" / "logs"

    monkeypatch.setenv("MLGATE_LOG_DIR", str(tmp_path / "shared"))
    from mlgate.lifecycle.models import train_model

    train_model(gov)
    assert [r["event"] for r in records(tmp_path / "shared" / "training.jsonl")] == [
        "training.finished"
    ]


def test_failure_to_write_the_log_keeps_the_model(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = workspace / "not-a-folder"
    blocker.write_text("a file where the log folder should be")
    monkeypatch.setenv("MLGATE_LOG_DIR", str(blocker))
    from mlgate.lifecycle.models import train_model

    with caplog.at_level(logging.WARNING, logger="mlgate.runlog"):
        version = train_model(Governance.open(workspace, actor="alice"))

    assert get_model_version(Governance.open(workspace), 1).id == version.id
    (warning,) = [r for r in caplog.records if r.name == "mlgate.runlog"]
    assert warning.levelno == logging.WARNING
    assert warning.getMessage().startswith(
        "could not append the training.finished record of model version 1 to "
    )


def test_encoded_line_is_ascii_json_with_null_for_non_finite_numbers() -> None:
    line = encode_record({"metric": float("nan"), "name": "größe", "nested": [float("inf"), 1]})

    assert line == b'{"metric":null,"name":"gr\\u00f6\\u00dfe","nested":[null,1]}\n'


def test_read_lines_numbers_lines_as_an_editor_and_skips_blank_ones(tmp_path: Path) -> None:
    (tmp_path / "prediction.jsonl").write_text('{"a":1}\n\n{"b":2}\r\n')
    (tmp_path / "other.jsonl").write_text('{"c":3}\n')

    assert read_lines(tmp_path) == [
        {"file": "prediction.jsonl", "line": 1, "text": '{"a":1}'},
        {"file": "prediction.jsonl", "line": 3, "text": '{"b":2}'},
    ]


WRITER = """
import sys, time
from pathlib import Path
from mlgate.runlog import append_record

path, name, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
while not go.exists():
    time.sleep(0.005)
for number in range(200):
    append_record(path, {"writer": name, "number": number, "padding": name * 20000})
"""


def test_two_processes_appending_at_once_write_only_whole_lines(tmp_path: Path) -> None:
    path, go = tmp_path / "training.jsonl", tmp_path / "go"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, str(go)])
        for name in ("a", "b")
    ]
    time.sleep(0.5)
    go.touch()
    assert [w.wait(timeout=120) for w in writers] == [0, 0]

    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    parsed = [json.loads(line) for line in lines[:-1]]
    for name in ("a", "b"):
        mine = [r for r in parsed if r["writer"] == name]
        assert [r["number"] for r in mine] == list(range(200))
        assert all(r["padding"] == name * 20000 for r in mine)


def test_append_creates_the_file_and_adds_one_line_per_record(tmp_path: Path) -> None:
    path = tmp_path / "prediction.jsonl"

    append_record(path, {"n": 1})
    append_record(path, {"n": 2})

    assert path.read_text() == '{"n":1}\n{"n":2}\n'
    assert pd.read_json(path, lines=True)["n"].tolist() == [1, 2]
