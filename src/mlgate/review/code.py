"""Read a model project's Python files and report code a reviewer would send back.

Only the standard library :mod:`ast` is used: nothing is imported or run. Each
:class:`CodeFinding` names the file (relative to the folder reviewed), the line, the rule and
what is wrong. The rules are listed in :data:`RULES`; those in :data:`FAILING_RULES` fail a
review, the others warn.

A file that cannot be decoded as UTF-8, does not parse or is larger than
:data:`~mlgate.review.source.MAX_FILE_BYTES` is itself a finding (``unreadable``,
``syntax-error``, ``too-large``), never a crash, so one such file does not hide the others.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mlgate.errors import NotFoundError
from mlgate.review.source import MAX_FILE_BYTES

logger = logging.getLogger(__name__)

Severity = Literal["warn", "fail"]

RULES: dict[str, str] = {
    "magic-number": "a numeric literal used in logic instead of a named UPPER_CASE constant",
    "endless-loop": "a while loop that nothing in its body can end",
    "self-comparison": "a comparison whose two sides are the same expression",
    "constant-condition": "an if/while test or assert whose outcome is fixed in the source",
    "none-equality": "a comparison with None by == or != instead of is / is not",
    "mutable-default": "a list, dict or set as a default argument, shared between calls",
    "bare-except": "an except clause catching every Exception whose body only passes",
    "syntax-error": "a file that does not parse as Python",
    "unreadable": "a file that is not valid UTF-8",
    "too-large": "a file over the size the review reads, left unreviewed",
}

# A file that does not parse cannot be imported: it fails like the mandatory lint rules do.
FAILING_RULES = frozenset({"endless-loop", "bare-except", "syntax-error"})
SKIPPED_DIRS = frozenset({".venv", "venv", "build", "dist", "__pycache__"})
ALLOWED_NUMBERS = frozenset({0, 1, -1, 2})
MUTABLE_FACTORIES = frozenset({"list", "dict", "set"})
CATCH_ALL_NAMES = frozenset({"Exception", "BaseException"})
CATCH_ALL_MODULES = frozenset({"builtins", "__builtins__"})
MIB = 1024 * 1024
EXIT_CALLS = frozenset({"sys.exit", "os._exit", "exit", "quit"})

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_LOOPS = (ast.For, ast.AsyncFor, ast.While)
# Nodes whose body runs in a scope of its own (a comprehension's target does not leak either).
_INNER_SCOPES = (*_SCOPES, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
# A loop body holding one of these hands control to others on each turn: a producer that
# yields, or a coroutine that awaits (``async for``/``async with`` await too).
_SUSPENDS = (ast.Yield, ast.YieldFrom, ast.Await, ast.AsyncFor, ast.AsyncWith)


@dataclass(frozen=True)
class CodeFinding:
    """One problem in one file: where it is, which rule found it and what is wrong."""

    path: str
    line: int
    rule: str
    message: str
    severity: Severity


def review_source(root: Path, files: Sequence[str] | None = None) -> list[CodeFinding]:
    """Review Python files under ``root``; findings are sorted by path, line and rule.

    ``files`` lists the files to read as POSIX paths relative to ``root`` (a
    :class:`~mlgate.review.source.SourceTree`'s ``code``); without it every Python file under
    ``root`` is read, leaving out hidden, virtual-environment, build and cache folders.
    """
    root = Path(root)
    if not root.is_dir():
        raise NotFoundError(f"source folder {str(root)!r} does not exist or is not a folder")

    paths = _python_files(root) if files is None else _listed_files(root, files)
    findings: list[CodeFinding] = []
    for path in paths:
        findings.extend(_review_file(path, path.relative_to(root)))

    findings.sort(key=lambda f: (f.path, f.line, f.rule))
    logger.info("code review read %d Python files, found %d findings", len(paths), len(findings))
    return findings


def _python_files(root: Path) -> list[Path]:
    """Python files under ``root``, leaving out hidden, virtualenv, build and cache folders."""
    files = []
    for path in sorted(root.rglob("*.py")):
        folders = path.relative_to(root).parts[:-1]
        if any(part.startswith(".") or part in SKIPPED_DIRS for part in folders):
            continue
        if path.is_file():
            files.append(path)
    return files


def _listed_files(root: Path, files: Sequence[str]) -> list[Path]:
    """The listed files as paths under ``root``; a listed file that is missing is an error."""
    paths = [root / relative for relative in files]
    missing = [
        str(relative) for relative, path in zip(files, paths, strict=True) if not path.is_file()
    ]
    if missing:
        raise NotFoundError(
            f"file(s) to review not found under {str(root)!r}: {', '.join(missing[:5])}"
        )
    return paths


def _review_file(path: Path, relative: Path) -> list[CodeFinding]:
    """Findings for one file, including one for a file that cannot be read or parsed."""
    name = relative.as_posix()
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        logger.warning("code review skips %s: %d bytes", name, size)
        return [_finding(name, 1, "too-large", too_large_message(size))]
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return [_finding(name, line, "unreadable", f"byte {raw[exc.start]:#04x} is not UTF-8")]

    try:
        tree = ast.parse(text, filename=name)
    except SyntaxError as exc:
        return [_finding(name, exc.lineno or 1, "syntax-error", exc.msg)]
    except ValueError as exc:  # source with NUL bytes
        return [_finding(name, 1, "syntax-error", str(exc))]

    is_test = relative.name.startswith("test_") or "tests" in relative.parts[:-1]
    return _Reviewer(name, is_test).run(tree)


def too_large_message(size: int) -> str:
    """Say that a file of ``size`` bytes is over the review's limit and was not read."""
    return (
        f"file is {size} bytes; the review reads files of at most {MAX_FILE_BYTES} bytes "
        f"({MAX_FILE_BYTES // MIB} MiB), so this one was not reviewed; add it to "
        "review.exclude if it is generated"
    )


def _finding(path: str, line: int, rule: str, message: str) -> CodeFinding:
    severity: Severity = "fail" if rule in FAILING_RULES else "warn"
    return CodeFinding(path=path, line=line, rule=rule, message=message, severity=severity)


class _Reviewer:
    """Apply every rule to one parsed file."""

    def __init__(self, path: str, is_test: bool) -> None:
        self.path = path
        self.is_test = is_test
        self.findings: list[CodeFinding] = []
        self.parents: dict[ast.AST, ast.AST] = {}

    def run(self, tree: ast.Module) -> list[CodeFinding]:
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node

        for node in ast.walk(tree):
            if isinstance(node, ast.Constant):
                self._magic_number(node)
            elif isinstance(node, ast.While):
                self._while(node)
            elif isinstance(node, ast.If | ast.IfExp):
                self._constant_test(node, node.test)
            elif isinstance(node, ast.Assert):
                self._assert(node)
            elif isinstance(node, ast.Compare):
                self._compare(node)
            elif isinstance(node, ast.arguments):
                self._defaults(node)
            elif isinstance(node, ast.ExceptHandler):
                self._except(node)
        return self.findings

    def _add(self, node: ast.AST, rule: str, message: str) -> None:
        self.findings.append(_finding(self.path, node.lineno, rule, message))

    # magic-number

    def _magic_number(self, node: ast.Constant) -> None:
        if self.is_test or isinstance(node.value, bool):
            return
        if not isinstance(node.value, int | float | complex):
            return

        literal: ast.expr = node
        value = node.value
        parent = self.parents.get(node)
        if isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.USub | ast.UAdd):
            literal = parent
            value = -value if isinstance(parent.op, ast.USub) else value
            parent = self.parents.get(parent)

        if value in ALLOWED_NUMBERS or not self._in_logic(literal, parent):
            return
        if self._is_default(literal) or self._in_named_constant(literal):
            return
        self._add(
            literal,
            "magic-number",
            f"literal {ast.unparse(literal)} in logic; name it as an UPPER_CASE constant",
        )

    def _in_logic(self, literal: ast.expr, parent: ast.AST | None) -> bool:
        """True for a comparison, arithmetic, call argument or slice bound; not an index."""
        if isinstance(parent, ast.keyword):
            parent = self.parents.get(parent)
        return isinstance(parent, ast.Compare | ast.BinOp | ast.AugAssign | ast.Call | ast.Slice)

    def _is_default(self, literal: ast.expr) -> bool:
        node: ast.AST = literal
        while node in self.parents:
            parent = self.parents[node]
            if isinstance(parent, ast.arguments):
                return any(node is default for default in [*parent.defaults, *parent.kw_defaults])
            if isinstance(parent, ast.stmt):
                return False
            node = parent
        return False

    def _in_named_constant(self, literal: ast.expr) -> bool:
        """True inside ``NAME = ...`` at module or class level, NAME in UPPER_CASE."""
        node: ast.AST = literal
        while not isinstance(node, ast.stmt):
            node = self.parents[node]
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            return False
        if not isinstance(self.parents.get(node), ast.Module | ast.ClassDef):
            return False
        return all(isinstance(t, ast.Name) and t.id.isupper() for t in targets)

    # endless-loop and constant-condition on while

    def _while(self, node: ast.While) -> None:
        test = node.test
        forever = isinstance(test, ast.Constant) and _is_forever(test.value)
        if not forever:
            self._constant_test(node, test)
        if _has_exit(node.body, own_loop=True) or _suspends(node.body):
            return
        if forever:
            self._add(node, "endless-loop", "while loop with no break, return or raise")
            return

        names = _condition_names(test)
        if names is None or names & _changed_names(node.body):
            return
        if _has_call(node.body) and any(self._call_may_change(name, node) for name in names):
            return
        listed = ", ".join(sorted(names))
        self._add(node, "endless-loop", f"nothing in the loop changes {listed}")

    def _call_may_change(self, name: str, loop: ast.While) -> bool:
        """Whether a call in the loop could change what ``name`` holds, as far as one can tell.

        Only a local of the enclosing function that is bound to nothing but literals, ``not``,
        comparisons and ``and``/``or`` of those holds a value no call can change. A module-level
        or global name, a name an inner function rebinds with ``nonlocal``, a parameter or a
        name bound to any other value (a list, an object) might change under a call.
        """
        scope = self._enclosing_function(loop)
        if scope is None:
            return True
        values: list[ast.expr] = []
        for node in _scope_nodes(scope):
            if isinstance(node, ast.Global | ast.Nonlocal) and name in node.names:
                return True
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.NamedExpr):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                    if node.value is None or not _is_scalar(node.value):
                        return True
                    values.append(node.value)
                elif name in _stored_names(targets):
                    return True  # unpacked from a value of unknown kind
            elif isinstance(node, ast.arg | ast.alias | ast.ExceptHandler) and (
                _bound_name(node) == name
            ):
                return True
            elif isinstance(node, ast.For | ast.AsyncFor | ast.withitem | ast.comprehension):
                target = node.optional_vars if isinstance(node, ast.withitem) else node.target
                if target is not None and name in _stored_names([target]):
                    return True
        if any(_declares_nonlocal(inner, name) for inner in _inner_functions(scope)):
            return True
        return not values

    def _enclosing_function(self, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                return node
            if isinstance(node, ast.ClassDef | ast.Lambda):
                return None
        return None

    # constant-condition

    def _constant_test(self, node: ast.AST, test: ast.expr) -> None:
        if isinstance(test, ast.Constant):
            self._add(node, "constant-condition", f"condition {ast.unparse(test)} never changes")

    def _assert(self, node: ast.Assert) -> None:
        if isinstance(node.test, ast.Tuple) and node.test.elts:
            self._add(node, "constant-condition", "assert on a non-empty tuple is always true")

    # self-comparison and none-equality

    def _compare(self, node: ast.Compare) -> None:
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            if ast.unparse(left) == ast.unparse(right):
                self._add(node, "self-comparison", f"{ast.unparse(left)} is compared with itself")
            if isinstance(op, ast.Eq | ast.NotEq) and (_is_none(left) or _is_none(right)):
                wanted = "is" if isinstance(op, ast.Eq) else "is not"
                self._add(node, "none-equality", f"compare with None using {wanted!r}")
            left = right

    # mutable-default

    def _defaults(self, node: ast.arguments) -> None:
        for default in [*node.defaults, *node.kw_defaults]:
            if default is not None and _is_mutable(default):
                self._add(default, "mutable-default", f"default {ast.unparse(default)} is shared")

    # bare-except

    def _except(self, node: ast.ExceptHandler) -> None:
        if _catches_all(node.type) and all(_does_nothing(stmt) for stmt in node.body):
            caught = "except" if node.type is None else f"except {ast.unparse(node.type)}"
            self._add(node, "bare-except", f"{caught}: swallows every error silently")


def _catches_all(caught: ast.expr | None) -> bool:
    """True for ``except:`` and any clause that names Exception or BaseException, alone, as
    ``builtins.Exception`` or inside a tuple such as ``(ValueError, Exception)``."""
    if caught is None:
        return True
    if isinstance(caught, ast.Tuple):
        return any(_catches_all(element) for element in caught.elts)
    if isinstance(caught, ast.Name):
        return caught.id in CATCH_ALL_NAMES
    if isinstance(caught, ast.Attribute) and isinstance(caught.value, ast.Name):
        return caught.attr in CATCH_ALL_NAMES and caught.value.id in CATCH_ALL_MODULES
    return False


def _is_forever(value: object) -> bool:
    return value is True or (type(value) is int and value == 1)


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _is_mutable(node: ast.expr) -> bool:
    if isinstance(node, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp | ast.SetComp):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in MUTABLE_FACTORIES
    )


