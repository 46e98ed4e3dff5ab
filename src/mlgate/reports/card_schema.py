"""The JSON schema of ``model-card.json``, and a check that a card follows it.

The schema is written as JSON Schema (draft 2020-12) so that any standard validator can read it;
:func:`validate_card` checks the subset of keywords the schema uses (``type``, ``const``,
``enum``, ``required``, ``properties``, ``additionalProperties``, ``items``, ``pattern``) without
a third-party dependency. ``schema_version`` changes in its major part when a field is removed
or changes meaning, and in its minor part when a field is added.
"""

from __future__ import annotations

import re
from typing import Any

from mlgate.errors import ValidationError

SCHEMA_VERSION = "1.0"

SECTION_KEYS = (
    "intended_use",
    "data",
    "metrics",
    "fairness",
    "robustness",
    "explanation",
    "limitations",
    "ethical_considerations",
    "owners",
)

_SHA = {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"}
_TEXT = {"type": ["string", "null"]}

CLAIM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "One statement on the card and the evidence it rests on.",
    "required": ["label", "value", "status", "evidence_id", "dataset_sha256", "model_sha256"],
    "additionalProperties": False,
    "properties": {
        "label": {"type": "string"},
        "value": {"description": "Any JSON value: a number, text, a record or a table."},
        "status": _TEXT,
        "evidence_id": {"type": ["integer", "null"]},
        "dataset_sha256": _SHA,
        "model_sha256": _SHA,
    },
}

CARD_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "mlgate model card",
    "type": "object",
    "required": [
        "schema_version",
        "generated_at",
        "mlgate_version",
        "project",
        "model",
        "sections",
    ],
    "additionalProperties": False,
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "generated_at": _TEXT,
        "mlgate_version": _TEXT,
        "project": {
            "type": "object",
            "required": ["name", "owner", "tier", "stage"],
            "properties": {
                "name": {"type": "string"},
                "owner": _TEXT,
                "tier": _TEXT,
                "stage": _TEXT,
                "policy_name": _TEXT,
                "policy_version": _TEXT,
                "policy_sha256": _SHA,
            },
        },
        "model": {
            "type": ["object", "null"],
            "required": ["version", "sha256", "dataset_sha256"],
            "properties": {
                "version": {"type": "integer"},
                "sha256": _SHA,
                "dataset_sha256": _SHA,
                "estimator": _TEXT,
                "flavour": _TEXT,
                "created_at": _TEXT,
            },
        },
        "sections": {
            "type": "object",
            "required": list(SECTION_KEYS),
            "additionalProperties": False,
            "properties": {
                key: {
                    "type": "object",
                    "required": ["title", "claims"],
                    "additionalProperties": False,
                    "properties": {
                        "title": {"type": "string"},
                        "claims": {"type": "array", "items": CLAIM_SCHEMA},
                    },
                }
                for key in SECTION_KEYS
            },
        },
    },
}

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def validate_card(card: Any, schema: dict[str, Any] | None = None) -> None:
    """Raise :class:`ValidationError` naming the first place ``card`` breaks the schema."""
    problem = _problem(card, schema or CARD_SCHEMA, "card")
    if problem is not None:
        raise ValidationError(
            f"the model card does not follow schema {SCHEMA_VERSION}: {problem}",
            hint="this is a fault in mlgate's card builder; report it with the card file",
        )


def _problem(value: Any, schema: dict[str, Any], where: str) -> str | None:
    """The first schema violation at or below ``where``, or ``None``."""
    if "const" in schema and value != schema["const"]:
        return f"{where} is {value!r}; expected {schema['const']!r}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{where} is {value!r}; expected one of {schema['enum']}"
    if "type" in schema and not _has_type(value, schema["type"]):
        return f"{where} is {type(value).__name__}; expected {schema['type']}"
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        return f"{where} is {value!r}; expected text matching {schema['pattern']}"
    if isinstance(value, dict):
        return _object_problem(value, schema, where)
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            if (found := _problem(item, schema["items"], f"{where}[{i}]")) is not None:
                return found
    return None


def _object_problem(value: dict[str, Any], schema: dict[str, Any], where: str) -> str | None:
    properties = schema.get("properties") or {}
    missing = [key for key in schema.get("required") or [] if key not in value]
    if missing:
        return f"{where} lacks {', '.join(missing)}"

    if schema.get("additionalProperties") is False:
        extra = sorted(set(value) - set(properties))
        if extra:
            return f"{where} has unexpected {', '.join(extra)}; expected only {sorted(properties)}"

    for key, sub in properties.items():
        if key in value and (found := _problem(value[key], sub, f"{where}.{key}")) is not None:
            return found
    return None


def _has_type(value: Any, expected: str | list[str]) -> bool:
    names = [expected] if isinstance(expected, str) else expected
    if isinstance(value, bool):
        return "boolean" in names
    return any(isinstance(value, _TYPES[name]) for name in names)
