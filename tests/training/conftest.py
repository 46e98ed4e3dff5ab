"""Fixtures for training tests: a workspace on the German credit data, and its settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
import yaml

from mlgate.config import TrainingConfig
from mlgate.demo.data import load_german_credit
from mlgate.training import SearchJob, plan_training, search_job
from tests.fixtures import Cli

# The derived sensitive columns are left out: a low-risk project then needs no access grant.
DROPPED = ["sex", "age_group", "status_sex"]


@pytest.fixture(scope="session")
def german() -> pd.DataFrame:
    """The German credit data (1,000 rows), target ``good_credit``, without sensitive columns."""
    return load_german_credit().drop(columns=DROPPED)


@pytest.fixture
def german_ws(tmp_path: Path, cli: Cli, german: pd.DataFrame) -> Path:
    """A low-risk workspace with the German credit data registered as dataset 'train'."""
    root = tmp_path / "german"
    root.mkdir()
    german.to_csv(root / "german.csv", index=False)
    result = cli(
        "init",
        "credit",
        "--tier",
        "low",
        "--target",
        "good_credit",
        "--data",
        "german.csv",
        "--estimator",
        "sklearn.linear_model.LogisticRegression",
        cwd=root,
    )
    assert result.code == 0, result.text
    return root


def set_training(root: Path, **training: Any) -> None:
    """Replace the ``training`` section of the workspace's mlgate.yaml."""
    path = root / "mlgate.yaml"
    config = yaml.safe_load(path.read_text())
    config["training"] = training
    path.write_text(yaml.safe_dump(config, sort_keys=False))


LOGISTIC_SEARCH: dict[str, Any] = {
    "estimator": "sklearn.linear_model.LogisticRegression",
    "params": {"max_iter": 500},
    "seed": 3,
    "cv": {"folds": 3},
    "search": {
        "trials": 6,
        "space": {"C": {"type": "float", "low": 0.001, "high": 10.0, "log": True}},
    },
}


def read_study(url: str, name: str) -> optuna.Study:
    """Read a study back through Optuna's own storage class.

    Optuna's schema check is skipped: it would compare mlgate's Alembic revision with its own.
    """
    storage = optuna.storages.RDBStorage(url, skip_compatibility_check=True)
    return optuna.load_study(study_name=name, storage=storage)


def study_names(url: str) -> list[str]:
    """Return the names of the studies in the store at ``url``."""
    storage = optuna.storages.RDBStorage(url, skip_compatibility_check=True)
    return [s.study_name for s in storage.get_all_studies()]


def small_frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """Return a small binary task with two numeric features."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    y = (x1 - x2 + rng.normal(scale=1.0, size=n) > 0).astype(int)
    return pd.DataFrame({"x1": x1, "x2": x2, "y": y})


def small_job(
    url: str,
    trials: int,
    seed: int = 0,
    estimator: str = "sklearn.linear_model.LogisticRegression",
    heartbeat_seconds: int = 10,
) -> SearchJob:
    """Return the search of a logistic regression's ``C`` on :func:`small_frame`."""
    settings = {
        **LOGISTIC_SEARCH,
        "estimator": estimator,
        "seed": seed,
        "search": {**LOGISTIC_SEARCH["search"], "trials": trials},
    }
    training = TrainingConfig.model_validate(settings)
    plan = plan_training(training, small_frame(), ["x1", "x2"], "y", 1, {}, "ab" * 32, "proj")
    assert plan is not None
    return search_job(plan, plan.candidates[0], url, heartbeat_seconds)
