"""Load a policy file, validate it completely, and point at the line of every mistake.

A policy is written by hand, so a mistake must be easy to find: every problem is reported with
the file, the line and the field path, for instance::

    policy.yaml line 42, stages[2].requirements[0].count: expected a whole number; got 'two'

Beyond the schema of :mod:`mlgate.policy.model`, the loader checks what the schema cannot see
on its own, each with a precise line: requirement and stage ids are unique; approval roles and
waiver roles are declared roles; an approval's subject exists in the same or an earlier stage
and applies to every tier the approval does; a requirement carries no field of another kind;
every ``document:`` is a known document type; and every ``check:`` (with its threshold names)
is a known check, when the check registry is available.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import pydantic
from yaml.nodes import Node

from mlgate.documents._yaml import (
    Problem,
    format_path,
    line_of,
    parse_yaml,
    problems_from_pydantic,
    raise_problems,
    read_text_file,
    root_problem,
)
from mlgate.documents.schemas import DOCUMENT_TYPES
from mlgate.errors import NotFoundError
from mlgate.policy.model import TIERS, Policy

DEFAULT_POLICY_FILE = "default.yaml"
_WHAT = "policy"
_HINT = (
    "fix each field listed above; the default policy (mlgate/policy/default.yaml) shows every "
    "field in use, with comments"
)

# The fields each kind of requirement takes beyond the common ones (id, kind, title, ...).
_KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "document": ("document", "role", "count"),
    "check": ("check", "dataset", "thresholds", "tier_thresholds"),
    "approval": ("role", "count", "subject"),
    "record": ("record",),
    "process": (),
    "findings": ("severity",),
}


def default_policy_path() -> Path:
    """Return the path of the default policy file shipped inside the package."""
    return Path(str(resources.files("mlgate.policy").joinpath(DEFAULT_POLICY_FILE)))


def policy_sha256(path: str | os.PathLike[str]) -> str:
    """Return the hex sha256 of the policy file's bytes, as recorded with each project."""
    file = Path(path)
    if not file.is_file():
        raise NotFoundError(
            f"policy file '{file}' does not exist; expected a YAML policy file",
            hint="check the path, or use the default policy",
        )
    return hashlib.sha256(file.read_bytes()).hexdigest()


def load_policy(path_or_text: str | os.PathLike[str], *, source_name: str | None = None) -> Policy:
    """Read and validate a policy from a file path or from YAML text.

    A :class:`~pathlib.Path`, or a one-line string that ends in ``.yaml``/``.yml`` or names an
    existing file, is read as a file; any other string is the YAML text itself. ``source_name``
    names the policy in messages (default: the path, or ``<policy text>``).

    Raises :class:`~mlgate.errors.NotFoundError` for a missing file and
    :class:`~mlgate.errors.ValidationError` listing every problem, each with its line.
    """
    text, source = _read(path_or_text, source_name)
    parsed = parse_yaml(text, source, _WHAT, hint=_HINT)
    not_mapping = root_problem(parsed, _WHAT)
    if not_mapping is not None:
        raise_problems(source, _WHAT, [not_mapping], hint=_HINT)

    problems = list(parsed.problems)
    problems += _reference_problems(parsed.data, parsed.node)
    try:
        policy = Policy.model_validate(parsed.data)
    except pydantic.ValidationError as exc:
        problems += [
            p
            for p in problems_from_pydantic(exc, parsed.node, Policy)
            if not (problems and _is_cross_reference(p))
        ]

    if problems:
        raise_problems(source, _WHAT, _unique(problems), hint=_HINT)
    return policy


def _read(path_or_text: str | os.PathLike[str], source_name: str | None) -> tuple[str, str]:
    if isinstance(path_or_text, os.PathLike) or _looks_like_path(path_or_text):
        path = Path(path_or_text)
        return read_text_file(path, _WHAT), source_name or str(path)
    return path_or_text, source_name or "<policy text>"


def _looks_like_path(text: str) -> bool:
    if "\n" in text or not text.strip():
        return False
    if text.endswith((".yaml", ".yml")):
        return True
    try:
        return Path(text).is_file()
    except OSError:
        return False


