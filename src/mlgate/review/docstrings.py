"""Measure how well a model project's code explains itself: docstrings and comments.

Docstring coverage is the share of public modules, classes and functions that have a
docstring. Public means:

- a module whose file name does not start with ``_`` (``__init__.py`` counts as public: it is
  the package's front page);
- a class or function at module level whose name does not start with ``_``, in any module:
  projects that keep their code in ``_module.py`` files and re-export it still present those
  names to their users;
- a method whose name does not start with ``_`` in a public class. Dunder methods
  (``__init__``, ``__call__``) are left out, as are ``@overload`` stubs and property setters and
  deleters, which the getter documents. Functions inside functions are private by nature.

Comment density is the number of lines holding a comment (a line of its own or a trailing
``# ...``) per line of code, per file and overall. Lines of code hold a token that is not a
comment, excluding docstrings; a ``#!`` first line does not count as a comment.
"""

from __future__ import annotations

import ast
import io
import logging
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlgate.review.duplication import LAYOUT_TOKENS

logger = logging.getLogger(__name__)

_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_SKIPPED_DECORATORS = frozenset({"overload", "setter", "deleter"})


@dataclass(frozen=True)
class MissingDocstring:
    """A public module, class or function without a docstring."""

    path: str
    line: int
    kind: str  # "module", "class" or "function"
    name: str


@dataclass(frozen=True)
class FileDocumentation:
    """One file's counts: public definitions, those documented, comment and code lines."""

    path: str
    public: int
    documented: int
    comment_lines: int
    code_lines: int

    @property
    def comment_density(self) -> float | None:
        """Return comment lines per code line, or ``None`` for a file without code."""
        return self.comment_lines / self.code_lines if self.code_lines else None


@dataclass(frozen=True)
class DocumentationReport:
    """Docstring coverage and comment density over the reviewed files."""

    files: tuple[FileDocumentation, ...]
    missing: tuple[MissingDocstring, ...]

    @property
    def public(self) -> int:
        """Return the number of public definitions (modules included)."""
        return sum(f.public for f in self.files)

    @property
    def coverage(self) -> float | None:
        """Return the share of public definitions with a docstring; ``None`` when none exist."""
        return sum(f.documented for f in self.files) / self.public if self.public else None

    @property
    def comment_density(self) -> float | None:
        """Return comment lines per code line over all files; ``None`` without code."""
        code = sum(f.code_lines for f in self.files)
        return sum(f.comment_lines for f in self.files) / code if code else None


def document_coverage(root: Path, files: Sequence[str]) -> DocumentationReport:
    """Measure docstring coverage and comment density of ``files`` (relative to ``root``).

    A file that does not decode or parse is left out (the AST review reports it).
    """
    measured: list[FileDocumentation] = []
    missing: list[MissingDocstring] = []
    for relative in files:
        try:
            text = (Path(root) / relative).read_bytes().decode("utf-8")
            tree = ast.parse(text)
            tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
        except (UnicodeDecodeError, SyntaxError, ValueError, tokenize.TokenError):
            logger.debug("documentation skips %s: it does not parse", relative)
            continue

        public = _public_definitions(tree, relative)
        undocumented = [item for item, documented in public if not documented]
        missing.extend(undocumented)
        comments, code = _line_counts(tokens, _docstring_lines(tree))
        documented = len(public) - len(undocumented)
        measured.append(FileDocumentation(relative, len(public), documented, comments, code))

    report = DocumentationReport(tuple(measured), tuple(missing))
    logger.info(
        "documentation: %d files, %d public definitions, %d without a docstring",
        len(measured),
        report.public,
        len(missing),
    )
    return report


def _public_definitions(tree: ast.Module, relative: str) -> list[tuple[MissingDocstring, bool]]:
    """Each public definition, as the finding it would be, with whether it has a docstring."""
    found: list[tuple[MissingDocstring, bool]] = []
    name = relative.rsplit("/", 1)[-1]
    if name == "__init__.py" or not name.startswith("_"):
        module = MissingDocstring(relative, 1, "module", relative)
        found.append((module, ast.get_docstring(tree) is not None))

    for node in tree.body:
        if not isinstance(node, _DEFINITIONS) or not _is_public(node):
            continue
        found.append(_definition(relative, node, node.name))
        if isinstance(node, ast.ClassDef):
            found.extend(
                _definition(relative, method, f"{node.name}.{method.name}")
                for method in node.body
                if isinstance(method, _DEFINITIONS) and _is_public(method)
            )
    return found


def _definition(
    relative: str, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, name: str
) -> tuple[MissingDocstring, bool]:
    kind = "class" if isinstance(node, ast.ClassDef) else "function"
    return MissingDocstring(relative, node.lineno, kind, name), ast.get_docstring(node) is not None


def _is_public(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> bool:
    if node.name.startswith("_"):
        return False
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        last = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if last in _SKIPPED_DECORATORS:
            return False
    return True


def _docstring_lines(tree: ast.Module) -> set[int]:
    """Physical lines taken by docstrings, which count neither as code nor as comment."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Module, *_DEFINITIONS)) or not node.body:
            continue
        first = node.body[0]
        value = first.value if isinstance(first, ast.Expr) else None
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            lines.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return lines


def _line_counts(tokens: list[tokenize.TokenInfo], docstrings: set[int]) -> tuple[int, int]:
    """Return (comment lines, code lines) of one tokenized file."""
    comments: set[int] = set()
    code: set[int] = set()
    for token in tokens:
        if token.type == tokenize.COMMENT:
            if not (token.start[0] == 1 and token.string.startswith("#!")):
                comments.add(token.start[0])
        elif token.type not in LAYOUT_TOKENS:
            code.update(range(token.start[0], token.end[0] + 1))
    return len(comments), len(code - docstrings)
