"""The exceptions and warnings mlgate raises, in one tree.

Every error a user can meet derives from :class:`GovernanceError`, carries a message that names
the bad value and what was expected, and may carry a ``hint``: the command to run or the document
to fill next. Each class also inherits the matching builtin so that callers who catch
``ValueError`` or ``LookupError`` keep working::

    GovernanceError
    ├── ValidationError(ValueError)      bad input: a document, a file, a column, a setting
    ├── NotFoundError(LookupError)       an id, a name or a file that does not exist
    ├── ConflictError                    the state does not allow the action (already exists...)
    ├── PolicyViolation                  a gate, a role or separation of duties refuses it
    └── IntegrityError                   a stored artifact or the audit trail was tampered with

The command line prints ``str(error)`` and the hint, never a traceback, and exits non-zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class GovernanceError(Exception):
    """Base of every error mlgate raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ValidationError(GovernanceError, ValueError):
    """Input that does not have the expected shape or values."""

    exit_code = 2


class NotFoundError(GovernanceError, LookupError):
    """A project, version, document or file that does not exist."""

    exit_code = 3


class ConflictError(GovernanceError):
    """An action the current state does not allow, such as registering a name twice."""

    exit_code = 4


class PolicyViolation(GovernanceError):
    """An action the policy refuses: an unmet gate, a missing role, a self-approval."""

    exit_code = 5


class IntegrityError(GovernanceError):
    """Stored content whose hash no longer matches what was recorded."""

    exit_code = 6


class MlgateWarning(UserWarning):
    """Base of the advice mlgate gives through :mod:`warnings`."""


class DataQualityWarning(MlgateWarning):
    """Data that can be used, but whose quality makes a result less reliable."""


class DriftWarning(MlgateWarning):
    """A drift statistic whose value needs care, such as a tiny sample or heavy ties."""


PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def plain_message(message: object) -> str:
    """Return a validation message without pydantic's "Value error, " style prefix.

    The prefix says which Python exception carried the message; a person reading why their
    setting was refused needs only the message itself.
    """
    text = str(message)
    for prefix in PYDANTIC_PREFIXES:
        text = text.removeprefix(prefix)
    return text


def describe_problems(errors: Iterable[Mapping[str, Any]]) -> str:
    """Return pydantic's error list as ``field.path: message; ...`` for one error message."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc'])}: {plain_message(error['msg'])}"
        for error in errors
    )
