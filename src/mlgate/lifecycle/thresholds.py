"""The limits a check runs with: the check's defaults, the policy's, and the project's own.

A project may set its own limits in mlgate.yaml (``thresholds: {requirement id: {key: value}}``)
but only to be stricter than the policy: a lower maximum, a higher minimum. Loosening a limit is
a governance decision, made with an audited waiver by a risk officer, not by editing a file.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from mlgate.checks.base import CheckSpec
from mlgate.errors import PolicyViolation, ValidationError
from mlgate.policy.model import Policy, Requirement, Tier

LOWER_IS_STRICTER = ("max_",)
LOWER_IS_STRICTER_SUFFIX = ("_threshold",)
HIGHER_IS_STRICTER = ("min_",)


def stricter_direction(key: str) -> str | None:
    """Return ``lower`` or ``higher`` for the direction that tightens ``key``, else ``None``."""
    if key.startswith(LOWER_IS_STRICTER) or key.endswith(LOWER_IS_STRICTER_SUFFIX):
        return "lower"
    if key.startswith(HIGHER_IS_STRICTER):
        return "higher"
    return None


def effective_thresholds(
    spec: CheckSpec, req: Requirement, tier: Tier, overrides: Mapping[str, float]
) -> dict[str, float]:
    """Return the limits to run ``spec`` with for ``req``, refusing any that loosen the policy."""
    limits = {**spec.defaults, **req.thresholds_for(tier)}
    for key, value in overrides.items():
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise ValidationError(
                f"mlgate.yaml thresholds.{req.id}.{key}: expected a finite number; got {value!r}"
            )
        if key.startswith(spec.threshold_prefixes or ("\0",)):
            continue
        if key not in limits:
            raise ValidationError(
                f"mlgate.yaml thresholds.{req.id}.{key}: unknown threshold for check "
                f"'{spec.name}'; expected one of {', '.join(sorted(limits))}"
            )
        direction = stricter_direction(key)
        base = limits[key]
        if direction is None and value != base:
            raise PolicyViolation(
                f"mlgate.yaml thresholds.{req.id}.{key}: '{key}' is a setting of the check, "
                f"not a limit with a stricter side, so a project cannot change it from {base:g}",
                hint="change it in the policy file the project is governed by",
            )
        looser = (direction == "lower" and value > base) or (
            direction == "higher" and value < base
        )
        if looser:
            raise PolicyViolation(
                f"mlgate.yaml thresholds.{req.id}.{key} = {value:g} would loosen the policy's "
                f"{base:g}; a project may only tighten limits",
                hint=f"remove it, or ask a risk officer to waive {req.id} with a justification",
            )
    return {**limits, **overrides}


def unknown_overrides(
    policy: Policy, tier: Tier, overrides: Mapping[str, object], check_names: Iterable[str]
) -> list[str]:
    """Return the ids in mlgate.yaml's ``thresholds`` that name nothing a check runs as.

    A check requirement of ``tier`` uses its id; a check run as voluntary evidence uses the
    check's name, so registered check names count as known too.
    """
    checks = {
        req.id
        for stage in policy.stages
        for req in stage.requirements
        if req.kind == "check" and req.applies_to(tier)
    }
    return sorted(set(overrides) - checks - set(check_names))
