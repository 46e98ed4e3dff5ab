"""Robustness: does a small change of the input change the model's answer?

The check ``robustness`` perturbs the rows it is given (a deterministic sample of at most
``max_rows``, drawn with ``CheckInput.seed``) in two ways.

*Noise.* Every numeric feature gets Gaussian noise with a standard deviation of ``scale`` times
that feature's own standard deviation, at the three scales ``noise_scale_small``, ``_medium``
and ``_large`` (default 0.01, 0.05, 0.1). The same standard normal draws serve every scale, so
the scales differ in size only. Per scale the check reports the share of rows whose predicted
label flips, and the largest and mean absolute change of the positive-class probability (for
more than two classes, of any class probability; ``None`` for a model without
``predict_proba``). It fails when the flip share at ``noise_scale_small`` exceeds
``max_flip_share_small`` (default 0.02) and warns above half of that. Separately, for each
categorical feature, the level of ``categorical_swap_share`` of the rows (default 5 %) is
swapped to another observed level, one feature at a time; the flips are reported, not judged,
since a different category is a different applicant rather than a measurement error.

*FGSM.* The Fast Gradient Sign Method (Goodfellow, Shlens and Szegedy, 2015) moves each row one
step of size ``eps`` in the direction that raises the log-loss of its true label fastest under
the max-norm: ``x_adv = x + eps * std * sign(grad_x loss)``, on numeric features only, with
``eps`` in units of each feature's standard deviation. The accuracy at each ``eps`` of the curve
(0, ``fgsm_eps`` and ``fgsm_curve_eps_1..3``; default 0, 0.05, 0.1, 0.2, 0.5) is the robust
accuracy curve. The check fails when the accuracy at ``fgsm_eps`` (default 0.1) is lower than
at 0 by more than ``max_fgsm_accuracy_drop`` (default 0.15). The gradient is analytic for a
linear classifier (``coef_``, with ``predict_proba`` equal to the sigmoid or softmax of its
``decision_function``) behind per-column affine preprocessing (the common scalers, identity,
imputation, a ``ColumnTransformer`` that routes the numeric columns through them): the chain
rule through the scalers turns the model's coefficients into weights on the raw columns, and
a probe on a few rows confirms them before use. For any other model it is estimated by central
finite differences with a step of ``finite_difference_step`` (default 1e-3) standard deviations.
A model without ``predict_proba`` is attacked through the logistic or softmax of its
``decision_function``; one with neither cannot be attacked.

Standard deviations are the population ones (``ddof=0``, as ``StandardScaler`` computes them)
over all rows of ``CheckInput.data``. A numeric feature whose deviation is 0 (or undefined) is
not perturbed, missing values stay missing, and a category missing from a row is swapped to any
observed level. Whether the same input always gives the same output is the ``determinism``
check's question, not this one's.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.special import expit, softmax
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    RobustScaler,
    StandardScaler,
)

from mlgate.checks.base import (
    CheckInput,
    CheckResult,
    CheckSpec,
    Figure,
    Finding,
    Series,
    finite_or_none,
    require_model,
    worst,
)
from mlgate.checks.model_quality import feature_columns, positive_class_scores
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, float] = {
    "max_rows": 2000,
    "noise_scale_small": 0.01,
    "noise_scale_medium": 0.05,
    "noise_scale_large": 0.1,
    "max_flip_share_small": 0.02,
    "categorical_swap_share": 0.05,
    "fgsm_eps": 0.1,
    "fgsm_curve_eps_1": 0.05,
    "fgsm_curve_eps_2": 0.2,
    "fgsm_curve_eps_3": 0.5,
    "max_fgsm_accuracy_drop": 0.15,
    "finite_difference_step": 1e-3,
}
NOISE_SCALES = ("noise_scale_small", "noise_scale_medium", "noise_scale_large")
CURVE_EPS = ("fgsm_eps", "fgsm_curve_eps_1", "fgsm_curve_eps_2", "fgsm_curve_eps_3")
ANALYTIC = "analytic"
FINITE_DIFFERENCE = "finite_difference"

# Rows used to confirm the analytic weights, and the relative tolerance of that confirmation.
_PROBE_ROWS = 8
_PROBE_RTOL = 1e-6
# A finite-difference gradient that is zero on more than this share of rows (a piecewise-constant
# model such as a tree ensemble) makes the FGSM curve overstate robustness.
_FLAT_GRADIENT_SHARE = 0.5


@dataclass(frozen=True)
class _Plan:
    """Which features are perturbed, and how: the numeric ones with their deviations."""

    numeric: list[str]
    std: np.ndarray
    constant: list[str]
    categorical: list[str]
    levels: dict[str, np.ndarray]


def check_robustness(inp: CheckInput, thresholds: Mapping[str, float]) -> CheckResult:
    """Perturb the rows with noise, category swaps and FGSM, and measure what changes."""
    limits = {**DEFAULTS, **thresholds}
    _validate_limits(limits)
    model = require_model(inp, "robustness")
    features = feature_columns(inp, inp.data)
    rows, y = _rows(inp, features, int(limits["max_rows"]))
    x = rows[features]
    plan = _plan(inp.data[features])
    logger.info(
        "robustness: %d rows, %d numeric feature(s) perturbed, %d categorical",
        len(x),
        len(plan.numeric),
        len(plan.categorical),
    )

    clean = _clean(model, x, inp.positive_label)
    noise = _noise_table(model, x, plan, limits, inp.seed, clean)
    swaps = _swap_table(model, x, plan, limits, inp.seed, clean)
    fgsm, method, fgsm_findings = _fgsm_table(model, x, y, plan, limits)

    metrics = _metrics(len(x), plan, noise, swaps, fgsm, method, limits["fgsm_eps"])
    findings = _plan_findings(plan, clean.scores is None)
    findings += _noise_findings(noise, limits) + _swap_findings(swaps) + fgsm_findings
    findings += _fgsm_findings(metrics, limits)
    status = worst([f.severity for f in findings if f.severity != "info"])
    return CheckResult(
        check="robustness",
        status=status,
        summary=_summary(metrics, limits),
        metrics=metrics,
        findings=findings,
        figures=_figures(noise, fgsm, limits),
        tables={
            "noise": noise,
            "fgsm": fgsm,
            "categorical_swaps": swaps,
            "features": _feature_table(plan),
        },
    )


# --- inputs ---------------------------------------------------------------------------------


def _validate_limits(limits: Mapping[str, float]) -> None:
    for key in ("max_rows", *NOISE_SCALES, "finite_difference_step"):
        if not limits[key] > 0:
            raise ValidationError(f"threshold '{key}' must be greater than 0; got {limits[key]}")
    for key in ("max_flip_share_small", "max_fgsm_accuracy_drop", *CURVE_EPS):
        if not limits[key] >= 0:
            raise ValidationError(f"threshold '{key}' must be at least 0; got {limits[key]}")
    share = limits["categorical_swap_share"]
    if not 0 <= share <= 1:
        raise ValidationError(f"threshold 'categorical_swap_share' must be in [0, 1]; got {share}")

    small, medium, large = (limits[key] for key in NOISE_SCALES)
    if not small <= medium <= large:
        raise ValidationError(
            f"noise scales must grow: noise_scale_small <= noise_scale_medium <= "
            f"noise_scale_large; got {small:g}, {medium:g}, {large:g}"
        )


def _rows(inp: CheckInput, features: list[str], max_rows: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Return the deterministic sample of rows and their true labels."""
    data = inp.data
    if inp.target is None or inp.target not in data.columns:
        raise ValidationError(
            f"robustness needs the target for the FGSM accuracy; the target column "
            f"{inp.target!r} is not in the data; set CheckInput.target"
        )
    if len(data) == 0:
        raise ValidationError(
            f"the frame to perturb has 0 rows ({data.shape[1]} columns); expected at least one"
        )
    n_missing = int(data[inp.target].isna().sum())
    if n_missing:
        raise ValidationError(
            f"the target '{inp.target}' has {n_missing} missing value(s); expected none"
        )

    if len(data) > max_rows:
        picked = np.random.default_rng(inp.seed).choice(len(data), size=max_rows, replace=False)
        data = data.iloc[np.sort(picked)]
    rows = data[[*features, inp.target]].reset_index(drop=True)
    return rows, rows[inp.target].to_numpy()