def _does_nothing(stmt: ast.stmt) -> bool:
    """True for a statement that drops an error: pass, continue, a bare literal, return None."""
    if isinstance(stmt, ast.Pass | ast.Continue):
        return True
    if isinstance(stmt, ast.Return):
        return stmt.value is None or _is_none(stmt.value)
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)


def _has_exit(body: list[ast.stmt], *, own_loop: bool) -> bool:
    """True when ``body`` can leave the loop: a return, a raise, a process exit such as
    ``sys.exit(...)``, or a break of this loop.

    Inner functions and classes are not searched; a break inside an inner loop's body ends that
    inner loop, not this one (a break in the inner loop's ``else`` does end this one).
    """
    for stmt in body:
        if isinstance(stmt, ast.Return | ast.Raise) or _is_exit_call(stmt):
            return True
        if isinstance(stmt, ast.Break) and own_loop:
            return True
        if isinstance(stmt, _SCOPES):
            continue
        if isinstance(stmt, _LOOPS):
            if _has_exit(stmt.body, own_loop=False) or _has_exit(stmt.orelse, own_loop=own_loop):
                return True
            continue
        for child in _child_bodies(stmt):
            if _has_exit(child, own_loop=own_loop):
                return True
    return False


def _is_exit_call(stmt: ast.stmt) -> bool:
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        return False
    return ast.unparse(stmt.value.func) in EXIT_CALLS


