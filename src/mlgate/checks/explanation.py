"""Explanation: which raw input columns the model relies on, how, and whether they are sensitive.

The check ``explanation`` looks at a fitted classifier from the outside, through the columns a
person declared (the raw frame, before any one-hot encoding inside the model), so that every
number is about a column the business knows. What it computes, on a deterministic sample of at
most ``max_rows`` rows of the hold-out frame (or of ``data`` when there is no hold-out):

- **permutation importance** per raw column: the drop in score when that one column is shuffled,
  averaged over ``n_repeats`` shuffles. The score is the ROC AUC of the ``positive_label``
  probability for a binary target and a model with ``predict_proba``, else accuracy. The shuffles
  are drawn exactly as :func:`sklearn.inspection.permutation_importance` draws them for the same
  ``random_state`` (``CheckInput.seed``), so both give the same numbers on the same columns; an
  importance's *share* is its positive part over the sum of all positive parts;
- **SHAP values** when the optional ``shap`` package is installed and the model's last step is
  linear (``LinearExplainer``, interventional, the sample as background) or a tree ensemble
  (``TreeExplainer``, path dependent). They are computed on the matrix the preprocessing steps
  produce and summed back per raw column through the ``ColumnTransformer``'s output names; the
  mean absolute value per raw column is reported beside the permutation importance;
- **effect curves** (partial dependence) for the six most important columns: the average
  positive-class probability when every row gets the same value, over up to 20 quantiles of a
  numeric column or its 20 most frequent levels;
- **sensitive use**: a declared sensitive attribute that is a model feature is a warning, and a
  failure once its importance share reaches ``max_sensitive_importance_share``. An important
  feature (share at least ``min_proxy_importance_share``) that is strongly associated with a
  sensitive attribute present in the data is a likely *proxy* (a warning). The association is the
  bias-corrected Cramér's V for two categorical columns, the correlation ratio for a numeric
  column against a categorical one, and Cramér's V of quantile bins for two numeric columns;
- **concentration**: one feature with ``max_single_feature_share`` of the importance or more is a
  warning to look for target leakage.

Numeric columns with at most ten distinct values count as categorical for the association, so a
0/1-coded sex is compared level by level. A column whose name looks like an identifier gets no
effect curve, since the curve would show its values.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import Pipeline

from mlgate.checks.base import (
    CheckInput,
    CheckResult,
    CheckSpec,
    Figure,
    Finding,
    Series,
    finite_or_none,
    worst,
)
from mlgate.checks.eda import (
    MAX_ASSOCIATION_LEVELS,
    TOP_LEVELS,
    cramers_v,
    deterministic_sample,
    looks_like_identifier,
)
from mlgate.checks.model_quality import feature_columns, positive_class_scores
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, float] = {
    "n_repeats": 5,
    "max_rows": 5000,
    "max_sensitive_importance_share": 0.05,
    "min_proxy_importance_share": 0.05,
    "proxy_association": 0.5,
    "max_single_feature_share": 0.5,
    "shap_max_rows": 1000,
}
SHARE_KEYS = (
    "max_sensitive_importance_share",
    "min_proxy_importance_share",
    "proxy_association",
    "max_single_feature_share",
)
GRID_POINTS = 20
TOP_EFFECTS = 6
TOP_BARS = 15
EFFECT_ROWS = 1000  # rows averaged per grid point; the curve is a mean, so 1,000 rows suffice
ASSOCIATION_BINS = 10
CATEGORICAL_DISTINCT = 10  # a numeric column with this many values or fewer counts as levels

Metrics = dict[str, float | int | str | None]


@dataclasses.dataclass(frozen=True)
class Importance:
    """Permutation importance: the baseline score and the decrease per column and repeat."""

    scoring: str
    baseline: float
    decreases: pd.DataFrame  # one row per raw column, one column per repeat

    @property
    def mean(self) -> pd.Series:
        """Mean decrease in score per column, over the repeats."""
        return self.decreases.mean(axis=1)

    @property
    def std(self) -> pd.Series:
        """Standard deviation of the decrease per column (population, as scikit-learn)."""
        return self.decreases.std(axis=1, ddof=0)


@dataclasses.dataclass(frozen=True)
class ShapValues:
    """SHAP values per row and raw column, with the explainer's base value and kind."""

    values: pd.DataFrame
    base_value: float
    explainer: str


