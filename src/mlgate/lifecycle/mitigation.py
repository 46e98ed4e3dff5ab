"""Mitigating unfair decisions: group thresholds on a registered model, as a new model version.

``mlgate mitigate`` takes a registered model version (the newest by default), fits Fairlearn's
``ThresholdOptimizer`` on it (``prefit=True``, ``predict_method="predict_proba"``) with the
project's sensitive columns on a registered dataset (``train`` by default), and registers the
result, a :class:`~mlgate.fairness_models.GroupThresholdClassifier`, as the project's next model
version through the same path as ``mlgate train``: skops artifact, hash, trusted types, audit
event. Its parameters record where it came from (``mitigated_from``: "mitigated from version N
with ThresholdOptimizer(constraint)"), the ``parent_version``, the ``sensitive_columns`` it needs
at prediction time (they are part of its signature) and the fitted ``group_thresholds``.

The new version is a model like any other: evidence made for the parent does not count for it,
so the checks run again on it, and the fairness check on the hold-out set shows whether the gap
narrowed on data the thresholds were not fitted to. The thresholds use the sensitive attribute
at decision time, which the explanation check reports; that trade-off is for the validators.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    demographic_parity_difference,
    equal_opportunity_difference,
    equalized_odds_difference,
)

from mlgate.errors import ConflictError, ValidationError
from mlgate.fairness_models import CONSTRAINTS, GroupThresholdClassifier
from mlgate.lifecycle.access import require_grant
from mlgate.lifecycle.data import contract_sensitive, latest_dataset, load_dataset
from mlgate.lifecycle.models import get_model_version, load_model_version, register_model
from mlgate.lifecycle.service import Governance
from mlgate.registry.models import ModelVersion

logger = logging.getLogger(__name__)

DEFAULT_CONSTRAINT = "equalized_odds"
MIN_GROUP_ROWS = 30
MITIGATED = f"{GroupThresholdClassifier.__module__}.{GroupThresholdClassifier.__name__}"


@dataclass(frozen=True)
class Mitigation:
    """What ``mitigate`` registered, and the gaps before and after on the fitting data."""

    version: ModelVersion
    parent: int
    constraint: str
    dataset: str
    sensitive: list[str]
    groups: dict[str, int]
    before: dict[str, float | None]
    after: dict[str, float | None]
    notes: list[str] = field(default_factory=list)


def mitigate(
    gov: Governance,
    constraint: str = DEFAULT_CONSTRAINT,
    dataset: str = "train",
    sensitive: Sequence[str] | None = None,
    version: int | None = None,
    min_group_rows: int = MIN_GROUP_ROWS,
) -> Mitigation:
    """Fit group thresholds on model ``version`` and register them as a new model version.

    ``sensitive`` defaults to the project's sensitive attributes; every combination of their
    groups gets its own thresholds, so each must have ``min_group_rows`` rows of ``dataset``
    and both classes. Raises :class:`ValidationError` for an unknown constraint, a column the
    data lacks or a group too small, and :class:`ConflictError` for a version that is already
    mitigated.
    """
    _check_constraint(constraint)
    parent = get_model_version(gov, version)
    if parent.estimator == MITIGATED:
        raise ConflictError(
            f"model version {parent.version} already has group thresholds "
            f"({parent.params.get('description', 'mitigated')}); mitigate its parent instead",
            hint=f"mlgate mitigate --version {parent.params.get('parent_version')}",
        )
    columns = list(sensitive) if sensitive else list(gov.sensitive)
    if not columns:
        raise ValidationError(
            "no sensitive column to mitigate for: the project declares none and none was given",
            hint="pass --sensitive COLUMN (repeat it for several)",
        )

    data_version = latest_dataset(gov, dataset)
    frame = load_dataset(gov, data_version)
    features = [c["name"] for c in parent.signature]
    target = gov.config.data.target
    _check_frame(frame, dataset, [*features, *columns], target)
    require_grant(
        gov,
        "model.mitigate",
        f"dataset '{dataset}'",
        [*features, *columns, target],
        contract_sensitive(data_version.contract),
    )

    base = load_model_version(gov, parent)
    description = f"mitigated from version {parent.version} with ThresholdOptimizer({constraint})"
    model = GroupThresholdClassifier(
        base,
        features=features,
        sensitive_columns=columns,
        constraint=constraint,
        positive_label=gov.config.data.positive_label,
        random_state=gov.config.training.seed,
        parent_version=parent.version,
        description=description,
    )
    groups = _check_groups(model, frame, target, gov.config.data.positive_label, min_group_rows)

    started = time.perf_counter()
    model.fit(frame, frame[target])
    seconds = time.perf_counter() - started
    keys = model.group_keys(frame)
    before = _gaps(frame[target], base.predict(frame[features]), keys, model.positive_label)
    after = _gaps(frame[target], model.predict(frame), keys, model.positive_label)
    logger.info(
        "mitigated version %d with %s on dataset %s (%d rows, %d groups) in %.2f s",
        parent.version,
        constraint,
        dataset,
        len(frame),
        len(groups),
        seconds,
    )

    _require_improvement(constraint, columns, dataset, before, after)
    metrics = _metrics(dataset, before, after, seconds)
    signature = [*features, *[c for c in columns if c not in features]]
    origin = f"{description} on dataset '{dataset}'"
    record = {
        "mitigated_from": description,
        "parent_version": parent.version,
        "constraint": constraint,
        "sensitive_columns": columns,
        "thresholds_fitted_on": dataset,
        "group_thresholds": _plain_json(model.rules_),
    }
    registered = register_model(
        gov, model, data_version, frame, signature, metrics, origin, record
    )
    return Mitigation(
        version=registered,
        parent=parent.version,
        constraint=constraint,
        dataset=dataset,
        sensitive=columns,
        groups=groups,
        before=before,
        after=after,
        notes=_notes(dataset),
    )


def _check_constraint(constraint: str) -> None:
    if constraint not in CONSTRAINTS:
        raise ValidationError(
            f"constraint {constraint!r} is not supported; expected one of {', '.join(CONSTRAINTS)}"
        )


def _check_frame(frame: pd.DataFrame, dataset: str, columns: list[str], target: str) -> None:
    missing = [c for c in dict.fromkeys([*columns, target]) if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"dataset '{dataset}' lacks column(s) {', '.join(missing)} that mitigation needs "
            "(the model's features, the sensitive columns and the target)"
        )
    n_missing = int(frame[target].isna().sum())
    if n_missing:
        raise ValidationError(
            f"the target '{target}' has {n_missing} missing value(s) in dataset '{dataset}'; "
            "every row used to fit thresholds needs its label"
        )


def _check_groups(
    model: GroupThresholdClassifier,
    frame: pd.DataFrame,
    target: str,
    positive_label: Any,
    min_rows: int,
) -> dict[str, int]:
    """Refuse groups too small, or of one class, to fit thresholds on; return group sizes."""
    keys = model.group_keys(frame)
    positive = (frame[target].to_numpy(dtype=object) == positive_label).astype(np.int64)
    table = pd.DataFrame({"group": keys.to_numpy(), "positive": positive})
    summary = table.groupby("group", sort=True)["positive"].agg(["size", "sum"])

    problems = []
    for group, row in summary.iterrows():
        size, positives = int(row["size"]), int(row["sum"])
        if size < min_rows:
            problems.append(f"'{group}' has {size} rows (needs at least {min_rows})")
        elif positives in (0, size):
            problems.append(f"'{group}' has only {'positive' if positives else 'negative'} rows")
    if problems:
        raise ValidationError(
            f"cannot fit thresholds per group of {', '.join(model.sensitive_columns)}: "
            f"{'; '.join(problems)}",
            hint="mitigate for fewer sensitive columns (--sensitive COLUMN), or on more data",
        )
    return {str(g): int(s) for g, s in summary["size"].items()}


def _gaps(truth: Any, predicted: Any, groups: pd.Series, positive_label: Any) -> dict[str, Any]:
    """Fairlearn's gaps between the groups the thresholds were fitted for."""
    y_true = (np.asarray(truth, dtype=object) == positive_label).astype(np.int64)
    y_pred = (np.asarray(predicted, dtype=object) == positive_label).astype(np.int64)
    keys = groups.to_numpy()
    return {
        "equalized_odds_difference": float(
            equalized_odds_difference(y_true, y_pred, sensitive_features=keys)
        ),
        "demographic_parity_difference": float(
            demographic_parity_difference(y_true, y_pred, sensitive_features=keys)
        ),
        "equal_opportunity_difference": float(
            equal_opportunity_difference(y_true, y_pred, sensitive_features=keys)
        ),
        "accuracy": float((y_true == y_pred).mean()),
    }


