"""One model version loaded for scoring, shared by batch files, the REST server and streams.

A :class:`Scorer` holds the hash-checked model and what scoring needs from its registry record
(signature, classes, the positive label's column), so every way of serving a model validates
inputs and names its outputs the same way: a missing or mistyped column is a
:class:`~mlgate.errors.ValidationError` naming it, and the added columns are ``prediction`` and
``score`` unless the input already uses those names (then ``mlgate_prediction`` and
``mlgate_score``), so no input column is overwritten.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from mlgate.errors import ValidationError
from mlgate.serving.model_calls import (
    as_array,
    call,
    fast_proba,
    labels_from_proba,
    reads_label_from_proba,
    takes_array,
)
from mlgate.tabular import conform

logger = logging.getLogger(__name__)

OUTPUT_COLUMNS = ("prediction", "score")
OUTPUT_PREFIX = "mlgate_"
MAX_SHOWN = 40
NUMBER_TYPES = frozenset({float, int})


@dataclass(frozen=True)
class Scored:
    """The outputs for a frame: one prediction per row, and the positive class's probability.

    ``score`` is ``None`` for a model without ``predict_proba`` or with more than two classes.
    ``proba`` holds every class's probability (``predict_proba``'s rows) when it was computed:
    always for a binary model with a score, and on request for any model that has them.
    """

    prediction: np.ndarray
    score: np.ndarray | None
    proba: np.ndarray | None = None


@dataclass(frozen=True)
class FloatRows:
    """All-numeric input rows as one float64 block (rows x columns) named by ``columns``.

    It answers what the scorer and the prediction log ask of a frame (its length, columns,
    dtypes and values) without building one, which costs more than scoring a row with a
    model that reads arrays.
    """

    columns: pd.Index
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.values)

    @property
    def dtypes(self) -> list[np.dtype[Any]]:
        """The dtype of every column: float64."""
        return [self.values.dtype] * len(self.columns)

    def to_numpy(self, dtype: Any = None) -> np.ndarray:
        """Return the values, converted to ``dtype`` when given."""
        return self.values if dtype is None else self.values.astype(dtype)

    def frame(self) -> pd.DataFrame:
        """Return the rows as a frame with the signature's columns."""
        return pd.DataFrame(self.values, columns=self.columns, copy=False)


