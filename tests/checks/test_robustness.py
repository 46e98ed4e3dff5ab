"""Tests for the robustness check: noise, category swaps and FGSM, checked against ART."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    PolynomialFeatures,
    RobustScaler,
    StandardScaler,
)
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from mlgate.checks import robustness as rb
from mlgate.checks.base import CheckInput, CheckResult
from mlgate.demo.data import read_german_codes
from mlgate.errors import ValidationError

FEATURES = [f"f{i}" for i in range(5)]
# Different units per column, so that a mix-up between raw and standardised units shows.
UNITS = np.array([1.0, 4.0, 20.0, 0.25, 3.0])
EPS_CURVE = [0.0, 0.05, 0.1, 0.2, 0.5]


def numeric_frame(n: int = 500, seed: int = 0, classes: int = 2) -> pd.DataFrame:
    x, y = make_classification(
        n_samples=n,
        n_features=5,
        n_informative=3,
        n_redundant=0,
        n_classes=classes,
        random_state=seed,
    )
    frame = pd.DataFrame(x * UNITS + 5.0, columns=FEATURES)
    frame["y"] = y
    return frame


def fitted(model, frame: pd.DataFrame, features=FEATURES):
    return model.fit(frame[list(features)], frame["y"])


def run(frame: pd.DataFrame, model, thresholds=None, **kwargs) -> CheckResult:
    inp = CheckInput(frame, "y", model=model, **kwargs)
    return rb.check_robustness(inp, thresholds or {})


def population_std(frame: pd.DataFrame, columns) -> np.ndarray:
    return np.asarray([frame[c].std(ddof=0) for c in columns])


def messages(result: CheckResult) -> str:
    return "\n".join(f.message for f in result.findings)


def art_fgsm(estimator, x: np.ndarray, y: np.ndarray, eps) -> np.ndarray:
    """Run ART's FastGradientMethod (max-norm, untargeted, true labels given) on ``x``."""
    from art.attacks import evasion as art_evasion  # a dev dependency: the reference attack
    from art.estimators import classification as art_classification

    classifier = art_classification.SklearnClassifier(model=estimator)
    attack = art_evasion.FastGradientMethod(classifier, norm=np.inf, eps=eps, eps_step=eps)
    labels = np.eye(len(estimator.classes_))[np.searchsorted(estimator.classes_, y)]
    return attack.generate(x=x, y=labels)


@pytest.fixture(autouse=True)
def _one_thread_quiet_art():
    # One thread: the many small fits and predictions here spend more time starting OpenMP
    # and BLAS threads than computing, badly so on a busy machine. ART warns at import that
    # PyTorch is absent; that is expected here.
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PyTorch not found", category=UserWarning)
        yield


# --- (a) agreement with the Adversarial Robustness Toolbox ----------------------------------


@pytest.mark.parametrize("eps", EPS_CURVE[1:])
def test_fgsm_on_scaler_pipeline_equals_art_on_standardised_data(eps):
    """Our FGSM on a StandardScaler + LogisticRegression pipeline equals ART's.

    ART's ``SklearnClassifier`` has a loss gradient for a bare LogisticRegression but not for a
    Pipeline, so ART attacks the pipeline's own logistic regression on the data the pipeline's
    scaler produces, with the scalar ``eps``. Our check attacks the pipeline on the raw data
    with ``eps`` in units of each column's standard deviation. The scaler was fitted on the
    same rows, so its ``scale_`` is that deviation (``ddof=0``), and the two attacks describe
    the same points: scaling our adversarial rows must give ART's (ART computes in float32,
    hence the 1e-6 tolerance), and the accuracy on them must be equal.
    """
    frame = numeric_frame()
    model = fitted(make_pipeline(StandardScaler(), LogisticRegression()), frame)
    scaler, logistic = model[0], model[-1]
    x, y = frame[FEATURES], frame["y"].to_numpy()

    result = run(frame, model, {"fgsm_eps": eps})

    standardised = scaler.transform(x)
    theirs = art_fgsm(logistic, standardised, y, eps)
    gradient = rb.analytic_gradient(model, x, y, FEATURES)
    ours = rb.fgsm_perturb(x, FEATURES, gradient, eps * population_std(frame, FEATURES))
    np.testing.assert_allclose(scaler.transform(ours), theirs, rtol=1e-6, atol=1e-6)

    art_accuracy = float(np.mean(logistic.predict(theirs) == y))
    assert result.metrics["fgsm.gradient"] == "analytic"
    assert result.metrics[f"fgsm.{eps:g}.accuracy"] == pytest.approx(art_accuracy, abs=1e-12)


