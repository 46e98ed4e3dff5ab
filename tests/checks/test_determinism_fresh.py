"""The determinism check's fresh-process part: the stored model scored in a new interpreter."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from xgboost import XGBClassifier

from mlgate.artifacts.models import FLAVOUR_SKOPS, artifact_loader, dump_model
from mlgate.checks import _fresh_process
from mlgate.checks.base import CheckInput, ModelLoader
from mlgate.checks.model_quality import check_determinism
from mlgate.demo.data import load_german_credit
from mlgate.lifecycle.evidence import run_check
from mlgate.lifecycle.service import Governance

PICKLED = ModelLoader("pickle:loads")  # the test made these bytes itself
_OFFSETS: dict[int, float] = {}


class PerProcessOffset:
    """Scores ``score`` shrunk by an offset drawn, unseeded, at the first prediction of a process.

    Every call in one process agrees, so repeating or shuffling the rows cannot see the fault;
    only a fresh process draws another offset. skops cannot store it, so it travels pickled.
    """

    classes_ = np.array([0, 1])

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        if os.getpid() not in _OFFSETS:
            _OFFSETS[os.getpid()] = float(np.random.default_rng().uniform(0.001, 0.01))
        positive = x["score"].to_numpy() * (1 - _OFFSETS[os.getpid()])
        return np.column_stack([1 - positive, positive])

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(x)[:, 1] > 0.5).astype(int)


def _pickled(model: Any) -> bytes:
    """Pickle ``model`` with its class by value, so the fresh process need not import this file."""
    module = sys.modules[__name__]
    cloudpickle.register_pickle_by_value(module)
    try:
        return cloudpickle.dumps(model)
    finally:
        cloudpickle.unregister_pickle_by_value(module)


def _scores(n: int = 50) -> pd.DataFrame:
    return pd.DataFrame({"score": np.linspace(0.05, 0.95, n), "y": np.arange(n) % 2})


def _messages(result: Any) -> str:
    return "\n".join(f.message for f in result.findings)


@pytest.fixture(scope="module")
def german() -> pd.DataFrame:
    frame = load_german_credit()
    numeric = frame.select_dtypes("number").drop(columns=["good_credit"])
    return numeric.assign(y=np.where(frame["good_credit"] == 1, "good", "bad"))


def test_unseeded_draw_per_process_is_caught_only_by_the_fresh_process():
    frame = _scores()
    model = PerProcessOffset()
    inp = CheckInput(frame, "y", model=model, model_artifact=_pickled(model))
    inp.model_loader = PICKLED

    result = check_determinism(inp, {})

    assert result.status == "fail"
    assert result.metrics["n_mismatched_repeat"] == 0
    assert result.metrics["n_mismatched_shuffled"] == 0
    assert result.metrics["fresh_process"] == "ran"
    assert result.metrics["n_mismatched_fresh_process"] == 50
    assert result.metrics["n_mismatched"] == 50
    assert 0 < result.metrics["max_abs_diff_fresh_process"] < 0.01
    assert (
        "50 of 50 rows gave different outputs when the stored model was loaded and scored in a "
        "fresh Python process"
    ) in _messages(result)


@pytest.mark.parametrize(
    "estimator",
    [
        make_pipeline(StandardScaler(), LogisticRegression()),
        LGBMClassifier(n_estimators=20, n_jobs=1, verbose=-1),
        XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1),
    ],
    ids=["sklearn", "lightgbm", "xgboost"],
)
def test_stored_model_scores_in_a_fresh_process_exactly_as_here(german, estimator):
    x = german.drop(columns=["y"])
    y = german["y"] if isinstance(estimator, Pipeline) else (german["y"] == "good").astype(int)
    model = estimator.fit(x, y)
    data, trusted = dump_model(model)

    outcome = _fresh_process.score_in_fresh_process(
        data, artifact_loader(FLAVOUR_SKOPS, trusted), x, timeout=300
    )

    assert outcome.error is None
    assert np.array_equal(outcome.outputs["predict_proba"], model.predict_proba(x))
    assert outcome.outputs["predict"].tolist() == model.predict(x).tolist()


def test_without_an_artifact_the_fresh_process_is_reported_not_run(german):
    x = german.drop(columns=["y"])
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, german["y"])

    result = check_determinism(CheckInput(german, "y", model=model), {})

    assert result.status == "pass"
    assert result.metrics["fresh_process"] == "not run"
    assert result.metrics["n_mismatched_fresh_process"] is None
    assert result.summary.endswith("(the fresh-process comparison did not run)")
    info = [f for f in result.findings if f.subject == "fresh_process"]
    assert [f.severity for f in info] == ["info"]
    assert info[0].message.startswith("the fresh-process comparison did not run")


def test_model_the_fresh_process_cannot_load_fails_with_its_error():
    frame = _scores()
    model = PerProcessOffset()
    inp = CheckInput(frame, "y", model=model, model_artifact=b"not a pickle", model_loader=PICKLED)

    result = check_determinism(inp, {})

    assert result.status == "fail"
    assert result.metrics["fresh_process"] == "failed"
    assert result.metrics["n_mismatched_fresh_process"] is None
    assert "could not be scored in a fresh Python process: UnpicklingError: " in _messages(result)
    assert result.summary.endswith("the stored model could not be scored in a fresh process")


def test_fresh_process_that_overruns_its_time_is_stopped_and_fails():
    frame = _scores()
    model = PerProcessOffset()
    inp = CheckInput(frame, "y", model=model, model_artifact=_pickled(model))
    inp.model_loader = PICKLED

    result = check_determinism(inp, {"fresh_process_timeout_seconds": 0.001})

    assert result.status == "fail"
    assert "fresh Python process: it did not finish within 0.001 s" in _messages(result)


def test_fresh_process_refuses_bytes_that_changed_after_they_were_hashed(tmp_path: Path, capsys):
    (tmp_path / _fresh_process.MODEL_FILE).write_bytes(pickle.dumps([1, 2]))
    request = {"sha256": hashlib.sha256(b"other").hexdigest(), "function": PICKLED.function}
    (tmp_path / _fresh_process.REQUEST_FILE).write_text(json.dumps({**request, "options": {}}))
    _scores().to_parquet(tmp_path / _fresh_process.INPUT_FILE)

    code = _fresh_process.main([str(tmp_path)])

    assert code == 1
    assert "refusing to load them" in capsys.readouterr().err
    assert not (tmp_path / _fresh_process.OUTPUT_FILE).exists()


def test_service_hands_the_stored_artifact_to_the_check(cli, workspace: Path):
    assert cli("train", cwd=workspace).code == 0

    evidence, result = run_check(Governance.open(workspace, actor="alice"), "determinism")

    assert result.metrics["fresh_process"] == "ran"
    assert result.metrics["n_mismatched_fresh_process"] == 0
    assert evidence.payload["result"]["metrics"]["fresh_process"] == "ran"
    assert evidence.status == "pass"