def _child_bodies(stmt: ast.stmt) -> list[list[ast.stmt]]:
    """The statement lists nested directly in a compound statement."""
    bodies = []
    for field in ("body", "orelse", "finalbody"):
        value = getattr(stmt, field, None)
        if isinstance(value, list):
            bodies.append(value)
    for handler in getattr(stmt, "handlers", []):
        bodies.append(handler.body)
    for case in getattr(stmt, "cases", []):
        bodies.append(case.body)
    return bodies


def _suspends(body: list[ast.stmt]) -> bool:
    """True when the loop body itself yields or awaits (inner functions are not searched)."""
    return any(isinstance(node, _SUSPENDS) for node in _body_nodes(body))


def _has_call(body: list[ast.stmt]) -> bool:
    """True when the loop body itself calls anything (inner functions are not searched)."""
    return any(isinstance(node, ast.Call) for node in _body_nodes(body))


def _body_nodes(body: list[ast.stmt]) -> list[ast.AST]:
    """Every node of ``body`` that runs in the loop's own scope."""
    found: list[ast.AST] = []
    pending: list[ast.AST] = list(body)
    while pending:
        node = pending.pop()
        found.append(node)
        if isinstance(node, _INNER_SCOPES):
            # Decorators and defaults run here; the inner body does not.
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                pending.extend(node.decorator_list)
            continue
        pending.extend(ast.iter_child_nodes(node))
    return found


