"""Models `mlgate model add` must refuse before anything is stored, each with a clear error."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import cloudpickle
import mlflow.sklearn
import pytest
import skops.io as sio
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from tests.cli.test_bad_input import assert_clean_error, fingerprint
from tests.fixtures import Cli, synthetic_frame

REQUIREMENTS = {"pip_requirements": ["scikit-learn"]}  # skips MLflow's slow requirement probe


def _identity_pipeline(module: str) -> Pipeline:
    """A pipeline holding a lambda that claims to live in ``module``, as a script's would."""
    identity = lambda x: x  # noqa: E731 - the lambda is the point
    identity.__module__ = module
    frame = synthetic_frame()
    return Pipeline(
        [("identity", FunctionTransformer(identity)), ("model", LogisticRegression())]
    ).fit(frame[["x1", "x2"]], frame["y"])


def _add(cli: Cli, workspace: Path, name: str, *args: str) -> Any:
    before = fingerprint(workspace)
    result = cli("model", "add", name, *args, cwd=workspace)
    assert fingerprint(workspace) == before  # nothing stored, not even the artifact
    return result


def test_lambda_from_a_script_is_refused(workspace: Path, cli: Cli) -> None:
    mlflow.sklearn.save_model(
        _identity_pipeline("__main__"),
        str(workspace / "mlflow_model"),
        serialization_format="cloudpickle",
        **REQUIREMENTS,
    )

    result = _add(cli, workspace, "mlflow_model", "--allow-pickle")

    assert_clean_error(result, 2, "cannot be stored", "__main__.<lambda>", "lambda")
    assert "internal error" not in result.text


def test_model_that_does_not_come_back_from_skops_is_refused(workspace: Path, cli: Cli) -> None:
    with (workspace / "model.pkl").open("wb") as handle:  # a lambda local to a function
        cloudpickle.dump(_identity_pipeline("tests.lifecycle.test_model_add_refusals"), handle)

    result = _add(cli, workspace, "model.pkl", "--allow-pickle")

    assert_clean_error(
        result, 2, "cannot be loaded back from the skops copy", "AttributeError", "<lambda>"
    )


def test_target_among_the_inputs_is_refused(workspace: Path, cli: Cli) -> None:
    frame = synthetic_frame()
    model = LogisticRegression().fit(frame[["x1", "x2", "y"]], frame["y"])
    sio.dump(model, workspace / "leaky.skops")

    result = _add(cli, workspace, "leaky.skops")

    assert_clean_error(result, 2, "takes the target column 'y' among its input columns")


def test_regressor_is_refused(workspace: Path, cli: Cli) -> None:
    frame = synthetic_frame()
    sio.dump(LinearRegression().fit(frame[["x1", "x2"]], frame["y"]), workspace / "reg.skops")

    result = _add(cli, workspace, "reg.skops")

    assert_clean_error(
        result, 2, "sklearn.linear_model._base.LinearRegression", "not a classifier", "expected"
    )


@pytest.mark.parametrize(
    ("content", "found"),
    [(b"", "it is empty (0 bytes)"), (None, "it is not a zip archive (found a pickle)")],
)
def test_skops_file_that_is_not_a_skops_archive(
    workspace: Path, cli: Cli, content: bytes | None, found: str
) -> None:
    frame = synthetic_frame()
    model = LogisticRegression().fit(frame[["x1", "x2"]], frame["y"])
    data = pickle.dumps(model) if content is None else content
    (workspace / "model.skops").write_bytes(data)

    result = _add(cli, workspace, "model.skops")

    assert_clean_error(
        result,
        2,
        "model.skops is not a readable skops file",
        found,
        "expected a skops file, a zip archive",
    )


def test_model_without_the_positive_label_is_refused(workspace: Path, cli: Cli) -> None:
    frame = synthetic_frame()
    labels = frame["y"].map({0: "no", 1: "yes"})  # the project's positive label is 1
    sio.dump(LogisticRegression().fit(frame[["x1", "x2"]], labels), workspace / "text.skops")

    result = _add(cli, workspace, "text.skops")

    assert_clean_error(result, 2, "predicts the classes ['no', 'yes']", "positive label 1")
