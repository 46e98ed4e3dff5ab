"""Tests for the stability check: SciPy's bootstrap, planted drift over time, German credit."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlgate.checks import stability
from mlgate.checks.base import CheckInput, CheckResult
from mlgate.contracts import Contract
from mlgate.demo.data import load_german_credit, split
from mlgate.errors import ValidationError
from mlgate.lifecycle.evidence import _time_column


class ScoreModel:
    """P(1) is a logistic function of ``x``; label 1 above one half."""

    classes_ = np.array([0, 1])

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        p = 1 / (1 + np.exp(-2 * features["x"].to_numpy()))
        return np.column_stack([1 - p, p])

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(features)[:, 1] > 0.5).astype(int)


class LabelModel:
    """The same decision as :class:`ScoreModel`, with no ``predict_proba``."""

    classes_ = np.array([0, 1])

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return (features["x"].to_numpy() > 0).astype(int)


def scored_frame(n: int = 400, seed: int = 0, drift_from: int | None = None) -> pd.DataFrame:
    """A score column ``x``, labels that follow it, and a daily timestamp.

    From row ``drift_from`` on, the label no longer follows ``x``: a drifted period.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = (2 * x + rng.logistic(size=n) > 0).astype(int)
    if drift_from is not None:
        late = np.arange(n) >= drift_from
        y[late] = (rng.random(late.sum()) < 0.5).astype(int)
    when = pd.date_range("2025-01-01", periods=n, freq="D")
    return pd.DataFrame({"x": x, "y": y, "when": when})


def run(frame, model=None, time_column=None, seed=0, **thresholds) -> CheckResult:
    inp = CheckInput(
        frame, "y", ["x"], model=model or ScoreModel(), seed=seed, time_column=time_column
    )
    return stability.check_stability(inp, thresholds)


# --- the bootstrap equals SciPy's -------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 3])
def test_roc_auc_bootstrap_equals_scipy_percentile_on_the_same_resamples(seed):
    frame = scored_frame(n=300, seed=seed)
    truth = frame["y"].to_numpy() == 1
    scores = ScoreModel().predict_proba(frame)[:, 1]

    result = run(frame, seed=seed, bootstrap_rounds=200)
    expected = stats.bootstrap(
        (truth, scores),
        lambda t, s: roc_auc_score(t, s),
        paired=True,
        vectorized=False,
        n_resamples=200,
        method="percentile",
        rng=np.random.default_rng(seed),
    )

    m = result.metrics
    assert m["metric"] == "roc_auc"
    assert m["value"] == pytest.approx(roc_auc_score(truth, scores))
    assert m["bootstrap_p2_5"] == pytest.approx(expected.confidence_interval.low, abs=1e-12)
    assert m["bootstrap_p97_5"] == pytest.approx(expected.confidence_interval.high, abs=1e-12)
    assert m["bootstrap_std"] == pytest.approx(expected.standard_error, abs=1e-12)
    assert m["bootstrap_mean"] == pytest.approx(expected.bootstrap_distribution.mean())
    assert m["bootstrap_undefined"] == 0


def test_accuracy_bootstrap_of_a_model_without_predict_proba_equals_scipy():
    frame = scored_frame(n=250, seed=4)
    correct = (LabelModel().predict(frame) == frame["y"].to_numpy()).astype(float)

    result = run(frame, model=LabelModel(), seed=4, bootstrap_rounds=150)
    expected = stats.bootstrap(
        (correct,),
        np.mean,
        n_resamples=150,
        method="percentile",
        rng=np.random.default_rng(4),
    )

    assert result.metrics["metric"] == "accuracy"
    assert result.metrics["bootstrap_p2_5"] == pytest.approx(expected.confidence_interval.low)
    assert result.metrics["bootstrap_p97_5"] == pytest.approx(expected.confidence_interval.high)
    assert any("no predict_proba" in f.message for f in result.findings)


def test_wide_interval_on_a_small_holdout_fails_and_a_large_one_passes():
    small = run(scored_frame(n=40, seed=5))
    large = run(scored_frame(n=3000, seed=5), bootstrap_rounds=50)

    assert small.status == "fail"
    assert small.metrics["bootstrap_width"] > 0.15
    fails = [f for f in small.findings if f.severity == "fail"]
    assert [f.subject for f in fails] == ["bootstrap_width"]
    assert "too uncertain" in fails[0].message
    assert large.status == "pass"
    assert large.metrics["bootstrap_width"] < 0.15


