"""Tests of the policy loader: the default policy, and errors that name the line and field."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import mlgate.checks
import mlgate.policy
from mlgate.checks import REGISTRY
from mlgate.documents import DOCUMENT_TYPES
from mlgate.errors import NotFoundError, ValidationError
from mlgate.policy import TIERS, Policy, default_policy_path, load_policy, policy_sha256

KNOWN_CHECKS = set(REGISTRY)

# A small valid policy; the tests below change one line and assert the exact line reported.
BASE = """\
name: test-policy
version: "1"
roles: [data_scientist, validator, risk_officer]
waiver_roles: [risk_officer]
stages:
  - id: initiation
    title: Initiation
    requirements:
      - id: business_case
        kind: document
        document: business_case
        title: Business case
  - id: testing
    title: Testing
    requirements:
      - id: cv_accuracy
        kind: check
        check: cv_accuracy
        title: Cross-validation
        thresholds:
          min_roc_auc: 0.7
      - id: model_validation
        kind: approval
        role: validator
        subject: model
        count: 1
        title: Validator approves
"""


class _Spec:
    """A stand-in for a check registry entry: only ``defaults`` matters to the loader."""

    def __init__(self, *names: str) -> None:
        self.defaults = dict.fromkeys(names, 0.0)


def _changed(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


def _load(text: str) -> Policy:
    return load_policy(text, source_name="policy.yaml")


# --- the default policy --------------------------------------------------------------------------


def test_default_policy_loads_with_seven_stages() -> None:
    policy = load_policy(default_policy_path())

    assert policy.stage_ids == [
        "initiation",
        "kickoff",
        "development",
        "testing",
        "review",
        "deployment",
        "monitoring",
    ]
    assert policy.waiver_roles == ["risk_officer", "admin"]
    assert set(policy.roles) == {
        "data_scientist",
        "validator",
        "risk_officer",
        "business_owner",
        "ml_engineer",
        "auditor",
        "admin",
    }


def test_default_policy_low_tier_has_far_fewer_requirements_than_high() -> None:
    policy = load_policy(default_policy_path())

    counts = {
        tier: sum(len(policy.requirements_for(s, tier)) for s in policy.stage_ids)
        for tier in TIERS
    }

    assert counts == {"low": 7, "medium": 35, "high": 39}
    low = {r.id for s in policy.stage_ids for r in policy.requirements_for(s, "low")}
    assert low == {
        "business_case",
        "data_quality",
        "cv_accuracy",
        "determinism",
        "process",
        "emergency_contacts",
        "deployment",
    }


def test_default_policy_tiers_are_nested() -> None:
    policy = load_policy(default_policy_path())

    def ids(tier: str) -> set[str]:
        return {r.id for s in policy.stage_ids for r in policy.requirements_for(s, tier)}

    assert ids("low") < ids("medium") < ids("high")


def test_default_policy_requirements_are_described_and_resolve() -> None:
    policy = load_policy(default_policy_path())

    for stage in policy.stages:
        for req in stage.requirements:
            assert req.title, req.id
            assert len(req.description) > 40, req.id
            if req.kind == "check":
                assert req.check in KNOWN_CHECKS, req.id
            if req.kind == "document":
                assert req.document in DOCUMENT_TYPES, req.id
            if req.kind == "record":
                assert req.record in {*DOCUMENT_TYPES, "deployment"}, req.id


def test_default_policy_high_tier_thresholds_are_stricter() -> None:
    policy = load_policy(default_policy_path())

    tiered = [r for s in policy.stages for r in s.requirements if r.tier_thresholds]
    assert {r.check for r in tiered} >= {"data_quality", "cv_accuracy", "fairness"}
    for req in tiered:
        base, high = req.thresholds_for("medium"), req.thresholds_for("high")
        for key, value in high.items():
            if key.startswith("max_"):
                assert value <= base[key], (req.id, key)
            else:
                assert value >= base[key], (req.id, key)


def test_default_policy_specific_requirements() -> None:
    policy = load_policy(default_policy_path())

    review = policy.requirement("model_review")[1]
    assert (review.role, review.subject, review.count_for("high")) == ("validator", "model", 2)
    assert policy.requirement("risk_assessment_approval")[1].subject == "risk_assessment"
    assert policy.requirement("business_case_approval")[1].role == "business_owner"
    drift_stage, drift = policy.requirement("drift")
    assert (drift_stage.id, drift.dataset, drift.tiers) == (
        "monitoring",
        "current",
        ["medium", "high"],
    )
    assert policy.requirement("fairness")[1].dataset == "holdout"


def test_policy_sha256_is_the_hash_of_the_file_bytes(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(BASE, encoding="utf-8")

    assert policy_sha256(path) == hashlib.sha256(BASE.encode()).hexdigest()
    assert policy_sha256(default_policy_path()) != policy_sha256(path)


def test_policy_sha256_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"policy file '.*nope\.yaml' does not exist"):
        policy_sha256(tmp_path / "nope.yaml")


def test_public_names_match_all() -> None:
    public = {name for name in vars(mlgate.policy) if not name.startswith("_")}
    modules = {"loader", "model", "annotations"}

    assert set(mlgate.policy.__all__) == public - modules


# --- reading -------------------------------------------------------------------------------------


def test_load_policy_from_path_and_from_string_path(tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"
    path.write_text(BASE, encoding="utf-8")

    assert load_policy(path).name == "test-policy"
    assert load_policy(str(path)).name == "test-policy"
    assert _load(BASE).stage_ids == ["initiation", "testing"]


def test_load_policy_missing_file_raises_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"policy file '.*missing\.yaml' does not exist"):
        load_policy(tmp_path / "missing.yaml")


def test_load_policy_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(_changed("count: 1", "count: two"), encoding="utf-8")

    with pytest.raises(ValidationError, match=r"/policy\.yaml line 26, stages\[1\]"):
        load_policy(path)


def test_load_policy_yaml_syntax_error_names_line() -> None:
    text = _changed("title: Cross-validation", "title: Cross: validation")

    with pytest.raises(ValidationError, match=r"policy\.yaml line 19: not valid YAML"):
        _load(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"policy\.yaml: the file is empty"),
        ("- a\n- b\n", r"policy\.yaml line 1: expected a mapping .* got a list"),
    ],
)
def test_load_policy_empty_or_not_a_mapping_raises(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _load(text)


# --- schema errors with lines --------------------------------------------------------------------


def test_unknown_field_names_line_and_field() -> None:
    text = _changed("        title: Cross-validation\n", "        title: x\n        colour: red\n")

    with pytest.raises(
        ValidationError,
        match=r"policy\.yaml line 20, stages\[1\]\.requirements\[0\]\.colour: unknown field",
    ):
        _load(text)


def test_misspelt_field_suggests_the_right_one() -> None:
    text = _changed("        subject: model\n", "        subjekt: model\n")

    with pytest.raises(
        ValidationError,
        match=r"line 25, stages\[1\]\.requirements\[1\]\.subjekt: unknown field "
        r"\(did you mean 'subject'\?\)",
    ):
        _load(text)


def test_bad_type_names_line_field_expected_and_found() -> None:
    text = _changed("count: 1", "count: two")

    with pytest.raises(
        ValidationError,
        match=r"policy\.yaml line 26, stages\[1\]\.requirements\[1\]\.count: expected a whole "
        r"number or a mapping of keys to values; got 'two'",
    ):
        _load(text)


def test_bad_threshold_value_names_nested_line() -> None:
    text = _changed("min_roc_auc: 0.7", "min_roc_auc: high")

    with pytest.raises(
        ValidationError,
        match=r"line 21, stages\[1\]\.requirements\[0\]\.thresholds\.min_roc_auc: expected a "
        r"number; got 'high'",
    ):
        _load(text)


def test_bad_tier_names_list_item_line() -> None:
    text = _changed(
        "        title: Business case\n", "        title: B\n        tiers: [low, max]\n"
    )

    with pytest.raises(
        ValidationError,
        match=r"line 13, stages\[0\]\.requirements\[0\]\.tiers\[1\]: expected one of 'low', "
        r"'medium' or 'high'; got 'max'",
    ):
        _load(text)


def test_missing_field_names_line_of_parent_mapping() -> None:
    text = _changed("        title: Validator approves\n", "")

    with pytest.raises(
        ValidationError,
        match=r"policy\.yaml line 22, stages\[1\]\.requirements\[1\]\.title: field required",
    ):
        _load(text)


def test_text_field_given_a_number_asks_for_quotes() -> None:
    text = _changed('version: "1"', "version: 1.0")

    with pytest.raises(ValidationError, match=r"line 2, version: expected text .*quote it"):
        _load(text)


def test_duplicate_yaml_key_is_reported() -> None:
    text = _changed("        count: 1\n", "        count: 1\n        count: 2\n")

    with pytest.raises(
        ValidationError,
        match=r"line 27, stages\[1\]\.requirements\[1\]\.count: appears twice "
        r"\(first on line 26\)",
    ):
        _load(text)


def test_every_problem_is_listed_at_once() -> None:
    text = _changed("count: 1", "count: two").replace("role: validator", "role: boss")

    with pytest.raises(ValidationError, match=r"\(2 problems\)") as caught:
        _load(text)

    assert "line 24, stages[1].requirements[1].role: unknown role 'boss'" in str(caught.value)
    assert "line 26, stages[1].requirements[1].count" in str(caught.value)


# --- references ----------------------------------------------------------------------------------


def test_duplicate_requirement_id_names_second_occurrence() -> None:
    text = _changed("- id: model_validation", "- id: cv_accuracy")

    with pytest.raises(
        ValidationError,
        match=r"policy\.yaml line 22, stages\[1\]\.requirements\[1\]\.id: requirement id "
        r"'cv_accuracy' is already used by stages\[1\]\.requirements\[0\] \(line 16\)",
    ):
        _load(text)


def test_duplicate_stage_id_names_line() -> None:
    text = _changed("- id: testing", "- id: initiation")

    with pytest.raises(
        ValidationError,
        match=r"line 13, stages\[1\]\.id: stage id 'initiation' appears twice \(first on line 6\)",
    ):
        _load(text)


def test_bad_approval_subject_names_line() -> None:
    text = _changed("subject: model", "subject: risk_memo")

    with pytest.raises(
        ValidationError,
        match=r"policy\.yaml line 25, stages\[1\]\.requirements\[1\]\.subject: unknown subject "
        r"'risk_memo'; expected 'stage', 'model' or the id of a requirement",
    ):
        _load(text)


def test_approval_subject_not_covering_tiers_is_refused() -> None:
    text = _changed("        title: Business case\n", "        title: B\n        tiers: [high]\n")
    text = text.replace("subject: model", "subject: business_case")

    with pytest.raises(
        ValidationError,
        match=r"line 26, stages\[1\]\.requirements\[1\]\.subject: subject 'business_case' does "
        r"not apply to tier low, medium",
    ):
        _load(text)


def test_approval_subject_in_later_stage_is_refused() -> None:
    approval = (
        "      - id: early_approval\n"
        "        kind: approval\n"
        "        role: validator\n"
        "        subject: cv_accuracy\n"
        "        title: Too early\n"
    )
    text = _changed("  - id: testing\n", approval + "  - id: testing\n")

    with pytest.raises(
        ValidationError,
        match=r"line 16, stages\[0\]\.requirements\[1\]\.subject: subject 'cv_accuracy' belongs "
        r"to a later stage",
    ):
        _load(text)


def test_unknown_approval_role_names_line() -> None:
    text = _changed("role: validator", "role: boss")

    with pytest.raises(
        ValidationError,
        match=r"line 24, stages\[1\]\.requirements\[1\]\.role: unknown role 'boss'; expected one "
        r"of the policy's roles: data_scientist, validator, risk_officer",
    ):
        _load(text)


def test_unknown_waiver_role_names_line() -> None:
    text = _changed("waiver_roles: [risk_officer]", "waiver_roles: [risk_officer, cfo]")

    with pytest.raises(ValidationError, match=r"line 4, waiver_roles\[1\]: unknown role 'cfo'"):
        _load(text)


def test_zero_approvers_is_refused() -> None:
    text = _changed("count: 1", "count: {medium: 1, high: 0}")

    with pytest.raises(
        ValidationError,
        match=r"line 26, stages\[1\]\.requirements\[1\]\.count\.high: expected at least 1 "
        r"approver; got 0",
    ):
        _load(text)


def test_field_of_another_kind_is_refused() -> None:
    text = _changed(
        "        check: cv_accuracy\n", "        check: cv_accuracy\n        role: x\n"
    )

    with pytest.raises(
        ValidationError,
        match=r"line 19, stages\[1\]\.requirements\[0\]\.role: 'role' belongs to requirements of "
        r"kind 'approval', but this one has kind 'check'",
    ):
        _load(text)


def test_unknown_document_type_names_line() -> None:
    text = _changed("document: business_case", "document: buisness_case")

    with pytest.raises(
        ValidationError,
        match=r"line 11, stages\[0\]\.requirements\[0\]\.document: unknown document type "
        r"'buisness_case'; expected one of: business_case, feasibility",
    ):
        _load(text)


def test_unknown_check_names_line_when_registry_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = {"cv_accuracy": _Spec("min_roc_auc"), "drift": _Spec("psi_threshold")}
    monkeypatch.setattr(mlgate.checks, "REGISTRY", registry, raising=False)
    text = _changed("check: cv_accuracy", "check: cv_acuracy")

    with pytest.raises(
        ValidationError,
        match=r"line 18, stages\[1\]\.requirements\[0\]\.check: unknown check 'cv_acuracy'; "
        r"expected one of: cv_accuracy, drift",
    ):
        _load(text)


def test_unknown_threshold_names_line_when_registry_exists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = {"cv_accuracy": _Spec("min_roc_auc", "max_gap", "folds")}
    monkeypatch.setattr(mlgate.checks, "REGISTRY", registry, raising=False)
    text = _changed("min_roc_auc: 0.7", "min_roc_acu: 0.7")

    with pytest.raises(
        ValidationError,
        match=r"line 21, stages\[1\]\.requirements\[0\]\.thresholds\.min_roc_acu: unknown "
        r"threshold 'min_roc_acu' for check 'cv_accuracy'; expected one of: folds, max_gap",
    ):
        _load(text)


def test_check_names_unchecked_without_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mlgate.checks, "REGISTRY", None)
    text = _changed("check: cv_accuracy", "check: brand_new_check")

    assert _load(text).requirement("cv_accuracy")[1].check == "brand_new_check"