def _plan(data: pd.DataFrame) -> _Plan:
    """Split the features into numeric (perturbed or constant) and categorical ones."""
    numeric: list[str] = []
    std: list[float] = []
    constant: list[str] = []
    categorical: list[str] = []
    levels: dict[str, np.ndarray] = {}
    for column in data.columns:
        values = data[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            deviation = float(values.astype("float64").std(ddof=0))
            if math.isfinite(deviation) and deviation > 0:
                numeric.append(column)
                std.append(deviation)
            else:
                constant.append(column)
        else:
            categorical.append(column)
            levels[column] = np.asarray(values.dropna().unique(), dtype=object)
    return _Plan(numeric, np.asarray(std, dtype=np.float64), constant, categorical, levels)


def _replace(frame: pd.DataFrame, columns: Sequence[str], values: np.ndarray) -> pd.DataFrame:
    """Return a copy of ``frame`` whose ``columns`` hold the columns of ``values``."""
    out = frame.copy()
    for i, column in enumerate(columns):
        out[column] = values[:, i]
    return out


def _numeric_values(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    return frame[list(columns)].astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)


# --- noise and category swaps ---------------------------------------------------------------


@dataclass(frozen=True)
class _Clean:
    """The model's output on the unperturbed rows, which every perturbation is compared with."""

    labels: np.ndarray
    scores: np.ndarray | None
    positive_label: Any


def _clean(model: Any, x: pd.DataFrame, positive_label: Any) -> _Clean:
    labels = np.asarray(model.predict(x))
    return _Clean(labels, _scores(model, x, positive_label), positive_label)


def _scores(model: Any, x: pd.DataFrame, positive_label: Any) -> np.ndarray | None:
    """Return the probabilities whose change is measured: one column per row for two classes."""
    if not hasattr(model, "predict_proba"):
        return None
    if len(getattr(model, "classes_", ())) == 2:
        return positive_class_scores(model, x, positive_label)[:, None]
    return np.asarray(model.predict_proba(x), dtype=np.float64)


def _change(
    model: Any, frame: pd.DataFrame, clean: _Clean, rows: np.ndarray | None = None
) -> dict[str, Any]:
    """Compare the model's output on ``frame`` with the clean output, over ``rows`` (or all)."""
    rows = np.arange(len(frame)) if rows is None else rows
    flipped = np.asarray(model.predict(frame))[rows] != clean.labels[rows]
    change: dict[str, Any] = {
        "rows": len(rows),
        "flip_share": float(np.mean(flipped)),
        "max_score_change": None,
        "mean_score_change": None,
    }
    if clean.scores is not None:
        scores = _scores(model, frame, clean.positive_label)
        delta = np.abs(np.asarray(scores) - clean.scores)[rows].max(axis=1)
        change["max_score_change"] = finite_or_none(np.max(delta))
        change["mean_score_change"] = finite_or_none(np.mean(delta))
    return change


def _noise_table(
    model: Any, x: pd.DataFrame, plan: _Plan, limits: Mapping[str, float], seed: int, clean: _Clean
) -> list[dict[str, Any]]:
    """Return one row per noise scale; empty when no numeric feature varies."""
    if not plan.numeric:
        return []
    values = _numeric_values(x, plan.numeric)
    draws = np.random.default_rng(seed).standard_normal(values.shape)

    table = []
    for key in NOISE_SCALES:
        scale = float(limits[key])
        noisy = _replace(x, plan.numeric, values + scale * plan.std * draws)
        table.append({"scale": scale, **_change(model, noisy, clean)})
    return table


def _swap_table(
    model: Any, x: pd.DataFrame, plan: _Plan, limits: Mapping[str, float], seed: int, clean: _Clean
) -> list[dict[str, Any]]:
    """Return one row per categorical feature with two or more levels: flips among swapped rows."""
    share = limits["categorical_swap_share"]
    n_swapped = max(1, round(share * len(x))) if share > 0 else 0
    rng = np.random.default_rng([seed, 1])

    table = []
    for column in plan.categorical:
        levels = plan.levels[column]
        if len(levels) < 2 or n_swapped == 0:
            continue
        rows = np.sort(rng.choice(len(x), size=n_swapped, replace=False))
        swapped = x.copy()
        swapped[column] = _swapped(x[column], rows, levels, rng)
        change = _change(model, swapped, clean, rows)
        table.append({"feature": str(column), "levels": len(levels), **change})
    return table


def _swapped(
    values: pd.Series, rows: np.ndarray, levels: np.ndarray, rng: np.random.Generator
) -> pd.Series:
    """Return ``values`` with each of ``rows`` moved to another observed level, drawn uniformly."""
    out = values.to_numpy(dtype=object, copy=True)
    code = {level: i for i, level in enumerate(levels.tolist())}
    for row in rows:
        current = -1 if pd.isna(out[row]) else code.get(out[row], -1)
        if current < 0:
            out[row] = levels[rng.integers(len(levels))]
            continue
        drawn = int(rng.integers(len(levels) - 1))
        out[row] = levels[drawn + (drawn >= current)]
    return pd.Series(out, index=values.index, dtype=values.dtype)


# --- FGSM -----------------------------------------------------------------------------------


def _fgsm_table(
    model: Any, x: pd.DataFrame, y: np.ndarray, plan: _Plan, limits: Mapping[str, float]
) -> tuple[list[dict[str, Any]], str | None, list[Finding]]:
    """Return the robust accuracy curve, the gradient's kind, and why it is missing if it is."""
    if not plan.numeric:
        reason = "no numeric feature varies, so FGSM has nothing to perturb; not computed"
        return [], None, [Finding("warn", reason, "fgsm")]
    if not hasattr(model, "classes_") or not (
        hasattr(model, "predict_proba") or hasattr(model, "decision_function")
    ):
        reason = (
            "the model has neither predict_proba nor decision_function (or no classes_), so "
            "its loss has no gradient; FGSM not computed"
        )
        return [], None, [Finding("warn", reason, "fgsm")]

    steps = limits["finite_difference_step"] * plan.std
    gradient, method = loss_gradient(model, x, y, plan.numeric, steps)
    findings = _flat_gradient_findings(gradient, method)

    curve = sorted({0.0, *(float(limits[key]) for key in CURVE_EPS)})
    table = []
    for eps in curve:
        adversarial = fgsm_perturb(x, plan.numeric, gradient, eps * plan.std)
        accuracy = float(np.mean(np.asarray(model.predict(adversarial)) == y))
        table.append({"eps": eps, "accuracy": accuracy})
    for row in table:
        row["accuracy_drop"] = table[0]["accuracy"] - row["accuracy"]
    logger.info("robustness: FGSM over %d eps values with a %s gradient", len(curve), method)
    return table, method, findings


def fgsm_perturb(
    frame: pd.DataFrame, columns: Sequence[str], gradient: np.ndarray, eps: float | np.ndarray
) -> pd.DataFrame:
    """Return ``frame`` with ``columns`` moved by ``eps * sign(gradient)`` (one FGSM step).

    ``gradient`` has one row per row of ``frame`` and one column per entry of ``columns``;
    ``eps`` is in the columns' own units, a scalar or one value per column. A NaN gradient
    counts as 0, and a missing value stays missing.
    """
    values = _numeric_values(frame, columns)
    direction = np.sign(np.nan_to_num(gradient, nan=0.0, posinf=1.0, neginf=-1.0))
    return _replace(frame, columns, values + np.asarray(eps, dtype=np.float64) * direction)


def loss_gradient(
    model: Any, frame: pd.DataFrame, y: np.ndarray, columns: Sequence[str], steps: np.ndarray
) -> tuple[np.ndarray, str]:
    """Return the gradient of each row's log-loss w.r.t. ``columns``, and how it was obtained.

    The analytic gradient is used where :func:`analytic_gradient` finds one; otherwise central
    finite differences with one step per column (``steps``, in the columns' units).
    """
    gradient = analytic_gradient(model, frame, y, columns)
    if gradient is not None:
        return gradient, ANALYTIC
    logger.debug("robustness: no analytic gradient for %s", type(model).__name__)
    return finite_difference_gradient(model, frame, y, columns, steps), FINITE_DIFFERENCE


def class_probabilities(model: Any, frame: pd.DataFrame) -> np.ndarray | None:
    """Return one probability per class and row, in the order of ``model.classes_``.

    ``predict_proba`` where the model has it; otherwise the logistic (two classes) or softmax
    of ``decision_function``, a surrogate that keeps the log-loss defined; ``None`` when the
    model has neither, or no ``classes_``.
    """
    if not hasattr(model, "classes_"):
        return None
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(frame), dtype=np.float64)
    if hasattr(model, "decision_function"):
        return _link(np.asarray(model.decision_function(frame), dtype=np.float64))
    return None


