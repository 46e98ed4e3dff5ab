"""The demo's question on real data: does using sex, or its proxy, show up in the checks?

German credit, split as the demo splits it. Model A learns from every column, ``sex`` and its
proxy ``status_sex`` (marital status and sex in one code) included. Model B is the same model
with both removed. Both are judged on the hold-out rows with the default limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlgate.checks.base import CheckInput, CheckResult
from mlgate.checks.explanation import check_explanation
from mlgate.checks.fairness import check_fairness
from mlgate.demo.data import load_german_credit, split

SENSITIVE = ["sex", "age_group"]
TARGET = "good_credit"


@dataclass
class Judged:
    model: Any
    features: list[str]
    fairness: CheckResult
    explanation: CheckResult


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    train, holdout, _ = split(load_german_credit())
    return train, holdout


def judge(train: pd.DataFrame, holdout: pd.DataFrame, features: list[str]) -> Judged:
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(train[c])]
    numeric = [c for c in features if c not in categorical]
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), categorical), (StandardScaler(), numeric)
        ),
        LogisticRegression(C=0.1, max_iter=2000),
    ).fit(train[features], train[TARGET])
    inp = CheckInput(train, TARGET, features, SENSITIVE, model=model, holdout=holdout, seed=7)
    return Judged(model, features, check_fairness(inp, {}), check_explanation(inp, {}))


@pytest.fixture(scope="module")
def with_sex(data) -> Judged:
    train, holdout = data
    features = [c for c in train.columns if c not in (TARGET, "age_group")]
    assert {"sex", "status_sex"} <= set(features)
    return judge(train, holdout, features)


@pytest.fixture(scope="module")
def without_sex(data) -> Judged:
    train, holdout = data
    features = [c for c in train.columns if c not in (TARGET, "age_group", "sex", "status_sex")]
    return judge(train, holdout, features)


def failed(result: CheckResult) -> set[tuple[str | None, str]]:
    """(subject, metric) of every failed limit."""
    return {
        (f.subject, f.message.split(": ", 1)[1].split(" 0.")[0])
        for f in result.findings
        if f.severity == "fail"
    }


def test_model_using_sex_fails_fairness_on_sex_gaps(data, with_sex: Judged) -> None:
    _, holdout = data
    result = with_sex.fairness

    assert result.status == "fail"
    assert failed(result) == {
        ("sex", "demographic parity difference"),
        ("sex", "equalized odds difference"),
        ("sex & age_group", "demographic parity difference"),
        ("sex & age_group", "equalized odds difference"),
    }
    y_pred = with_sex.model.predict(holdout[with_sex.features])
    kwargs = {"sensitive_features": holdout["sex"]}
    dp = demographic_parity_difference(holdout[TARGET], y_pred, **kwargs)
    eo = equalized_odds_difference(holdout[TARGET], y_pred, **kwargs)
    assert result.metrics["sex.demographic_parity_difference"] == pytest.approx(dp, rel=1e-12)
    assert result.metrics["sex.equalized_odds_difference"] == pytest.approx(eo, rel=1e-12)
    assert dp > 0.1
    assert eo > 0.2
    assert "mlgate mitigate --constraint equalized_odds" in result.findings[-1].message


def test_model_using_sex_is_flagged_by_the_explanation(with_sex: Judged) -> None:
    result = with_sex.explanation
    about_sex = [f for f in result.findings if f.subject == "sex"]

    assert result.status == "warn"
    assert len(about_sex) == 1
    assert about_sex[0].severity == "warn"
    assert "sensitive attribute 'sex' is a model feature" in about_sex[0].message
    assert "1 sensitive feature(s) used" in result.summary
    # On this data sex itself carries little once status_sex is there: the warning says it is
    # used; the failure for carrying max_sensitive_importance_share (5 %) is not reached.
    share = result.metrics["importance_share.sex"]
    assert share is not None
    assert share < 0.05
    assert result.metrics["importance_share.status_sex"] > share


def test_model_without_sex_and_proxy_is_flagged_only_for_thin_intersections(
    data, without_sex: Judged
) -> None:
    _, holdout = data
    result = without_sex.fairness
    warnings = [f for f in result.findings if f.severity == "warn"]

    assert failed(result) == set()
    assert result.status == "warn"
    assert [f.message for f in warnings] == [
        "sex & age_group: insufficient evidence: group 'female & under_25' has 25 rows (< 30); "
        "left out of the gaps",
        "sex & age_group: insufficient evidence: group 'male & under_25' has 21 rows (< 30); "
        "left out of the gaps",
    ]
    y_pred = without_sex.model.predict(holdout[without_sex.features])
    eo = equalized_odds_difference(holdout[TARGET], y_pred, sensitive_features=holdout["sex"])
    assert result.metrics["sex.equalized_odds_difference"] == pytest.approx(eo, rel=1e-12)
    assert eo < 0.2
    crossed = (holdout["sex"] + " & " + holdout["age_group"]).to_numpy()
    big = np.isin(crossed, ["female & 25_and_over", "male & 25_and_over"])
    assert result.metrics["sex & age_group.demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(
            holdout[TARGET][big], y_pred[big], sensitive_features=crossed[big]
        ),
        rel=1e-12,
    )


def test_model_without_sex_and_proxy_passes_the_explanation(without_sex: Judged) -> None:
    result = without_sex.explanation

    assert result.status == "pass"
    assert [f for f in result.findings if f.severity != "info"] == []
    assert result.tables["proxies"]
    assert not any(row["proxy"] for row in result.tables["proxies"])