def _is_cross_reference(problem: Problem) -> bool:
    """Whether a schema problem repeats a cross-reference that this module reports precisely.

    The schema's own policy-wide validators report duplicate ids and unresolved references on
    ``stages`` or the whole policy, without a precise line; once our checks found problems
    those would only repeat them.
    """
    return problem.path in ("", "stages") and not problem.message.startswith("expected")


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def _reference_problems(data: Mapping[str, Any], node: Node | None) -> list[Problem]:
    """Check what the schema cannot: ids, roles, references, kinds, check names, thresholds.

    Works on the raw data and skips anything of the wrong shape: the schema reports that.
    """
    problems: list[Problem] = []
    roles = _strings(data.get("roles"))
    problems += _duplicates(node, ("roles",), roles, "role")
    for index, role in enumerate(_strings(data.get("waiver_roles"))):
        if role not in roles:
            problems.append(_problem(node, ("waiver_roles", index), _unknown_role(role, roles)))

    stages = data.get("stages") if isinstance(data.get("stages"), list) else []
    stage_ids = [s.get("id") if isinstance(s, Mapping) else None for s in stages]
    problems += _duplicates(node, ("stages",), stage_ids, "stage id", field="id")

    seen: dict[str, tuple[int, tuple[str | int, ...]]] = {}
    requirements: dict[str, tuple[int, Mapping[str, Any]]] = {}
    for s_index, stage in enumerate(stages):
        raw = stage.get("requirements") if isinstance(stage, Mapping) else None
        for r_index, req in enumerate(raw if isinstance(raw, list) else []):
            if not isinstance(req, Mapping):
                continue
            loc = ("stages", s_index, "requirements", r_index)
            req_id = req.get("id")
            if isinstance(req_id, str) and req_id in seen:
                first_loc = seen[req_id][1]
                message = (
                    f"requirement id '{req_id}' is already used by {format_path(first_loc)} "
                    f"(line {line_of(node, first_loc)}); ids must be unique in the whole policy "
                    "because approvals and waivers refer to them, so rename one"
                )
                problems.append(_problem(node, (*loc, "id"), message))
            elif isinstance(req_id, str):
                seen[req_id] = (s_index, loc)
                requirements[req_id] = (s_index, req)

    for s_index, stage in enumerate(stages):
        raw = stage.get("requirements") if isinstance(stage, Mapping) else None
        for r_index, req in enumerate(raw if isinstance(raw, list) else []):
            if isinstance(req, Mapping):
                loc = ("stages", s_index, "requirements", r_index)
                problems += _requirement_problems(node, loc, req, s_index, roles, requirements)
    return problems


def _requirement_problems(
    node: Node | None,
    loc: tuple[str | int, ...],
    req: Mapping[str, Any],
    stage_index: int,
    roles: list[str],
    requirements: Mapping[str, tuple[int, Mapping[str, Any]]],
) -> list[Problem]:
    kind = req.get("kind")
    if kind not in _KIND_FIELDS:
        return []
    problems = _foreign_fields(node, loc, req, kind)

    if kind == "document":
        document = req.get("document")
        if isinstance(document, str) and document not in DOCUMENT_TYPES:
            message = (
                f"unknown document type '{document}'; expected one of: {', '.join(DOCUMENT_TYPES)}"
            )
            problems.append(_problem(node, (*loc, "document"), message))
    elif kind == "check":
        problems += _check_problems(node, loc, req)
    if kind in ("document", "approval"):
        role = req.get("role")
        if isinstance(role, str) and role not in roles:
            problems.append(_problem(node, (*loc, "role"), _unknown_role(role, roles)))
        problems += _count_problems(node, loc, req.get("count", 1))
    if kind == "approval":
        problems += _subject_problems(node, loc, req, stage_index, requirements)
    return problems


def _foreign_fields(
    node: Node | None, loc: tuple[str | int, ...], req: Mapping[str, Any], kind: str
) -> list[Problem]:
    problems = []
    for other, fields in _KIND_FIELDS.items():
        if other == kind:
            continue
        for name in fields:
            if name in req and name not in _KIND_FIELDS[kind]:
                message = (
                    f"'{name}' belongs to requirements of kind '{other}', but this one has kind "
                    f"'{kind}'; remove the field or change the kind"
                )
                problems.append(_problem(node, (*loc, name), message))
    return problems