def _link(decision: np.ndarray) -> np.ndarray:
    if decision.ndim == 1:
        positive = expit(decision)
        return np.column_stack([1.0 - positive, positive])
    return softmax(decision, axis=1)


def _label_positions(model: Any, y: np.ndarray) -> np.ndarray:
    """Return each label's column in ``model.classes_``, or -1 for a label the model never saw."""
    position = {label: i for i, label in enumerate(np.asarray(model.classes_).tolist())}
    return np.asarray([position.get(label, -1) for label in np.asarray(y).tolist()], dtype=int)


def _log_loss(model: Any, frame: pd.DataFrame, positions: np.ndarray) -> np.ndarray:
    """Return each row's log-loss of its true label (0 for a label the model never saw)."""
    proba = class_probabilities(model, frame)
    if proba is None:
        raise ValidationError("the model has neither predict_proba nor decision_function")
    known = positions >= 0
    picked = proba[np.arange(len(positions)), np.where(known, positions, 0)]
    tiny = np.finfo(np.float64).tiny
    return np.where(known, -np.log(np.maximum(picked, tiny)), 0.0)


def finite_difference_gradient(
    model: Any, frame: pd.DataFrame, y: np.ndarray, columns: Sequence[str], steps: np.ndarray
) -> np.ndarray:
    """Estimate the log-loss gradient by central differences, one column at a time.

    Each column is moved by ``+step`` and ``-step`` on all rows at once, and both copies are
    scored in one call, so the cost is one prediction of ``2 n`` rows per column.
    """
    positions = _label_positions(model, y)
    values = _numeric_values(frame, columns)
    doubled = pd.concat([frame, frame], ignore_index=True)
    n = len(frame)

    gradient = np.zeros_like(values)
    for j, column in enumerate(columns):
        step = float(steps[j])
        moved = doubled.copy()
        moved[column] = np.concatenate([values[:, j] + step, values[:, j] - step])
        loss = _log_loss(model, moved, np.concatenate([positions, positions]))
        gradient[:, j] = (loss[:n] - loss[n:]) / (2.0 * step)
    return np.nan_to_num(gradient, nan=0.0)