def check_explanation(inp: CheckInput, thresholds: Mapping[str, float]) -> CheckResult:
    """Explain the model globally and per feature, and flag sensitive features and proxies."""
    limits = _limits(thresholds)
    model = _require_classifier(inp)
    frame = inp.holdout if inp.holdout is not None else inp.data
    features = _model_features(inp, frame)
    sample = deterministic_sample(_checked_rows(inp, frame), int(limits["max_rows"]), inp.seed)
    x, y = sample[features], sample[inp.target]

    importance = permutation_importance(
        model, x, y, inp.positive_label, int(limits["n_repeats"]), inp.seed
    )
    shares = importance_shares(importance.mean)
    logger.info(
        "explanation: %d features, %d rows, %d repeats, %s baseline %.4f",
        len(features),
        len(x),
        int(limits["n_repeats"]),
        importance.scoring,
        importance.baseline,
    )

    findings: list[Finding] = []
    if len(sample) < len(frame):
        findings.append(Finding("info", f"explained on a sample of {len(sample):,} rows"))
    shap_result = _shap_part(model, x, inp, int(limits["shap_max_rows"]), findings)
    proxies = proxy_table(sample, features, shares, inp.sensitive, limits)
    findings += _sensitive_findings(sample, features, shares, inp.sensitive, limits)
    findings += _proxy_findings(proxies)
    findings += _concentration_findings(shares, limits)

    ranked = list(importance.mean.sort_values(ascending=False, kind="stable").index)
    effects = _effect_figures(model, x, ranked[:TOP_EFFECTS], inp, findings)
    used = [s for s in inp.sensitive if s in features]
    return CheckResult(
        check="explanation",
        status=worst([f.severity for f in findings if f.severity != "info"]),
        summary=_summary(importance, shares, ranked, len(used), proxies),
        metrics=_metrics(importance, shares, ranked, proxies, shap_result, len(x)),
        findings=findings,
        figures=[_importance_figure(importance, ranked), *_shap_figure(shap_result), *effects],
        tables={
            "importance": _importance_table(importance, shares, ranked, shap_result),
            "proxies": proxies,
        },
    )


# --- inputs -----------------------------------------------------------------------------------


def _limits(thresholds: Mapping[str, float]) -> dict[str, float]:
    limits = {**DEFAULTS, **thresholds}
    for key, low in (("n_repeats", 1), ("max_rows", 1), ("shap_max_rows", 0)):
        value = limits[key]
        if not float(value).is_integer() or value < low:
            raise ValidationError(f"{key} must be a whole number >= {low}; got {value}")
    for key in SHARE_KEYS:
        if not 0 <= limits[key] <= 1:
            raise ValidationError(f"{key} must be in [0, 1]; got {limits[key]}")
    return limits


def _require_classifier(inp: CheckInput) -> Any:
    model = inp.model
    if model is None:
        raise ValidationError("explanation needs a fitted model (CheckInput.model); got None")
    if not hasattr(model, "predict_proba") and not hasattr(model, "classes_"):
        raise ValidationError(
            f"explanation needs a fitted classifier (with classes_ or predict_proba); got "
            f"{type(model).__name__}"
        )
    return model


def _model_features(inp: CheckInput, frame: pd.DataFrame) -> list[str]:
    """The declared features; else the columns the model was fitted on; else all but the target.

    Reading ``feature_names_in_`` keeps a column the model never saw (a sensitive attribute kept
    in the data for fairness checks) from being reported as a feature.
    """
    fitted = getattr(inp.model, "feature_names_in_", None)
    if not inp.features and fitted is not None:
        inp = dataclasses.replace(inp, features=[str(c) for c in fitted])
    features = feature_columns(inp, frame)
    if not features:
        raise ValidationError("explanation needs at least one feature column; the data has none")
    return features


