"""One model version loaded for scoring, shared by batch files, the REST server and streams.

A :class:`Scorer` holds the hash-checked model and what scoring needs from its registry record
(signature, classes, the positive label's column), so every way of serving a model validates
inputs and names its outputs the same way: a missing or mistyped column is a
:class:`~mlgate.errors.ValidationError` naming it, and the added columns are ``prediction`` and
``score`` unless the input already uses those names (then ``mlgate_prediction`` and
``mlgate_score``), so no input column is overwritten.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlgate.tabular import conform

logger = logging.getLogger(__name__)

OUTPUT_COLUMNS = ("prediction", "score")
OUTPUT_PREFIX = "mlgate_"


@dataclass(frozen=True)
class Scored:
    """The outputs for a frame: one prediction per row, and the positive class's probability.

    ``score`` is ``None`` for a model without ``predict_proba`` or with more than two classes.
    """

    prediction: np.ndarray
    score: np.ndarray | None


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
        features = conform(frame, self.signature, source)
        prediction = np.asarray(self.model.predict(features))
        score = None
        if self.positive_column is not None:
            score = np.asarray(self.model.predict_proba(features))[:, self.positive_column]
        return Scored(prediction, score)

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
