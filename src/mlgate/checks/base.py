"""The contract every check follows: plain inputs in, a :class:`CheckResult` out.

A check computes on frames, arrays and fitted models. It never touches the database, the network
or the clock, so it can be tested on a hand-made frame and run anywhere. The service layer builds
the :class:`CheckInput`, calls the check, and stores the result as evidence.

Figures are data, not pictures: a check describes the chart (kind, axes, series) and the report
renders it, so checks need no plotting library and results stay JSON-serialisable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pandas as pd

from mlgate.errors import ValidationError

Status = Literal["pass", "warn", "fail"]
Severity = Literal["info", "warn", "fail"]
FigureKind = Literal["bar", "line", "hist", "scatter"]

STATUS_ORDER: dict[str, int] = {"pass": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True)
class Finding:
    """One thing a check noticed, with the column or group it concerns."""

    severity: Severity
    message: str
    subject: str | None = None
    value: float | int | str | None = None


@dataclass(frozen=True)
class Series:
    """One named series of a figure; ``x`` and ``y`` have the same length."""

    name: str
    x: list[Any]
    y: list[float | None]


@dataclass(frozen=True)
class Figure:
    """A chart described as data: the report renders it offline.

    ``threshold`` draws a horizontal reference line (for instance a policy limit).
    """

    name: str
    title: str
    kind: FigureKind
    x_label: str
    y_label: str
    series: list[Series]
    threshold: float | None = None


@dataclass(frozen=True)
class CheckResult:
    """What a check found: an overall status, numbers, findings and charts.

    ``metrics`` holds plain numbers (or short strings) keyed by a dotted name, for instance
    ``fairness.demographic_parity_difference``. A value that cannot be computed is ``None``
    together with a finding that says why; it is never NaN, so reports and JSON stay valid.
    """

    check: str
    status: Status
    summary: str
    metrics: dict[str, float | int | str | None] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable copy, with every non-finite number turned into ``None``."""
        return _finite(asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        """Rebuild a result stored with :meth:`to_dict`."""
        figures = [
            Figure(**{**fig, "series": [Series(**s) for s in fig["series"]]})
            for fig in data.get("figures", [])
        ]
        return cls(
            check=data["check"],
            status=data["status"],
            summary=data["summary"],
            metrics=dict(data.get("metrics", {})),
            findings=[Finding(**f) for f in data.get("findings", [])],
            figures=figures,
            tables={k: list(v) for k, v in data.get("tables", {}).items()},
        )


@dataclass
class CheckInput:
    """Everything a check may look at.

    ``data`` is the registered dataset the check runs on (for model checks, the training data).
    ``reference`` is the baseline a comparison needs (for drift, the training data, with ``data``
    the current window). ``model`` is a fitted scikit-learn compatible estimator whose
    ``predict`` (and ``predict_proba`` where it has one) takes ``data[features]``.
    ``model_artifact`` is the stored, hash-checked bytes ``model`` was loaded from, and
    ``model_loader`` how another process rebuilds it, for checks that score it afresh.
    ``documents`` holds the content of the project's accepted documents by kind (the business
    case's success metrics are thresholds). ``champion`` is the deployed version a challenger
    is compared with (see :class:`mlgate.checks.challenger.Champion`), or ``None``.
    """

    data: pd.DataFrame
    target: str | None = None
    features: Sequence[str] = ()
    sensitive: Sequence[str] = ()
    positive_label: Any = 1
    model: Any | None = None
    estimator_factory: Callable[[], Any] | None = None
    reference: pd.DataFrame | None = None
    holdout: pd.DataFrame | None = None
    seed: int = 0
    # The data contract's timestamp column, for checks that cut the rows into time windows.
    time_column: str | None = None
    model_artifact: bytes | None = None
    model_loader: ModelLoader | None = None
    documents: Mapping[str, dict[str, Any]] | None = None
    champion: Any | None = None
    # For the run_logs check: project, model_version, model_sha256 and the log files' lines.
    run_log: Mapping[str, Any] | None = None
    # For checks of the project's own files (code review, documentation): the files to read,
    # a mlgate.review.source.SourceTree. Such checks get an empty ``data`` frame.
    source: Any | None = None


@dataclass(frozen=True)
class ModelLoader:
    """How another Python process rebuilds a model from its artifact bytes.

    ``function`` is an importable ``module:function`` called as ``function(data, **options)``;
    ``options`` must be JSON-serialisable, as they cross into that process in a file.
    """

    function: str
    options: Mapping[str, Any] = field(default_factory=dict)


CheckFunction = Callable[[CheckInput, Mapping[str, float]], CheckResult]


@dataclass(frozen=True)
class CheckSpec:
    """A check as the registry knows it: its function, what it needs and its default limits.

    ``threshold_prefixes`` names families of threshold keys beyond ``defaults`` that the check
    reads, such as ``share.`` for reference shares given per group. ``needs_holdout`` marks a
    check that compares the data with the hold-out set (``CheckInput.holdout``); ``needs_source``
    one that reads the project's own code, tests and docs (``CheckInput.source``) and no dataset.
    """

    name: str
    title: str
    function: CheckFunction
    needs_model: bool
    needs_reference: bool
    defaults: Mapping[str, float]
    description: str
    threshold_prefixes: tuple[str, ...] = ()
    needs_holdout: bool = False
    needs_source: bool = False


def worst(statuses: Sequence[str]) -> Status:
    """Return the most severe of several statuses (``pass`` when there are none)."""
    if not statuses:
        return "pass"
    return max(statuses, key=lambda s: STATUS_ORDER[s])  # type: ignore[return-value]


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def column_kind(series: pd.Series) -> Literal["numeric", "categorical", "temporal"]:
    """Return how checks treat a column: ``numeric``, ``categorical`` or ``temporal``.

    Booleans count as categorical (two levels, not a number line); dates and durations are
    temporal, which most statistics here do not cover.
    """
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return "temporal"
    return "categorical"


def feature_columns(inp: CheckInput, frame: pd.DataFrame) -> list[str]:
    """Return the feature columns a check uses: the declared ones, else all but the target.

    Raises :class:`ValidationError` when a declared feature is absent from ``frame``, is listed
    twice, or is the target itself (which would leak the answer into the model).
    """
    declared = list(inp.features)
    columns = declared or [c for c in frame.columns if c != inp.target]

    duplicated = sorted({str(c) for c in columns if columns.count(c) > 1})
    if duplicated:
        raise ValidationError(f"feature(s) listed more than once: {', '.join(duplicated)}")
    if inp.target is not None and inp.target in columns:
        raise ValidationError(
            f"the target '{inp.target}' is listed among the features; remove it from features"
        )

    missing = [str(c) for c in columns if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"feature column(s) not in the data: {', '.join(missing)}; "
            f"the data has {len(frame.columns)} columns"
        )
    return columns


def finite_or_none(value: Any) -> float | None:
    """Return ``value`` as a float, or ``None`` when it is missing, NaN or infinite."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def short_number(value: Any) -> str:
    """Three significant digits for a summary line; ``n/a`` for a value not computed."""
    return "n/a" if value is None else f"{value:.3g}"


def require_model(inp: CheckInput, check: str) -> Any:
    """Return the fitted model ``check`` scores; raise :class:`ValidationError` without one."""
    if inp.model is None:
        raise ValidationError(f"{check} needs a fitted model (CheckInput.model); got None")
    return inp.model


def require_rows(frame: pd.DataFrame) -> None:
    """Raise :class:`ValidationError` when ``frame`` has no row to score."""
    if len(frame) == 0:
        raise ValidationError(
            f"the frame to score has 0 rows ({frame.shape[1]} columns); expected at least one"
        )


def labelled_rows(inp: CheckInput, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Return the feature columns and the labels of ``frame``, which needs rows and labels.

    Raises :class:`ValidationError` when the target is absent, the frame is empty or a label
    is missing: a score over rows without their answer would be silently wrong.
    """
    if inp.target is None or inp.target not in frame.columns:
        raise ValidationError(
            f"the target column {inp.target!r} is not in the data; set CheckInput.target"
        )
    require_rows(frame)
    y = frame[inp.target]
    n_missing = int(y.isna().sum())
    if n_missing:
        raise ValidationError(
            f"the target '{inp.target}' has {n_missing} missing value(s); expected none"
        )
    return frame[feature_columns(inp, frame)], y


def require_factory(inp: CheckInput, check: str) -> Callable[[], Any]:
    """Return the factory of unfitted estimators ``check`` refits; raise without one."""
    if inp.estimator_factory is None:
        raise ValidationError(
            f"{check} needs an estimator factory (CheckInput.estimator_factory); got None"
        )
    return inp.estimator_factory