def _checked_rows(inp: CheckInput, frame: pd.DataFrame) -> pd.DataFrame:
    if inp.target is None or inp.target not in frame.columns:
        raise ValidationError(
            f"the target column {inp.target!r} is not in the data; set CheckInput.target"
        )
    n_missing = int(frame[inp.target].isna().sum())
    if n_missing:
        raise ValidationError(
            f"the target '{inp.target}' has {n_missing} missing value(s); expected none"
        )
    if len(frame) < 2:
        raise ValidationError(f"explanation needs at least 2 rows; got {len(frame)}")
    return frame


# --- permutation importance -------------------------------------------------------------------


def permutation_importance(
    model: Any,
    x: pd.DataFrame,
    y: pd.Series,
    positive_label: Any = 1,
    n_repeats: int = 5,
    seed: int = 0,
) -> Importance:
    """Shuffle one raw column of ``x`` at a time and record how much the score drops.

    The score is the ROC AUC of the ``positive_label`` probability when ``y`` has two classes
    and the model has ``predict_proba``, else accuracy. The shuffles reproduce scikit-learn's:
    one seed is drawn from ``RandomState(seed)``, and for every column a fresh ``RandomState``
    of that seed shuffles one index array ``n_repeats`` times in place, each shuffle applied to
    the column as the previous repeat left it. Every column thus sees the same permutations.
    """
    scoring, score = _scorer(model, y, positive_label)
    baseline = score(x)
    column_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)

    decreases = {}
    for column in x.columns:
        rng = np.random.RandomState(column_seed)
        order = np.arange(len(x))
        permuted = x.copy()
        scores = []
        for _ in range(n_repeats):
            rng.shuffle(order)
            shuffled = permuted[column].iloc[order]
            permuted[column] = shuffled.set_axis(permuted.index)
            scores.append(score(permuted))
        decreases[column] = baseline - np.asarray(scores)

    frame = pd.DataFrame.from_dict(decreases, orient="index")
    return Importance(scoring, baseline, frame.set_axis(range(1, n_repeats + 1), axis=1))


def _scorer(model: Any, y: pd.Series, positive_label: Any) -> tuple[str, Any]:
    classes = list(pd.unique(y))
    if len(classes) == 2 and hasattr(model, "predict_proba"):
        truth = (y == positive_label).to_numpy()

        def auc(x: pd.DataFrame) -> float:
            scores = positive_class_scores(model, x, positive_label, classes)
            return float(roc_auc_score(truth, scores))

        return "roc_auc", auc

    def accuracy(x: pd.DataFrame) -> float:
        return float(accuracy_score(y, model.predict(x)))

    return "accuracy", accuracy


def importance_shares(mean: pd.Series) -> pd.Series:
    """Each column's positive importance over the sum of positive importances.

    A negative mean (shuffling helped, by chance) counts as zero. When no column has a positive
    importance the shares are undefined and come back as NaN, which the check reports as None.
    """
    positive = mean.clip(lower=0.0)
    total = float(positive.sum())
    if total <= 0:
        return pd.Series(np.nan, index=mean.index)
    return positive / total


# --- SHAP -------------------------------------------------------------------------------------