@dataclass(frozen=True)
class Scorer:
    """A model version ready to score: the fitted model and its registry facts.

    ``positive_column`` is the column of ``predict_proba`` that holds the positive label's
    probability, or ``None`` when no score is produced.
    """

    model: Any
    version: int
    sha256: str
    signature: tuple[dict[str, Any], ...]
    classes: tuple[Any, ...]
    positive_column: int | None

    @classmethod
    def from_version(cls, model: Any, version: Any, positive_label: Any) -> Scorer:
        """Return the scorer of ``model``, loaded from the registry record ``version``."""
        classes = tuple(version.classes)
        binary = hasattr(model, "predict_proba") and len(classes) == 2
        column = (
            (classes.index(positive_label) if positive_label in classes else 1) if binary else None
        )
        return cls(
            model=model,
            version=int(version.version),
            sha256=str(version.artifact_sha256),
            signature=tuple(version.signature),
            classes=classes,
            positive_column=column,
        )

    @property
    def features(self) -> list[str]:
        """Return the input columns in the order the model reads them."""
        return [column["name"] for column in self.signature]

    def score(self, frame: pd.DataFrame, source: str) -> Scored:
        """Validate ``frame`` against the signature and score it.

        ``source`` names the input in an error (a file name, ``request``, a stream message).
        """
        return self.predict(conform(frame, self.signature, source))

    def inputs(
        self, columns: Mapping[str, Sequence[Any]], source: str, strict: bool = False
    ) -> pd.DataFrame | FloatRows:
        """Return the model's input rows for ``columns`` (name to equally long value lists).

        This is the quick way in for small requests: when every numeric column holds only
        finite ints and floats, the frame is built directly, skipping :func:`conform`'s
        pandas conversions (for an all-numeric signature, one float block, :class:`FloatRows`,
        which becomes a frame only for a model that needs one). Anything else (a missing
        column, text or ``null`` in a numeric column, infinity) goes through ``conform``, so
        the answers and the error messages are exactly those of :meth:`score`.

        A cell holding a list or an object is refused naming its column. With ``strict`` (for
        JSON bodies, whose values carry their own type) a numeric column must hold JSON
        numbers: a boolean or a string, even ``"12"``, is refused rather than converted, as
        MLflow's schema enforcement refuses them for a double column.
        """
        try:
            quick = self._quick_inputs(columns)
        except OverflowError:  # an integer too large for the quick float conversion
            quick = None
        if quick is not None:
            return quick
        check_cells(columns, self.signature, source, strict)
        return conform(pd.DataFrame(columns), self.signature, source)

    def predict(self, features: pd.DataFrame | FloatRows, proba: bool = False) -> Scored:
        """Score a frame already conformed to the signature (from :meth:`inputs`).

        For a scikit-learn pipeline that also gives a score, the preprocessing steps run once
        and the final estimator's ``predict`` and ``predict_proba`` both read their output:
        what the pipeline's own methods compute, without transforming the input twice.
        ``proba`` asks for every class's probability also from a model without a score (more
        than two classes); a model without ``predict_proba`` still gives none. Where the
        answers provably stay the same, the model reads an array instead of the frame and the
        label comes from the probabilities (see :mod:`mlgate.serving.model_calls`).
        """
        if isinstance(features, FloatRows):
            if self._takes_array:
                return self._predict(self.model, features.values, proba)
            features = features.frame()

        model, inputs = self.model, features
        if self.positive_column is not None and isinstance(model, Pipeline):
            for _, step in model.steps[:-1]:
                if step is not None and step != "passthrough":
                    inputs = step.transform(inputs)
            model = model.steps[-1][1]
        elif self._takes_array:
            array = as_array(features)
            inputs = features if array is None else array
        return self._predict(model, inputs, proba)

    def _predict(self, model: Any, inputs: Any, proba: bool) -> Scored:
        rows = None
        if self.positive_column is not None or (proba and hasattr(model, "predict_proba")):
            method = model.predict_proba
            if model is self.model and isinstance(inputs, np.ndarray) and self._fast_proba:
                method = self._fast_proba
            rows = np.asarray(call(method, inputs))
        if rows is not None and reads_label_from_proba(model):
            prediction = labels_from_proba(model, inputs, rows)
        else:
            prediction = np.asarray(call(model.predict, inputs))
        score = None
        if rows is not None and self.positive_column is not None:
            score = rows[:, self.positive_column]
        return Scored(prediction, score, rows)

    @cached_property
    def _takes_array(self) -> bool:
        return takes_array(self.model, self.signature)

    @cached_property
    def _fast_proba(self) -> Any | None:
        return fast_proba(self.model) if self._takes_array else None

    @cached_property
    def _numeric_columns(self) -> pd.Index | None:
        """The frame's column index when every column is numeric (built once), else None."""
        if not self.signature or any(c["kind"] != "numeric" for c in self.signature):
            return None
        return pd.Index(self.features)

    @cached_property
    def feature_names(self) -> tuple[str, ...]:
        """The input columns in the model's order, built once (a request reads them)."""
        return tuple(self.features)

    @cached_property
    def _names(self) -> tuple[str, ...]:
        return self.feature_names  # iterating a pandas Index of strings is far slower

    def _quick_matrix(
        self, columns: Mapping[str, Sequence[Any]], index: pd.Index
    ) -> FloatRows | None:
        """Return an all-numeric input as one float64 block, or None when conform must run."""
        lists = [columns.get(name) for name in self._names]
        if None in lists or len(set(map(len, lists))) > 1:
            return None
        if not set(map(type, itertools.chain.from_iterable(lists))) <= NUMBER_TYPES:
            return None  # a bool, a string, a null, a list...: conform decides (or refuses)

        matrix = np.array(lists, dtype=np.float64).T
        if not np.isfinite(matrix).all():
            return None
        return FloatRows(index, matrix)

    def _quick_inputs(
        self, columns: Mapping[str, Sequence[Any]]
    ) -> pd.DataFrame | FloatRows | None:
        if self._numeric_columns is not None:
            return self._quick_matrix(columns, self._numeric_columns)

        data: dict[str, Any] = {}
        for column in self.signature:
            name = column["name"]
            values = columns.get(name)
            if values is None:
                return None
            if column["kind"] == "numeric":
                if not all(type(v) is float or type(v) is int for v in values):
                    return None
                array = np.array(values, dtype=np.float64)
                if not np.isfinite(array).all():
                    return None
                data[name] = array
            elif all(type(v) is str for v in values):
                data[name] = np.array(values, dtype=object)  # converts faster than a list
            elif any(type(v) is list or type(v) is dict for v in values):
                return None  # refused on the way through conform, naming the column
            else:
                data[name] = values
        return pd.DataFrame(data, copy=False)

    def scored_frame(
        self, frame: pd.DataFrame, source: str, names: Sequence[str] = OUTPUT_COLUMNS
    ) -> pd.DataFrame:
        """Return ``frame`` with the prediction and score columns (named ``names``) added."""
        scored = self.score(frame, source)
        prediction, score = names
        result = frame.copy()
        result[prediction] = scored.prediction
        if scored.score is not None:
            result[score] = scored.score
        return result