def test_resamples_with_one_class_are_left_out_and_counted():
    frame = scored_frame(n=20, seed=6).assign(y=0)
    frame.loc[3, "y"] = 1
    draws = np.random.default_rng(0).integers(0, 20, (100, 20))
    one_class = int((~(draws == 3).any(axis=1)).sum())

    result = run(frame, bootstrap_rounds=100)

    assert result.metrics["bootstrap_undefined"] == one_class > 0
    assert any(f.value == one_class and "one class" in f.message for f in result.findings)
    json.dumps(result.to_dict(), allow_nan=False)


def test_holdout_with_one_class_has_no_roc_auc_and_says_why():
    result = run(scored_frame(n=60, seed=7).assign(y=1))

    assert result.metrics["value"] is None
    assert result.metrics["bootstrap_p2_5"] is None
    assert result.status == "warn"
    assert any("no bootstrap interval" in f.message for f in result.findings)
    json.dumps(result.to_dict(), allow_nan=False)


# --- time windows -----------------------------------------------------------------------------


def test_drifted_window_shows_a_performance_drop():
    frame = scored_frame(n=800, seed=8, drift_from=600)
    shuffled = frame.sample(frac=1.0, random_state=1)

    result = run(shuffled, time_column="when")

    windows = result.tables["windows"]
    assert windows[3]["verdict"] == "fail"
    # The drifted window pulls the overall mean down, so healthy ones may sit above the band.
    assert all(w["verdict"] == "ok" or w["value"] > w["band_high"] for w in windows[:3])
    below = [f for f in result.findings if "below the band" in f.message]
    assert [f.subject for f in below] == ["window 4"]
    assert windows[3]["start"].startswith(str(frame["when"][600].date()))
    late = frame.iloc[600:]
    expected = roc_auc_score(late["y"], ScoreModel().predict_proba(late)[:, 1])
    assert windows[3]["value"] == pytest.approx(expected)
    assert windows[3]["value"] < windows[3]["band_low"] - 0.05
    assert result.status == "fail"
    figure = next(f for f in result.figures if f.name == "time_windows")
    assert figure.series[0].y == pytest.approx([w["value"] for w in windows])


def test_windows_without_drift_stay_inside_the_band():
    result = run(scored_frame(n=800, seed=9), time_column="when")

    assert [w["verdict"] for w in result.tables["windows"]] == ["ok"] * 4
    assert result.status == "pass"


def test_band_is_the_spread_of_window_sized_resamples():
    frame = scored_frame(n=400, seed=10)

    result = run(frame, time_column="when", time_windows=2, bootstrap_rounds=100)

    rng = np.random.default_rng(0)
    rng.integers(0, 400, (100, 400))  # the full-size resamples come first
    truth = frame["y"].to_numpy() == 1
    scores = ScoreModel().predict_proba(frame)[:, 1]
    window = [roc_auc_score(truth[d], scores[d]) for d in rng.integers(0, 400, (100, 200))]
    spread = np.std(window, ddof=1)
    mean = result.metrics["bootstrap_mean"]
    for row in result.tables["windows"]:
        assert row["band_low"] == pytest.approx(mean - 3 * spread)
        assert row["band_high"] == pytest.approx(mean + 3 * spread)


def test_small_windows_are_insufficient_evidence_with_counts():
    result = run(scored_frame(n=200, seed=11), time_column="when", window_rows_needed=60)

    windows = result.tables["windows"]
    assert [w["verdict"] for w in windows] == ["insufficient evidence"] * 4
    assert all(w["value"] is None for w in windows)
    notes = [f.message for f in result.findings if "insufficient evidence" in f.message]
    assert len(notes) == 4
    assert "50 rows, 60 needed" in notes[0]
    assert result.metrics["n_windows_insufficient"] == 4


def test_window_holding_one_class_has_no_roc_auc():
    frame = scored_frame(n=400, seed=12)
    frame.loc[300:, "y"] = 0

    result = run(frame, time_column="when")

    last = result.tables["windows"][3]
    assert (last["value"], last["verdict"]) == (None, "undefined")
    assert any("window 4" in f.message and "one class" in f.message for f in result.findings)
    json.dumps(result.to_dict(), allow_nan=False)