def shap_values(
    estimator: Any, background: np.ndarray, rows: np.ndarray, positive_label: Any = 1
) -> tuple[np.ndarray, float, str] | None:
    """SHAP values of ``rows`` for a linear or tree ``estimator`` on its own input matrix.

    Linear models get ``shap.LinearExplainer`` with an independent (interventional) masker over
    all of ``background``; tree ensembles get ``shap.TreeExplainer`` (path dependent). For a
    binary classifier the values explain the margin of ``positive_label``. Returns ``(values,
    base value, explainer kind)``, or ``None`` when shap is not installed or the estimator is
    neither linear nor a tree ensemble.
    """
    shap = _import_shap()
    kind = _explainer_kind(estimator)
    if shap is None or kind is None:
        return None

    if kind == "linear":
        coef = np.asarray(estimator.coef_, dtype=np.float64)
        if coef.ndim == 2 and coef.shape[0] != 1:
            return None  # one margin per class: a multi-class model, not explained here
        intercept = float(np.ravel(estimator.intercept_)[0])
        masker = shap.maskers.Independent(background, max_samples=len(background))
        explainer = shap.LinearExplainer((coef.ravel(), intercept), masker)
    else:
        explainer = shap.TreeExplainer(estimator)
    values = np.asarray(explainer.shap_values(rows), dtype=np.float64)
    base = np.ravel(np.asarray(explainer.expected_value, dtype=np.float64))
    values, base_value = _positive_output(estimator, values, base, positive_label)
    return values, base_value, kind


def _positive_output(
    estimator: Any, values: np.ndarray, base: np.ndarray, positive_label: Any
) -> tuple[np.ndarray, float]:
    """Pick the output that explains ``positive_label`` (or flip the sign of a binary margin)."""
    classes = list(getattr(estimator, "classes_", []))
    index = classes.index(positive_label) if positive_label in classes else len(classes) - 1
    if values.ndim == 3:
        return values[:, :, index], float(base[index])
    if len(classes) == 2 and index == 0:
        return -values, -float(base[0])
    return values, float(base[0])


def raw_shap_values(model: Any, x: pd.DataFrame, positive_label: Any = 1) -> ShapValues | None:
    """SHAP values of a fitted model per raw column of ``x`` (``x`` is also the background).

    The preprocessing steps of a :class:`~sklearn.pipeline.Pipeline` transform ``x``; the last
    step is explained on that matrix, and the values of the one-hot (or otherwise derived)
    columns are summed per raw column they came from, which keeps SHAP's additivity. Returns
    ``None`` when shap is missing, the last step is not linear or tree based, or an output
    column cannot be traced to exactly one raw column.
    """
    if isinstance(model, Pipeline):
        preprocess, estimator = model[:-1], model[-1]
    else:
        preprocess, estimator = None, model
    if _explainer_kind(estimator) is None:
        return None
    origin = _raw_origin(preprocess, list(x.columns))
    if origin is None:
        return None

    matrix = x if preprocess is None else preprocess.transform(x)
    matrix = matrix.toarray() if hasattr(matrix, "toarray") else matrix
    matrix = np.asarray(matrix, dtype=np.float64)
    explained = shap_values(estimator, matrix, matrix, positive_label)
    if explained is None:
        return None

    values, base, kind = explained
    columns = list(x.columns)
    mapping = np.zeros((len(origin), len(columns)))
    mapping[np.arange(len(origin)), [columns.index(c) for c in origin]] = 1.0
    raw = pd.DataFrame(values @ mapping, index=x.index, columns=columns)
    return ShapValues(raw, base, kind)


def _shap_installed() -> bool:
    return importlib.util.find_spec("shap") is not None


def _import_shap() -> Any:
    if not _shap_installed():
        return None
    # shap's plotting module trips a matplotlib deprecation warning at import; it concerns
    # colour maps we never draw, so it is silenced for the import only.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import shap
    return shap


def _explainer_kind(estimator: Any) -> str | None:
    if hasattr(estimator, "coef_") and hasattr(estimator, "intercept_"):
        return "linear"
    if hasattr(estimator, "tree_"):
        return "tree"
    members = np.ravel(np.asarray(getattr(estimator, "estimators_", []), dtype=object))
    if members.size and all(hasattr(m, "tree_") for m in members):
        return "tree"
    if type(estimator).__module__.split(".")[0] in {"xgboost", "lightgbm", "catboost"}:
        return "tree"
    return None


