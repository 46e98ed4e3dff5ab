"""Read a document file, find its type from ``kind:``, and validate it field by field.

Validation never stops at the first mistake: the error lists every bad field with its line,
what was expected and what was found, so a person can fix the whole file in one pass::

    business_case.yaml is not a valid business_case document (2 problems):
      business_case.yaml line 3, title: not filled in: replace the template placeholder ...
      business_case.yaml line 12, success_metrics[0].target: field required
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pydantic
from yaml.nodes import Node

from mlgate.documents._yaml import (
    Problem,
    line_of,
    parse_yaml,
    problems_from_pydantic,
    raise_problems,
    read_text_file,
    root_problem,
)
from mlgate.documents.schemas import (
    DOCUMENT_TYPES,
    Document,
    expected_kinds,
    unknown_kind_message,
)

_WHAT = "document"


def parse_document(path: str | os.PathLike[str]) -> tuple[str, Document]:
    """Read and validate the document file at ``path``; return its kind and its content.

    Raises :class:`~mlgate.errors.NotFoundError` if the file does not exist and
    :class:`~mlgate.errors.ValidationError` listing every problem if it is not a valid document.
    """
    file = Path(path)
    text = read_text_file(file, _WHAT)
    return parse_document_text(text, str(file))


def parse_document_text(text: str, source_name: str = "<document>") -> tuple[str, Document]:
    """Validate the YAML ``text`` of a document; ``source_name`` names it in messages."""
    source = parse_yaml(text, source_name, _WHAT, hint=_hint(None))
    not_mapping = root_problem(source, _WHAT)
    if not_mapping is not None:
        raise_problems(source_name, _WHAT, [not_mapping], hint=_hint(None))
    return _validate(source.data, source.node, source_name, source.problems)


def validate_document(
    data: Mapping[str, Any], source_name: str = "<document>"
) -> tuple[str, Document]:
    """Validate a document already read into a mapping (with its ``kind``), as from an API.

    Messages name the field paths but no lines, since there is no file.
    """
    if not isinstance(data, Mapping):
        problem = Problem(None, "", f"expected a mapping of fields; got {type(data).__name__}")
        raise_problems(source_name, _WHAT, [problem], hint=_hint(None))
    return _validate(data, None, source_name, [])


def _validate(
    data: Mapping[str, Any], node: Node | None, source_name: str, problems: list[Problem]
) -> tuple[str, Document]:
    where: Any = node if node is not None else data
    kind = data.get("kind")
    if "kind" not in data:
        message = f"field required: name the document type; {expected_kinds()}"
        missing = Problem(line_of(node, ()), "kind", message)
        raise_problems(source_name, _WHAT, [*problems, missing], hint=_hint(None))
    if not isinstance(kind, str) or kind not in DOCUMENT_TYPES:
        bad = Problem(line_of(node, ("kind",)), "kind", unknown_kind_message(kind))
        raise_problems(source_name, _WHAT, [*problems, bad], hint=_hint(None))

    schema = DOCUMENT_TYPES[kind]
    body = {key: value for key, value in data.items() if key != "kind"}
    found = list(problems)
    try:
        document = schema.model_validate(body)
    except pydantic.ValidationError as exc:
        found += problems_from_pydantic(exc, where, schema)

    if found:
        raise_problems(source_name, f"{kind} {_WHAT}", found, hint=_hint(kind))
    return kind, document


def _hint(kind: str | None) -> str:
    if kind is None:
        return (
            "start the file with 'kind: <type>'; the command 'mlgate doc new <type>' "
            "writes a commented template"
        )
    return (
        f"fix each field listed above; the command 'mlgate doc new {kind}' writes the "
        "commented template with every field explained"
    )
