"""Cross-validation splits and fold scores, the same for every trial and every candidate.

Three schemes:

- ``stratified``: scikit-learn's ``StratifiedKFold`` with shuffling, seeded, so each fold keeps
  the class balance.
- ``group``: ``GroupKFold`` on ``group_column``, so all rows of a customer (or a branch, a
  household) fall in the same fold and the score is not flattered by rows of a group the model
  has seen.
- ``time``: the rows sorted by ``time_column`` (stable sort) and split by ``TimeSeriesSplit``,
  so every fold is validated on rows later than all the rows it was trained on.

Splits are computed once, as positions into the training frame, and handed to every trial and
candidate: their scores are then paired fold by fold, which is what model selection compares.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, StratifiedKFold, TimeSeriesSplit

from mlgate.config import CvConfig
from mlgate.errors import ValidationError
from mlgate.tabular import column_kind
from mlgate.training.pipeline import PipelineSpec
from mlgate.training.scoring import Scorer

logger = logging.getLogger(__name__)

Split = tuple[np.ndarray, np.ndarray]


def split_columns(cv: CvConfig, contract: Mapping[str, Any] | None) -> dict[str, str]:
    """Return the columns the scheme splits by, ``{"group_column"|"time_column": name}``.

    The time scheme without ``time_column`` takes the column the dataset's data contract marks
    ``timestamp: true``. These columns are never features.
    """
    if cv.scheme == "group":
        assert cv.group_column is not None  # CvConfig requires it for this scheme
        return {"group_column": cv.group_column}
    if cv.scheme != "time":
        return {}
    if cv.time_column is not None:
        return {"time_column": cv.time_column}

    marked = [c["name"] for c in (contract or {}).get("columns", []) if c.get("timestamp")]
    if len(marked) == 1:
        return {"time_column": marked[0]}
    found = (
        f"its data contract marks {len(marked)} timestamp columns ({', '.join(marked)})"
        if marked
        else "the dataset has no data contract marking a timestamp column"
        if contract is None or not contract.get("columns")
        else "its data contract marks no column timestamp: true"
    )
    raise ValidationError(
        f"mlgate.yaml training.cv scheme 'time' needs the column that orders the rows, and "
        f"{found}",
        hint="set training.cv.time_column in mlgate.yaml, or mark one column timestamp: true in "
        "the dataset's data contract",
    )


def make_splits(
    frame: pd.DataFrame, target: str, cv: CvConfig, columns: Mapping[str, str], seed: int
) -> list[Split]:
    """Return the (train, validation) row positions of every fold of ``frame``."""
    _check_columns(frame, target, columns)
    y = frame[target]

    if cv.scheme == "stratified":
        _check_classes(y, cv.folds)
        splitter = StratifiedKFold(n_splits=cv.folds, shuffle=True, random_state=seed)
        splits = list(splitter.split(np.zeros(len(y)), y))
    elif cv.scheme == "group":
        groups = frame[columns["group_column"]]
        _check_groups(groups, columns["group_column"], cv.folds)
        splits = list(GroupKFold(n_splits=cv.folds).split(np.zeros(len(y)), y, groups))
    else:
        order = time_order(frame[columns["time_column"]], columns["time_column"])
        if len(order) <= cv.folds:
            raise ValidationError(
                f"training.cv folds={cv.folds} needs more than {cv.folds} rows for a time "
                f"split; the training data has {len(order)}"
            )
        splitter = TimeSeriesSplit(n_splits=cv.folds)
        splits = [(order[fit], order[held]) for fit, held in splitter.split(order)]

    logger.info("cv: %s scheme, %d folds on %d rows", cv.scheme, len(splits), len(y))
    return splits


def time_order(values: pd.Series, name: str) -> np.ndarray:
    """Return the row positions sorted by time, earliest first; ties keep their file order."""
    if values.isna().any():
        raise ValidationError(
            f"the time column '{name}' has {int(values.isna().sum())} missing value(s); "
            "every row needs its time to be placed in a time-ordered split"
        )
    if column_kind(values) not in ("numeric", "datetime"):
        try:
            values = pd.to_datetime(values, format="mixed")
        except (ValueError, TypeError) as exc:
            raise ValidationError(
                f"the time column '{name}' holds values that are neither numbers nor dates "
                f"(e.g. {values.iloc[0]!r}): {exc}"
            ) from exc
    return np.argsort(values.to_numpy(), kind="stable")


def _check_columns(frame: pd.DataFrame, target: str, columns: Mapping[str, str]) -> None:
    for setting, name in columns.items():
        if name == target:
            raise ValidationError(
                f"mlgate.yaml training.cv.{setting} '{name}' is the target; expected another "
                "column"
            )
        if name not in frame.columns:
            raise ValidationError(
                f"mlgate.yaml training.cv.{setting} '{name}' is not a column of dataset 'train'; "
                f"found {', '.join(map(str, frame.columns))}"
            )


def _check_classes(y: pd.Series, folds: int) -> None:
    counts = y.value_counts()
    if len(counts) < 2:
        raise ValidationError(f"the target has {len(counts)} class(es); expected at least 2")
    if counts.min() < folds:
        raise ValidationError(
            f"training.cv folds={folds} but the smallest class ({counts.idxmin()!s}) has only "
            f"{counts.min()} row(s); lower folds or add rows"
        )


def _check_groups(groups: pd.Series, name: str, folds: int) -> None:
    if groups.isna().any():
        raise ValidationError(
            f"the group column '{name}' has {int(groups.isna().sum())} missing value(s); every "
            "row needs a group"
        )
    if groups.nunique() < folds:
        raise ValidationError(
            f"training.cv folds={folds} but the group column '{name}' has only "
            f"{groups.nunique()} group(s); lower folds or split by another column"
        )


@dataclass(frozen=True)
class FoldScores:
    """The metric on each validation fold, and the mean seconds one fit took."""

    scores: list[float]
    fit_seconds: float

    @property
    def mean(self) -> float:
        """The mean over folds."""
        return float(np.mean(self.scores))

    @property
    def std(self) -> float:
        """The sample standard deviation over folds (0 for a single fold)."""
        return float(np.std(self.scores, ddof=1)) if len(self.scores) > 1 else 0.0

    @property
    def standard_error(self) -> float:
        """The standard error of the mean over folds."""
        return self.std / math.sqrt(len(self.scores))


def fold_scores(
    spec: PipelineSpec,
    params: Mapping[str, Any],
    x: pd.DataFrame,
    y: pd.Series,
    splits: Sequence[Split],
    scorer: Scorer,
) -> FoldScores:
    """Fit a fresh pipeline with ``params`` on each fold's rows and score the held-out rows."""
    scores: list[float] = []
    seconds = 0.0
    tried = {**spec.params, **params}
    for number, (fit_rows, held_rows) in enumerate(splits, start=1):
        model = spec.build(params)
        started = time.perf_counter()
        try:
            model.fit(x.iloc[fit_rows], y.iloc[fit_rows])
        except Exception as exc:  # any library's error (LightGBMError...); not Ctrl-C
            raise ValidationError(
                f"fitting {spec.estimator} with {tried} failed on fold {number} "
                f"(mlgate.yaml {spec.where}): {type(exc).__name__}: {exc}",
                hint="check the estimator's params and search space in mlgate.yaml",
            ) from exc
        seconds += time.perf_counter() - started
        scores.append(scorer(model, x.iloc[held_rows], y.iloc[held_rows]))
    return FoldScores(scores, seconds / max(len(splits), 1))
