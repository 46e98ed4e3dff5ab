"""`mlgate train` from the command line: unchanged by default, searching, selecting, workers,
LightGBM and XGBoost estimators, and group or time-ordered folds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from optuna.trial import TrialState

from mlgate.lifecycle.models import get_model_version, load_model_version
from mlgate.lifecycle.service import Governance
from tests.fixtures import Cli, synthetic_frame
from tests.training.conftest import LOGISTIC_SEARCH, read_study, set_training

LINEAR = "sklearn.linear_model.LogisticRegression"


def _newest(root: Path) -> Any:
    return get_model_version(Governance.open(root, actor="alice"))


def test_plain_train_fits_the_one_estimator_as_before(german_ws: Path, cli: Cli) -> None:
    result = cli("train", cwd=german_ws)

    assert result.code == 0, result.text
    assert "Registered model version 1 (sklearn.linear_model._logistic.LogisticRegression" in (
        result.out
    )
    assert "Search:" not in result.out
    version = _newest(german_ws)
    assert {"cv", "search", "selection"}.isdisjoint(version.params)
    assert set(version.metrics) == {"training_seconds", "train_accuracy", "train_roc_auc"}


def test_search_with_two_workers_completes_exactly_the_trials(german_ws: Path, cli: Cli) -> None:
    set_training(german_ws, **LOGISTIC_SEARCH)

    result = cli("train", "--trials", "3", "--workers", "2", cwd=german_ws)

    assert result.code == 0, result.text
    version = _newest(german_ws)
    recorded = version.params["search"]
    assert f"Search: study {recorded['study']}, 3 complete trial(s); best roc_auc" in (
        result.out.replace("\n", " ")
    )
    study = read_study(Governance.open(german_ws).store.url, recorded["study"])
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 3
    assert recorded["best_value"] == study.best_value

    again = cli("train", "--trials", "3", cwd=german_ws)

    assert again.code == 0, again.text
    assert f"Model version {version.version} already holds this search's result" in (
        again.out.replace("\n", " ")
    )
    assert "Registered model version" not in again.out


def test_candidates_print_the_comparison_table_and_the_reason(german_ws: Path, cli: Cli) -> None:
    set_training(
        german_ws,
        cv={"folds": 3},
        candidates=[
            {"name": "baseline", "estimator": "sklearn.dummy.DummyClassifier"},
            {"name": "lr", "estimator": LINEAR, "params": {"max_iter": 500}},
        ],
    )

    result = cli("train", cwd=german_ws)

    assert result.code == 0, result.text
    assert "Model selection on mean roc_auc" in result.out
    assert "DummyClassifier" in result.out
    reason = _newest(german_ws).params["selection"]["reason"]
    assert f"Chose lr: {reason}" in " ".join(result.out.split())


def test_no_search_with_trials_is_refused_without_a_traceback(german_ws: Path, cli: Cli) -> None:
    set_training(german_ws, **LOGISTIC_SEARCH)

    result = cli("train", "--no-search", "--trials", "3", cwd=german_ws)

    assert result.code == 2
    assert "--trials 3 sets how many search trials to run, and --no-search" in result.err
    assert "Traceback" not in result.text


def test_no_search_fits_the_fixed_params_despite_a_space(german_ws: Path, cli: Cli) -> None:
    set_training(german_ws, **LOGISTIC_SEARCH)

    result = cli("train", "--no-search", cwd=german_ws)

    assert result.code == 0, result.text
    version = _newest(german_ws)
    assert "search" not in version.params
    assert version.params["C"] == 1.0


def test_lightgbm_estimator_trains_quietly_with_the_seed(german_ws: Path, cli: Cli) -> None:
    set_training(
        german_ws,
        estimator="lightgbm.LGBMClassifier",
        params={"n_estimators": 20, "n_jobs": 1},
        seed=9,
    )

    result = cli("train", cwd=german_ws)

    assert result.code == 0, result.text
    assert "[LightGBM]" not in result.text
    version = _newest(german_ws)
    assert version.estimator == "lightgbm.sklearn.LGBMClassifier"
    assert (version.params["verbose"], version.params["random_state"]) == (-1, 9)
    _predicts(german_ws, version)


def test_xgboost_estimator_searches_quietly(german_ws: Path, cli: Cli) -> None:
    set_training(
        german_ws,
        estimator="xgboost.XGBClassifier",
        params={"n_estimators": 20, "n_jobs": 1},
        cv={"folds": 3},
        search={"trials": 2, "space": {"max_depth": {"type": "int", "low": 2, "high": 4}}},
    )

    result = cli("train", cwd=german_ws)

    assert result.code == 0, result.text
    version = _newest(german_ws)
    assert version.estimator == "xgboost.sklearn.XGBClassifier"
    assert version.params["verbosity"] == 0
    assert version.params["max_depth"] == version.params["search"]["best_params"]["max_depth"]
    _predicts(german_ws, version)


def _predicts(root: Path, version: Any) -> None:
    gov = Governance.open(root, actor="alice")
    model = load_model_version(gov, version)
    rows = pd.read_csv(root / "german.csv").head(5)
    proba = model.predict_proba(rows[[c["name"] for c in version.signature]])
    assert proba.shape == (5, 2)


def test_group_column_splits_the_folds_and_is_no_feature(workspace: Path, cli: Cli) -> None:
    set_training(
        workspace,
        estimator=LINEAR,
        cv={"scheme": "group", "folds": 2, "group_column": "region"},
        search={"trials": 2, "space": LOGISTIC_SEARCH["search"]["space"]},
    )

    result = cli("train", cwd=workspace)

    assert result.code == 0, result.text
    version = _newest(workspace)
    assert [c["name"] for c in version.signature] == ["x1", "x2"]
    assert version.params["cv"]["group_column"] == "region"


def test_time_folds_use_the_contract_timestamp_which_is_no_feature(
    workspace: Path, cli: Cli
) -> None:
    frame = synthetic_frame().assign(
        opened=pd.date_range("2024-01-01", periods=400, freq="D").strftime("%Y-%m-%d")
    )
    frame.to_csv(workspace / "dated.csv", index=False)
    contract = {
        "dataset": "train",
        "version": "1",
        "columns": [{"name": "opened", "type": "datetime", "timestamp": True}],
    }
    (workspace / "contract.yaml").write_text(yaml.safe_dump(contract))
    assert cli("data", "add", "dated.csv", "--contract", "contract.yaml", cwd=workspace).code == 0
    set_training(
        workspace,
        estimator=LINEAR,
        cv={"scheme": "time", "folds": 3},
        candidates=[{"name": "lr", "estimator": LINEAR}],
    )

    result = cli("train", cwd=workspace)

    assert result.code == 0, result.text
    version = _newest(workspace)
    assert version.params["cv"]["time_column"] == "opened"
    assert "opened" not in [c["name"] for c in version.signature]


def test_space_the_estimator_refuses_fails_with_one_message(german_ws: Path, cli: Cli) -> None:
    set_training(
        german_ws,
        estimator=LINEAR,
        cv={"folds": 3},
        search={"trials": 2, "space": {"max_iter": {"type": "int", "low": -5, "high": -1}}},
    )

    result = cli("train", cwd=german_ws)

    assert result.code == 2
    assert "fitting sklearn.linear_model.LogisticRegression with {'max_iter': -" in result.err
    assert "failed on fold 1" in result.err
    assert "WARNING optuna" in result.err  # Optuna's report of the failed trial, without
    assert "Traceback" not in result.text  # its traceback