def _raw_origin(preprocess: Any, columns: list[str]) -> list[str] | None:
    """The raw column each output column of ``preprocess`` comes from; ``None`` if not traceable.

    Without preprocessing the raw columns are the model's inputs. Otherwise the first step must
    be a ``ColumnTransformer`` (its output names are traced through its transformers) or keep
    the column names; later steps must keep the names they are given (a scaler, an imputer).
    """
    if preprocess is None:
        return list(columns)
    names = [str(n) for n in preprocess.get_feature_names_out(columns)]
    first = preprocess[0]
    known = {c: c for c in columns}
    if isinstance(first, ColumnTransformer):
        known.update(_column_transformer_origin(first))
    origin = [known.get(n) for n in names]
    return None if any(o is None for o in origin) else origin  # type: ignore[return-value]


def _column_transformer_origin(transformer: ColumnTransformer) -> dict[str, str]:
    names = [str(n) for n in transformer.get_feature_names_out()]
    inputs = [str(c) for c in transformer.feature_names_in_]
    origin: dict[str, str] = {}
    for name, _, selection in transformer.transformers_:
        block = transformer.output_indices_.get(name, slice(0, 0))
        sources = _selected(selection, inputs)
        if sources is None:
            continue
        prefix = f"{name}__"
        for output in names[block]:
            stem = output[len(prefix) :] if output.startswith(prefix) else output
            source = _source_of(stem, sources)
            if source is not None:
                origin[output] = source
    return origin


def _selected(selection: Any, inputs: list[str]) -> list[str] | None:
    if isinstance(selection, str):
        return [selection]
    values = list(np.ravel(np.asarray(selection, dtype=object)))
    if values and all(isinstance(v, bool | np.bool_) for v in values):
        return [c for c, keep in zip(inputs, values, strict=True) if keep]
    if all(isinstance(v, int | np.integer) for v in values):
        return [inputs[int(v)] for v in values]
    if all(isinstance(v, str) for v in values):
        return values
    return None  # a callable or slice selector: left untraced, so SHAP is skipped


def _source_of(stem: str, sources: list[str]) -> str | None:
    if len(sources) == 1:
        return sources[0]
    matches = [s for s in sources if stem == s or stem.startswith(f"{s}_")]
    return max(matches, key=len) if matches else None


def _shap_part(
    model: Any, x: pd.DataFrame, inp: CheckInput, max_rows: int, findings: list[Finding]
) -> ShapValues | None:
    if max_rows == 0:
        return None
    if not _shap_installed():
        findings.append(Finding("info", "shap is not installed; permutation importance only"))
        return None
    rows = deterministic_sample(x, max_rows, inp.seed)
    try:
        result = raw_shap_values(model, rows, inp.positive_label)
    except Exception as error:  # shap is optional: its failure must not hide the other evidence
        logger.warning("explanation: SHAP failed: %s", error)
        findings.append(Finding("info", f"SHAP values could not be computed: {error}"))
        return None
    if result is None:
        message = (
            "SHAP values need a binary linear model or a tree ensemble whose inputs trace back "
            "to the raw columns; permutation importance only"
        )
        findings.append(Finding("info", message))
    return result


# --- effect curves ----------------------------------------------------------------------------


def partial_dependence(
    model: Any, x: pd.DataFrame, column: str, grid: Sequence[Any], positive_label: Any = 1
) -> list[float]:
    """The average positive-class score when every row of ``x`` has ``column`` set to each value.

    The score is the probability of ``positive_label`` when the model has ``predict_proba``,
    else the share of rows predicted ``positive_label``.
    """
    if not len(grid):
        return []
    stacked = pd.concat([x] * len(grid), ignore_index=True)
    values = pd.Series(np.repeat(np.asarray(grid, dtype=object), len(x)))
    stacked[column] = values.astype(x[column].dtype)
    scores = _positive_scores(model, stacked, positive_label)
    return [float(v) for v in scores.reshape(len(grid), len(x)).mean(axis=1)]