@pytest.mark.filterwarnings("ignore:X does not have valid feature names:UserWarning")
def test_fgsm_on_bare_logistic_regression_equals_art_with_per_feature_eps():
    """Our FGSM on a bare LogisticRegression equals ART's with one eps per feature.

    The model is fitted on raw columns with very different units. ART 1.20's
    ``FastGradientMethod`` accepts an array ``eps`` that broadcasts over the rows, so ART is
    given ``eps x std`` per column, in raw units, which is what our ``eps`` (in standard
    deviations) means. ART computes in float32, so adversarial rows must agree to 1e-6 of each
    column's largest magnitude, and robust accuracies along the whole curve must be equal. ART
    hands the model NumPy arrays, hence sklearn's feature-name warning.
    """
    frame = numeric_frame()
    model = fitted(LogisticRegression(max_iter=1000), frame)
    x, y = frame[FEATURES], frame["y"].to_numpy()
    std = population_std(frame, FEATURES)
    magnitude = np.abs(x.to_numpy()).max(axis=0)

    result = run(frame, model)

    gradient = rb.analytic_gradient(model, x, y, FEATURES)
    for eps in EPS_CURVE[1:]:
        theirs = art_fgsm(model, x.to_numpy(), y, (eps * std).astype(np.float32))
        ours = rb.fgsm_perturb(x, FEATURES, gradient, eps * std).to_numpy()
        np.testing.assert_allclose((ours - theirs) / magnitude, 0.0, atol=1e-6)
        art_accuracy = float(np.mean(model.predict(pd.DataFrame(theirs, columns=FEATURES)) == y))
        assert result.metrics[f"fgsm.{eps:g}.accuracy"] == pytest.approx(art_accuracy, abs=1e-12)


# --- (b) the finite-difference gradient against the analytic one ----------------------------


def _linear_models():
    mixed = make_column_transformer(
        (MinMaxScaler(), ["f0", "f1"]),
        (make_pipeline(SimpleImputer(), RobustScaler()), ["f2"]),
        (MaxAbsScaler(), ["f3"]),
        remainder="passthrough",
    )
    return {
        "scaler_pipeline": make_pipeline(StandardScaler(), LogisticRegression()),
        "bare": LogisticRegression(max_iter=1000),
        "column_transformer": make_pipeline(mixed, LogisticRegression(max_iter=1000)),
    }


@pytest.mark.parametrize("name", sorted(_linear_models()))
@pytest.mark.parametrize("classes", [2, 3])
def test_finite_difference_gradient_matches_analytic(name, classes):
    frame = numeric_frame(classes=classes)
    model = fitted(_linear_models()[name], frame)
    x, y = frame[FEATURES], frame["y"].to_numpy()
    steps = 1e-3 * population_std(frame, FEATURES)

    analytic = rb.analytic_gradient(model, x, y, FEATURES)
    estimated = rb.finite_difference_gradient(model, x, y, FEATURES, steps)

    assert analytic is not None
    # A tiny absolute floor: for confidently right rows the loss is ~1e-12 and its
    # differences sit at float64 rounding, though the gradient there is negligible.
    floor = 1e-9 * np.abs(analytic).max()
    np.testing.assert_allclose(estimated, analytic, rtol=1e-3, atol=floor)


def test_analytic_gradient_of_a_model_without_predict_proba_uses_the_decision_function():
    frame = numeric_frame()
    model = fitted(make_pipeline(StandardScaler(), LinearSVC()), frame)
    x, y = frame[FEATURES], frame["y"].to_numpy()
    steps = 1e-3 * population_std(frame, FEATURES)

    analytic = rb.analytic_gradient(model, x, y, FEATURES)
    estimated = rb.finite_difference_gradient(model, x, y, FEATURES, steps)

    assert analytic is not None
    np.testing.assert_allclose(estimated, analytic, rtol=1e-3, atol=1e-9 * np.abs(analytic).max())


