"""Batch scoring at its edges: no data rows, features named like the output, unloadable models."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from mlgate.lifecycle.models import get_model_version, load_model_version
from mlgate.lifecycle.service import Governance
from mlgate.serving.scorer import output_columns
from tests.cli.test_bad_input import assert_clean_error, fingerprint
from tests.fixtures import Cli, init_workspace, synthetic_frame


def test_header_only_csv_is_refused_and_writes_nothing(workspace: Path, cli: Cli) -> None:
    assert cli("train", cwd=workspace).code == 0
    synthetic_frame(5).head(0).to_csv(workspace / "header_only.csv", index=False)
    assert (workspace / "header_only.csv").read_text().strip() == "x1,x2,region,group,y"
    before = fingerprint(workspace)

    result = cli("predict", "header_only.csv", "--version", "1", cwd=workspace)

    assert_clean_error(result, 2, "header_only.csv has no data rows to score")
    assert "internal error" not in result.text
    assert not (workspace / "header_only.scored.csv").exists()
    assert not list(workspace.glob(".*partial"))
    assert fingerprint(workspace) == before


def test_output_columns_avoid_every_input_name() -> None:
    source = Path("new.csv")
    assert output_columns(["x1", "x2"], source) == ("prediction", "score")
    assert output_columns(["score", "x2"], source) == ("mlgate_prediction", "mlgate_score")
    assert output_columns(["prediction", "mlgate_score"], source) == (
        "mlgate_mlgate_prediction",
        "mlgate_mlgate_score",
    )


@pytest.fixture
def score_workspace(tmp_path: Path, cli: Cli) -> Path:
    """A project whose features include columns named ``score`` and ``prediction``."""
    frame = synthetic_frame(200).rename(columns={"x1": "score", "x2": "prediction"})
    return init_workspace(tmp_path / "ws", cli, frame, project="scores")


def test_features_named_score_and_prediction_can_be_scored(
    score_workspace: Path, cli: Cli
) -> None:
    root = score_workspace
    assert cli("train", cwd=root).code == 0
    new = synthetic_frame(30, seed=5).rename(columns={"x1": "score", "x2": "prediction"})
    new.to_csv(root / "new.csv", index=False)

    result = cli("predict", "new.csv", "--version", "1", cwd=root)

    assert result.code == 0, result.text
    assert "so the scores are in mlgate_prediction, mlgate_score" in result.err
    out = pd.read_csv(root / "new.scored.csv")
    assert list(out.columns) == [*new.columns, "mlgate_prediction", "mlgate_score"]
    pd.testing.assert_frame_equal(out[new.columns], new)  # inputs kept untouched

    gov = Governance.open(root)
    model = load_model_version(gov, get_model_version(gov, 1))
    features = new[["score", "prediction", "region"]]
    assert (out["mlgate_prediction"] == model.predict(features)).all()
    expected = model.predict_proba(features)[:, list(model.classes_).index(1)]
    assert out["mlgate_score"].to_numpy() == pytest.approx(expected)


def test_unloadable_stored_model_is_a_clear_error(
    workspace: Path, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stored model whose function can no longer be imported fails with exit 2, not 70."""
    helpers = tmp_path / "helpers"
    helpers.mkdir()
    (helpers / "scaling_helpers.py").write_text("def halve(x):\n    return x / 2\n")
    monkeypatch.syspath_prepend(str(helpers))
    import scaling_helpers  # type: ignore[import-not-found]

    frame = synthetic_frame()
    pipeline = Pipeline(
        [("halve", FunctionTransformer(scaling_helpers.halve)), ("model", LogisticRegression())]
    ).fit(frame[["x1", "x2"]], frame["y"])
    sio.dump(pipeline, workspace / "model.skops")
    trust = sorted(sio.get_untrusted_types(file=workspace / "model.skops"))
    assert "scaling_helpers.halve" in trust
    args = [a for t in trust for a in ("--trust", t)]
    assert cli("model", "add", "model.skops", *args, cwd=workspace).code == 0

    monkeypatch.delitem(sys.modules, "scaling_helpers")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(helpers)])

    scored = cli("predict", "train.csv", "--version", "1", cwd=workspace)
    assert_clean_error(scored, 2, "the stored model cannot be loaded", "scaling_helpers")
    assert not (workspace / "train.scored.csv").exists()

    checked = cli("check", "cv_accuracy", cwd=workspace)
    assert_clean_error(checked, 2, "the stored model cannot be loaded", "scaling_helpers")
    tested = cli("test", "--only", "cv_accuracy", cwd=workspace)
    assert tested.code == 1, tested.text  # the check is reported as not run, with the reason
    assert "stored model cannot" in " ".join(tested.out.split())
    assert "internal error" not in scored.text + checked.text + tested.text