def effect_grid(series: pd.Series) -> tuple[str, list[Any]]:
    """Up to 20 quantiles (observed values) of a numeric column, or its 20 most frequent levels."""
    present = series.dropna()
    if _is_numeric(series):
        ordered = np.sort(present.to_numpy())
        distinct = np.unique(ordered)
        if len(distinct) <= GRID_POINTS:
            return "numeric", distinct.tolist()
        positions = np.round(np.linspace(0, len(ordered) - 1, GRID_POINTS)).astype(int)
        return "numeric", np.unique(ordered[positions]).tolist()
    counts = present.astype(str).value_counts()
    levels = sorted(counts.index, key=lambda level: (-counts[level], level))[:TOP_LEVELS]
    by_text = {str(v): v for v in present.unique()}
    return "categorical", [by_text[level] for level in levels]


def _positive_scores(model: Any, x: pd.DataFrame, positive_label: Any) -> np.ndarray:
    if hasattr(model, "predict_proba"):
        return positive_class_scores(model, x, positive_label)
    return (np.asarray(model.predict(x)) == positive_label).astype(np.float64)


def _effect_figures(
    model: Any,
    x: pd.DataFrame,
    columns: Sequence[str],
    inp: CheckInput,
    findings: list[Finding],
) -> list[Figure]:
    positive_label = inp.positive_label
    rows = deterministic_sample(x, EFFECT_ROWS, inp.seed)
    word = (
        f"average P({positive_label})"
        if hasattr(model, "predict_proba")
        else f"share predicted {positive_label}"
    )
    figures = []
    for column in columns:
        if looks_like_identifier(column):
            message = f"no effect curve for '{column}': it looks like an identifier"
            findings.append(Finding("info", message, column))
            continue
        kind, grid = effect_grid(x[column])
        curve = partial_dependence(model, rows, column, grid, positive_label)
        labels = grid if kind == "numeric" else [str(v) for v in grid]
        figures.append(
            Figure(
                name=f"effect:{column}",
                title=f"Effect of {column} on the {word} (partial dependence)",
                kind="line" if kind == "numeric" else "bar",
                x_label=str(column),
                y_label=word,
                series=[Series(word, labels, [finite_or_none(v) for v in curve])],
            )
        )
    return figures


# --- sensitive use and proxies ----------------------------------------------------------------


def association(feature: pd.Series, sensitive: pd.Series) -> tuple[str, float | None]:
    """How strongly a feature and a sensitive attribute go together, from 0 to 1.

    Two categorical columns: bias-corrected Cramér's V. A numeric and a categorical column: the
    correlation ratio (the share of the numeric column's spread that the levels explain,
    square-rooted). Two numeric columns: Cramér's V of their ten quantile bins. Rows missing
    either value are left out; a column with more than 50 levels gives ``None``.
    """
    pair = pd.DataFrame({"f": feature.to_numpy(), "s": sensitive.to_numpy()}).dropna()
    f_levels, s_levels = _is_levels(pair["f"]), _is_levels(pair["s"])
    too_many = any(
        levels and pair[c].nunique() > MAX_ASSOCIATION_LEVELS
        for c, levels in (("f", f_levels), ("s", s_levels))
    )
    if f_levels and s_levels:
        return "Cramér's V", None if too_many else cramers_v(pair["f"], pair["s"])
    if f_levels or s_levels:
        levels, values = (pair["f"], pair["s"]) if f_levels else (pair["s"], pair["f"])
        return "correlation ratio", None if too_many else _correlation_ratio(levels, values)
    return "binned Cramér's V", cramers_v(_quantile_codes(pair["f"]), _quantile_codes(pair["s"]))


def proxy_table(
    frame: pd.DataFrame,
    features: Sequence[str],
    shares: pd.Series,
    sensitive: Sequence[str],
    limits: Mapping[str, float],
) -> list[dict[str, Any]]:
    """Every important non-sensitive feature against every sensitive attribute in ``frame``."""
    present = [s for s in sensitive if s in frame.columns]
    important = [
        f
        for f in features
        if f not in sensitive and _share(shares, f) >= limits["min_proxy_importance_share"]
    ]
    rows = []
    for feature in important:
        for attribute in present:
            measure, value = association(frame[feature], frame[attribute])
            rows.append(
                {
                    "feature": feature,
                    "sensitive": attribute,
                    "measure": measure,
                    "association": value,
                    "importance_share": _share(shares, feature),
                    "proxy": value is not None and value >= limits["proxy_association"],
                }
            )
    return sorted(rows, key=lambda r: (-(r["association"] or 0.0), r["feature"], r["sensitive"]))