@pytest.mark.parametrize(
    "model",
    [
        make_pipeline(StandardScaler(), PolynomialFeatures(2), LogisticRegression()),
        make_pipeline(MinMaxScaler(clip=True), LogisticRegression()),
        HistGradientBoostingClassifier(max_iter=5),
    ],
    ids=["polynomial", "clipping_scaler", "no_coefficients"],
)
def test_models_without_a_linear_form_get_finite_differences(model):
    frame = numeric_frame(n=200)
    model = fitted(model, frame)

    assert rb.analytic_gradient(model, frame[FEATURES], frame["y"].to_numpy(), FEATURES) is None
    assert run(frame, model).metrics["fgsm.gradient"] == "finite_difference"


# --- (c) a planted fragile model fails the noise test, a smooth one passes ------------------


class ThresholdModel:
    """Predicts 1 when ``k`` is above its median, 2: a decision exactly on a tied value."""

    classes_ = np.array([0, 1])

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return (features["k"].to_numpy() > 2).astype(int)

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        positive = self.predict(features).astype(float)
        return np.column_stack([1 - positive, positive])


class LabelOnlyModel:
    """The same threshold, with neither ``predict_proba`` nor ``decision_function``."""

    classes_ = np.array([0, 1])

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return ThresholdModel().predict(features)


def fragile_frame(n: int = 1000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    k = rng.choice([0, 1, 2, 3, 4], size=n, p=[0.1, 0.2, 0.4, 0.2, 0.1])
    frame = pd.DataFrame({"k": k, "z": rng.normal(size=n)})
    frame["y"] = (frame["k"] > 2).astype(int)
    return frame


def test_threshold_on_a_tied_median_fails_the_noise_test():
    frame = fragile_frame()
    assert frame["k"].median() == 2

    result = run(frame, ThresholdModel())

    share = result.metrics["noise.0.01.flip_share"]
    assert share > 0.1  # the rows at k = 2 that the noise pushes up flip
    assert result.status == "fail"
    assert "noise of 0.01 standard deviations flips" in messages(result)
    # Off the tied value the step function has no slope: FGSM's blind spot is named.
    assert "the finite-difference gradient is zero on 60% of rows" in messages(result)
    assert any(
        f.subject == "noise.0.01.flip_share" and f.severity == "fail" for f in result.findings
    )


def test_smooth_model_on_the_same_data_passes():
    frame = fragile_frame()
    model = fitted(make_pipeline(StandardScaler(), LogisticRegression()), frame, ["k", "z"])

    result = run(frame, model, features=["k", "z"])

    assert result.metrics["noise.0.01.flip_share"] <= 0.01
    assert result.metrics["fgsm.gradient"] == "analytic"
    assert result.status == "pass", messages(result)


def test_flip_share_between_half_the_limit_and_the_limit_warns():
    frame = fragile_frame()
    share = run(frame, ThresholdModel()).metrics["noise.0.01.flip_share"]

    limits = {"max_flip_share_small": share * 1.5, "max_fgsm_accuracy_drop": 1.0}
    result = run(frame, ThresholdModel(), limits)

    assert result.status == "warn"
    (finding,) = [f for f in result.findings if f.subject == "noise.0.01.flip_share"]
    assert finding.severity == "warn"
    assert "above half the limit" in finding.message


# --- (d) a model without a gradient ---------------------------------------------------------


def test_hist_gradient_boosting_runs_on_finite_differences():
    frame = numeric_frame(n=400)
    model = fitted(HistGradientBoostingClassifier(max_iter=30, random_state=0), frame)

    result = run(frame, model)

    assert result.metrics["fgsm.gradient"] == "finite_difference"
    numbers = [v for v in result.metrics.values() if isinstance(v, float)]
    assert numbers
    assert all(math.isfinite(v) for v in numbers)
    for eps in EPS_CURVE:
        assert 0.0 <= result.metrics[f"fgsm.{eps:g}.accuracy"] <= 1.0
    assert result.metrics["noise.0.1.max_score_change"] is not None
    json.dumps(result.to_dict())


# --- (e) real data: German credit -----------------------------------------------------------


@pytest.fixture(scope="module")
def german():
    data = read_german_codes()
    features = [c for c in data.columns if c != "credit"]
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(data[c])]
    numeric = [c for c in features if c not in categorical]
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), categorical), (StandardScaler(), numeric)
        ),
        LogisticRegression(max_iter=1000),
    ).fit(data[features], data["credit"])
    return data, features, numeric, categorical, model