def analytic_gradient(
    model: Any, frame: pd.DataFrame, y: np.ndarray, columns: Sequence[str]
) -> np.ndarray | None:
    """Return the exact log-loss gradient for a linear classifier, or ``None`` for other models.

    With ``z = W t(x) + b`` where ``t`` scales each column, the gradient of the log-loss of
    label ``k`` is ``(p - e_k) W'``, where ``W'`` folds the scalers into ``W`` (chain rule);
    for two classes, ``(p_1 - [k = 1]) w'``. ``None`` when the model is not of that form, or
    when a probe on a few rows does not confirm ``W'`` and the link.
    """
    weights = _raw_weights(model, list(frame.columns), list(columns))
    if weights is None or not _confirmed(model, frame, columns, weights):
        return None

    proba = class_probabilities(model, frame)
    if proba is None:
        return None
    positions = _label_positions(model, y)
    known = positions >= 0
    expected = np.zeros_like(proba)
    expected[np.flatnonzero(known), positions[known]] = 1.0

    residual = proba - expected
    binary = weights.shape[0] == 1
    gradient = residual[:, [1]] * weights[0] if binary else residual @ weights
    gradient[~known] = 0.0
    return gradient


def _raw_weights(model: Any, features: list[Any], columns: list[Any]) -> np.ndarray | None:
    """Return the linear model's weights on the raw ``columns``, one row per decision output.

    ``layout`` follows each raw column through the preprocessing: the positions it reaches in
    the current matrix, each with its multiplier. ``None`` when a step is not per-column affine.
    """
    steps = _flat_steps(model)
    final = steps[-1]
    coef = getattr(final, "coef_", None)
    if coef is None or not hasattr(final, "decision_function"):
        return None
    coef = coef.toarray() if sparse.issparse(coef) else np.atleast_2d(np.asarray(coef, float))

    index = {feature: i for i, feature in enumerate(features)}
    layout: dict[int, dict[int, float]] = {j: {index[c]: 1.0} for j, c in enumerate(columns)}
    width = len(features)
    for step in steps[:-1]:
        moved = _through(step, layout, width)
        if moved is None:
            return None
        layout, width = moved
    if coef.shape[1] != width:
        return None

    weights = np.zeros((coef.shape[0], len(columns)))
    for j, reached in layout.items():
        for position, multiplier in reached.items():
            weights[:, j] += coef[:, position] * multiplier
    return weights


