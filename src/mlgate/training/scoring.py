"""The metric a search maximises and candidates are compared on, scored for the positive label.

Any scikit-learn scorer name works. For a binary target, the metrics that depend on which class
is positive (``roc_auc``, ``average_precision``, ``f1``, ``precision``, ``recall``,
``jaccard``) are computed for the project's ``positive_label`` instead of scikit-learn's
default (the larger label), so that string labels such as ``good``/``bad`` work too.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    get_scorer,
    jaccard_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from mlgate.checks.model_quality import positive_class_scores
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

SCORE_METRICS: dict[str, Callable[..., float]] = {
    "roc_auc": roc_auc_score,
    "average_precision": average_precision_score,
}
LABEL_METRICS: dict[str, Callable[..., float]] = {
    "f1": f1_score,
    "precision": precision_score,
    "recall": recall_score,
    "jaccard": jaccard_score,
}


def default_metric(y: pd.Series) -> str:
    """Return the metric used when mlgate.yaml names none: ROC AUC if binary, else accuracy."""
    return "roc_auc" if y.nunique() == 2 else "accuracy"


@dataclass(frozen=True)
class Scorer:
    """Scores a fitted model on held-out rows with one metric; greater is always better."""

    metric: str
    positive_label: Any
    binary: bool

    def __call__(self, model: Any, x: pd.DataFrame, y: pd.Series) -> float:
        """Return the metric of ``model`` on ``x``, ``y``; refuse a value that is not finite."""
        try:
            with warnings.catch_warnings():
                # An undefined metric comes back as NaN, refused below with the fold's classes.
                warnings.simplefilter("ignore", UndefinedMetricWarning)
                value = float(self._score(model, x, y))
        except ValueError as exc:
            raise ValidationError(
                f"the metric {self.metric} cannot score this data: {exc}"
            ) from exc

        if not math.isfinite(value):
            raise ValidationError(
                f"the metric {self.metric} is {value} on a fold with classes "
                f"{sorted(map(str, y.unique()))}; a fold needs every class for this metric",
                hint="use fewer folds, another cv scheme, or a metric such as accuracy",
            )
        logger.debug("%s %.4f on %d held-out rows", self.metric, value, len(y))
        return value

    def _score(self, model: Any, x: pd.DataFrame, y: pd.Series) -> float:
        if self.binary and self.metric in SCORE_METRICS and hasattr(model, "predict_proba"):
            scores = positive_class_scores(model, x, self.positive_label)
            return SCORE_METRICS[self.metric](y == self.positive_label, scores)
        if self.binary and self.metric in LABEL_METRICS:
            predicted = model.predict(x)
            return LABEL_METRICS[self.metric](
                y, predicted, pos_label=self.positive_label, zero_division=0.0
            )
        return get_scorer(self.metric)(model, x, y)