def test_german_credit_reports_a_curve_that_falls_with_eps(german):
    data, features, numeric, categorical, model = german
    inp = CheckInput(data, "credit", features, positive_label=2, model=model, seed=3)

    result = rb.check_robustness(inp, {})

    accuracy = [result.metrics[f"fgsm.{eps:g}.accuracy"] for eps in EPS_CURVE]
    assert all(later <= earlier for earlier, later in zip(accuracy, accuracy[1:], strict=False))
    assert accuracy[-1] < accuracy[0] - 0.05
    assert result.metrics["fgsm.gradient"] == "analytic"
    assert result.metrics["n_numeric_perturbed"] == len(numeric)
    assert result.metrics["categorical_swap.flip_share"] is not None
    assert {row["feature"] for row in result.tables["categorical_swaps"]} == set(categorical)
    assert f"{len(categorical)} categorical feature(s) keep their values" in messages(result)
    figure = next(f for f in result.figures if f.name == "fgsm_accuracy")
    assert figure.series[0].x == EPS_CURVE
    assert figure.threshold == pytest.approx(accuracy[0] - 0.15)
    assert CheckResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_german_credit_gradient_through_the_column_transformer_is_exact(german):
    data, features, numeric, _, model = german
    x, y = data[features], data["credit"].to_numpy()
    steps = 1e-3 * population_std(data, numeric)

    analytic = rb.analytic_gradient(model, x, y, numeric)
    estimated = rb.finite_difference_gradient(model, x, y, numeric, steps)

    assert analytic is not None
    np.testing.assert_allclose(estimated, analytic, rtol=1e-3, atol=1e-9 * np.abs(analytic).max())


# --- edge cases -----------------------------------------------------------------------------


def test_no_numeric_feature_leaves_fgsm_and_noise_uncomputed():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"colour": rng.choice(["red", "blue"], size=200)})
    frame["y"] = (frame["colour"] == "red").astype(int)
    model = fitted(make_pipeline(OneHotEncoder(), LogisticRegression()), frame, ["colour"])

    result = run(frame, model, features=["colour"])

    assert result.metrics["fgsm.gradient"] is None
    assert result.metrics["fgsm.accuracy_drop"] is None
    assert not any(key.startswith(("fgsm.0", "noise.")) for key in result.metrics)
    assert "FGSM has nothing to perturb; not computed" in messages(result)
    assert "the noise test has nothing to perturb" in messages(result)
    assert result.status == "warn"
    assert result.metrics["categorical_swap.flip_share"] == 1.0  # red <-> not red, always


class SpyModel:
    """Wraps a model and keeps every frame it was asked to predict."""

    def __init__(self, model) -> None:
        self.model = model
        self.classes_ = model.classes_
        self.frames: list[pd.DataFrame] = []

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        self.frames.append(features.copy())
        return self.model.predict(features)

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        self.frames.append(features.copy())
        return self.model.predict_proba(features)


def test_constant_feature_is_never_perturbed():
    frame = numeric_frame(n=200)
    frame["flat"] = 7
    features = [*FEATURES, "flat"]
    spy = SpyModel(fitted(HistGradientBoostingClassifier(max_iter=5), frame, features))

    result = run(frame, spy, features=features)

    assert all((seen["flat"] == 7).all() for seen in spy.frames)
    assert any((seen["f0"] != frame["f0"].iloc[0]).any() for seen in spy.frames)
    assert "1 numeric feature(s) have no spread" in messages(result)
    flat = next(row for row in result.tables["features"] if row["feature"] == "flat")
    assert flat == {
        "feature": "flat",
        "kind": "numeric",
        "std": 0.0,
        "noise": False,
        "fgsm": False,
    }