def _flat_steps(model: Any) -> list[Any]:
    if not isinstance(model, Pipeline):
        return [model]
    return [inner for _, step in model.steps for inner in _flat_steps(step)]


def _through(
    step: Any, layout: dict[int, dict[int, float]], width: int
) -> tuple[dict[int, dict[int, float]], int] | None:
    """Follow ``layout`` through one preprocessing step; ``None`` if the step is not supported."""
    if isinstance(step, ColumnTransformer):
        return _through_columns(step, layout, width)
    multipliers = _multipliers(step, width)
    if multipliers is None:
        return None
    moved = {
        j: {p: m * multipliers[p] for p, m in reached.items()} for j, reached in layout.items()
    }
    return moved, width


def _multipliers(step: Any, width: int) -> np.ndarray | None:
    """Return the factor by which a per-column affine step scales each column, else ``None``."""
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return np.ones(width)
    if isinstance(step, Pipeline):
        factors = np.ones(width)
        for inner in _flat_steps(step):
            inner_factors = _multipliers(inner, width)
            if inner_factors is None:
                return None
            factors = factors * inner_factors
        return factors
    if getattr(step, "n_features_in_", None) != width:
        return None

    if isinstance(step, StandardScaler | RobustScaler | MaxAbsScaler):
        scale = getattr(step, "scale_", None)
        return np.ones(width) if scale is None else 1.0 / np.asarray(scale, dtype=np.float64)
    if isinstance(step, MinMaxScaler) and not step.clip:
        return np.asarray(step.scale_, dtype=np.float64)
    if isinstance(step, FunctionTransformer) and step.func is None:
        return np.ones(width)
    if isinstance(step, SimpleImputer) and not step.add_indicator:
        # An all-missing column is dropped by the imputer, which would shift the positions.
        return None if pd.isna(step.statistics_).any() else np.ones(width)
    return None


