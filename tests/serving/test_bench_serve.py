"""The serving benchmark's adapter: a governed workspace around a pickle, served with proba.

The workspace is built once for the module by the real ``mlgate`` commands (about half a
minute), then served by ``python -m mlgate.bench_serve`` on a free port of 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from mlgate.bench_serve import READY_MARK, cached_workspace, model_digest, training_frame
from mlgate.errors import ValidationError
from mlgate.lifecycle.deploy import deployed_version, load_scorer
from mlgate.lifecycle.service import Governance
from tests.release.conftest import free_port

COLUMNS = [f"f{i:02d}" for i in range(6)]


def _frame(n: int, seed: int) -> pd.DataFrame:
    return pd.DataFrame(np.random.default_rng(seed).normal(size=(n, 6)), columns=COLUMNS)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small gradient-boosting model fitted on named columns, pickled."""
    frame = _frame(400, 0)
    y = (frame["f00"] - frame["f01"] > 0).astype(int)
    model = GradientBoostingClassifier(n_estimators=10, random_state=0).fit(frame, y)
    path = tmp_path_factory.mktemp("model") / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    return path


@pytest.fixture(scope="module")
def cache(model_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder holding the workspace built for ``model_file``."""
    folder = tmp_path_factory.mktemp("cache")
    cached_workspace(model_file, folder)
    return folder


def test_training_frame_has_the_model_columns_and_its_own_labels(model_file: Path) -> None:
    model = pickle.loads(model_file.read_bytes())

    frame = training_frame(model, rows=300, seed=1)

    assert list(frame.columns) == [*COLUMNS, "y"]
    assert frame["y"].tolist() == model.predict(frame[COLUMNS]).tolist()
    assert set(frame["y"]) == {0, 1}


def test_training_frame_refuses_a_model_without_column_names() -> None:
    frame = _frame(50, 2)
    model = LogisticRegression().fit(frame.to_numpy(), frame["f00"] > 0)

    with pytest.raises(ValidationError, match="LogisticRegression\\) has no feature_names_in_"):
        training_frame(model)


def test_a_missing_model_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="missing.pkl is not a file"):
        cached_workspace(tmp_path / "missing.pkl", tmp_path)


def test_the_workspace_serves_the_model_for_rest_and_is_built_once(
    model_file: Path, cache: Path
) -> None:
    folder = cache / model_digest(model_file)[:16]
    built_at = (folder / READY_MARK).read_text()

    root = cached_workspace(model_file, cache)
    gov = Governance.open(root, "alice")
    scorer = load_scorer(gov, deployed_version(gov, "rest"))
    model = pickle.loads(model_file.read_bytes())
    test = _frame(20, 3)

    assert (folder / READY_MARK).read_text() == built_at
    assert root == folder / "workspace"
    scored = scorer.predict(test, proba=True)
    assert scored.proba is not None
    assert scored.proba.tolist() == model.predict_proba(test).tolist()


@pytest.fixture
def server(model_file: Path, cache: Path) -> Iterator[str]:
    """``python -m mlgate.bench_serve`` on a free port; stopped afterwards."""
    port = free_port()
    command = [sys.executable, "-m", "mlgate.bench_serve", "--port", str(port)]
    command += ["--model", str(model_file), "--cache", str(cache)]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            assert process.poll() is None, "the adapter exited before serving"
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        assert process.stdout is not None
        assert process.stdout.read() == b""  # everything goes to stderr


def test_the_adapter_answers_the_harness_body_with_predict_proba(
    server: str, model_file: Path
) -> None:
    test = _frame(5, 4)
    body = {"dataframe_split": {"columns": COLUMNS, "data": test.to_numpy().tolist()}}
    request = urllib.request.Request(
        f"{server}/invocations",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )

    with urllib.request.urlopen(request, timeout=30) as response:
        predictions = json.loads(response.read())["predictions"]

    model = pickle.loads(model_file.read_bytes())
    np.testing.assert_allclose(predictions, model.predict_proba(test), rtol=0, atol=1e-15)