def test_one_row_runs_and_reports_nothing_computable_as_none():
    frame = numeric_frame(n=200)
    model = fitted(make_pipeline(StandardScaler(), LogisticRegression()), frame)

    result = run(frame.iloc[:1], model)

    assert result.metrics["n_rows"] == 1
    assert result.metrics["n_numeric_perturbed"] == 0
    assert result.metrics["fgsm.accuracy_drop"] is None
    assert result.status == "warn"
    json.dumps(result.to_dict())


def test_model_without_predict_proba_reports_flips_but_no_score_change():
    frame = numeric_frame()
    model = fitted(make_pipeline(StandardScaler(), LinearSVC()), frame)

    result = run(frame, model)

    assert result.metrics["noise.0.01.max_score_change"] is None
    assert result.metrics["noise.0.01.flip_share"] is not None
    assert result.metrics["fgsm.gradient"] == "analytic"
    assert "score changes are not measured" in messages(result)


def test_model_with_labels_only_cannot_be_attacked():
    frame = fragile_frame(n=300)

    result = run(frame, LabelOnlyModel())

    assert result.metrics["fgsm.gradient"] is None
    assert result.metrics["noise.0.01.flip_share"] > 0.1
    assert "its loss has no gradient; FGSM not computed" in messages(result)


def test_sample_is_capped_and_deterministic():
    frame = numeric_frame(n=600)
    model = fitted(make_pipeline(StandardScaler(), LogisticRegression()), frame)

    first = run(frame, model, {"max_rows": 250}, seed=4)
    second = run(frame, model, {"max_rows": 250}, seed=4)

    assert first.metrics["n_rows"] == 250
    assert first.metrics["fgsm.0.accuracy"] < 1.0
    assert first == second


def test_large_fgsm_drop_fails_and_names_the_drop():
    frame = numeric_frame()
    model = fitted(make_pipeline(StandardScaler(), LogisticRegression()), frame)

    result = run(frame, model, {"max_fgsm_accuracy_drop": 0.01})

    drop = result.metrics["fgsm.accuracy_drop"]
    clean, attacked = result.metrics["fgsm.0.accuracy"], result.metrics["fgsm.0.1.accuracy"]
    assert drop == pytest.approx(clean - attacked)
    assert result.status == "fail"
    assert f"(drop {drop:.3f} > 0.01)" in messages(result)


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        (
            {"noise_scale_small": 0},
            r"^threshold 'noise_scale_small' must be greater than 0; got 0$",
        ),
        ({"fgsm_eps": -0.1}, r"^threshold 'fgsm_eps' must be at least 0; got -0.1$"),
        (
            {"categorical_swap_share": 1.5},
            r"^threshold 'categorical_swap_share' must be in \[0, 1\]; got 1.5$",
        ),
        (
            {"noise_scale_small": 0.2},
            r"^noise scales must grow: .*; got 0.2, 0.05, 0.1$",
        ),
    ],
)
def test_bad_thresholds_are_named(thresholds, message):
    frame = numeric_frame(n=50)
    model = fitted(LogisticRegression(), frame)

    with pytest.raises(ValidationError, match=message):
        run(frame, model, thresholds)


def test_missing_model_target_or_rows_raise():
    frame = numeric_frame(n=50)
    model = fitted(LogisticRegression(), frame)

    with pytest.raises(ValidationError, match=r"needs a fitted model \(CheckInput.model\)"):
        rb.check_robustness(CheckInput(frame, "y"), {})
    with pytest.raises(ValidationError, match=r"the target column None is not in the data"):
        rb.check_robustness(CheckInput(frame, None, FEATURES, model=model), {})
    with pytest.raises(ValidationError, match=r"^the frame to perturb has 0 rows"):
        run(frame.iloc[:0], model)


def test_spec_declares_the_documented_defaults():
    spec = rb.SPEC

    assert (spec.name, spec.needs_model, spec.needs_reference) == ("robustness", True, False)
    assert spec.defaults["max_flip_share_small"] == 0.02
    assert spec.defaults["max_fgsm_accuracy_drop"] == 0.15
    assert spec.defaults["fgsm_eps"] == 0.1
    assert spec.defaults["max_rows"] == 2000
    assert all(isinstance(v, int | float) for v in spec.defaults.values())
