"""A fitted classifier with a decision threshold per sensitive group, learnt by Fairlearn.

:class:`GroupThresholdClassifier` wraps a fitted binary classifier and Fairlearn's
``ThresholdOptimizer`` (``prefit=True``, ``predict_method="predict_proba"``). The optimiser
chooses, per group of the sensitive columns, a randomised mix of two thresholds on the base
model's probability of ``positive_label`` so that the fairness constraint holds on the fitting
data. The wrapper keeps only what that rule needs (per group: the two thresholds, their
weights, and Fairlearn's constant-prediction share) as plain numbers, so it is stored with skops
and its thresholds can be read by a reviewer.

How it predicts:

- it reads the sensitive columns from the input frame, next to the base model's features, so a
  model version made from it lists them in its signature and needs them at prediction time;
- ``predict_proba`` gives, per row, the probability that the randomised rule decides
  ``positive_label`` (Fairlearn's ``_pmf_predict``, computed from the stored rule). It is not a
  calibrated probability of the outcome, and within a group it takes few distinct values, so
  AUC-based checks (``cv_accuracy``, ``holdout_accuracy``, the ROC AUC behind ``explanation``)
  see a coarser ranking than the base model's and usually a lower AUC;
- ``predict`` draws the randomised decision. Fairlearn draws from one random stream per call,
  so a row's decision would depend on the rows scored with it and their order. Here each row's
  draw comes from a hash of its own values and ``random_state``, so the same row always gets
  the same decision, in any batch, in any order; the decisions follow the same probabilities.

Numeric sensitive columns with more than ten values are banded, with the cut points fixed at
fitting time (``bands``, else the age bands ``<25``, ``25-39``, ``40-59``, ``60+`` for a column
named like an age, else the training quartiles), so a single row is grouped as in training. A
group that was not seen when fitting is refused, never silently predicted negative.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.postprocessing import ThresholdOptimizer
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from mlgate.checks.base import column_kind
from mlgate.checks.fairness import AGE_CUTS, INTERSECTION, band_labels
from mlgate.checks.group_sizes import MAX_CATEGORIES, MISSING, looks_like_age
from mlgate.checks.model_quality import positive_class_scores
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

CONSTRAINTS = ("demographic_parity", "equalized_odds", "true_positive_rate_parity")
OPERATORS = (">", "<")
_UNIT = 2.0**-53  # turns the top 53 bits of a 64-bit hash into a float in [0, 1)


class GroupThresholdClassifier(ClassifierMixin, BaseEstimator):
    """Group-specific thresholds on a fitted binary classifier (Fairlearn ThresholdOptimizer).

    Parameters
    ----------
    estimator : fitted classifier
        The base model, with ``predict_proba`` and ``classes_``. If it is not fitted (a clone,
        as cross-validation makes), :meth:`fit` fits a copy of it on the features first.
    features : sequence of str, optional
        The base model's input columns; by default its ``feature_names_in_``.
    sensitive_columns : sequence of str
        The columns whose groups get their own thresholds (their combinations when several).
    constraint : {"demographic_parity", "equalized_odds", "true_positive_rate_parity"}
        The Fairlearn constraint to satisfy on the fitting data.
    objective : str
        What Fairlearn maximises under the constraint (``accuracy_score`` or
        ``balanced_accuracy_score``).
    positive_label : object
        The favourable class of the target.
    bands : mapping of str to list of float, optional
        Cut points for numeric sensitive columns.
    grid_size : int
        Fairlearn's number of threshold candidates.
    random_state : int
        Seed of the per-row draws of :meth:`predict` (a whole number >= 0).
    parent_version : int, optional
        The registered model version the base estimator is, for the record.
    description : str
        What this model is, for the record (for instance where it was mitigated from).
    """

    def __init__(
        self,
        estimator: Any = None,
        *,
        features: Sequence[str] | None = None,
        sensitive_columns: Sequence[str] = (),
        constraint: str = "equalized_odds",
        objective: str = "accuracy_score",
        positive_label: Any = 1,
        bands: Mapping[str, Sequence[float]] | None = None,
        grid_size: int = 1000,
        random_state: int = 0,
        parent_version: int | None = None,
        description: str = "",
    ) -> None:
        self.estimator = estimator
        self.features = features
        self.sensitive_columns = sensitive_columns
        self.constraint = constraint
        self.objective = objective
        self.positive_label = positive_label
        self.bands = bands
        self.grid_size = grid_size
        self.random_state = random_state
        self.parent_version = parent_version
        self.description = description

    def fit(self, X: pd.DataFrame, y: Any) -> GroupThresholdClassifier:
        """Fit the thresholds per group on ``X`` (features and sensitive columns) and ``y``."""
        self._check_params()
        features = self._features()
        frame = _require_columns(X, [*features, *self.sensitive_columns])
        truth = (np.asarray(y, dtype=object) == self.positive_label).astype(np.int64)
        if len(np.unique(truth)) < 2:
            raise ValidationError(
                f"fitting group thresholds needs rows of both classes; every row is "
                f"{'positive' if truth.all() else 'negative'} for {self.positive_label!r}"
            )

        base = self._fitted_base(frame[features], y)
        classes = list(getattr(base, "classes_", []))
        if len(classes) != 2 or self.positive_label not in classes:
            raise ValidationError(
                f"group thresholds need a binary classifier with class {self.positive_label!r}; "
                f"the base estimator has classes {classes}"
            )
        self.bands_ = self._bands(frame)
        groups = self.group_keys(frame)
        optimizer = ThresholdOptimizer(
            estimator=_PositiveScores(base, self.positive_label),
            constraints=self.constraint,
            objective=self.objective,
            grid_size=int(self.grid_size),
            prefit=True,
            predict_method="predict_proba",
        )
        optimizer.fit(frame[features], truth, sensitive_features=groups)

        self.estimator_ = base
        self.rules_ = _plain_rules(optimizer.interpolated_thresholder_.interpolation_dict)
        self.classes_ = np.asarray(base.classes_)
        self.feature_names_in_ = np.asarray(
            [*features, *[c for c in self.sensitive_columns if c not in features]], dtype=object
        )
        self.n_features_in_ = len(self.feature_names_in_)
        logger.info(
            "fitted %s thresholds for %d groups of %s on %d rows",
            self.constraint,
            len(self.rules_),
            ", ".join(self.sensitive_columns),
            len(frame),
        )
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Return the probability of each class under the randomised group thresholds."""
        positive = self.positive_probability(X)
        proba = np.empty((len(positive), len(self.classes_)), dtype=np.float64)
        index = list(self.classes_).index(self.positive_label)
        proba[:, index] = positive
        proba[:, 1 - index] = 1.0 - positive
        return proba

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Return each row's decision, drawn from its own seeded hash (order-independent)."""
        positive = self.positive_probability(X)
        draws = row_uniforms(X[list(self.feature_names_in_)], int(self.random_state))
        index = list(self.classes_).index(self.positive_label)
        chosen = np.where(draws < positive, index, 1 - index)
        return self.classes_[chosen]

    def positive_probability(self, X: pd.DataFrame) -> np.ndarray:
        """Return per row the probability that the rule decides ``positive_label``."""
        check_is_fitted(self, "rules_")
        frame = _require_columns(X, list(self.feature_names_in_))
        features = self._features()
        scores = positive_class_scores(self.estimator_, frame[features], self.positive_label)
        groups = self.group_keys(frame).to_numpy()

        unknown = sorted(set(groups) - set(self.rules_))
        if unknown:
            raise ValidationError(
                f"group(s) {', '.join(repr(g) for g in unknown)} of "
                f"{', '.join(self.sensitive_columns)} had no rows when the thresholds were "
                f"fitted; the model knows {', '.join(repr(g) for g in sorted(self.rules_))}"
            )
        positive = np.zeros(len(frame), dtype=np.float64)
        for group, rule in self.rules_.items():
            rows = groups == group
            positive[rows] = _apply(rule, scores[rows])
        return positive

    def group_keys(self, X: pd.DataFrame) -> pd.Series:
        """Return each row's group: the sensitive columns' labels joined with `` & ``."""
        bands = getattr(self, "bands_", None)
        if bands is None:
            bands = self._bands(X)
        parts = []
        for column in self.sensitive_columns:
            values = X[column].reset_index(drop=True)
            cuts = bands.get(column)
            parts.append(band_labels(values, cuts) if cuts is not None else _value_labels(values))
        keys = parts[0].astype(str)
        for part in parts[1:]:
            keys = keys + INTERSECTION + part.astype(str)
        return keys

    def _features(self) -> list[str]:
        if self.features is not None:
            return [str(c) for c in self.features]
        fitted = getattr(self.estimator, "feature_names_in_", None)
        if fitted is None:
            raise ValidationError(
                "GroupThresholdClassifier needs features=[...] when the base estimator does not "
                "record feature_names_in_"
            )
        return [str(c) for c in fitted]

    def _fitted_base(self, x: pd.DataFrame, y: Any) -> Any:
        try:
            check_is_fitted(self.estimator)
        except NotFittedError:
            logger.info("base estimator is not fitted; fitting a copy on %d rows", len(x))
            return clone(self.estimator).fit(x, y)
        return self.estimator

    def _bands(self, frame: pd.DataFrame) -> dict[str, list[float]]:
        configured = {k: sorted(float(c) for c in v) for k, v in (self.bands or {}).items()}
        bands: dict[str, list[float]] = {}
        for column in self.sensitive_columns:
            values = frame[column].dropna()
            if column in configured:
                bands[column] = configured[column]
            elif column_kind(values) == "numeric" and values.nunique() > MAX_CATEGORIES:
                bands[column] = _default_cuts(values, column)
        return bands

    def _check_params(self) -> None:
        if self.estimator is None:
            raise ValidationError("GroupThresholdClassifier needs a base estimator; got None")
        if self.constraint not in CONSTRAINTS:
            raise ValidationError(
                f"constraint must be one of {', '.join(CONSTRAINTS)}; got {self.constraint!r}"
            )
        if not self.sensitive_columns:
            raise ValidationError("GroupThresholdClassifier needs at least one sensitive column")
        seed = self.random_state
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValidationError(f"random_state must be a whole number >= 0; got {seed!r}")