def _scope_nodes(scope: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.AST]:
    """The function's parameters and every node of its body outside inner scopes."""
    return [*ast.walk(scope.args), *_body_nodes(scope.body)]


def _inner_functions(scope: ast.AST) -> list[ast.AST]:
    return [node for node in ast.walk(scope) if node is not scope and isinstance(node, _SCOPES)]


def _declares_nonlocal(scope: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Nonlocal) and name in n.names for n in ast.walk(scope))


def _bound_name(node: ast.arg | ast.alias | ast.ExceptHandler) -> str | None:
    if isinstance(node, ast.arg):
        return node.arg
    if isinstance(node, ast.ExceptHandler):
        return node.name
    return node.asname or node.name.split(".")[0]


def _stored_names(targets: list[ast.expr]) -> set[str]:
    return {
        node.id
        for target in targets
        for node in ast.walk(target)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }


def _is_scalar(value: ast.expr) -> bool:
    """True for an expression whose value is an immutable scalar: a literal, ``not x``, a
    comparison, or ``and``/``or``/unary minus of those."""
    if isinstance(value, ast.Constant):
        return True
    if isinstance(value, ast.UnaryOp):
        return isinstance(value.op, ast.Not) or _is_scalar(value.operand)
    if isinstance(value, ast.Compare):
        return True
    if isinstance(value, ast.BoolOp):
        return all(_is_scalar(operand) for operand in value.values)
    return False


