"""A reviewed low-risk workspace deployed for batch scoring, with the project's pipelines.

The workspace is built once for the tests of this folder by the real ``mlgate`` command. Its
``src/pipes.py`` holds the entry points the pipelines call: fresh features, a retrained model,
rows to score, one that fails and one that hangs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures import synthetic_frame
from tests.release.conftest import mlgate, reviewed_workspace

PIPES = '''
"""The project's pipeline entry points."""

import time

from sklearn.linear_model import LogisticRegression

from tests_support import frame


def fresh(seed=1):
    return frame(seed)


def fresh_file(path):
    frame(2).to_csv(path, index=False)
    return path


def retrain():
    data = frame(3)
    return LogisticRegression().fit(data[["x1", "x2"]], data["y"])


def to_score():
    return frame(4).drop(columns=["y"])


def broken():
    raise ValueError("the feature table is empty")


def hang():
    time.sleep(120)
'''

SUPPORT = """
import numpy as np
import pandas as pd


def frame(seed):
    rng = np.random.default_rng(seed)
    n = 400
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    group = rng.choice(["a", "b"], size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(1.5 * x1 - x2)))).astype(int)
    return pd.DataFrame(
        {"x1": x1, "x2": x2, "region": rng.choice(["n", "s"], size=n), "group": group, "y": y}
    )
"""

PIPELINES: dict[str, Any] = {
    "fresh": {"kind": "data", "entry": "pipes:fresh", "dataset": "current"},
    "fresh-file": {
        "kind": "data",
        "entry": "pipes:fresh_file",
        "params": {"path": "fresh.csv"},
        "dataset": "current",
    },
    "retrain": {"kind": "training", "entry": "pipes:retrain"},
    "score": {"kind": "scoring", "input": "new.csv", "output": "scores/{date}-run{run}.csv"},
    "score-entry": {"kind": "scoring", "entry": "pipes:to_score", "output": "scores/e{run}.csv"},
    "broken": {"kind": "data", "entry": "pipes:broken", "dataset": "current"},
    "hang": {"kind": "data", "entry": "pipes:hang", "dataset": "current", "timeout_seconds": 2},
    "nightly": {
        "kind": "data",
        "entry": "pipes:fresh",
        "params": {"seed": 6},
        "dataset": "current",
        "schedule": "*/10 * * * *",
    },
}


def add_pipelines(root: Path, pipelines: dict[str, Any]) -> None:
    """Declare ``pipelines`` in the workspace's mlgate.yaml, replacing any declared before."""
    path = root / "mlgate.yaml"
    config = yaml.safe_load(path.read_text())
    config["pipelines"] = pipelines
    path.write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.fixture(scope="package")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A low-risk workspace whose model version 1 is deployed for batch scoring."""
    root = reviewed_workspace(tmp_path_factory.mktemp("pipelines") / "ws")
    mlgate("deploy", "--mode", "batch", cwd=root)
    (root / "src").mkdir()
    (root / "src" / "pipes.py").write_text(PIPES)
    (root / "tests_support.py").write_text(SUPPORT)
    synthetic_frame(seed=5).drop(columns=["y"]).to_csv(root / "new.csv", index=False)
    add_pipelines(root, PIPELINES)
    return root