def _through_columns(
    transformer: ColumnTransformer, layout: dict[int, dict[int, float]], width: int
) -> tuple[dict[int, dict[int, float]], int] | None:
    """Follow ``layout`` through a ColumnTransformer whose numeric parts are per-column affine."""
    if getattr(transformer, "n_features_in_", None) != width:
        return None
    names = [str(name) for name in getattr(transformer, "feature_names_in_", [])]
    slices = transformer.output_indices_
    moved: dict[int, dict[int, float]] = {j: {} for j in layout}

    for name, step, selection in transformer.transformers_:
        positions = _positions(selection, names, width)
        if positions is None:
            return None
        where = {p: k for k, p in enumerate(positions)}
        touched = any(p in where for reached in layout.values() for p in reached)
        if not touched or (isinstance(step, str) and step == "drop"):
            continue

        factors = _multipliers(step, len(positions))
        out = slices.get(name)
        if factors is None or out is None or out.stop - out.start != len(positions):
            return None
        for j, reached in layout.items():
            for p, m in reached.items():
                if p in where:
                    target = out.start + where[p]
                    moved[j][target] = moved[j].get(target, 0.0) + m * factors[where[p]]

    return moved, sum(s.stop - s.start for s in slices.values())


def _positions(selection: Any, names: list[str], width: int) -> list[int] | None:
    """Return the input positions a fitted ColumnTransformer entry reads, else ``None``."""
    if isinstance(selection, str):
        selection = [selection]
    if isinstance(selection, slice):
        if isinstance(selection.start, str) or isinstance(selection.stop, str):
            return None
        return list(range(width))[selection]
    chosen = np.asarray(selection)
    if chosen.dtype == bool:
        return np.flatnonzero(chosen).tolist() if len(chosen) == width else None

    positions = []
    for item in chosen.tolist():
        if isinstance(item, str) and item in names:
            positions.append(names.index(item))
        elif isinstance(item, int) and -width <= item < width:
            positions.append(item % width)
        else:
            return None
    return positions


def _confirmed(
    model: Any, frame: pd.DataFrame, columns: Sequence[str], weights: np.ndarray
) -> bool:
    """Check ``weights`` and the link on a few complete rows before trusting them.

    Each column of the probe rows is moved by one unit of its spread; the change of the
    decision function must equal the weight, and ``predict_proba`` (where it exists) must be
    the logistic or softmax of the decision function.
    """
    complete = frame[list(columns)].notna().all(axis=1).to_numpy()
    probe = frame[complete].iloc[:_PROBE_ROWS]
    if probe.empty:
        return False
    m, k = len(probe), len(columns)
    values = _numeric_values(probe, columns)
    steps = np.maximum(np.abs(values).max(axis=0), 1.0)

    stacked = np.tile(values, (k + 1, 1))
    for j in range(k):
        stacked[(j + 1) * m : (j + 2) * m, j] += steps[j]
    shifted = _replace(pd.concat([probe] * (k + 1), ignore_index=True), columns, stacked)
    decision = np.asarray(model.decision_function(shifted), dtype=np.float64)
    decision = decision.reshape(k + 1, m, -1)

    slopes = (decision[1:] - decision[0]) / steps[:, None, None]
    expected = weights.T[:, None, :]
    scale = max(1.0, float(np.abs(decision).max()))
    if not np.allclose(slopes, expected, rtol=_PROBE_RTOL, atol=_PROBE_RTOL * scale):
        return False
    if not hasattr(model, "predict_proba"):
        return True
    proba = np.asarray(model.predict_proba(probe), dtype=np.float64)
    link = _link(decision[0][:, 0] if decision.shape[2] == 1 else decision[0])
    return proba.shape == link.shape and bool(np.allclose(proba, link, rtol=1e-9, atol=1e-12))


