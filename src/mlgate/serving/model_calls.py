"""Calling a fitted classifier with less overhead, for answers identical to its own methods.

Serving a row costs little in the model itself and a lot around it: scikit-learn checks a
DataFrame column by column before it reads the numbers, and a server that needs both the label
and the probabilities would run the model twice. Two shortcuts remove most of that, each taken
only where the answer provably stays the same:

- **One pass for the label and the probabilities.** For the estimators in
  :data:`ARGMAX_CLASSIFIERS`, ``predict`` is the class with the highest probability (or, for
  the binary linear and boosting models, the sign of a decision value that the probability
  maps monotonically), so the label is read from ``predict_proba``'s rows. Where two classes
  tie for the highest probability, rounding could hide the side of the decision value the
  model's own ``predict`` uses, so those rows are predicted by ``predict`` itself. Subclasses
  are not trusted (they may override ``predict``); any other estimator runs both methods.
- **An array instead of a frame.** A model fitted on a frame of exactly the signature's numeric
  columns, in that order, is handed the frame's float64 array: the numbers scikit-learn would
  extract itself after its checks. Its warning that the array has no column names is expected
  here and silenced for that call only (in a server, for the server's lifetime).
- **Gradient boosting without its per-call preamble.** For one row, most of
  ``GradientBoostingClassifier.predict_proba`` is spent asking its initial estimator for the
  class prior again and checking the input, not in the trees. :func:`fast_proba` computes the
  prior once and walks the trees with scikit-learn's own routine and loss; it is used only
  after it gave bit-identical probabilities to ``predict_proba`` on probe rows when the model
  was loaded, only for finite float input, and never for a custom initial estimator.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier, ExtraTreeClassifier

logger = logging.getLogger(__name__)

ARGMAX_CLASSIFIERS = frozenset(
    {
        DecisionTreeClassifier,
        ExtraTreeClassifier,
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        LogisticRegression,
        RandomForestClassifier,
    }
)
NO_NAMES_WARNING = r"X does not have valid feature names"
PROBE_ROWS = 64  # rows on which a fast path must equal the model's own method before use


def reads_label_from_proba(model: Any) -> bool:
    """Return whether ``model.predict`` is the most probable class of ``model.predict_proba``."""
    return type(model) in ARGMAX_CLASSIFIERS


def labels_from_proba(model: Any, inputs: Any, rows: np.ndarray) -> np.ndarray:
    """Return ``model.predict(inputs)``, read from its probability ``rows`` where no class ties.

    Only for a model :func:`reads_label_from_proba` accepts.
    """
    if rows.shape[1] == 2:  # the usual case, in fewer steps: argmax takes the first of a tie
        first, second = rows[:, 0], rows[:, 1]
        prediction = np.asarray(model.classes_).take((second > first).astype(np.intp))
        tied = np.flatnonzero(first == second)
    else:
        best = rows.argmax(axis=1)
        prediction = np.asarray(model.classes_).take(best)
        top = rows[np.arange(len(rows)), best]
        tied = np.flatnonzero((rows == top[:, None]).sum(axis=1) > 1)
    if len(tied):
        subset = inputs.iloc[tied] if isinstance(inputs, pd.DataFrame) else inputs[tied]
        prediction[tied] = np.asarray(call(model.predict, subset))
    return prediction


def takes_array(model: Any, signature: Sequence[dict[str, Any]]) -> bool:
    """Return whether ``model`` may be given a float array in place of a conformed frame.

    True for an estimator (not a pipeline, whose steps may select columns by name) fitted on a
    frame with exactly the signature's columns in order, every one of them numeric.
    """
    if isinstance(model, Pipeline) or not signature:
        return False
    if any(column["kind"] != "numeric" for column in signature):
        return False
    fitted = getattr(model, "feature_names_in_", None)
    return fitted is not None and [str(n) for n in fitted] == [c["name"] for c in signature]


def as_array(features: pd.DataFrame) -> np.ndarray | None:
    """Return the frame's values as one float64 array, or ``None`` when they are not that."""
    values = features.to_numpy()
    return values if values.dtype == np.float64 else None


class _NamesWarning:
    """Whether the missing-names warning is silenced for the whole process (see below)."""

    silenced = False


@contextmanager
def names_warning_silenced() -> Iterator[None]:
    """Silence scikit-learn's missing-names warning in this process while the block runs.

    For a process that only serves the model (a server's lifetime): :func:`call` otherwise
    silences it around each call, which costs more CPU per one-row request than several of
    scikit-learn's own checks together. The warning filters are restored afterwards.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=NO_NAMES_WARNING, category=UserWarning)
        _NamesWarning.silenced = True
        try:
            yield
        finally:
            _NamesWarning.silenced = False


def call(method: Any, inputs: Any) -> Any:
    """Call a model's ``method`` on ``inputs``; an array's missing column names are expected."""
    if not isinstance(inputs, np.ndarray) or _NamesWarning.silenced:
        return method(inputs)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=NO_NAMES_WARNING, category=UserWarning)
        return method(inputs)


class _BoostedTrees:
    """``predict_proba`` of a fitted GradientBoostingClassifier with a constant initial score.

    The initial estimator (the class prior, or zeros) gives the same raw score for every row,
    so it is asked once; the trees are walked by scikit-learn's ``predict_stages`` on float32
    input, as ``predict_proba`` does after its checks, and the raw scores become probabilities
    through the model's own loss.
    """

    def __init__(self, model: GradientBoostingClassifier) -> None:
        from sklearn.ensemble._gradient_boosting import predict_stages

        self.model = model
        self.predict_stages = predict_stages
        probe = np.zeros((1, model.n_features_in_), dtype=np.float32)
        self.initial = np.asarray(model._raw_predict_init(probe), dtype=np.float64)[0].copy()

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):  # checked just below
            x = np.ascontiguousarray(inputs, dtype=np.float32)
        if x.ndim != 2 or not np.isfinite(x).all():  # let the model judge odd input itself
            return self.model.predict_proba(inputs)
        raw = np.tile(self.initial, (x.shape[0], 1))
        self.predict_stages(self.model.estimators_, x, self.model.learning_rate, raw)
        if raw.shape[1] == 1:
            raw = raw.ravel()
        return np.asarray(self.model._loss.predict_proba(raw))


def fast_proba(model: Any) -> Any | None:
    """Return a faster stand-in for ``model.predict_proba`` on float arrays, or None.

    Only exact types are trusted (a subclass may change any method), only a constant initial
    estimator qualifies, and the stand-in must give bit-identical probabilities on probe rows;
    a scikit-learn version whose internals differ therefore falls back to the model's method.
    """
    if type(model) is not GradientBoostingClassifier:
        return None
    init = getattr(model, "init_", None)
    if not (init == "zero" or type(init) is DummyClassifier):
        return None
    try:
        candidate = _BoostedTrees(model)
        probe = np.random.default_rng(0).normal(size=(PROBE_ROWS, model.n_features_in_))
        probe[0] = 0.0
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=NO_NAMES_WARNING, category=UserWarning)
            same = np.array_equal(candidate(probe), model.predict_proba(probe))
    except Exception as error:  # private scikit-learn internals moved: use the public method
        logger.info("no fast path for %s: %s", type(model).__name__, error)
        return None
    if not same:
        logger.info("no fast path for %s: probe probabilities differ", type(model).__name__)
        return None
    logger.info("serving %s through its fast probability path", type(model).__name__)
    return candidate