def _condition_names(test: ast.expr) -> set[str] | None:
    """Names in a condition made of plain names and literals, joined by comparisons, ``not``,
    ``and`` and ``or`` (``while i < n``, ``while not done``, ``while flag``); None for any
    other condition, such as one with an attribute, item or call, which cannot be judged."""
    names = set()
    for node in ast.walk(test):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif not isinstance(
            node,
            ast.Compare
            | ast.Constant
            | ast.BoolOp
            | ast.UnaryOp
            | ast.cmpop
            | ast.boolop
            | ast.unaryop
            | ast.expr_context,
        ):
            return None
    return names or None


def _changed_names(body: list[ast.stmt]) -> set[str]:
    """Names the body could change: assigned, augmented, deleted, bound (``for``, ``with ...
    as``, ``:=``, ``except ... as``, imports, ``def``/``class``, ``match`` captures), declared
    global or nonlocal, item or attribute assigned, a method called on, or passed to a call."""
    changed = set()
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
                changed.add(node.id)
            elif isinstance(node, ast.Attribute | ast.Subscript):
                base = node.value
                if isinstance(base, ast.Name) and not isinstance(node.ctx, ast.Load):
                    changed.add(base.id)
            elif isinstance(node, ast.Call):
                if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
                    changed.add(node.func.value.id)
                arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
                for argument in arguments:
                    if isinstance(argument, ast.Starred):
                        argument = argument.value
                    if isinstance(argument, ast.Name):
                        changed.add(argument.id)
            elif isinstance(node, ast.Global | ast.Nonlocal):
                changed.update(node.names)
            else:
                bound = _binding(node)
                if bound is not None:
                    changed.add(bound)
    return changed


def _binding(node: ast.AST) -> str | None:
    """The name an import, ``except ... as``, definition or ``match`` capture binds."""
    if isinstance(node, ast.alias | ast.ExceptHandler):
        return _bound_name(node)
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node.name
    if isinstance(node, ast.MatchAs | ast.MatchStar):
        return node.name
    if isinstance(node, ast.MatchMapping):
        return node.rest
    return None
