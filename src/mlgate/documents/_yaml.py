"""Read hand-written YAML and turn validation errors into messages that point at lines.

Policies and documents are YAML files that people write by hand, so every error must say where
it is: the file, the line and the field path, then what was expected and what was found::

    business_case.yaml line 12, success_metrics[0].target: field required

PyYAML's composer keeps a start mark on every node, so we compose the node tree once, construct
the data from it, and later walk the tree along a pydantic error's ``loc`` to find the line. A
missing field has no node; it is reported on the line of the mapping that should hold it.

This module is shared by :mod:`mlgate.policy` and :mod:`mlgate.documents`; it lives here because
the policy package already depends on the documents package and not the other way round.
"""

from __future__ import annotations

import datetime
import difflib
import inspect
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, Union

import pydantic
import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mlgate.errors import NotFoundError, ValidationError, plain_message

Loc = tuple[str | int, ...]

YAML_HINT = (
    "check the indentation (spaces, not tabs) and quote any value that contains ': ', ' #' "
    "or starts with a special character such as '*', '&', '!', '%' or '@'"
)

# What a pydantic error type expects, in words a person filling a file understands.
_EXPECTED: dict[str, str] = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "string_type": "text",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of fields",
    "model_attributes_type": "a mapping of fields",
    "list_type": "a list",
    "date_type": "a date written YYYY-MM-DD",
    "date_parsing": "a date written YYYY-MM-DD",
    "date_from_datetime_parsing": "a date written YYYY-MM-DD",
    "date_from_datetime_inexact": "a date without a time of day, written YYYY-MM-DD",
    "string_too_short": "non-empty text",
}

