"""The training section of mlgate.yaml: old files keep working, mistakes are named precisely."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlgate.config import TrainingConfig, Workspace, parse_config
from mlgate.errors import ValidationError

BASE: dict[str, Any] = {"project": "p", "tier": "low", "owner": "a", "data": {"target": "y"}}


def _parse(training: dict[str, Any]) -> TrainingConfig:
    return parse_config({**BASE, "training": training}, "mlgate.yaml").training


def test_config_with_only_estimator_params_seed_keeps_its_meaning() -> None:
    training = _parse({"estimator": "a.B", "params": {"C": 1}, "seed": 4})

    assert (training.estimator, training.params, training.seed) == ("a.B", {"C": 1}, 4)
    assert (training.cv.scheme, training.cv.folds) == ("stratified", 5)
    assert training.search is None
    assert training.candidates == []


def test_saved_config_without_new_settings_writes_no_new_keys(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    workspace.save_config(parse_config({**BASE, "training": {"seed": 2}}, "x"))

    written = yaml.safe_load(workspace.config_path.read_text())

    assert written["training"] == {
        "estimator": "sklearn.ensemble.HistGradientBoostingClassifier",
        "params": {},
        "seed": 2,
    }


def test_saved_config_with_search_reads_back_equal(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    training = {
        "cv": {"scheme": "group", "folds": 3, "group_column": "customer"},
        "search": {"trials": 7, "space": {"C": {"type": "float", "low": 0.1, "high": 2}}},
    }
    config = parse_config({**BASE, "training": training}, "x")
    workspace.save_config(config)

    assert workspace.load_config() == config


@pytest.mark.parametrize(
    ("training", "message"),
    [
        (
            {"cv": {"scheme": "group"}},
            "training.cv: scheme 'group' needs group_column",
        ),
        (
            {"cv": {"scheme": "random"}},
            "training.cv.scheme: Input should be 'stratified', 'group' or 'time'",
        ),
        ({"cv": {"folds": 1}}, "training.cv.folds: Input should be greater than or equal to 2"),
        (
            {"cv": {"group_column": "g"}},
            "training.cv: group_column applies to scheme 'group'; got scheme 'stratified'",
        ),
        (
            {"cv": {"shuffle": True}},
            "training.cv: unknown key(s) shuffle; expected scheme, folds, "
            "group_column, time_column",
        ),
        (
            {"serach": {}},
            "training: unknown key(s) serach; expected estimator, params, seed, "
            "preprocessing, cv, search, candidates",
        ),
        (
            {"search": {"space": {"C": {"type": "float", "lo": 1, "high": 2}}}},
            "training.search.space.C: unknown key(s) lo; expected type, low, high, log, choices",
        ),
        (
            {"search": {"space": {"C": {"type": "double", "low": 1, "high": 2}}}},
            "training.search.space.C.type: Input should be 'int', 'float' or 'categorical'",
        ),
        (
            {"search": {"space": {"C": {"type": "float", "low": 1}}}},
            "training.search.space.C: type float needs low and high",
        ),
        (
            {"search": {"space": {"n": {"type": "int", "low": 1.5, "high": 4}}}},
            "training.search.space.n: type int needs whole bounds; got low 1.5",
        ),
        (
            {"search": {"space": {"C": {"type": "float", "low": 3, "high": 2}}}},
            "training.search.space.C: low 3 is above high 2; expected low <= high",
        ),
        (
            {"search": {"space": {"C": {"type": "float", "low": 0, "high": 2, "log": True}}}},
            "training.search.space.C: log needs low > 0; got low 0",
        ),
        (
            {"search": {"space": {"k": {"type": "categorical", "choices": []}}}},
            "training.search.space.k: type categorical needs a non-empty list",
        ),
        (
            {"search": {"space": {"k": {"type": "categorical", "choices": [1], "low": 0}}}},
            "training.search.space.k: low, high and log apply to int and float",
        ),
        (
            {"search": {"trials": 0}},
            "training.search.trials: Input should be greater than or equal to 1",
        ),
        (
            {"search": {"metric": "auc"}},
            "training.search.metric: unknown metric 'auc'; expected a scikit-learn "
            "scorer name such as roc_auc",
        ),
        (
            {
                "candidates": [
                    {"name": "a", "estimator": "x.Y"},
                    {"name": "a", "estimator": "x.Z"},
                ]
            },
            "training: candidate name(s) a appear more than once",
        ),
        (
            {"candidates": [{"name": "a b", "estimator": "x.Y"}]},
            "training.candidates.0.name: String should match pattern",
        ),
        (
            {
                "candidates": [{"name": "a", "estimator": "x.Y"}],
                "search": {"space": {"C": {"type": "float", "low": 1, "high": 2}}},
            },
            "training: search.space describes training.estimator, which candidates replace",
        ),
    ],
)
def test_bad_training_setting_is_named_with_what_is_allowed(
    training: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        _parse(training)

    assert raised.value.message.startswith("mlgate.yaml has invalid settings: ")
    assert message in raised.value.message