# The gap each constraint is meant to close, as ``_gaps`` names it.
TARGETED_GAP = {
    "equalized_odds": "equalized_odds_difference",
    "demographic_parity": "demographic_parity_difference",
    "true_positive_rate_parity": "equal_opportunity_difference",
}


def _require_improvement(
    constraint: str,
    columns: list[str],
    dataset: str,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    """Refuse a mitigation that leaves the gap it targets wider than before.

    Thresholds fitted on few rows per group (or on many bands of a numeric attribute) can
    overfit; registering such a version would only add a worse model to review.
    """
    gap = TARGETED_GAP[constraint]
    if not after[gap] > before[gap]:
        return
    words = gap.replace("_", " ")
    raise ValidationError(
        f"mitigation with {constraint} over {', '.join(columns)} widens the {words}"
        f" on dataset '{dataset}' from {before[gap]:.3f} to {after[gap]:.3f} (accuracy "
        f"{before['accuracy']:.3f} -> {after['accuracy']:.3f}); nothing was registered",
        hint="use fewer or coarser groups (band.<attribute>.<n> thresholds), more rows, or "
        "another --constraint",
    )


def _metrics(
    dataset: str, before: dict[str, Any], after: dict[str, Any], seconds: float
) -> dict[str, Any]:
    metrics: dict[str, Any] = {"mitigation_seconds": round(seconds, 4)}
    for name, values in (("before", before), ("after", after)):
        for key, value in values.items():
            metrics[f"{dataset}_{key}_{name}"] = round(value, 6)
    return metrics


def _plain_json(rules: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The per-group rules with an infinite threshold written as text ("-inf"), as JSON allows."""
    return {
        group: {
            key: value if not isinstance(value, float) or math.isfinite(value) else str(value)
            for key, value in rule.items()
        }
        for group, rule in rules.items()
    }


def _notes(dataset: str) -> list[str]:
    if dataset != "holdout":
        return []
    return [
        "the thresholds were fitted on the hold-out set, so the fairness check on the hold-out "
        "set now measures the data they were fitted to and flatters the result"
    ]