_IDENTIFIER_WORDS = (
    "an identifier of lowercase letters, digits and underscores, starting with a letter"
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a file: where it is (line, field path) and what is wrong."""

    line: int | None
    path: str
    message: str

    def render(self, source: str) -> str:
        """Return ``'<source> line <n>, <path>: <message>'``, leaving out what is unknown."""
        where = source if self.line is None else f"{source} line {self.line}"
        return f"{where}, {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


@dataclass(frozen=True)
class YamlSource:
    """A parsed YAML text: its name, its data, its node tree and any duplicate-key problems."""

    name: str
    data: Any
    node: Node | None
    problems: list[Problem]


DATE_HINT = "write dates as YYYY-MM-DD with a month from 01 to 12 and a day that exists"


class _DateError(ConstructorError):
    """A value YAML reads as a date but that names no real day, such as 2026-13-01."""


class _Loader(yaml.SafeLoader):
    """The safe loader, except that an impossible date is a marked error, not a bare crash."""

    def construct_yaml_timestamp(self, node: Node) -> Any:  # type: ignore[override]
        try:
            return super().construct_yaml_timestamp(node)  # type: ignore[arg-type]
        except ValueError as exc:
            raise _DateError(
                None, None, f"'{node.value}' is not a valid date ({exc})", node.start_mark
            ) from exc


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def raise_problems(source: str, what: str, problems: Sequence[Problem], hint: str) -> NoReturn:
    """Raise one :class:`ValidationError` that lists every problem, ordered by line."""
    ordered = sorted(problems, key=lambda p: (p.line or 0, p.path))
    count = len(ordered)
    header = f"{source} is not a valid {what} ({count} problem{'s' if count != 1 else ''}):"
    lines = "\n".join(f"  {p.render(source)}" for p in ordered)
    raise ValidationError(f"{header}\n{lines}", hint=hint)


def read_text_file(path: Path, what: str) -> str:
    """Return the text of ``path``; a missing, unreadable or non-UTF-8 file raises clearly."""
    if not path.exists():
        raise NotFoundError(
            f"{what} file '{path}' does not exist; expected a YAML file",
            hint="check the path, or create the file from its template",
        )
    if path.is_dir():
        raise ValidationError(
            f"'{path}' is a directory; expected a YAML {what} file",
            hint="pass the path of the file inside the directory",
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"{path} is not UTF-8 text (byte {exc.start}); expected a YAML {what} file",
            hint="save the file as UTF-8 text",
        ) from exc


def parse_yaml(text: str, source: str, what: str, hint: str) -> YamlSource:
    """Compose and construct ``text``; raise :class:`ValidationError` if it is not YAML.

    An empty text, several documents in one file, a syntax error or an impossible date all
    raise, naming the line; ``hint`` is the advice given for an empty text. Duplicate keys
    (which YAML silently collapses to the last one) are returned as problems so that the
    caller can report them together with its own.
    """
    try:
        loader = _Loader(text)
    except yaml.YAMLError as exc:  # the reader refuses control characters before parsing
        raise_problems(source, what, [Problem(None, "", f"not valid YAML: {exc}")], YAML_HINT)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except _DateError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        problem = Problem(line, "", f"{exc.problem}; expected a real date YYYY-MM-DD")
        raise_problems(source, what, [problem], hint=DATE_HINT)
    except yaml.MarkedYAMLError as exc:
        raise_problems(source, what, [_syntax_problem(exc)], hint=YAML_HINT)
    except yaml.YAMLError as exc:
        raise_problems(source, what, [Problem(None, "", f"not valid YAML: {exc}")], YAML_HINT)
    finally:
        loader.dispose()

    if node is None:
        empty = Problem(
            None, "", f"the file is empty; expected a YAML mapping describing a {what}"
        )
        raise_problems(source, what, [empty], hint=hint)
    return YamlSource(source, data, node, _duplicate_keys(node, (), set()))


def root_problem(source: YamlSource, what: str) -> Problem | None:
    """Return a problem if the top level of ``source`` is not a mapping, else ``None``."""
    if isinstance(source.data, Mapping):
        return None
    return Problem(
        line_of(source.node, ()),
        "",
        f"expected a mapping of fields (key: value lines) at the top level of a {what}; "
        f"got {describe_value(source.data)}",
    )


def line_of(root: Node | None, loc: Loc) -> int | None:
    """Return the 1-based line of the field at ``loc`` (or of its nearest existing parent)."""
    return _locate(root, loc, missing=False)[0]


def format_path(parts: Sequence[str | int]) -> str:
    """Return ``stages[2].requirements[0].count`` for ``('stages', 2, 'requirements', 0, ...)``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def describe_value(value: Any) -> str:
    """Return a short description of a found value, for the 'got ...' half of a message."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list | tuple):
        count = len(value)
        return f"a list of {count} item{'s' if count != 1 else ''}" if value else "an empty list"
    if isinstance(value, datetime.datetime):
        return f"the date and time {value.isoformat(sep=' ')}"
    if isinstance(value, datetime.date):
        return f"the date {value.isoformat()}"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def problems_from_pydantic(
    error: pydantic.ValidationError,
    root: Node | Any,
    model: type[pydantic.BaseModel],
    prefix: Loc = (),
) -> list[Problem]:
    """Turn a pydantic error into problems with lines and field paths.

    ``root`` is the composed node tree (for lines) or, without one, the validated data (paths
    only). ``prefix`` is prepended to every ``loc``, for models validated below the root.
    Errors from the members of a union are merged into one "expected A or B" problem, and a
    member's shallow type error is dropped when another member went deeper into the value.
    """
    resolved = [_resolve(err, root, model, prefix) for err in error.errors(include_url=False)]
    deeper = {r.parts for r in resolved}
    kept = [r for r in resolved if not _superseded(r, deeper)]

    merged: dict[tuple[int | None, tuple[str | int, ...]], list[_Resolved]] = {}
    for item in kept:
        merged.setdefault((item.line, item.parts), []).append(item)
    return [_merge(line, parts, items) for (line, parts), items in merged.items()]


@dataclass(frozen=True)
class _Resolved:
    line: int | None
    parts: tuple[str | int, ...]
    tag_base: tuple[str | int, ...] | None
    expected: str | None
    found: str | None
    message: str | None


def _superseded(item: _Resolved, all_parts: set[tuple[str | int, ...]]) -> bool:
    base = item.tag_base
    if base is None or item.parts != base:
        return False
    return any(len(p) > len(base) and p[: len(base)] == base for p in all_parts)


def _merge(line: int | None, parts: tuple[str | int, ...], items: list[_Resolved]) -> Problem:
    path = format_path(parts)
    if all(i.expected is not None for i in items):
        expected = " or ".join(dict.fromkeys(i.expected for i in items if i.expected))
        return Problem(line, path, f"expected {expected}; got {items[0].found}")
    messages = [i.message or f"expected {i.expected}; got {i.found}" for i in items]
    return Problem(line, path, "; ".join(dict.fromkeys(messages)))


def _resolve(
    err: Mapping[str, Any], root: Any, model: type[pydantic.BaseModel], prefix: Loc
) -> _Resolved:
    loc: Loc = prefix + tuple(err["loc"])
    kind = err["type"]
    line, parts, tag_base = _locate(root, loc, missing=kind == "missing")
    found = describe_value(err.get("input"))

    if kind == "missing":
        return _Resolved(line, parts, tag_base, None, None, "field required")
    if kind == "extra_forbidden":
        key = str(loc[-1])
        return _Resolved(line, parts, tag_base, None, None, _unknown_field(model, parts, key))
    if kind in ("value_error", "assertion_error"):
        text = plain_message(err["msg"])
        return _Resolved(line, parts, tag_base, None, None, text)

    expected = _expected(kind, err.get("ctx") or {}, str(err["msg"]))
    if kind == "string_type" and isinstance(err.get("input"), int | float | datetime.date):
        expected = "text (YAML read this value as a number, date or true/false: quote it)"
    if loc and loc[-1] == "[key]":
        expected = f"a key that is {expected}"
    return _Resolved(line, parts, tag_base, expected, found, None)


def _expected(kind: str, ctx: Mapping[str, Any], msg: str) -> str:
    if kind in _EXPECTED:
        return _EXPECTED[kind]
    if kind == "literal_error":
        return f"one of {ctx.get('expected', '')}"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        if pattern == r"^[a-z][a-z0-9_]*$":
            return _IDENTIFIER_WORDS
        return f"text matching the pattern {pattern}"
    if kind == "too_short":
        least = ctx.get("min_length", 1)
        return f"a list of at least {least} item{'s' if least != 1 else ''}"
    bounds = {
        "greater_than": ("a number greater than", "gt"),
        "greater_than_equal": ("a number of at least", "ge"),
        "less_than": ("a number less than", "lt"),
        "less_than_equal": ("a number of at most", "le"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return f"{words} {ctx.get(key)}"
    return msg.removeprefix("Input should be ").rstrip(".")


def _unknown_field(model: type[pydantic.BaseModel], parts: Sequence[str | int], key: str) -> str:
    owner = _model_at(model, parts[:-1])
    if owner is None:
        return "unknown field; remove it"
    allowed = list(owner.model_fields)
    close = difflib.get_close_matches(key, allowed, n=1)
    guess = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown field{guess}; the fields allowed here are: {', '.join(allowed)}"


def _model_at(model: type[pydantic.BaseModel], parts: Sequence[str | int]) -> Any:
    current: Any = model
    for part in parts:
        current = _unwrap(current)
        origin = typing.get_origin(current)
        if isinstance(part, int) and origin in (list, tuple, Sequence):
            current = typing.get_args(current)[0]
        elif _is_model(current) and part in current.model_fields:
            current = current.model_fields[part].annotation
        elif origin in (dict, Mapping):
            current = typing.get_args(current)[1]
        else:
            return None
    current = _unwrap(current)
    return current if _is_model(current) else None


def _unwrap(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(members[0]) if len(members) == 1 else annotation
    return annotation


def _is_model(annotation: Any) -> bool:
    return inspect.isclass(annotation) and issubclass(annotation, pydantic.BaseModel)


def _locate(
    root: Any, loc: Loc, missing: bool
) -> tuple[int | None, tuple[str | int, ...], tuple[str | int, ...] | None]:
    """Walk ``loc`` down the node tree (or plain data); return line, path and union tag base.

    An element that names no child is a union member's tag (``'int'``, ``'dict[...]'``) or the
    ``'[key]'`` marker of a bad mapping key: it is left out of the path, and the path reached
    so far is returned as the tag base. For a missing field the last element is kept, and the
    line stays on the mapping that should hold it.
    """
    node = root
    line = _start_line(root)
    parts: list[str | int] = []
    tag_base: tuple[str | int, ...] | None = None
    for position, element in enumerate(loc):
        child = _child(node, element)
        if child is None:
            if missing and position == len(loc) - 1:
                parts.append(element)
            elif tag_base is None:
                tag_base = tuple(parts)
            continue
        child_line, node = child
        line = child_line if child_line is not None else line
        parts.append(element)
    return line, tuple(parts), tag_base


def _start_line(node: Any) -> int | None:
    return node.start_mark.line + 1 if isinstance(node, Node) else None


def _child(node: Any, element: str | int) -> tuple[int | None, Any] | None:
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and _key_matches(key, element):
                return key.start_mark.line + 1, value
        return None
    if isinstance(node, SequenceNode):
        if isinstance(element, int) and 0 <= element < len(node.value):
            item = node.value[element]
            return item.start_mark.line + 1, item
        return None
    if isinstance(node, Mapping) and element in node:
        return None, node[element]
    if isinstance(node, list) and isinstance(element, int) and 0 <= element < len(node):
        return None, node[element]
    return None


def _key_matches(key: ScalarNode, element: str | int) -> bool:
    return key.value == str(element) if isinstance(element, int) else key.value == element


def _syntax_problem(exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    text = f"not valid YAML: {exc.problem or exc}"
    if exc.context and exc.context_mark is not None and exc.context_mark is not mark:
        text += f" ({exc.context} started on line {exc.context_mark.line + 1})"
    return Problem(line, "", text)


def _duplicate_keys(node: Node, path: tuple[str | int, ...], seen: set[int]) -> list[Problem]:
    if id(node) in seen:
        return []
    seen.add(id(node))

    problems: list[Problem] = []
    if isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            problems += _duplicate_keys(item, (*path, index), seen)
    elif isinstance(node, MappingNode):
        first_line: dict[str, int] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, ScalarNode) else None
            if name is None or name == "<<":
                continue
            line = key.start_mark.line + 1
            if name in first_line:
                problems.append(
                    Problem(
                        line,
                        format_path((*path, name)),
                        f"appears twice (first on line {first_line[name]}); YAML would silently "
                        "keep only the last value, so remove one of them",
                    )
                )
            first_line.setdefault(name, line)
            problems += _duplicate_keys(value, (*path, name), seen)
    return problems