class _PositiveScores(ClassifierMixin, BaseEstimator):
    """The base model seen by Fairlearn: ``predict_proba`` column 1 is ``positive_label``.

    Fairlearn reads the second column of ``predict_proba`` as the positive class; a model whose
    classes are ordered the other way (say ``[1, 2]`` with 1 favourable) would be read upside
    down without this adapter. It lives only while the thresholds are fitted.
    """

    classes_ = np.array([0, 1])

    def __init__(self, model: Any = None, positive_label: Any = 1) -> None:
        self.model = model
        self.positive_label = positive_label

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, X: Any, y: Any) -> _PositiveScores:
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        positive = positive_class_scores(self.model, X, self.positive_label)
        return np.column_stack([1.0 - positive, positive])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] > 0.5).astype(np.int64)


def row_uniforms(frame: pd.DataFrame, seed: int) -> np.ndarray:
    """Return one number in [0, 1) per row, fixed by the row's values and ``seed`` alone.

    Numbers are hashed as float64 and everything else as text, so a row read back from a CSV
    file (where 1 may come back as 1.0) draws the same number. The row hash is mixed with the
    seed by the SplitMix64 finaliser, so different seeds give unrelated draws.
    """
    canonical = pd.DataFrame(
        {
            str(i): (
                frame[c].astype(np.float64)
                if column_kind(frame[c]) == "numeric"
                else frame[c].astype(object).where(frame[c].notna(), MISSING).astype(str)
            )
            for i, c in enumerate(frame.columns)
        }
    )
    hashes = pd.util.hash_pandas_object(canonical, index=False).to_numpy(dtype=np.uint64)
    mixed = _splitmix64(hashes ^ _splitmix64(np.array([seed], dtype=np.uint64))[0])
    return (mixed >> np.uint64(11)).astype(np.float64) * _UNIT


