"""The automated checks, by name.

Each module defines one or more checks and their :class:`~mlgate.checks.base.CheckSpec`; this
package gathers them in :data:`REGISTRY` so the policy can name a check and the service can run
it. A check is pure: it takes a :class:`~mlgate.checks.base.CheckInput` and thresholds (already
merged by the caller; missing keys take the spec's defaults) and returns a
:class:`~mlgate.checks.base.CheckResult`.
"""

from __future__ import annotations

from mlgate.checks import (
    business,
    challenger,
    contract,
    data_quality,
    drift,
    eda,
    explanation,
    fairness,
    fitting,
    group_sizes,
    labels,
    leakage,
    logs,
    model_quality,
    representation,
    robustness,
    sensitive,
    slices,
    stability,
)
from mlgate.checks.base import CheckInput, CheckResult, CheckSpec, Figure, Finding, Series
from mlgate.errors import NotFoundError

REGISTRY: dict[str, CheckSpec] = {
    spec.name: spec
    for spec in (
        contract.SPEC,
        data_quality.SPEC,
        group_sizes.SPEC,
        model_quality.CV_SPEC,
        model_quality.HOLDOUT_SPEC,
        model_quality.DETERMINISM_SPEC,
        model_quality.PERFORMANCE_SPEC,
        fitting.SPEC,
        slices.SPEC,
        stability.SPEC,
        business.SPEC,
        challenger.SPEC,
        fairness.SPEC,
        drift.SPEC,
        sensitive.SPEC,
        leakage.SPEC,
        labels.SPEC,
        representation.SPEC,
        eda.SPEC,
        explanation.SPEC,
        robustness.SPEC,
        logs.SPEC,
    )
}


def get_check(name: str) -> CheckSpec:
    """Return the registered check called ``name``; raise :class:`NotFoundError` if unknown."""
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise NotFoundError(f"unknown check '{name}'; known checks: {known}") from None


__all__ = [
    "REGISTRY",
    "CheckInput",
    "CheckResult",
    "CheckSpec",
    "Figure",
    "Finding",
    "Series",
    "get_check",
]
