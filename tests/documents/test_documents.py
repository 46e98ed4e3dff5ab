"""Tests of the document schemas, templates, examples and the line-aware parser."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

import mlgate.documents
from mlgate.documents import (
    DOCUMENT_TYPES,
    ComputeAllocation,
    DataAccessGrant,
    example,
    named_role,
    parse_document,
    parse_document_text,
    template,
    unmet_reason,
    valid_until,
    validate_document,
)
from mlgate.errors import NotFoundError, ValidationError

TODAY = date(2026, 3, 2)
KINDS = list(DOCUMENT_TYPES)

# A business case with known line numbers; tests change one line of it.
BUSINESS_CASE = """\
kind: business_case
title: Credit-risk scoring
problem: Too many consumer loans default.
beneficiaries:
  - Retail lending
current_solution: A scorecard.
expected_benefit:
  description: Fewer default losses
  quantity: 250000
  unit: EUR
  period: year
improvement_over_current: ROC AUC from 0.70 to 0.75.
success_metrics:
  - name: ROC AUC
    direction: higher
    baseline: 0.70
    target: 0.75
    unit: AUC
"""


def _leaf_paths(value: Any, prefix: str = "") -> set[str]:
    """Return the field paths of every scalar in ``value`` (list items as ``[0]``)."""
    if isinstance(value, dict):
        paths: set[str] = set()
        for key, item in value.items():
            paths |= _leaf_paths(item, f"{prefix}.{key}" if prefix else str(key))
        return paths
    if isinstance(value, list):
        return set().union(*(_leaf_paths(item, f"{prefix}[0]") for item in value[:1]))
    return {prefix}


def _without_kind(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key != "kind"}


# --- templates and examples ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_template_fails_naming_every_unfilled_field(kind: str) -> None:
    text = template(kind)
    fields = _leaf_paths(_without_kind(yaml.safe_load(text)))

    with pytest.raises(
        ValidationError, match=rf"{kind}\.yaml is not a valid {kind} document"
    ) as caught:
        parse_document_text(text, f"{kind}.yaml")

    message = str(caught.value)
    for field in fields:
        assert f", {field}: not filled in: replace the placeholder '<" in message, field
    assert f"({len(fields)} problems)" in message


@pytest.mark.parametrize("kind", KINDS)
def test_template_is_commented_and_names_its_kind(kind: str) -> None:
    text = template(kind)

    assert yaml.safe_load(text)["kind"] == kind
    assert text.count("\n#") + text.count("\n  #") >= 4
    assert all(len(line) <= 99 for line in text.splitlines())


@pytest.mark.parametrize("kind", KINDS)
def test_template_and_example_have_the_same_fields(kind: str) -> None:
    template_fields = _leaf_paths(yaml.safe_load(template(kind)))
    example_fields = _leaf_paths(example(kind, TODAY))

    assert template_fields == example_fields


@pytest.mark.parametrize("kind", KINDS)
def test_example_validates_from_yaml_and_from_mapping(kind: str) -> None:
    data = example(kind, TODAY)

    parsed_kind, document = parse_document_text(yaml.safe_dump(data, sort_keys=False), "x.yaml")
    assert parsed_kind == kind
    assert isinstance(document, DOCUMENT_TYPES[kind])
    assert unmet_reason(document) is None
    assert validate_document(data)[1] == document


def test_example_describes_german_credit() -> None:
    case = example("business_case", TODAY)
    risk = example("risk_assessment", TODAY)

    metric = case["success_metrics"][0]
    assert (metric["baseline"], metric["target"], metric["unit"]) == (0.70, 0.75, "AUC")
    assert case["expected_benefit"]["unit"] == "EUR"
    assert risk["privacy"]["sensitive_attributes"] == [
        "sex (in status_sex)",
        "age",
        "foreign_worker",
    ]


@pytest.mark.parametrize("kind", ["compute_allocation", "data_access_grant"])
def test_example_records_are_valid_until_a_future_date(kind: str) -> None:
    _, document = validate_document(example(kind, TODAY))

    until = valid_until(document)
    assert until is not None
    assert until > TODAY + timedelta(days=90)


def test_valid_until_is_none_for_documents_without_expiry() -> None:
    _, document = validate_document(example("business_case", TODAY))

    assert valid_until(document) is None
    assert isinstance(
        validate_document(example("compute_allocation", TODAY))[1], ComputeAllocation
    )


@pytest.mark.parametrize("kind", ["template", "example"])
def test_unknown_kind_raises_not_found_listing_kinds(kind: str) -> None:
    function = template if kind == "template" else (lambda k: example(k, TODAY))

    with pytest.raises(NotFoundError, match=r"unknown document kind 'memo'; expected one of: "):
        function("memo")


def test_public_names_match_all() -> None:
    public = {name for name in vars(mlgate.documents) if not name.startswith("_")}
    modules = {"examples", "parse", "schemas", "templates", "annotations"}

    assert set(mlgate.documents.__all__) == public - modules


# --- field-by-field errors -----------------------------------------------------------------------


def test_missing_field_names_it_and_its_line() -> None:
    text = BUSINESS_CASE.replace("    target: 0.75\n", "")

    with pytest.raises(
        ValidationError,
        match=r"business_case\.yaml line 14, success_metrics\[0\]\.target: field required",
    ):
        parse_document_text(text, "business_case.yaml")


def test_missing_top_level_field_names_line_one() -> None:
    text = BUSINESS_CASE.replace("current_solution: A scorecard.\n", "")

    with pytest.raises(ValidationError, match=r"line 1, current_solution: field required"):
        parse_document_text(text, "business_case.yaml")


@pytest.mark.parametrize(
    ("direction", "target", "message"),
    [
        ("higher", "0.70", r"target 0\.7 does not beat baseline 0\.7: with direction 'higher'"),
        ("higher", "0.65", r"target 0\.65 does not beat baseline 0\.7"),
        ("lower", "0.75", r"target 0\.75 does not beat baseline 0\.7: with direction 'lower'"),
    ],
)
def test_target_not_beating_baseline_is_refused(direction: str, target: str, message: str) -> None:
    text = BUSINESS_CASE.replace("direction: higher", f"direction: {direction}").replace(
        "target: 0.75", f"target: {target}"
    )

    with pytest.raises(
        ValidationError, match=rf"line 17, success_metrics\[0\]\.target: {message}"
    ):
        parse_document_text(text, "business_case.yaml")


def test_lower_is_better_metric_accepts_lower_target() -> None:
    text = BUSINESS_CASE.replace("direction: higher", "direction: lower").replace(
        "target: 0.75", "target: 0.60"
    )

    kind, document = parse_document_text(text, "business_case.yaml")

    assert kind == "business_case"
    assert document.success_metrics[0].target == 0.60  # type: ignore[attr-defined]


def test_wrong_values_name_expected_and_found() -> None:
    text = BUSINESS_CASE.replace("quantity: 250000", "quantity: -5").replace(
        "period: year", "period: annually"
    )

    with pytest.raises(ValidationError, match=r"\(2 problems\)") as caught:
        parse_document_text(text, "business_case.yaml")

    message = str(caught.value)
    assert "line 9, expected_benefit.quantity: expected a number greater than 0; got -5" in message
    assert (
        "line 11, expected_benefit.period: expected one of 'day', 'week', 'month', 'quarter', "
        "'year' or 'once'; got 'annually'"
    ) in message


def test_empty_list_names_its_minimum() -> None:
    text = BUSINESS_CASE.replace("beneficiaries:\n  - Retail lending\n", "beneficiaries: []\n")

    with pytest.raises(
        ValidationError,
        match=r"line 4, beneficiaries: expected a list of at least 1 item; got an empty list",
    ):
        parse_document_text(text, "business_case.yaml")


def test_unknown_field_suggests_the_right_one() -> None:
    text = BUSINESS_CASE.replace("current_solution:", "curent_solution:")

    with pytest.raises(
        ValidationError,
        match=r"line 6, curent_solution: unknown field \(did you mean 'current_solution'\?\)",
    ):
        parse_document_text(text, "business_case.yaml")


def test_value_read_as_boolean_asks_for_quotes() -> None:
    text = BUSINESS_CASE.replace("problem: Too many consumer loans default.", "problem: yes")

    with pytest.raises(
        ValidationError, match=r"line 3, problem: expected text .*quote it.*got true"
    ):
        parse_document_text(text, "business_case.yaml")


def test_placeholder_left_in_a_date_is_named() -> None:
    data = example("compute_allocation", TODAY)
    data["reclaim_date"] = "<YYYY-MM-DD>"

    with pytest.raises(
        ValidationError,
        match=r"reclaim_date: not filled in: replace the placeholder '<YYYY-MM-DD>'",
    ):
        validate_document(data, "compute_allocation.yaml")


def test_missing_kind_lists_known_kinds() -> None:
    text = BUSINESS_CASE.replace("kind: business_case\n", "")

    with pytest.raises(
        ValidationError,
        match=r"x\.yaml line 1, kind: field required: name the document type; expected one of: "
        r"business_case, feasibility, risk_assessment, project_plan, compute_allocation, "
        r"data_access_grant, user_acceptance, emergency_contacts",
    ):
        parse_document_text(text, "x.yaml")


def test_unknown_kind_lists_known_kinds_and_suggests_one() -> None:
    text = BUSINESS_CASE.replace("kind: business_case", "kind: buisness_case")

    with pytest.raises(
        ValidationError,
        match=r"x\.yaml line 1, kind: unknown document kind 'buisness_case' \(did you mean "
        r"'business_case'\?\); expected one of: business_case, feasibility",
    ):
        parse_document_text(text, "x.yaml")


def test_not_yaml_names_the_line() -> None:
    text = BUSINESS_CASE.replace("unit: EUR", "unit: [EUR")

    with pytest.raises(ValidationError, match=r"x\.yaml line \d+: not valid YAML"):
        parse_document_text(text, "x.yaml")


def test_impossible_date_names_the_line() -> None:
    data = yaml.safe_dump(example("data_access_grant", TODAY), sort_keys=False)
    text = data.replace(f"expires: {TODAY + timedelta(days=180)}", "expires: 2026-02-30")

    with pytest.raises(ValidationError, match=r"x\.yaml line 8: '2026-02-30' is not a valid date"):
        parse_document_text(text, "x.yaml")


def test_top_level_list_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"x\.yaml line 1: expected a mapping of fields"):
        parse_document_text("- kind: business_case\n", "x.yaml")


# --- cross-field rules ---------------------------------------------------------------------------


def test_reclaim_date_before_allocation_is_refused() -> None:
    data = example("compute_allocation", TODAY)
    data["reclaim_date"] = TODAY - timedelta(days=30)

    with pytest.raises(ValidationError, match=r"reclaim_date: reclaim_date .* is not after"):
        validate_document(data)


def test_self_granted_data_access_is_refused() -> None:
    data = example("data_access_grant", TODAY)
    data["granted_by"] = data["grantee"]

    with pytest.raises(ValidationError, match=r"granted_by: 'Jonas Weber' grants access to them"):
        validate_document(data)


def test_sensitive_attributes_without_personal_data_is_refused() -> None:
    data = example("risk_assessment", TODAY)
    data["privacy"]["personal_data"] = False

    with pytest.raises(
        ValidationError, match=r"privacy\.sensitive_attributes: lists sensitive attributes"
    ):
        validate_document(data)


def test_overall_risk_below_discrimination_risk_is_refused() -> None:
    data = example("risk_assessment", TODAY)
    data["overall_risk"] = "low"

    with pytest.raises(ValidationError, match=r"overall_risk: overall_risk 'low' is below"):
        validate_document(data)


def test_same_person_twice_in_emergency_contacts_is_refused() -> None:
    data = example("emergency_contacts", TODAY)
    data["secondary"]["email"] = data["primary"]["email"].upper()

    with pytest.raises(
        ValidationError, match=r"secondary: secondary has the same e-mail as primary"
    ):
        validate_document(data)


def test_bad_email_and_phone_are_named() -> None:
    data = example("emergency_contacts", TODAY)
    data["primary"]["email"] = "lena"
    data["escalation"]["phone"] = "ask"

    with pytest.raises(ValidationError, match=r"\(2 problems\)") as caught:
        validate_document(data)

    assert "primary.email: expected an e-mail address" in str(caught.value)
    assert "escalation.phone: expected a phone number with at least 6 digits" in str(caught.value)


def test_unmet_reason_for_valid_documents_that_say_no() -> None:
    acceptance = example("user_acceptance", TODAY) | {"decision": "reject"}
    contacts = example("emergency_contacts", TODAY) | {"confirmed": False}
    feasibility = example("feasibility", TODAY) | {"feasible": False}

    reason = unmet_reason(validate_document(acceptance)[1]) or ""
    prefix = "Anna Schmidt rejected model version 1: "
    assert reason.startswith(prefix + "Scored 200 past applications side by side")
    assert reason.endswith("its refusals are ex...")  # long comments are cut to 120 characters
    assert len(reason) == len(prefix) + 120
    assert "not confirmed" in (unmet_reason(validate_document(contacts)[1]) or "")
    assert "not feasible" in (unmet_reason(validate_document(feasibility)[1]) or "")


@pytest.mark.parametrize("comments", ["", "   ", "No.", "too risky"])
def test_a_rejection_without_a_reason_is_refused(comments: str) -> None:
    data = example("user_acceptance", TODAY) | {"decision": "reject", "comments": comments}

    with pytest.raises(ValidationError, match=r"comments: a rejection must say why: comments has"):
        validate_document(data)


def test_a_rejection_that_leaves_out_the_comments_is_refused_at_its_decision_line() -> None:
    text = (
        "kind: user_acceptance\n"
        "model_version: 1\n"
        "signed_by: Anna Schmidt\n"
        "role: business owner\n"
        "decision: reject\n"
        "date: 2026-03-02\n"
    )

    with pytest.raises(ValidationError) as caught:
        parse_document_text(text, "ua.yaml")

    assert caught.value.message.splitlines()[1:] == [
        "  ua.yaml line 5, decision: a rejection must say why, but the comments field is "
        "missing; add comments: with at least 10 characters saying what must change before "
        "the model is accepted"
    ]


def test_missing_comments_are_listed_with_the_other_problems_of_a_rejection() -> None:
    data = example("user_acceptance", TODAY) | {"decision": "reject", "model_version": "two"}
    del data["comments"]

    with pytest.raises(ValidationError) as caught:
        validate_document(data)

    problems = caught.value.message.splitlines()[1:]
    assert [p.split(":")[0].strip() for p in problems] == [
        "<document>, decision",
        "<document>, model_version",
    ]
    assert "the comments field is missing" in problems[0]


def test_a_rejection_with_a_reason_is_valid_and_quotes_it() -> None:
    data = example("user_acceptance", TODAY) | {
        "decision": "reject",
        "comments": "  AUC too low  ",
    }

    document = validate_document(data)[1]

    assert unmet_reason(document) == "Anna Schmidt rejected model version 1: AUC too low"


def test_an_acceptance_may_leave_the_comments_empty() -> None:
    data = example("user_acceptance", TODAY) | {"comments": ""}
    del data["kind"]
    without = {k: v for k, v in data.items() if k != "comments"}

    for body in (data, without):
        document = validate_document({"kind": "user_acceptance", **body})[1]
        assert (unmet_reason(document), document.model_dump()["comments"]) == (None, "")


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("business_owner", "business_owner"),
        ("Business Owner", "business_owner"),
        ("business-owner, retail lending", "business_owner"),
        ("business owner (retail lending)", "business_owner"),
        ("  Risk  officer; credit ", "risk_officer"),
        ("validator", "validator"),
        ("head of retail lending", "head_of_retail_lending"),
    ],
)
def test_named_role_reads_the_role_before_a_qualifier(text: str, role: str) -> None:
    assert named_role(text) == role


def test_feasible_without_data_is_refused() -> None:
    data = example("feasibility", TODAY) | {"data_available": False}

    with pytest.raises(ValidationError, match=r"feasible: feasible is true but data_available"):
        validate_document(data)


# --- files ---------------------------------------------------------------------------------------


def test_parse_document_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "data_access_grant.yaml"
    path.write_text(yaml.safe_dump(example("data_access_grant", TODAY)), encoding="utf-8")

    kind, document = parse_document(path)

    assert kind == "data_access_grant"
    assert isinstance(document, DataAccessGrant)
    assert document.environment == "credit-risk-sandbox"


def test_parse_document_error_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "business_case.yaml"
    path.write_text(BUSINESS_CASE.replace("    target: 0.75\n", ""), encoding="utf-8")

    with pytest.raises(ValidationError, match=rf"{path} line 14, success_metrics\[0\]\.target"):
        parse_document(path)


def test_parse_document_missing_file_raises_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"document file '.*absent\.yaml' does not exist"):
        parse_document(tmp_path / "absent.yaml")


def test_parse_document_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "scan.yaml"
    path.write_bytes(b"kind: business_case\n\xff\xfe")

    with pytest.raises(ValidationError, match=r"scan\.yaml is not UTF-8 text"):
        parse_document(path)


def test_impossible_date_is_named_as_a_date_not_as_bad_yaml(tmp_path: Path) -> None:
    path = tmp_path / "alloc.yaml"
    path.write_text(
        "kind: compute_allocation\nresource: gpu\nplatform: cluster\nowner: a\n"
        "allocated_on: 2026-13-01\nreclaim_date: 2027-01-01\n"
    )
    with pytest.raises(ValidationError, match="line 5: '2026-13-01' is not a valid date") as info:
        parse_document(path)
    assert "not valid YAML" not in str(info.value)
    assert "YYYY-MM-DD" in (info.value.hint or "")