def _check_problems(
    node: Node | None, loc: tuple[str | int, ...], req: Mapping[str, Any]
) -> list[Problem]:
    registry = _check_registry()
    name = req.get("check")
    if registry is None or not isinstance(name, str):
        return []
    if name not in registry:
        message = f"unknown check '{name}'; expected one of: {', '.join(sorted(registry))}"
        return [_problem(node, (*loc, "check"), message)]

    defaults = getattr(registry[name], "defaults", None)
    if not isinstance(defaults, Mapping) or not defaults:
        return []
    known = sorted(defaults)
    blocks: list[tuple[tuple[str | int, ...], Any]] = [
        ((*loc, "thresholds"), req.get("thresholds"))
    ]
    tiered = req.get("tier_thresholds")
    if isinstance(tiered, Mapping):
        blocks += [((*loc, "tier_thresholds", tier), limits) for tier, limits in tiered.items()]

    prefixes = tuple(getattr(registry[name], "threshold_prefixes", ()))
    problems = []
    for block_loc, limits in blocks:
        for key in limits if isinstance(limits, Mapping) else {}:
            if key not in known and not str(key).startswith(prefixes or ("\0",)):
                message = (
                    f"unknown threshold '{key}' for check '{name}'; expected one of: "
                    f"{', '.join(known)}"
                )
                problems.append(_problem(node, (*block_loc, key), message))
    return problems


def _count_problems(node: Node | None, loc: tuple[str | int, ...], count: Any) -> list[Problem]:
    if isinstance(count, Mapping):
        values = [((*loc, "count", tier), value) for tier, value in count.items()]
    else:
        values = [((*loc, "count"), count)]
    return [
        _problem(node, value_loc, f"expected at least 1 approver; got {value}")
        for value_loc, value in values
        if isinstance(value, int) and not isinstance(value, bool) and value < 1
    ]


def _subject_problems(
    node: Node | None,
    loc: tuple[str | int, ...],
    req: Mapping[str, Any],
    stage_index: int,
    requirements: Mapping[str, tuple[int, Mapping[str, Any]]],
) -> list[Problem]:
    subject = req.get("subject", "stage")
    if not isinstance(subject, str) or subject in ("stage", "model"):
        return []
    subject_loc = (*loc, "subject")
    if subject not in requirements:
        message = (
            f"unknown subject '{subject}'; expected 'stage', 'model' or the id of a "
            "requirement in this or an earlier stage"
        )
        return [_problem(node, subject_loc, message)]

    target_stage, target = requirements[subject]
    if subject == req.get("id") or target.get("kind") == "approval":
        message = (
            f"subject '{subject}' is an approval; an approval's subject must be the stage, the "
            "model or a document, check or record requirement"
        )
        return [_problem(node, subject_loc, message)]
    if target_stage > stage_index:
        message = (
            f"subject '{subject}' belongs to a later stage; an approval can only cover evidence "
            "gathered in its own stage or an earlier one"
        )
        return [_problem(node, subject_loc, message)]

    uncovered = [t for t in _tiers(req) if t not in _tiers(target)]
    if uncovered:
        message = (
            f"subject '{subject}' does not apply to tier {', '.join(uncovered)}, which this "
            "approval covers; limit the approval's tiers or widen the subject's"
        )
        return [_problem(node, subject_loc, message)]
    return []


def _check_registry() -> Mapping[str, Any] | None:
    """Return the check registry, or ``None`` if :mod:`mlgate.checks` does not provide one.

    Imported lazily: the policy is pure data, and the checks pull in the numeric stack.
    """
    try:
        from mlgate.checks import REGISTRY
    except ImportError:
        return None
    return REGISTRY if isinstance(REGISTRY, Mapping) else None


def _tiers(req: Mapping[str, Any]) -> list[str]:
    tiers = req.get("tiers", list(TIERS))
    return [t for t in tiers if t in TIERS] if isinstance(tiers, list) else list(TIERS)


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _duplicates(
    node: Node | None,
    loc: tuple[str | int, ...],
    values: list[Any],
    what: str,
    field: str | None = None,
) -> list[Problem]:
    problems = []
    first: dict[str, int] = {}
    for index, value in enumerate(values):
        if not isinstance(value, str):
            continue
        if value in first:
            where = (*loc, index, field) if field else (*loc, index)
            earlier = (*loc, first[value], field) if field else (*loc, first[value])
            message = (
                f"{what} '{value}' appears twice (first on line {line_of(node, earlier)}); "
                "remove or rename one"
            )
            problems.append(_problem(node, where, message))
        first.setdefault(value, index)
    return problems


def _unknown_role(role: str, roles: list[str]) -> str:
    return f"unknown role '{role}'; expected one of the policy's roles: {', '.join(roles)}"


def _problem(node: Node | None, loc: tuple[str | int, ...], message: str) -> Problem:
    return Problem(line_of(node, loc), format_path(loc), message)
