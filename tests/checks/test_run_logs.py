"""Tests for the run_logs check: complete records, the current version logged, no personal data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlgate.checks import get_check
from mlgate.checks.base import CheckInput, CheckResult
from mlgate.checks.logs import (
    COMMON_FIELDS,
    EVENT_FIELDS,
    MAX_LISTED,
    NO_TRAINING_RECORD,
    check_run_logs,
    field_problems,
    identifier_in,
    personal_values,
)
from mlgate.checks.sensitive import mask
from mlgate.errors import ValidationError
from mlgate.runlog import encode_record, read_lines

MODEL_SHA = "a" * 64
DATA_SHA = "b" * 64


def training(**changes: Any) -> dict[str, Any]:
    """Return a complete training record of model version 1, with ``changes``."""
    record = {
        "ts": "2025-03-04T10:15:02.113+00:00",
        "event": "training.finished",
        "run_id": "50fc549cb4994470b37ca908f36a5a89",
        "project": "churn",
        "model_version": 1,
        "model_sha256": MODEL_SHA,
        "dataset_sha256": DATA_SHA,
        "rows": 300,
        "seconds": 0.05,
        "actor": "alice",
        "mlgate_version": "0.1.0",
        "origin": "trained",
        "estimator": "sklearn.linear_model._logistic.LogisticRegression",
        "dataset_version": 1,
        "target": "y",
        "features": ["x1", "x2", "region"],
        "params": {"C": 1.0, "solver": "lbfgs", "class_weight": None, "max_iter": 100},
        "metrics": {"training_seconds": 0.05, "train_accuracy": 0.78, "train_roc_auc": 0.86},
        "code_version": "unversioned",
    }
    return {**record, **changes}


def prediction(**changes: Any) -> dict[str, Any]:
    """Return a complete prediction record of model version 1, with ``changes``."""
    record = {
        "ts": "2025-03-04T10:16:40.902+00:00",
        "event": "prediction.batch",
        "run_id": "f491caf151874e5eabba7d34cbec5529",
        "project": "churn",
        "model_version": 1,
        "model_sha256": MODEL_SHA,
        "dataset_sha256": "c" * 64,
        "rows": 100,
        "seconds": 0.0344,
        "actor": "alice",
        "mlgate_version": "0.1.0",
        "output_sha256": "d" * 64,
        "latency_ms": 0.344,
        "deployed": False,
        "features": ["x1", "x2", "region"],
        "workers": 1,
        "chunks_resumed": 0,
    }
    return {**record, **changes}


def lines(file: str, *items: dict[str, Any] | str) -> list[dict[str, Any]]:
    """Return log lines of ``file``: records are encoded as the writer does, text is kept."""
    return [
        {
            "file": file,
            "line": number,
            "text": item if isinstance(item, str) else encode_record(item).decode().rstrip("\n"),
        }
        for number, item in enumerate(items, start=1)
    ]


def run(
    log_lines: list[dict[str, Any]],
    version: int | None = 1,
    sha: str | None = MODEL_SHA,
    thresholds: dict[str, float] | None = None,
) -> CheckResult:
    context = {"project": "churn", "model_version": version, "model_sha256": sha}
    inp = CheckInput(pd.DataFrame({"x": [1]}), run_log={**context, "lines": log_lines})
    return check_run_logs(inp, thresholds or {})


def messages(result: CheckResult) -> list[str]:
    return [f.message for f in result.findings]


def test_complete_records_pass_and_are_counted():
    log = lines("training.jsonl", training()) + lines("prediction.jsonl", prediction())

    result = run(log)

    assert result.status == "pass", messages(result)
    assert result.metrics["n_records"] == 2
    assert result.metrics["n_training_records"] == 1
    assert result.metrics["n_prediction_records"] == 1
    assert result.metrics["current_version_logged"] == 1
    assert result.summary.endswith("model version 1 has a training record")


def test_documented_fields_of_each_kind_validate_clean_records():
    assert field_problems(training(), "training") == []
    assert field_problems(prediction(), "prediction") == []
    assert set(training()) == set(COMMON_FIELDS) | set(EVENT_FIELDS["training"])
    assert set(prediction()) == set(COMMON_FIELDS) | set(EVENT_FIELDS["prediction"])


def test_planted_email_in_params_fails_with_the_value_masked():
    planted = training(params={"C": 1.0, "note": "ask jane.doe@example.com before reuse"})

    result = run(lines("training.jsonl", planted))

    assert result.status == "fail"
    assert result.metrics["n_personal_values"] == 1
    found = [f for f in result.findings if f.subject == "training.jsonl:1:params.note"]
    assert len(found) == 1
    assert found[0].message.startswith(
        "training.jsonl line 1, field params.note: e-mail addresses (j***@e***.com)"
    )
    assert found[0].value == "j***@e***.com"
    assert "jane.doe" not in json.dumps(result.to_dict())


@pytest.mark.parametrize(
    ("value", "kind", "label"),
    [
        ("+44 20 7946 0958", "phone", "phone numbers"),
        ("holder 4111111111111111 charged", "credit_card", "payment card numbers"),
        ("id 11010519491231002X", "cn_resident_id", "Chinese resident ID numbers"),
        ("ssn=123-45-6789", "ssn", "US social security numbers"),
        ("from 192.168.1.20", "ip", "IP addresses"),
    ],
)
def test_each_identifier_kind_is_found_and_masked_like_sensitive_data(value, kind, label):
    matched = identifier_in(value)

    assert matched is not None
    assert matched[0] == kind
    found = personal_values(training(origin=value))
    assert [(p.field, p.what) for p in found] == [("origin", label)]
    assert found[0].masked == mask(matched[1], kind)
    assert matched[1] not in found[0].masked


def test_card_number_logged_as_an_integer_is_found():
    found = personal_values(training(params={"seed": 4111111111111111}))

    assert [(p.field, p.masked) for p in found] == [("params.seed", "****-****-****-1111")]


def test_keys_named_like_sensitive_columns_carry_no_values():
    record = training(
        params={"customer_email": "unknown", "sex": "F", "mobile": 5550134},
        metrics={"sex_auc": 0.71, "age_group_accuracy": 0.8, "train_accuracy": 0.78},
    )

    found = {p.field: p for p in personal_values(record)}

    assert set(found) == {"params.customer_email", "params.sex", "params.mobile"}
    assert found["params.sex"].what == "a value under a key named like sex data"
    assert found["params.customer_email"].masked == "u***"
    assert found["params.sex"].masked == "***"


def test_actor_is_not_screened_but_every_other_field_is():
    record = training(actor="alice@bank.example", project="bob@bank.example")

    assert [p.field for p in personal_values(record)] == ["project"]


def test_clean_real_values_are_not_mistaken_for_personal_data():
    record = training(
        code_version="3f2c1e0a9b8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e",
        features=["email_verified", "age", "phone_model", "n_calls"],
        params={"max_iter": 100, "tol": 0.0001, "random_state": 20240101, "penalty": "l2"},
    )

    assert personal_values(record) == []
    assert personal_values(prediction()) == []


def test_truncated_line_is_a_finding_with_its_line_number_not_a_crash():
    whole = encode_record(training(model_version=2)).decode().rstrip("\n")
    log = lines("training.jsonl", training(), whole[:-25], '["a", "list"]')

    result = run(log)

    assert result.status == "fail"
    assert result.metrics["n_invalid"] == 2
    assert result.metrics["n_records"] == 1
    text = messages(result)
    assert any(m.startswith("training.jsonl line 2 is not valid JSON (") for m in text)
    assert "training.jsonl line 3 is a list, not a JSON object" in text
    assert result.metrics["current_version_logged"] == 1


def test_nan_and_absurd_nesting_are_invalid_lines_not_crashes():
    log = lines("training.jsonl", training(), '{"seconds": NaN}', "[" * 100_000)

    result = run(log)

    text = messages(result)
    assert "training.jsonl line 2 is not valid JSON (NaN is not a JSON number)" in text
    assert any(
        m.startswith("training.jsonl line 3 is not valid JSON (maximum recursion") for m in text
    )
    assert result.metrics["n_invalid"] == 2


def test_bytes_that_are_not_utf8_are_named_by_line(tmp_path: Path):
    good = encode_record(training())
    (tmp_path / "training.jsonl").write_bytes(good + b"\n" + b'{"event": "\xff\xfe"}\n' + good)

    log = read_lines(tmp_path)
    result = run(log)

    assert [item["line"] for item in log] == [1, 3, 4]
    assert "training.jsonl line 3 holds bytes that are not UTF-8 (a garbled or binary write)" in (
        messages(result)
    )
    assert result.metrics["n_records"] == 2


def test_missing_and_mistyped_fields_are_named_without_their_values():
    record = training(seconds="fast", model_version=True, dataset_sha256="not-a-hash")
    del record["rows"]

    result = run(lines("training.jsonl", record, training()))

    assert result.status == "fail"
    (finding,) = [f for f in result.findings if f.subject == "training.jsonl:1"]
    assert finding.message == (
        "training.jsonl line 1, field(s) model_version (expected an integer, found true or "
        "false); dataset_sha256 (expected a sha256 (64 lower-case hex digits), found a string); "
        "rows (missing); seconds (expected a number, found a string)"
    )
    assert "fast" not in finding.message


def test_negative_count_and_bad_time_are_invalid():
    record = prediction(rows=-1, ts="2025-03-04 10:16:40")

    assert field_problems(record, "prediction") == [
        "ts (expected an ISO 8601 time with its UTC offset, found a string)",
        "rows (expected a value of at least 0, found a negative one)",
    ]


def test_metrics_hold_numbers_strings_or_null_only():
    fine = training(metrics={"auc": 0.8, "trials": 3, "scorer": "roc_auc", "f1": None})
    nested = training(metrics={"auc": {"mean": 0.8}})

    assert field_problems(fine, "training") == []
    assert field_problems(nested, "training") == [
        "metrics (expected numbers, strings or null as metric values)"
    ]


def test_records_in_the_wrong_file_and_unknown_events_are_invalid():
    log = lines("training.jsonl", training(), prediction(), training(event="training.begun"))

    result = run(log)

    text = messages(result)
    assert (
        "training.jsonl line 2, field(s) event (prediction.batch records belong in "
        "prediction.jsonl)"
    ) in text
    unknown = "training.jsonl line 3, field(s) event ('training.begun' is none of"
    assert any(m.startswith(unknown) for m in text)
    strange = run(lines("training.jsonl", training(event="Jane Doe")))
    assert "Jane" not in " ".join(messages(strange))
    assert result.metrics["n_invalid"] == 2


def test_current_version_without_a_training_record_fails():
    log = lines("training.jsonl", training()) + lines("prediction.jsonl", prediction())

    result = run(log, version=2, sha="e" * 64)

    assert result.status == "fail"
    assert result.metrics["current_version_logged"] == 0
    (finding,) = [f for f in result.findings if f.subject == NO_TRAINING_RECORD]
    assert finding.message.startswith("model version 2 has no training record in training.jsonl")
    assert result.summary.endswith("model version 2 has no training record")


def test_training_record_with_another_hash_is_named_by_line():
    result = run(lines("training.jsonl", training()), version=1, sha="e" * 64)

    subjects = [f.subject for f in result.findings if f.severity == "fail"]
    assert subjects == ["training.jsonl:1:model_sha256", NO_TRAINING_RECORD]


def test_no_model_version_needs_no_training_record():
    result = run(lines("prediction.jsonl", prediction()), version=None, sha=None)

    assert result.status == "pass"
    assert result.metrics["current_version_logged"] is None


def test_records_of_other_projects_are_counted_and_left_alone():
    other = training(project="other", params={"note": "jane@example.com"}, rows="x")

    result = run(lines("training.jsonl", training(), other))

    assert result.status == "pass"
    assert result.metrics["n_other_project_records"] == 1
    assert result.metrics["n_records"] == 1


def test_problems_within_the_limit_warn():
    log = lines("training.jsonl", training(), "{broken")

    assert run(log).status == "fail"
    result = run(log, thresholds={"max_invalid_records": 1})
    assert result.status == "warn"
    assert "1 invalid line(s); max_invalid_records is 1" in messages(result)


def test_many_problems_are_listed_up_to_a_limit_and_counted():
    log = lines("training.jsonl", training(), *["{"] * (MAX_LISTED + 5))

    result = run(log)

    listed = [f for f in result.findings if "is not valid JSON" in f.message]
    assert len(listed) == MAX_LISTED
    assert "... and 5 more invalid lines in the problems table" in messages(result)
    assert len(result.tables["problems"]) == MAX_LISTED + 5


def test_missing_run_log_is_refused():
    with pytest.raises(ValidationError, match=r"needs the run log \(CheckInput.run_log\)"):
        check_run_logs(CheckInput(pd.DataFrame()), {})


def test_spec_is_registered_as_a_model_check():
    spec = get_check("run_logs")

    assert spec.function is check_run_logs
    assert (spec.needs_model, spec.needs_reference) == (True, False)
    assert dict(spec.defaults) == {"max_invalid_records": 0, "max_personal_values": 0}


def test_lines_written_before_the_worker_fields_existed_stay_valid() -> None:
    from mlgate.checks.logs import field_problems

    record = prediction()
    older = {k: v for k, v in record.items() if k not in ("workers", "chunks_resumed")}
    assert field_problems(older, "prediction") == []
    assert field_problems({**record, "workers": "two"}, "prediction") == [
        "workers (expected an integer, found a string)"
    ]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("refund to DE89370400440532013000 done", "DE89370400440532013000"),
        ("refund to DE89 3704 0044 0532 0130 00 done", "DE89 3704 0044 0532 0130 00"),
        ("iban=GB82WEST12345698765432;", "GB82WEST12345698765432"),
        ("account BE68 5390 0754 7034 SENT", "BE68 5390 0754 7034"),
    ],
)
def test_ibans_anywhere_in_a_value_are_found_and_masked(text, found):
    assert identifier_in(text) == ("iban", found)
    [value] = personal_values(training(origin=text))
    assert value.what == "IBANs (bank account numbers)"
    assert value.masked == mask(found, "iban")
    assert value.masked.startswith(found[:2])
    assert found[4:-4] not in value.masked


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("call the customer on +44 20 7946 0958 tomorrow", "+44 20 7946 0958"),
        ("customer said ring (415) 555-0134, asked for Jane", "(415) 555-0134"),
        ("callback 020 7946 0958.", "020 7946 0958"),
        ("mobile 138 1234 5678 confirmed", "138 1234 5678"),
        ("reach +44 (0)20 7946 0958 after five", "+44 (0)20 7946 0958"),
    ],
)
def test_phone_numbers_inside_free_text_are_found(text, found):
    assert identifier_in(text) == ("phone", found)


@pytest.mark.parametrize(
    "text",
    [
        "started 2026-12-05T07:16:08.123+00:00, finished 2026-12-05 07:16:09",
        "took 0:01:23.456 (83.456 s, 83456 ms) on 1733382968123",
        "mlgate 1.26.4 with numpy 2.0.1 and python 3.11.9",
        "sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 ok",
        "run 123e4567-e89b-12d3-a456-426614174000 batch 20240105-123456",
        "rows 1 234 567 890 of 2 000 000 000, delta +1.23456789 and -0.0123456789",
        "window 2026-01-01/2026-03-31 step 00:15:00 seed 20240101",
        "ids ORD-2024-000123 CUST_20240105_0958 and AB12CDEFGHIJKLMNOPQRSTUVWX",
    ],
)
def test_timestamps_durations_versions_hashes_and_ids_are_not_personal(text):
    assert identifier_in(text) is None
