"""The pipelines section of mlgate.yaml: what each kind takes, and writing it back."""

from __future__ import annotations

from typing import Any

import pytest

from mlgate.config import WorkspaceConfig, parse_config
from mlgate.errors import ValidationError


def _config(pipelines: dict[str, Any]) -> dict[str, Any]:
    return {
        "project": "p",
        "tier": "low",
        "owner": "alice",
        "data": {"target": "y"},
        "pipelines": pipelines,
    }


def test_round_trip_keeps_only_what_was_set() -> None:
    raw = _config(
        {
            "features": {"kind": "data", "entry": "pipes:load", "dataset": "current"},
            "retrain": {"kind": "training", "schedule": "0 3 * * 1", "run_checks": True},
        }
    )

    config = parse_config(raw, "mlgate.yaml")
    dumped = config.model_dump(mode="json")

    assert dumped["pipelines"] == raw["pipelines"]
    assert parse_config(dumped, "again") == config


def test_no_pipelines_not_written() -> None:
    config = parse_config(_config({}), "mlgate.yaml")

    assert "pipelines" not in config.model_dump(mode="json")
    assert isinstance(config, WorkspaceConfig)


@pytest.mark.parametrize(
    ("pipeline", "message"),
    [
        ({"kind": "data", "entry": "pipes:load"}, "a data pipeline needs entry"),
        (
            {"kind": "training", "dataset": "x"},
            "dataset do\\(es\\) not apply to a training pipeline; it takes allow_pickle, "
            "run_checks, trust",
        ),
        (
            {"kind": "scoring", "input": "a.csv", "dataset": "current", "output": "o.csv"},
            "exactly one of entry, input or dataset; got input, dataset",
        ),
        ({"kind": "scoring", "input": "a.csv"}, "a scoring pipeline needs output"),
        ({"kind": "training", "schedule": "0 3 * *"}, "has 4 field\\(s\\); expected 5"),
        ({"kind": "training", "entry": "pipes.load"}, "entry: String should match pattern"),
        (
            {"kind": "scoring", "input": "../x.csv", "output": "o.csv"},
            "path '../x.csv' leaves the workspace",
        ),
        ({"kind": "training", "timeout_seconds": 0}, "timeout_seconds: Input should be greater"),
    ],
)
def test_bad_pipeline_named(pipeline: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_config(_config({"job": pipeline}), "mlgate.yaml")


def test_bad_pipeline_name() -> None:
    with pytest.raises(ValidationError, match="pipeline name\\(s\\) 'a b' are not allowed"):
        parse_config(_config({"a b": {"kind": "training"}}), "mlgate.yaml")