def check_cells(
    columns: Mapping[str, Sequence[Any]],
    signature: Sequence[Mapping[str, Any]],
    source: str,
    strict: bool,
) -> None:
    """Refuse a cell that is a list or an object and, if ``strict``, a non-number in a numeric
    column: the first such value is named with its column, row and JSON type.
    """
    numeric = {c["name"] for c in signature if c["kind"] == "numeric"} if strict else set()
    for name, values in columns.items():
        for row, value in enumerate(values):
            kind = type(value)
            if kind is list or kind is dict:
                raise ValidationError(
                    f"column {name} must hold one value per row; row {row} of the {source} "
                    f"holds {_described(value)}"
                )
            if name in numeric and (kind is bool or kind is str):
                raise ValidationError(
                    f"column {name} must be numeric; row {row} of the {source} holds "
                    f"{_described(value)}, expected a JSON number (strings and booleans are "
                    "not converted)"
                )


def _described(value: Any) -> str:
    """Return a value's JSON type with a short rendering of it, for an error message."""
    kinds = {list: "a list", dict: "an object", bool: "a boolean", str: "a string"}
    shown = json.dumps(value, default=str)
    if len(shown) > MAX_SHOWN:
        shown = shown[: MAX_SHOWN - 3] + "..."
    return f"{kinds.get(type(value), 'a value')} ({shown})"


def output_columns(columns: Any, source: Any) -> tuple[str, ...]:
    """Return the names of the prediction and score columns for an input with ``columns``.

    They are ``prediction`` and ``score`` unless the input already has either name (a feature
    called ``score``, say); then both get the ``mlgate_`` prefix, repeated until neither clashes,
    so the pair stays recognisable and no input column is overwritten.
    """
    taken = {str(c) for c in columns}
    names = OUTPUT_COLUMNS
    while any(n in taken for n in names):
        names = tuple(f"{OUTPUT_PREFIX}{n}" for n in names)
    if names != OUTPUT_COLUMNS:
        logger.warning(
            "%s already has column(s) %s; writing the scores to %s instead",
            source,
            ", ".join(c for c in OUTPUT_COLUMNS if c in taken),
            ", ".join(names),
        )
    return names
