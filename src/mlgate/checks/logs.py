"""The run-log check: training and prediction are logged completely, and without personal data.

mlgate appends one JSON line per training run (``training.jsonl``) and per scored batch
(``prediction.jsonl``); :mod:`mlgate.runlog` writes them and this module defines what a line must
hold (:data:`COMMON_FIELDS`, :data:`EVENT_FIELDS`). The check ``run_logs`` reads the lines as
text, so that a truncated or garbled line is a finding with its line number and not a crash, and
verifies that

- every line is a JSON object of this project with the fields of its event, each of its type;
- the current model version has a training record with its very artifact hash;
- no value is personal data: strings (and long integers) are screened with the identifier
  detectors of :mod:`mlgate.checks.sensitive` (e-mail addresses, phone numbers, Chinese resident
  ID and US social security numbers, payment card numbers, IBANs, IP addresses), whole and word
  by word, then searched for phone numbers and IBANs written with spaces inside free text; and
  a key named like a sensitive column (``email``, ``customer_name``, ``sex``) may not carry a
  value.

Findings name the file, the line number and the field; a value found is shown masked only. The
check is pure: the service reads the files and passes their lines in ``CheckInput.run_log``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from mlgate.checks.base import CheckInput, CheckResult, CheckSpec, Finding, Severity, worst
from mlgate.checks.sensitive import (
    IDENTIFIER,
    IDENTIFIER_KINDS,
    KIND_LABELS,
    detect_by_name,
    iban_in_text,
    mask,
    phone_in_text,
)
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, float] = {"max_invalid_records": 0, "max_personal_values": 0}

TRAINING_LOG = "training.jsonl"
PREDICTION_LOG = "prediction.jsonl"
LOG_FILES = (TRAINING_LOG, PREDICTION_LOG)
CONTEXT_KEYS = ("project", "model_version", "model_sha256", "lines")
NO_TRAINING_RECORD = f"{TRAINING_LOG}:model_version"  # the subject of that finding

FieldKind = Literal["str", "int", "number", "bool", "object", "list", "sha256", "timestamp"]

# Every field as (kind, may it be null). The order is the order the writer uses.
COMMON_FIELDS: dict[str, tuple[FieldKind, bool]] = {
    "ts": ("timestamp", False),
    "event": ("str", False),
    "run_id": ("str", False),
    "project": ("str", False),
    "model_version": ("int", False),
    "model_sha256": ("sha256", False),
    "dataset_sha256": ("sha256", False),
    "rows": ("int", False),
    "seconds": ("number", True),
    "actor": ("str", False),
    "mlgate_version": ("str", False),
}
EVENT_FIELDS: dict[str, dict[str, tuple[FieldKind, bool]]] = {
    "training": {
        "origin": ("str", False),
        "estimator": ("str", False),
        "dataset_version": ("int", False),
        "target": ("str", False),
        "features": ("list", False),
        "params": ("object", False),
        "metrics": ("object", False),
        "code_version": ("str", False),
    },
    "prediction": {
        "output_sha256": ("sha256", False),
        "latency_ms": ("number", True),
        "deployed": ("bool", False),
        "features": ("list", False),
        "workers": ("int", False),
        "chunks_resumed": ("int", False),
    },
}
# Fields added after a log format was in use: checked when present, not required, so the lines
# an earlier mlgate wrote stay valid.
LATER_FIELDS = frozenset({"workers", "chunks_resumed"})
# Which kind of record each event is, and the file it belongs in.
EVENTS: dict[str, str] = {
    "training.finished": "training",
    "model.added": "training",
    "prediction.batch": "prediction",
}
KIND_FILES: dict[str, str] = {"training": TRAINING_LOG, "prediction": PREDICTION_LOG}

# The actor names the operator who ran the command, as the audit trail does; it is not data
# about the people the model scores, so it is not screened (an operator id may be an e-mail).
UNSCREENED = frozenset({"actor"})
MAX_LISTED = 20  # findings listed per kind of problem; the rest are counted in one finding

_SHA256 = re.compile(r"[0-9a-f]{64}")
_SPLIT = re.compile(r"[\s,;<>\"'=|]+")
_TRIM = ".:!?()[]{}"
_EVENT_NAME = re.compile(r"[a-z][a-z0-9_.]{0,63}")  # shown in findings; anything else is not
KIND_NAMES: dict[FieldKind, str] = {
    "str": "a string",
    "int": "an integer",
    "number": "a number",
    "bool": "true or false",
    "object": "an object",
    "list": "a list",
    "sha256": "a sha256 (64 lower-case hex digits)",
    "timestamp": "an ISO 8601 time with its UTC offset",
}


def fields_of(kind: str) -> dict[str, tuple[FieldKind, bool]]:
    """Return every field a record of ``kind`` (``training`` or ``prediction``) must hold."""
    if kind not in EVENT_FIELDS:
        raise ValidationError(
            f"unknown run-log record kind '{kind}'; expected one of {', '.join(EVENT_FIELDS)}"
        )
    return {**COMMON_FIELDS, **EVENT_FIELDS[kind]}


@dataclass(frozen=True)
class LogLine:
    """One non-empty line of a run-log file, as text, with where it was read."""

    file: str
    line: int
    text: str

    @property
    def where(self) -> str:
        """Return ``file line N``, as findings name it."""
        return f"{self.file} line {self.line}"


@dataclass(frozen=True)
class PersonalValue:
    """A value that looks like personal data: where it is, what it looks like, masked."""

    field: str
    what: str
    masked: str


# --- Field types ----------------------------------------------------------------------------


def field_problems(record: Mapping[str, Any], kind: str | None) -> list[str]:
    """Return what is wrong with the fields of ``record``, one phrase per field.

    ``kind`` ``None`` (an event mlgate does not write) checks the common fields only. Messages
    name the field and the expected type, never the value, which may be personal.
    """
    expected = fields_of(kind) if kind is not None else COMMON_FIELDS
    problems = []
    for name, (field_kind, nullable) in expected.items():
        if name not in record:
            if name not in LATER_FIELDS:
                problems.append(f"{name} (missing)")
            continue
        value = record[name]
        if value is None:
            if not nullable:
                problems.append(f"{name} (null; expected {KIND_NAMES[field_kind]})")
            continue
        problem = _type_problem(name, value, field_kind)
        if problem is not None:
            problems.append(f"{name} ({problem})")
    return problems


def _type_problem(name: str, value: Any, kind: FieldKind) -> str | None:
    if not _has_kind(value, kind):
        return f"expected {KIND_NAMES[kind]}, found {_json_type(value)}"
    if kind in ("int", "number") and value < 0:
        return "expected a value of at least 0, found a negative one"
    if name == "model_version" and value < 1:
        return "expected a version of at least 1"
    if name == "features" and not all(isinstance(item, str) for item in value):
        return "expected a list of column names (strings)"
    if name == "metrics" and not all(
        item is None or isinstance(item, str) or _has_kind(item, "number")
        for item in value.values()
    ):
        return "expected numbers, strings or null as metric values"
    return None


def _has_kind(value: Any, kind: FieldKind) -> bool:
    if kind in ("int", "number") and isinstance(value, bool):
        return False
    if kind == "sha256":
        return isinstance(value, str) and _SHA256.fullmatch(value) is not None
    if kind == "timestamp":
        return isinstance(value, str) and _aware_time(value)
    types: dict[str, type | tuple[type, ...]] = {
        "str": str,
        "int": int,
        "number": (int, float),
        "bool": bool,
        "object": dict,
        "list": list,
    }
    return isinstance(value, types[kind]) and (kind != "str" or bool(value))


def _aware_time(text: str) -> bool:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return False
    return moment.tzinfo is not None


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if not value else "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null"


# --- Personal values ------------------------------------------------------------------------


def personal_values(record: Mapping[str, Any]) -> list[PersonalValue]:
    """Return every value of ``record`` that looks like personal data, masked.

    Strings are tested whole and word by word against the identifier detectors; integers of
    any length are tested as digit strings (a card number logged as a number). A key named like
    a sensitive column carries a value when it holds a non-empty string, or, for identifier
    names, any number too: ``{"email": "..."}`` and ``{"sex": "F"}`` are personal values,
    ``{"sex_auc": 0.71}`` is a metric.
    """
    found: list[PersonalValue] = []
    for key, value in record.items():
        if str(key) not in UNSCREENED:
            _walk(str(key), str(key), value, found)
    return found


def _walk(path: str, key: str, value: Any, found: list[PersonalValue]) -> None:
    category = _sensitive_key(key, value)
    if category is not None:
        found.append(named_value(path, category, value))
        return

    if isinstance(value, dict):
        for child_key, child in value.items():
            _walk(f"{path}.{child_key}", str(child_key), child, found)
    elif isinstance(value, list):
        for position, child in enumerate(value):
            _walk(f"{path}[{position}]", key, child, found)
    elif isinstance(value, str | int) and not isinstance(value, bool):
        match = identifier_in(str(value))
        if match is not None:
            kind, text = match
            found.append(PersonalValue(path, KIND_LABELS[kind], mask(text, kind)))


def _sensitive_key(key: str, value: Any) -> str | None:
    """Return the sensitive category ``key`` names when it carries a value, else ``None``."""
    match = detect_by_name(key)
    if match is None:
        return None
    if isinstance(value, str):
        return match.category if value.strip() else None
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return match.category if is_number and match.category == IDENTIFIER else None


def named_value(path: str, category: str, value: Any) -> PersonalValue:
    """Return the finding for a value under a key named like ``category`` data."""
    what = f"a value under a key named like {category.replace('_', ' ')} data"
    return PersonalValue(path, what, mask(value, "generic"))


def identifier_in(text: str) -> tuple[str, str] | None:
    """Return ``(kind, matched text)`` for the first identifier in ``text``, else ``None``.

    The whole text is tried first (a phone number written with spaces), then each word, with
    surrounding punctuation trimmed (``mail jane@example.com.`` finds the address), then the
    text is searched for an IBAN or a phone number written in groups (``call +44 20 7946 0958
    today``), leaving timestamps, durations, versions, hashes and ids alone.
    """
    candidates = [text.strip(), *(word.strip(_TRIM) for word in _SPLIT.split(text))]
    for candidate in candidates:
        if not candidate:
            continue
        for kind, valid in IDENTIFIER_KINDS.items():
            if valid(candidate):
                return kind, candidate
    for kind, search in (("iban", iban_in_text), ("phone", phone_in_text)):
        found = search(text)
        if found is not None:
            return kind, found
    return None


# --- The check ------------------------------------------------------------------------------


@dataclass
class _Problem:
    """A problem found on one line, before its severity is known."""

    message: str
    subject: str
    value: str | None = None


@dataclass
class _Reading:
    """What the check found while reading the lines."""

    records: int = 0
    training: int = 0
    prediction: int = 0
    other_project: int = 0
    invalid: list[_Problem] = field(default_factory=list)
    personal: list[_Problem] = field(default_factory=list)
    training_records: list[tuple[LogLine, Mapping[str, Any]]] = field(default_factory=list)


def check_run_logs(inp: CheckInput, thresholds: Mapping[str, float]) -> CheckResult:
    """Check the run-log lines in ``inp.run_log`` for completeness and personal data.

    ``inp.run_log`` holds ``project``, ``model_version`` and ``model_sha256`` (the current
    version, or ``None`` when there is none) and ``lines``: ``{"file", "line", "text"}`` for
    each non-empty line of the log files. Records of other projects (a log folder shared
    through ``MLGATE_LOG_DIR``) are counted and left alone.
    """
    limits = {**DEFAULTS, **thresholds}
    context = _context(inp)
    lines = [LogLine(str(x["file"]), int(x["line"]), str(x["text"])) for x in context["lines"]]

    reading = _Reading()
    for line in lines:
        _read_line(line, context["project"], reading)

    invalid_severity = _severity(len(reading.invalid), limits["max_invalid_records"])
    personal_severity = _severity(len(reading.personal), limits["max_personal_values"])
    findings = (
        _findings(reading.invalid, invalid_severity, "invalid lines")
        + _findings(reading.personal, personal_severity, "personal values")
        + _totals(reading, limits)
        + _current_findings(context, reading.training_records)
    )
    logger.info(
        "run_logs: %d lines, %d records of the project, %d invalid, %d personal values",
        len(lines),
        reading.records,
        len(reading.invalid),
        len(reading.personal),
    )
    return _result(context, reading, findings)


def _context(inp: CheckInput) -> Mapping[str, Any]:
    context = inp.run_log
    if context is None:
        raise ValidationError(
            "the run_logs check needs the run log (CheckInput.run_log); got none",
            hint="run it with `mlgate check run_logs`, which reads the workspace's log files",
        )
    missing = [k for k in CONTEXT_KEYS if k not in context]
    if missing:
        raise ValidationError(
            f"CheckInput.run_log lacks {', '.join(missing)}; expected project, model_version, "
            "model_sha256 and lines"
        )
    return context


def _read_line(line: LogLine, project: str, reading: _Reading) -> None:
    """Parse one line, judge its fields and screen its values, adding what is found."""
    record = _parse(line, reading)
    if record is None:
        return
    owner = record.get("project")
    if isinstance(owner, str) and owner != project:
        reading.other_project += 1
        return

    reading.records += 1
    kind = _judge_fields(line, record, reading)
    subject = f"{line.file}:{line.line}"
    try:
        found = personal_values(record)
    except RecursionError:
        found = []
        message = f"{line.where} is nested too deeply to screen for personal data"
        reading.invalid.append(_Problem(message, subject))
    for value in found:
        message = (
            f"{line.where}, field {value.field}: {value.what} ({value.masked}); a run log may "
            "hold column names, counts and hashes, never data about a person"
        )
        reading.personal.append(_Problem(message, f"{subject}:{value.field}", value.masked))
    if kind == "training":
        reading.training_records.append((line, record))


def _parse(line: LogLine, reading: _Reading) -> dict[str, Any] | None:
    """Return the line's JSON object, or ``None`` after noting why it is not one."""
    if "\ufffd" in line.text:
        problem = "holds bytes that are not UTF-8 (a garbled or binary write)"
    else:
        try:
            record = json.loads(line.text, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            problem = f"is not valid JSON ({exc.msg} at column {exc.colno}; truncated or garbled)"
        except (ValueError, RecursionError) as exc:
            problem = f"is not valid JSON ({exc})"
        else:
            if isinstance(record, dict):
                return record
            problem = f"is {_json_type(record)}, not a JSON object"
    reading.invalid.append(_Problem(f"{line.where} {problem}", f"{line.file}:{line.line}"))
    return None


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _judge_fields(line: LogLine, record: Mapping[str, Any], reading: _Reading) -> str | None:
    """Check a record's fields for its event; return its kind (``None`` for unknown events)."""
    event = record.get("event")
    kind = EVENTS.get(event) if isinstance(event, str) else None
    problems = field_problems(record, kind)
    if isinstance(event, str) and kind is None:
        shown = f"'{event}'" if _EVENT_NAME.fullmatch(event) else "the event"
        problems.append(f"event ({shown} is none of {', '.join(EVENTS)})")
    if kind is not None and KIND_FILES[kind] != line.file:
        problems.append(f"event ({event} records belong in {KIND_FILES[kind]})")
    if kind == "training":
        reading.training += 1
    elif kind == "prediction":
        reading.prediction += 1

    if problems:
        message = f"{line.where}, field(s) {'; '.join(problems)}"
        reading.invalid.append(_Problem(message, f"{line.file}:{line.line}"))
    return kind


def _severity(count: int, limit: float) -> Severity:
    return "fail" if count > limit else "warn"


def _findings(problems: Sequence[_Problem], severity: Severity, what: str) -> list[Finding]:
    """Return the first :data:`MAX_LISTED` problems as findings, and a count of the rest."""
    findings = [Finding(severity, p.message, p.subject, p.value) for p in problems[:MAX_LISTED]]
    if len(problems) > MAX_LISTED:
        rest = len(problems) - MAX_LISTED
        findings.append(Finding(severity, f"... and {rest} more {what} in the problems table"))
    return findings


def _totals(reading: _Reading, limits: Mapping[str, float]) -> list[Finding]:
    findings = []
    for problems, key, what in (
        (reading.invalid, "max_invalid_records", "invalid line(s)"),
        (reading.personal, "max_personal_values", "personal value(s)"),
    ):
        if problems:
            severity = _severity(len(problems), limits[key])
            message = f"{len(problems)} {what}; {key} is {limits[key]:g}"
            findings.append(Finding(severity, message, key, len(problems)))
    if reading.other_project:
        message = f"{reading.other_project} record(s) of other projects in the logs, not checked"
        findings.append(Finding("info", message, None, reading.other_project))
    return findings


def _current_findings(
    context: Mapping[str, Any], training: list[tuple[LogLine, Mapping[str, Any]]]
) -> list[Finding]:
    """Require a training record of the current model version with its artifact hash."""
    version, sha = context["model_version"], context["model_sha256"]
    if version is None:
        return [Finding("info", "no model version is registered; no training record is needed")]

    same_version = [(line, r) for line, r in training if r.get("model_version") == version]
    if any(r.get("model_sha256") == sha for _, r in same_version):
        return []
    findings = [
        Finding(
            "fail",
            f"{line.where} records model version {version} with another artifact hash "
            f"({str(r.get('model_sha256'))[:12]}; the registry holds {str(sha)[:12]}): the log "
            "belongs to another store, or the model was replaced",
            f"{line.file}:{line.line}:model_sha256",
        )
        for line, r in same_version
    ]
    findings.append(
        Finding(
            "fail",
            f"model version {version} has no training record in {TRAINING_LOG}: it was "
            "registered while logging failed or before logging existed, or the record was "
            "removed; register the model again (mlgate train or mlgate model add) to log it",
            NO_TRAINING_RECORD,
            version,
        )
    )
    return findings


def _result(context: Mapping[str, Any], reading: _Reading, findings: list[Finding]) -> CheckResult:
    version = context["model_version"]
    logged = version is not None and not any(f.subject == NO_TRAINING_RECORD for f in findings)
    metrics: dict[str, float | int | str | None] = {
        "n_lines": len(context["lines"]),
        "n_records": reading.records,
        "n_training_records": reading.training,
        "n_prediction_records": reading.prediction,
        "n_other_project_records": reading.other_project,
        "n_invalid": len(reading.invalid),
        "n_personal_values": len(reading.personal),
        "current_version_logged": int(logged) if version is not None else None,
    }
    if version is None:
        current = "no model version is registered"
    else:
        current = f"model version {version} {'has a' if logged else 'has no'} training record"
    summary = (
        f"{reading.records} record(s) ({reading.training} training, {reading.prediction} "
        f"prediction): {len(reading.invalid)} invalid, {len(reading.personal)} personal "
        f"value(s); {current}"
    )
    problems = [
        {"where": p.subject, "problem": p.message} for p in reading.invalid + reading.personal
    ]
    return CheckResult(
        check="run_logs",
        status=worst([f.severity for f in findings if f.severity != "info"]),
        summary=summary,
        metrics=metrics,
        findings=findings,
        tables={"problems": problems},
    )


SPEC = CheckSpec(
    name="run_logs",
    title="Training and prediction run logs",
    function=check_run_logs,
    needs_model=True,
    needs_reference=False,
    defaults=DEFAULTS,
    description=(
        "Reads the workspace's JSON-lines run logs (training.jsonl, prediction.jsonl): every "
        "line must be a JSON object with the fields of its event and their types, the current "
        "model version must have a training record with its artifact hash, and no value may be "
        "personal data (e-mail, phone, ID and card numbers, IBANs, IP addresses, or a value under "
        "a key named like a sensitive column). More than max_invalid_records invalid lines or "
        "max_personal_values personal values fail; findings name file, line and field and show "
        "values masked."
    ),
)
