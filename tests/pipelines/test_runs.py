"""Running declared pipelines: what each kind registers or writes, and how failures are kept."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from mlgate.errors import ConflictError, NotFoundError
from mlgate.lifecycle.data import latest_dataset, load_dataset
from mlgate.lifecycle.deploy import deployed_version, predict_file
from mlgate.lifecycle.models import get_model_version
from mlgate.lifecycle.service import Governance
from mlgate.pipelines.runs import active_run, pipeline_runs, run_pipeline, run_seconds
from mlgate.registry.models import AuditEvent
from tests.fixtures import Cli


def _gov(root: Path) -> Governance:
    return Governance.open(root, "alice")


def _support_frame(root: Path, seed: int) -> pd.DataFrame:
    import importlib.util

    spec = importlib.util.spec_from_file_location("tests_support", root / "tests_support.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.frame(seed)


def test_data_pipeline_frame_registered_as_dataset_version(deployed: Path) -> None:
    gov = _gov(deployed)

    run = run_pipeline(gov, "fresh")

    assert run.status == "succeeded", run.error
    dataset = latest_dataset(gov, "current")
    assert run.output == f"dataset 'current' version {dataset.id} (400 rows)"
    pd.testing.assert_frame_equal(load_dataset(gov, dataset), _support_frame(deployed, 1))
    assert (run.kind, run.trigger, run.actor, run.active) == ("data", "manual", "alice", None)
    with gov.transaction() as session:
        actions = [
            e.action
            for e in session.query(AuditEvent).filter(AuditEvent.subject == "pipeline:fresh")
        ]
    assert actions[-2:] == ["pipeline.started", "pipeline.finished"]


def test_data_pipeline_returned_path_registered(deployed: Path) -> None:
    gov = _gov(deployed)

    run = run_pipeline(gov, "fresh-file")

    assert run.status == "succeeded", run.error
    dataset = latest_dataset(gov, "current")
    assert Path(dataset.uri) == deployed / "fresh.csv"
    assert load_dataset(gov, dataset)["x1"].round(9).tolist() == (
        _support_frame(deployed, 2)["x1"].round(9).tolist()
    )


def test_scoring_pipeline_writes_what_predict_file_writes(deployed: Path, tmp_path: Path) -> None:
    gov = _gov(deployed)

    run = run_pipeline(gov, "score")

    assert run.status == "succeeded", run.error
    written = next((deployed / "scores").glob(f"*-run{run.id}.csv"))
    reference = predict_file(gov, deployed / "new.csv", tmp_path / "reference.csv")
    assert reference.model_version == 1
    pd.testing.assert_frame_equal(pd.read_csv(written), pd.read_csv(tmp_path / "reference.csv"))
    assert run.output == f"400 rows scored with model version 1 into {written}"


def test_scoring_pipeline_scores_entry_frame(deployed: Path, tmp_path: Path) -> None:
    gov = _gov(deployed)
    source = tmp_path / "to_score.csv"
    _support_frame(deployed, 4).drop(columns=["y"]).to_csv(source, index=False)

    run = run_pipeline(gov, "score-entry")

    assert run.status == "succeeded", run.error
    predict_file(gov, source, tmp_path / "reference.csv")
    expected = pd.read_csv(tmp_path / "reference.csv")
    got = pd.read_csv(deployed / "scores" / f"e{run.id}.csv")
    pd.testing.assert_series_equal(got["score"], expected["score"])
    assert got["prediction"].tolist() == expected["prediction"].tolist()


def test_failing_entry_recorded_with_its_message(deployed: Path, cli: Cli) -> None:
    gov = _gov(deployed)

    run = run_pipeline(gov, "broken")

    assert run.status == "failed"
    assert run.error == "ValueError: the feature table is empty"
    assert "Traceback" in run.log_excerpt
    assert run.active is None

    result = cli("run", "broken", cwd=deployed)
    assert result.code == 1
    assert "failed" in result.err
    assert "ValueError: the feature table is empty" in result.err
    assert "Traceback" not in result.text


def test_hanging_entry_killed_at_timeout(deployed: Path) -> None:
    gov = _gov(deployed)

    run = run_pipeline(gov, "hang")

    assert run.status == "failed"
    assert run.error == "timed out after 2 s; killed"
    assert run_seconds(run) < 60
    assert active_run(gov, "hang") is None


def test_second_run_while_running_refused_and_stop_gives_up(deployed: Path) -> None:
    gov = _gov(deployed)
    stop = threading.Event()
    done: list = []
    worker = threading.Thread(
        target=lambda: done.append(run_pipeline(_gov(deployed), "hang", stop=stop))
    )
    worker.start()
    for _ in range(100):
        if active_run(gov, "hang") is not None:
            break
        time.sleep(0.05)

    with pytest.raises(ConflictError, match="pipeline 'hang' is already running: run"):
        run_pipeline(gov, "hang")
    stop.set()
    worker.join(timeout=60)

    assert done[0].status == "failed"
    assert done[0].error == "stopped before it finished: mlgate was asked to stop"


def test_unknown_pipeline_names_declared_ones(deployed: Path) -> None:
    with pytest.raises(NotFoundError, match="no pipeline named 'nope' in mlgate.yaml; declared: "):
        run_pipeline(_gov(deployed), "nope")


def test_training_pipeline_registers_candidate_not_served(deployed: Path, cli: Cli) -> None:
    gov = _gov(deployed)

    run = run_pipeline(gov, "retrain")

    assert run.status == "succeeded", run.error
    assert run.output == "model version 2"
    assert get_model_version(gov).version == 2
    assert deployed_version(gov, "batch").version == 1
    refused = cli("deploy", "--mode", "rest", cwd=deployed)
    assert refused.code == 5, refused.text
    _, stages = gov.status()
    testing = next(s for s in stages if s.id == "testing")
    checks = [r for r in testing.requirements if r.kind == "check"]
    assert checks
    assert {r.state for r in checks} == {"missing"}
    assert [r.pipeline for r in pipeline_runs(gov, "retrain")] == ["retrain"]