def _sensitive_findings(
    frame: pd.DataFrame,
    features: Sequence[str],
    shares: pd.Series,
    sensitive: Sequence[str],
    limits: Mapping[str, float],
) -> list[Finding]:
    findings = []
    limit = limits["max_sensitive_importance_share"]
    for attribute in sensitive:
        if attribute in features:
            share = finite_or_none(shares[attribute])
            if share is not None and share >= limit:
                message = (
                    f"sensitive attribute '{attribute}' is a model feature carrying "
                    f"{share:.1%} of the importance (limit {limit:.1%})"
                )
                findings.append(Finding("fail", message, attribute, share))
            else:
                carried = "an undefined" if share is None else f"{share:.1%} of the"
                message = (
                    f"sensitive attribute '{attribute}' is a model feature ({carried} "
                    f"importance); justify its use or remove it"
                )
                findings.append(Finding("warn", message, attribute, share))
        elif attribute not in frame.columns:
            message = f"sensitive attribute '{attribute}' is not in the data; proxies unchecked"
            findings.append(Finding("info", message, attribute))
    return findings


def _proxy_findings(proxies: Sequence[Mapping[str, Any]]) -> list[Finding]:
    findings = []
    for row in proxies:
        if row["proxy"]:
            message = (
                f"feature '{row['feature']}' is a likely proxy of '{row['sensitive']}' "
                f"({row['measure']} {row['association']:.2f}; "
                f"{row['importance_share']:.1%} of the importance)"
            )
            findings.append(Finding("warn", message, row["feature"], row["association"]))
    return findings


def _concentration_findings(shares: pd.Series, limits: Mapping[str, float]) -> list[Finding]:
    if shares.isna().all():
        message = (
            "shuffling any single feature never lowers the score; importance shares are "
            "undefined and sensitive use cannot be judged by importance"
        )
        return [Finding("warn", message)]
    top = str(shares.idxmax())
    share = float(shares[top])
    if share < limits["max_single_feature_share"]:
        return []
    message = (
        f"feature '{top}' carries {share:.1%} of the importance (>= "
        f"{limits['max_single_feature_share']:.0%}); check for leakage"
    )
    return [Finding("warn", message, top, share)]


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
        series.dtype
    )


def _is_levels(series: pd.Series) -> bool:
    return not _is_numeric(series) or series.nunique() <= CATEGORICAL_DISTINCT


def _correlation_ratio(levels: pd.Series, values: pd.Series) -> float | None:
    y = values.to_numpy(dtype=np.float64)
    codes, _ = pd.factorize(levels)
    if y.size < 2:
        return None
    total = float(((y - y.mean()) ** 2).sum())
    if total == 0:
        return None
    sums, sizes = np.bincount(codes, weights=y), np.bincount(codes)
    between = float((sizes * (sums / sizes - y.mean()) ** 2).sum())
    return finite_or_none(math.sqrt(min(1.0, between / total)))


def _quantile_codes(series: pd.Series) -> np.ndarray:
    x = series.to_numpy(dtype=np.float64)
    edges = np.unique(np.quantile(x, np.linspace(0, 1, ASSOCIATION_BINS + 1)))
    if len(edges) < 2:
        return np.zeros(len(x), dtype=np.int64)
    return np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)


# --- assembling the result --------------------------------------------------------------------


