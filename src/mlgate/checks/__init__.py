"""The automated checks, by name.

Each module defines one or more checks and their :class:`~mlgate.checks.base.CheckSpec`; this
package gathers them in :data:`REGISTRY` so the policy can name a check and the service can run
it. A check is pure: it takes a :class:`~mlgate.checks.base.CheckInput` and thresholds (already
merged by the caller; missing keys take the spec's defaults) and returns a
:class:`~mlgate.checks.base.CheckResult`.
"""

from __future__ import annotations

import importlib
from typing import Any

from mlgate.checks.base import CheckInput, CheckResult, CheckSpec, Figure, Finding, Series
from mlgate.errors import NotFoundError

# Where each registered check's spec lives, in the order the registry lists them.
_SPECS: tuple[tuple[str, str], ...] = (
    ("contract", "SPEC"),
    ("data_quality", "SPEC"),
    ("group_sizes", "SPEC"),
    ("model_quality", "CV_SPEC"),
    ("model_quality", "HOLDOUT_SPEC"),
    ("model_quality", "DETERMINISM_SPEC"),
    ("model_quality", "PERFORMANCE_SPEC"),
    ("fitting", "SPEC"),
    ("slices", "SPEC"),
    ("stability", "SPEC"),
    ("business", "SPEC"),
    ("challenger", "SPEC"),
    ("fairness", "SPEC"),
    ("drift", "SPEC"),
    ("sensitive", "SPEC"),
    ("leakage", "SPEC"),
    ("labels", "SPEC"),
    ("representation", "SPEC"),
    ("eda", "SPEC"),
    ("explanation", "SPEC"),
    ("robustness", "SPEC"),
    ("logs", "SPEC"),
    ("code_review", "SPEC"),
    ("documentation", "SPEC"),
)


def _build_registry() -> dict[str, CheckSpec]:
    specs = [
        getattr(importlib.import_module(f"mlgate.checks.{module}"), attribute)
        for module, attribute in _SPECS
    ]
    return {spec.name: spec for spec in specs}


def __getattr__(name: str) -> Any:
    # The registry is built on first use: importing one check module (as the drift and quality
    # entry points do) then costs only that module's imports, not every check's libraries.
    if name == "REGISTRY":
        registry = _build_registry()
        globals()["REGISTRY"] = registry
        return registry
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_check(name: str) -> CheckSpec:
    """Return the registered check called ``name``; raise :class:`NotFoundError` if unknown."""
    registry = globals().get("REGISTRY") or __getattr__("REGISTRY")
    try:
        return registry[name]
    except KeyError:
        known = ", ".join(sorted(registry))
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