def _splitmix64(values: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = values + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _plain_rules(interpolation: Mapping[Any, Any]) -> dict[str, dict[str, Any]]:
    """Copy Fairlearn's per-group interpolation into plain numbers and operator strings."""
    rules = {}
    for group, rule in interpolation.items():
        plain = {
            "p0": float(rule["p0"]),
            "operator0": str(rule["operation0"].operator),
            "threshold0": float(rule["operation0"].threshold),
            "p1": float(rule["p1"]),
            "operator1": str(rule["operation1"].operator),
            "threshold1": float(rule["operation1"].threshold),
            "p_ignore": float(rule["p_ignore"]) if "p_ignore" in rule else 0.0,
            "prediction_constant": (
                float(rule["prediction_constant"]) if "prediction_constant" in rule else 0.0
            ),
        }
        rules[str(group)] = plain
    return rules


def _apply(rule: Mapping[str, Any], scores: np.ndarray) -> np.ndarray:
    """Fairlearn's positive probability for one group: the mix of its two threshold rules."""
    positive = rule["p0"] * _compare(rule["operator0"], scores, rule["threshold0"]) + rule[
        "p1"
    ] * _compare(rule["operator1"], scores, rule["threshold1"])
    ignore = rule["p_ignore"]
    return ignore * rule["prediction_constant"] + (1.0 - ignore) * positive


def _compare(operator: str, scores: np.ndarray, threshold: float) -> np.ndarray:
    if operator not in OPERATORS:
        raise ValidationError(f"threshold operator must be '>' or '<'; got {operator!r}")
    above = scores > threshold if operator == ">" else scores < threshold
    return above.astype(np.float64)


def _value_labels(values: pd.Series) -> pd.Series:
    """Label each value on its own (numbers as ``%g``), so one row is labelled as in a batch."""
    numeric = column_kind(values) == "numeric"
    labels = [MISSING if pd.isna(v) else (f"{float(v):g}" if numeric else str(v)) for v in values]
    return pd.Series(labels, dtype=object)


def _default_cuts(values: pd.Series, column: str) -> list[float]:
    if looks_like_age(column):
        return list(AGE_CUTS)
    quartiles = np.quantile(values.to_numpy(dtype=np.float64), [0.25, 0.5, 0.75])
    return sorted({float(q) for q in quartiles})


def _require_columns(X: Any, columns: Sequence[str]) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise ValidationError(
            f"GroupThresholdClassifier needs a DataFrame with columns {', '.join(columns)}; got "
            f"{type(X).__name__}"
        )
    missing = [c for c in columns if c not in X.columns]
    if missing:
        raise ValidationError(
            f"the input lacks column(s) {', '.join(missing)}; a model with group thresholds "
            "needs its features and the sensitive columns at prediction time"
        )
    return X