def _metrics(
    importance: Importance,
    shares: pd.Series,
    ranked: Sequence[str],
    proxies: Sequence[Mapping[str, Any]],
    shap_result: ShapValues | None,
    n_rows: int,
) -> Metrics:
    top = ranked[0]
    metrics: Metrics = {
        "scoring": importance.scoring,
        "baseline_score": finite_or_none(importance.baseline),
        "n_rows": n_rows,
        "n_repeats": importance.decreases.shape[1],
        "top_feature": top,
        "top_feature_share": finite_or_none(shares[top]),
        "proxies": sum(bool(r["proxy"]) for r in proxies),
        "shap_explainer": shap_result.explainer if shap_result is not None else "none",
    }
    for feature in ranked:
        metrics[f"importance.{feature}"] = finite_or_none(importance.mean[feature])
        metrics[f"importance_share.{feature}"] = finite_or_none(shares[feature])
    if shap_result is not None:
        for feature, value in shap_result.values.abs().mean().items():
            metrics[f"shap_importance.{feature}"] = finite_or_none(value)
    return metrics


def _importance_table(
    importance: Importance,
    shares: pd.Series,
    ranked: Sequence[str],
    shap_result: ShapValues | None,
) -> list[dict[str, Any]]:
    shap_mean = shap_result.values.abs().mean() if shap_result is not None else None
    return [
        {
            "rank": rank,
            "feature": feature,
            "mean": finite_or_none(importance.mean[feature]),
            "std": finite_or_none(importance.std[feature]),
            "share": finite_or_none(shares[feature]),
            "shap_mean_abs": None if shap_mean is None else finite_or_none(shap_mean[feature]),
        }
        for rank, feature in enumerate(ranked, start=1)
    ]


def _importance_figure(importance: Importance, ranked: Sequence[str]) -> Figure:
    top = list(ranked[:TOP_BARS])
    word = "ROC AUC" if importance.scoring == "roc_auc" else "accuracy"
    return Figure(
        name="importance",
        title=f"Permutation importance: decrease in {word} when a column is shuffled",
        kind="bar",
        x_label="feature",
        y_label=f"decrease in {word}",
        series=[Series("mean decrease", top, [finite_or_none(importance.mean[f]) for f in top])],
    )


def _shap_figure(shap_result: ShapValues | None) -> list[Figure]:
    if shap_result is None:
        return []
    means = shap_result.values.abs().mean().sort_values(ascending=False, kind="stable")
    top = list(means.index[:TOP_BARS])
    return [
        Figure(
            name="shap_importance",
            title=f"Mean absolute SHAP value per column ({shap_result.explainer} explainer)",
            kind="bar",
            x_label="feature",
            y_label="mean |SHAP value|",
            series=[Series("mean |SHAP|", top, [finite_or_none(means[f]) for f in top])],
        )
    ]


def _summary(
    importance: Importance,
    shares: pd.Series,
    ranked: Sequence[str],
    n_used: int,
    proxies: Sequence[Mapping[str, Any]],
) -> str:
    top = ranked[0]
    share = finite_or_none(shares[top])
    carried = "" if share is None else f", {share:.0%} of the importance"
    text = (
        f"top feature {top} ({importance.scoring} drop {importance.mean[top]:.3f}{carried}) "
        f"of {len(ranked)}"
    )
    n_proxies = sum(bool(r["proxy"]) for r in proxies)
    return f"{text}; {n_used} sensitive feature(s) used, {n_proxies} likely prox(ies)"


def _share(shares: pd.Series, feature: str) -> float:
    value = shares.get(feature)
    return 0.0 if value is None or not math.isfinite(float(value)) else float(value)


SPEC = CheckSpec(
    name="explanation",
    title="Explanation and sensitive feature use",
    function=check_explanation,
    needs_model=True,
    needs_reference=False,
    defaults=DEFAULTS,
    description=(
        "Permutation importance per raw input column (ROC AUC or accuracy drop, n_repeats "
        "shuffles on max_rows rows), SHAP values per raw column for linear and tree models when "
        "shap is installed, and partial-dependence curves for the top six columns. Fails when a "
        "sensitive attribute carries max_sensitive_importance_share of the importance, warns "
        "when it is a feature at all, when an important feature is a likely proxy of a "
        "sensitive attribute (association >= proxy_association), and when one feature carries "
        "max_single_feature_share or more (check for leakage)."
    ),
)