def test_text_times_are_parsed_and_missing_times_left_out():
    frame = scored_frame(n=400, seed=13)
    frame["when"] = frame["when"].dt.strftime("%Y-%m-%d").astype(object)
    frame.loc[:9, "when"] = None

    result = run(frame, time_column="when")

    assert sum(w["rows"] for w in result.tables["windows"]) == 390
    assert any(f.value == 10 and "no time" in f.message for f in result.findings)


def test_time_column_absent_from_the_data_is_noted():
    result = run(scored_frame(n=200, seed=14), time_column="created_at")

    assert result.tables["windows"] == []
    assert any("'created_at' is not in the data" in f.message for f in result.findings)


def test_time_column_comes_from_the_data_contract():
    contract = Contract.model_validate(
        {
            "dataset": "holdout",
            "version": "1",
            "columns": [
                {"name": "x", "type": "float"},
                {"name": "when", "type": "datetime", "timestamp": True},
            ],
        }
    ).model_dump(mode="json")

    assert _time_column(contract) == "when"
    assert _time_column(None) is None
    contract["columns"][1]["timestamp"] = False
    assert _time_column(contract) is None


# --- other targets, German credit, input errors -----------------------------------------------


def test_multiclass_is_resampled_by_accuracy():
    frame = scored_frame(n=300, seed=15)
    frame["y"] = np.select([frame["x"] > 0.5, frame["x"] < -0.5], [2, 0], 1)

    class Thirds:
        classes_ = np.array([0, 1, 2])

        def predict(self, features):
            return np.digitize(features["x"].to_numpy(), [-0.5, 0.5])

        def predict_proba(self, features):
            return np.eye(3)[self.predict(features)]

    result = run(frame, model=Thirds())

    assert result.metrics["metric"] == "accuracy"
    assert result.metrics["value"] == 1.0
    assert not any("no predict_proba" in f.message for f in result.findings)


def test_german_credit_gives_finite_numbers():
    frame = load_german_credit()
    train, holdout, _ = split(frame)
    features = [c for c in frame.columns if c not in ("good_credit", "sex", "age_group")]
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    numeric = [c for c in features if c not in categorical]
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), categorical), (StandardScaler(), numeric)
        ),
        LogisticRegression(max_iter=1000),
    ).fit(train[features], train["good_credit"])
    inp = CheckInput(train, "good_credit", features, model=model, holdout=holdout)

    result = stability.check_stability(inp, {"bootstrap_rounds": 100})

    numbers = [v for v in result.metrics.values() if isinstance(v, float)]
    assert len(numbers) == 6
    assert all(math.isfinite(v) for v in numbers)
    assert result.metrics["n_rows"] == len(holdout)
    assert result.metrics["bootstrap_p2_5"] < result.metrics["value"]
    assert result.metrics["value"] < result.metrics["bootstrap_p97_5"]
    json.dumps(result.to_dict(), allow_nan=False)


def test_bad_input_is_named():
    frame = scored_frame(n=50)
    with pytest.raises(ValidationError, match=r"^stability needs a fitted model"):
        stability.check_stability(CheckInput(frame, "y", ["x"]), {})
    with pytest.raises(ValidationError, match=r"^bootstrap_rounds must be a whole number >= 2"):
        run(frame, bootstrap_rounds=1)
    with pytest.raises(ValidationError, match=r"^band_width_sd must be above 0; got 0"):
        run(frame, band_width_sd=0)
    with pytest.raises(ValidationError, match=r"could not score the 50 rows: .*column\(s\) x"):
        run(frame.assign(x=np.where(np.arange(50) < 5, np.nan, frame["x"])), model=StrictModel())


class StrictModel(LabelModel):
    """Refuses missing values, as most scikit-learn estimators do."""

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        if features.isna().any().any():
            raise ValueError("Input X contains NaN.")
        return super().predict(features)


def test_spec_is_registered_with_its_defaults():
    from mlgate.checks import get_check

    spec = get_check("stability")
    assert spec is stability.SPEC
    assert (spec.needs_model, spec.needs_reference, spec.needs_holdout) == (True, False, False)
    assert spec.defaults["bootstrap_rounds"] == 200
    assert spec.defaults["time_windows"] == 4
