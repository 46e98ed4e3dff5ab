"""The reference a deployed model's served inputs are compared with: the data it learned from.

Monitoring compares each window of the prediction log with one registered dataset, named by
``monitoring.reference`` in ``mlgate.yaml`` (``train`` by default). When that name is the one
the model version was trained on, the exact version it was trained on is used, so registering
new training data for the next model does not move the yardstick of the model in production;
otherwise the newest version of that name is used.

The compared features are the model version's inputs (its signature), less the sensitive
columns, which the prediction log never records, and narrowed to ``monitoring.features`` when
the project lists some. A feature is categorical when the signature says it is not numeric, so
a column that a client sent as text is still compared as the number it should have been.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import select

from mlgate.checks import drift as dr
from mlgate.errors import NotFoundError, ValidationError
from mlgate.lifecycle.data import latest_dataset, load_dataset
from mlgate.lifecycle.service import Governance
from mlgate.lifecycle.thresholds import effective_thresholds
from mlgate.registry.models import DatasetVersion, ModelVersion

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Reference:
    """The reference rows of one model version, and what monitoring compares with them.

    ``frame`` holds the compared features and the target. ``thresholds`` are the drift check's
    limits as the project's policy sets them, so a window is judged as the ``drift`` check
    would judge it. ``cache`` keeps per-feature summaries (sorted values, bin edges) that
    every window reuses; it belongs to this object and is filled on first use.
    """

    frame: pd.DataFrame
    features: list[str]
    categorical: list[str]
    target: str
    dataset_sha256: str
    dataset_name: str
    model_version: int = 0
    dataset_version_id: int = 0
    thresholds: Mapping[str, float] = field(default_factory=lambda: dict(dr.DEFAULTS))
    cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def is_categorical(self, feature: str) -> bool:
        """Whether ``feature`` is compared as categories rather than on a number line."""
        return feature in self.categorical


def load_reference(gov: Governance, version: ModelVersion) -> Reference:
    """Return the reference of model ``version``: its monitored features in the reference data.

    Raises :class:`NotFoundError` when the reference dataset is not registered and
    :class:`ValidationError` when it lacks a monitored feature or the target.
    """
    started = time.perf_counter()
    config = gov.config
    name = config.monitoring.reference
    dataset = _reference_dataset(gov, version, name)
    features, categorical = _monitored_features(gov, version)
    target = version.target or config.data.target

    frame = load_dataset(gov, dataset)
    absent = [c for c in [*features, target] if c not in frame.columns]
    if absent:
        raise ValidationError(
            f"reference dataset '{name}' (version {dataset.id}, {dataset.uri}) lacks column(s) "
            f"{', '.join(absent)}; expected every monitored feature of model version "
            f"{version.version} and the target '{target}'",
            hint="register the data the model was trained on under that name, or set "
            "monitoring.reference in mlgate.yaml to a dataset that has these columns",
        )

    reference = Reference(
        frame=frame[[*features, target]].copy(),
        features=features,
        categorical=categorical,
        target=target,
        dataset_sha256=dataset.sha256,
        dataset_name=name,
        model_version=version.version,
        dataset_version_id=dataset.id,
        thresholds=_drift_thresholds(gov),
    )
    logger.info(
        "monitoring reference for model version %d: dataset '%s' (version %d, %d rows), "
        "%d features (%d categorical), loaded in %.2f s",
        version.version,
        name,
        dataset.id,
        len(frame),
        len(features),
        len(categorical),
        time.perf_counter() - started,
    )
    return reference


def _reference_dataset(gov: Governance, version: ModelVersion, name: str) -> DatasetVersion:
    # The version the model was trained on, if it carries the reference's name; else the newest.
    if version.dataset_version_id is not None:
        with gov.transaction() as session:
            trained_on = session.execute(
                select(DatasetVersion).where(DatasetVersion.id == version.dataset_version_id)
            ).scalar_one_or_none()
        if trained_on is not None and trained_on.name == name:
            return trained_on
    try:
        return latest_dataset(gov, name)
    except NotFoundError as missing:
        raise NotFoundError(
            f"the monitoring reference dataset '{name}' is not registered; windows of served "
            f"predictions of model version {version.version} are compared with it",
            hint=f"run: mlgate data add FILE --name {name}, or set monitoring.reference in "
            "mlgate.yaml to a registered dataset",
        ) from missing


def _monitored_features(gov: Governance, version: ModelVersion) -> tuple[list[str], list[str]]:
    """Return (features, categorical ones): the model's logged inputs, as the config narrows."""
    kinds = {str(c["name"]): str(c.get("kind", "numeric")) for c in version.signature}
    sensitive = set(gov.sensitive)
    chosen = gov.config.monitoring.features
    if chosen is not None:
        unknown = [f for f in chosen if f not in kinds]
        if unknown:
            raise ValidationError(
                f"monitoring.features names {', '.join(unknown)}, which model version "
                f"{version.version} does not take as input; expected some of "
                f"{', '.join(kinds) or '(none)'}"
            )
        logged_out = [f for f in chosen if f in sensitive]
        if logged_out:
            raise ValidationError(
                f"monitoring.features names the sensitive column(s) {', '.join(logged_out)}, "
                "which the prediction log never records; expected non-sensitive inputs"
            )

    features = [f for f in (chosen or kinds) if f not in sensitive]
    if not features:
        raise ValidationError(
            f"model version {version.version} has no input feature that is logged (inputs: "
            f"{', '.join(kinds) or '(none)'}; sensitive: {', '.join(sorted(sensitive)) or '-'})"
            "; expected at least one non-sensitive input to monitor"
        )
    categorical = [f for f in features if kinds[f] != "numeric"]
    return features, categorical


def _drift_thresholds(gov: Governance) -> dict[str, float]:
    """Return the drift check's limits under the project's policy and its stricter overrides."""
    for stage in gov.policy.stages:
        for req in stage.requirements:
            if req.kind == "check" and req.check == "drift":
                overrides = gov.config.thresholds.get(req.id, {})
                return effective_thresholds(dr.SPEC, req, gov.tier, overrides)
    return dict(dr.DEFAULTS)
