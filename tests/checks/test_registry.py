"""Tests for the check registry in ``mlgate.checks``."""

from __future__ import annotations

import pytest

import mlgate.checks as checks
from mlgate.checks import REGISTRY, get_check
from mlgate.errors import NotFoundError

EXPECTED = {
    "robustness": (True, False),
    "explanation": (True, False),
    "eda": (False, False),
    "sensitive_data": (False, False),
    "leakage": (False, False),
    "labels": (False, False),
    "representation": (False, False),
    "contract": (False, False),
    "data_quality": (False, False),
    "group_sizes": (False, False),
    "cv_accuracy": (True, False),
    "holdout_accuracy": (True, False),
    "determinism": (True, False),
    "performance": (True, False),
    "business_accuracy": (True, False),
    "challenger": (True, False),
    "fitting": (True, False),
    "slices": (True, False),
    "stability": (True, False),
    "run_logs": (True, False),
    "fairness": (True, False),
    "drift": (False, True),
    "documentation": (False, False),
    "code_review": (False, False),
}


def test_registry_holds_every_check_with_its_needs():
    assert set(REGISTRY) == set(EXPECTED)
    for name, (needs_model, needs_reference) in EXPECTED.items():
        spec = get_check(name)
        assert spec.name == name
        assert (spec.needs_model, spec.needs_reference) == (needs_model, needs_reference)
        assert callable(spec.function)
        assert spec.defaults
        assert all(isinstance(v, int | float) for v in spec.defaults.values())


def test_unknown_check_names_it_and_lists_the_known_ones():
    known = ", ".join(sorted(EXPECTED))

    with pytest.raises(NotFoundError, match=rf"^unknown check 'nope'; known checks: {known}$"):
        get_check("nope")


def test_public_names_are_exported():
    public = {name for name in vars(checks) if not name.startswith("_")}

    assert set(checks.__all__) <= public
    assert {"REGISTRY", "get_check"} <= set(checks.__all__)


def test_documented_defaults():
    assert get_check("data_quality").defaults["max_missing_share"] == 0.2
    assert get_check("group_sizes").defaults["min_group_size"] == 30
    assert get_check("cv_accuracy").defaults["min_roc_auc"] == 0.7
    assert get_check("fairness").defaults["min_disparate_impact_ratio"] == 0.8
    assert get_check("drift").defaults["psi_threshold"] == 0.2
    assert get_check("performance").defaults["max_latency_p99_ms"] == 100
