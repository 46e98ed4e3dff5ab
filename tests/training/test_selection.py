"""Model selection: the best mean wins when it is clear, the simpler model when it is not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.model_selection import StratifiedKFold, cross_val_score

from mlgate.errors import ValidationError
from mlgate.lifecycle.models import train_model
from mlgate.lifecycle.service import Governance
from mlgate.training import CandidateResult, FoldScores, pipeline_spec, select
from mlgate.training.selection import paired_standard_error
from tests.training.conftest import set_training

LINEAR = "sklearn.linear_model.LogisticRegression"
BOOSTED = "sklearn.ensemble.HistGradientBoostingClassifier"


def _result(name: str, estimator: str, scores: list[float], seconds: float = 1.0):  # type: ignore[no-untyped-def]
    return CandidateResult(name, estimator, {}, FoldScores(scores, seconds))


def test_paired_standard_error_equals_scipy_sem_of_the_differences() -> None:
    a, b = [0.81, 0.79, 0.84, 0.80], [0.78, 0.79, 0.80, 0.76]
    expected = stats.sem(np.subtract(a, b))

    assert paired_standard_error(FoldScores(a, 0), FoldScores(b, 0)) == pytest.approx(expected)


def test_clear_winner_is_the_highest_mean_and_the_reason_says_why() -> None:
    boosted = _result("hgb", BOOSTED, [0.80, 0.82, 0.81])
    linear = _result("lr", LINEAR, [0.70, 0.73, 0.72])

    chosen = select([linear, boosted], "roc_auc")

    assert chosen.winner.name == "hgb"
    assert chosen.reason == (
        "highest mean roc_auc 0.8100 vs 0.7167 for lr; the difference 0.0933 is larger than one "
        "standard error of the paired fold differences (0.0033)"
    )


def test_within_one_standard_error_the_simpler_candidate_is_chosen() -> None:
    boosted = _result("hgb", BOOSTED, [0.80, 0.76, 0.83])
    linear = _result("lr", LINEAR, [0.79, 0.78, 0.80])

    chosen = select([boosted, linear], "roc_auc")

    assert chosen.winner.name == "lr"
    assert chosen.reason.startswith("hgb has the highest mean roc_auc 0.7967, but lr 0.7900")
    assert chosen.reason.endswith(
        "is within one standard error of the paired fold differences; lr is chosen as the "
        "simpler model (linear vs ensemble or other)"
    )


def test_within_one_standard_error_among_equals_the_faster_is_chosen() -> None:
    slow = _result("forest", BOOSTED, [0.80, 0.76, 0.83], seconds=2.0)
    fast = _result("boost", BOOSTED, [0.79, 0.78, 0.80], seconds=0.5)

    chosen = select([slow, fast], "accuracy")

    assert chosen.winner.name == "boost"
    assert "the faster to fit among the simplest (0.500 s per fold vs 2.000 s for forest)" in (
        chosen.reason
    )


def test_a_single_candidate_wins_as_the_only_one() -> None:
    chosen = select([_result("lr", LINEAR, [0.7, 0.8])], "roc_auc")

    assert (chosen.winner.name, chosen.reason) == ("lr", "the only candidate; mean roc_auc 0.7500")


def test_candidates_scored_on_different_folds_are_refused() -> None:
    with pytest.raises(
        ValidationError,
        match="candidates were scored on 3 and 2 folds; selection needs the same folds",
    ):
        select([_result("a", LINEAR, [0.7, 0.8]), _result("b", LINEAR, [0.7, 0.8, 0.9])], "f1")


def test_train_with_candidates_registers_the_winner_with_the_table_and_reason(
    german_ws: Path, german: pd.DataFrame
) -> None:
    set_training(
        german_ws,
        seed=5,
        cv={"folds": 3},
        candidates=[
            {"name": "baseline", "estimator": "sklearn.dummy.DummyClassifier"},
            {"name": "lr", "estimator": LINEAR, "params": {"C": 0.3, "max_iter": 500}},
        ],
    )
    gov = Governance.open(german_ws, actor="alice")

    version = train_model(gov)

    selection = version.params["selection"]
    rows = {row["candidate"]: row for row in selection["candidates"]}
    assert version.estimator == "sklearn.linear_model._logistic.LogisticRegression"
    assert version.params["C"] == 0.3
    assert selection["winner"] == "lr"
    assert selection["reason"].startswith(
        f"highest mean roc_auc {rows['lr']['mean']:.4f} vs 0.5000 for baseline; the difference"
    )
    assert "is larger than one standard error" in selection["reason"]

    x, y = german.drop(columns=["good_credit"]), german["good_credit"]
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=5)
    for name, estimator, params in [
        ("baseline", "sklearn.dummy.DummyClassifier", {}),
        ("lr", LINEAR, {"C": 0.3, "max_iter": 500}),
    ]:
        pipeline = pipeline_spec(estimator, params, 5, x, list(x.columns)).build()
        expected = cross_val_score(pipeline, x, y, cv=folds, scoring="roc_auc")
        np.testing.assert_allclose(rows[name]["folds"], expected, rtol=1e-9)
    assert version.metrics["cv_roc_auc_mean"] == pytest.approx(rows["lr"]["mean"])