def _flat_gradient_findings(gradient: np.ndarray, method: str) -> list[Finding]:
    if method != FINITE_DIFFERENCE or len(gradient) == 0:
        return []
    flat = float(np.mean(~np.any(gradient != 0, axis=1)))
    if flat <= _FLAT_GRADIENT_SHARE:
        return []
    message = (
        f"the finite-difference gradient is zero on {flat:.0%} of rows (a piecewise-constant "
        f"model, such as a tree ensemble); FGSM cannot move those rows, so the curve overstates "
        f"robustness; rely on the noise results or raise finite_difference_step"
    )
    return [Finding("warn", message, "fgsm.gradient", flat)]


# --- results --------------------------------------------------------------------------------


def _metrics(
    n_rows: int,
    plan: _Plan,
    noise: list[dict[str, Any]],
    swaps: list[dict[str, Any]],
    fgsm: list[dict[str, Any]],
    method: str | None,
    judged_eps: float,
) -> dict[str, float | int | str | None]:
    metrics: dict[str, float | int | str | None] = {
        "n_rows": n_rows,
        "n_numeric_perturbed": len(plan.numeric),
        "n_categorical": len(plan.categorical),
    }
    for row in noise:
        for name in ("flip_share", "max_score_change", "mean_score_change"):
            metrics[f"noise.{row['scale']:g}.{name}"] = row[name]

    swapped = sum(row["rows"] for row in swaps)
    flipped = sum(row["flip_share"] * row["rows"] for row in swaps)
    changes = [row["max_score_change"] for row in swaps if row["max_score_change"] is not None]
    metrics["categorical_swap.flip_share"] = flipped / swapped if swapped else None
    metrics["categorical_swap.max_score_change"] = max(changes) if changes else None

    for row in fgsm:
        metrics[f"fgsm.{row['eps']:g}.accuracy"] = row["accuracy"]
    judged = [row["accuracy_drop"] for row in fgsm if row["eps"] == judged_eps]
    metrics["fgsm.accuracy_drop"] = judged[0] if judged else None
    metrics["fgsm.gradient"] = method
    return metrics


def _plan_findings(plan: _Plan, no_scores: bool) -> list[Finding]:
    findings = []
    if plan.constant:
        message = (
            f"{len(plan.constant)} numeric feature(s) have no spread (standard deviation 0 or "
            f"undefined) and are not perturbed: {_names(plan.constant)}"
        )
        findings.append(Finding("info", message, "features", len(plan.constant)))
    if plan.categorical:
        message = (
            f"FGSM perturbs numeric features only; {len(plan.categorical)} categorical "
            f"feature(s) keep their values in the attack: {_names(plan.categorical)}"
        )
        findings.append(Finding("info", message, "fgsm", len(plan.categorical)))
    if no_scores:
        message = "the model has no predict_proba; score changes are not measured, flips are"
        findings.append(Finding("info", message, "noise"))
    return findings


def _noise_findings(noise: list[dict[str, Any]], limits: Mapping[str, float]) -> list[Finding]:
    if not noise:
        message = "no numeric feature varies, so the noise test has nothing to perturb"
        return [Finding("warn", message, "noise")]
    small = noise[0]
    share, limit = small["flip_share"], limits["max_flip_share_small"]
    subject = f"noise.{small['scale']:g}.flip_share"
    text = (
        f"noise of {small['scale']:g} standard deviations flips {share:.1%} of predictions "
        f"({small['rows']} rows)"
    )
    if share > limit:
        return [Finding("fail", f"{text}; above the limit {limit:g}", subject, share)]
    if share > limit / 2:
        return [Finding("warn", f"{text}; above half the limit {limit:g}", subject, share)]
    return []


def _swap_findings(swaps: list[dict[str, Any]]) -> list[Finding]:
    if not swaps:
        return []
    top = max(swaps, key=lambda row: row["flip_share"])
    message = (
        f"swapping the level of '{top['feature']}' in {top['rows']} row(s) flips "
        f"{top['flip_share']:.1%} of them, the most of any categorical feature (reported, "
        f"not judged)"
    )
    return [Finding("info", message, top["feature"], top["flip_share"])]


def _fgsm_findings(
    metrics: Mapping[str, float | int | str | None], limits: Mapping[str, float]
) -> list[Finding]:
    eps, limit = limits["fgsm_eps"], limits["max_fgsm_accuracy_drop"]
    drop = metrics["fgsm.accuracy_drop"]
    if not isinstance(drop, float) or drop <= limit:
        return []
    clean, attacked = metrics["fgsm.0.accuracy"], metrics[f"fgsm.{eps:g}.accuracy"]
    message = (
        f"FGSM at eps {eps:g} standard deviations lowers accuracy from {clean:.3f} to "
        f"{attacked:.3f} (drop {drop:.3f} > {limit:g})"
    )
    return [Finding("fail", message, "fgsm.accuracy_drop", drop)]


def _summary(metrics: Mapping[str, Any], limits: Mapping[str, float]) -> str:
    small, eps = limits["noise_scale_small"], limits["fgsm_eps"]
    flips = metrics.get(f"noise.{small:g}.flip_share")
    noise = "noise not applied" if flips is None else f"{flips:.1%} flipped at noise {small:g}"
    drop = metrics.get("fgsm.accuracy_drop")
    if drop is None:
        return f"{noise}; FGSM not computed"
    return (
        f"{noise}; FGSM accuracy {metrics['fgsm.0.accuracy']:.3f} -> "
        f"{metrics[f'fgsm.{eps:g}.accuracy']:.3f} at eps {eps:g} "
        f"({metrics['fgsm.gradient']} gradient)"
    )


def _figures(
    noise: list[dict[str, Any]], fgsm: list[dict[str, Any]], limits: Mapping[str, float]
) -> list[Figure]:
    figures = []
    if fgsm:
        eps = [row["eps"] for row in fgsm]
        accuracy = [row["accuracy"] for row in fgsm]
        figures.append(
            Figure(
                name="fgsm_accuracy",
                title="Accuracy under the Fast Gradient Sign Method",
                kind="line",
                x_label="eps (standard deviations)",
                y_label="accuracy",
                series=[Series("accuracy", eps, accuracy)],
                threshold=fgsm[0]["accuracy"] - limits["max_fgsm_accuracy_drop"],
            )
        )
    if noise:
        scales = [row["scale"] for row in noise]
        shares = [row["flip_share"] for row in noise]
        figures.append(
            Figure(
                name="noise_flip_share",
                title="Share of flipped predictions under Gaussian noise (limit: smallest scale)",
                kind="line",
                x_label="noise scale (standard deviations)",
                y_label="share of rows flipped",
                series=[Series("flip share", scales, shares)],
                threshold=limits["max_flip_share_small"],
            )
        )
    return figures


def _feature_table(plan: _Plan) -> list[dict[str, Any]]:
    table: list[dict[str, Any]] = [
        {"feature": str(c), "kind": "numeric", "std": float(s), "noise": True, "fgsm": True}
        for c, s in zip(plan.numeric, plan.std, strict=True)
    ]
    table += [
        {"feature": str(c), "kind": "numeric", "std": 0.0, "noise": False, "fgsm": False}
        for c in plan.constant
    ]
    table += [
        {"feature": str(c), "kind": "categorical", "std": None, "noise": True, "fgsm": False}
        for c in plan.categorical
    ]
    return table


def _names(columns: Sequence[Any], limit: int = 10) -> str:
    shown = ", ".join(str(c) for c in columns[:limit])
    return shown if len(columns) <= limit else f"{shown} and {len(columns) - limit} more"


SPEC = CheckSpec(
    name="robustness",
    title="Robustness to noise and adversarial perturbation",
    function=check_robustness,
    needs_model=True,
    needs_reference=False,
    defaults=DEFAULTS,
    description=(
        "Gaussian noise on numeric features (0.01, 0.05, 0.1 standard deviations) and level "
        "swaps on categorical ones: share of flipped predictions and change of the "
        "positive-class probability; and the Fast Gradient Sign Method on numeric features "
        "(analytic gradient for linear models, finite differences otherwise): accuracy against "
        "eps. Fails when noise at the smallest scale flips more than max_flip_share_small of "
        "the predictions, or FGSM at fgsm_eps lowers accuracy by more than "
        "max_fgsm_accuracy_drop."
    ),
)
