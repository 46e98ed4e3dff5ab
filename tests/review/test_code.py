"""Code review of a model project's source: each planted fault is found, clean code is not."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest

from mlgate.errors import NotFoundError
from mlgate.review.code import RULES, CodeFinding, review_source


def _write(root: Path, name: str, source: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")


def _pairs(findings: list[CodeFinding]) -> list[tuple[str, int]]:
    return [(f.rule, f.line) for f in findings]


def _review(tmp_path: Path, source: str, name: str = "model.py") -> list[tuple[str, int]]:
    _write(tmp_path, name, source)
    return _pairs(review_source(tmp_path))


def test_magic_number_in_comparison_arithmetic_call_and_slice(tmp_path):
    source = """
    def score(x, rows):
        if x > 0.75:
            x = x * 100
        rows = rows[:50]
        return round(x, ndigits=3)
    """
    assert _review(tmp_path, source) == [
        ("magic-number", 2),
        ("magic-number", 3),
        ("magic-number", 4),
        ("magic-number", 5),
    ]


def test_magic_number_allows_constants_indices_defaults_and_small_values(tmp_path):
    source = """
    THRESHOLD = 0.75
    SECONDS: int = 60 * 60


    class Model:
        MAX_DEPTH = 12

        def fit(self, x, depth=8, *, seed=42):
            return x[3] + x[-1] * 2 - 1 > THRESHOLD or x[0] / 2 == 0
    """
    assert _review(tmp_path, source) == []


def test_magic_number_negative_literal_reported_with_sign(tmp_path):
    _write(tmp_path, "model.py", "def f(x):\n    return x < -40\n")
    [finding] = review_source(tmp_path)
    assert (finding.rule, finding.line, finding.severity) == ("magic-number", 2, "warn")
    assert "-40" in finding.message


def test_magic_number_lowercase_or_function_level_assignment_is_not_a_constant(tmp_path):
    source = """
    limit = 10 * 3


    def f():
        LIMIT = 10 * 3
        return LIMIT
    """
    assert _review(tmp_path, source) == [
        ("magic-number", 1),
        ("magic-number", 1),
        ("magic-number", 5),
        ("magic-number", 5),
    ]


def test_magic_number_ignored_in_test_files(tmp_path):
    _write(tmp_path, "test_model.py", "def test_x():\n    assert 3 * 7 == 21\n")
    _write(tmp_path, "tests/helpers.py", "def f(x):\n    return x > 99\n")
    assert review_source(tmp_path) == []


def test_endless_while_true_without_exit(tmp_path):
    source = """
    def serve(queue):
        while True:
            item = queue.get()
            for part in item:
                if part:
                    break

            def inner():
                return 1
    """
    _write(tmp_path, "m.py", source)
    findings = review_source(tmp_path)
    assert _pairs(findings) == [("endless-loop", 2)]
    assert findings[0].severity == "fail"


def test_while_one_without_exit_is_endless(tmp_path):
    assert _review(tmp_path, "while 1:\n    pass\n") == [("endless-loop", 1)]


@pytest.mark.parametrize(
    "exit_statement",
    [
        "break",
        "return item",
        "raise StopIteration",
        'sys.exit("stopped")',
        "os._exit(ORPHANED)",
    ],
)
def test_while_true_with_exit_is_clean(tmp_path, exit_statement):
    source = f"""
    def serve(queue):
        while True:
            item = queue.get()
            if item is None:
                {exit_statement}
    """
    assert _review(tmp_path, source) == []


def test_break_in_inner_loop_else_ends_outer_loop(tmp_path):
    source = """
    def serve(queue):
        while True:
            for part in queue.get():
                if part is None:
                    break
            else:
                break
    """
    assert _review(tmp_path, source) == []


def test_while_condition_never_changed_is_endless(tmp_path):
    source = """
    def count(n, total):
        i = 0
        while i < n:
            total += i
        return total
    """
    assert _review(tmp_path, source) == [("endless-loop", 3)]


@pytest.mark.parametrize("update", ["i += 1", "i = step(i)", "i, j = j, i", "n.pop()", "n[0] = 0"])
def test_while_condition_changed_in_body_is_clean(tmp_path, update):
    source = f"""
    def count(n, j, total):
        i = 0
        while i < n:
            total += i
            {update}
        return total
    """
    assert _review(tmp_path, source) == []


def test_self_comparison(tmp_path):
    source = """
    def f(a, b):
        if a.x == a.x:
            return a < b < b
    """
    assert _review(tmp_path, source) == [("self-comparison", 2), ("self-comparison", 3)]


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("x = 3\nif True:\n    x = 4\n", 2),
        ("x = 3\nif False:\n    x = 4\n", 2),
        ('x = 3\nif "text":\n    x = 4\n', 2),
        ("x = 3\nif 0:\n    x = 4\n", 2),
        ("while False:\n    pass\n", 1),
        ("def f(a, b):\n    assert (a, b)\n", 2),
    ],
)
def test_constant_condition(tmp_path, source, line):
    assert _review(tmp_path, source) == [("constant-condition", line)]


def test_assert_on_expression_and_empty_tuple_assert_are_not_constant_tuples(tmp_path):
    source = "def f(a, b):\n    assert a == b, 'differ'\n    assert ()\n"
    assert _review(tmp_path, source) == []


def test_none_equality(tmp_path):
    source = """
    def f(a, b):
        if a == None:
            return None != b
        return a is None or b is not None
    """
    assert _review(tmp_path, source) == [("none-equality", 2), ("none-equality", 3)]


def test_mutable_default(tmp_path):
    source = """
    def f(a=[], b={}, *, c=set(), d=None, e=(), f=dict()):
        return a, b, c, d, e, f


    g = lambda x=[]: x
    """
    assert _review(tmp_path, source) == [
        ("mutable-default", 1),
        ("mutable-default", 1),
        ("mutable-default", 1),
        ("mutable-default", 1),
        ("mutable-default", 5),
    ]


@pytest.mark.parametrize(
    ("clause", "body"),
    [("except ValueError:", "pass"), ("except Exception:", "raise"), ("except:", "log(item)")],
)
def test_except_that_handles_or_is_narrow_is_clean(tmp_path, clause, body):
    source = f"""
    def f(items, log):
        for item in items:
            try:
                item.run()
            {clause}
                {body}
    """
    assert _review(tmp_path, source) == []


def test_syntax_error_is_a_finding_with_its_line(tmp_path):
    _write(tmp_path, "good.py", "x = None\n")
    _write(tmp_path, "broken.py", "x = 3\ny = 4\ndef f(:\n    pass\n")
    findings = review_source(tmp_path)
    assert [(f.path, f.rule, f.line) for f in findings] == [("broken.py", "syntax-error", 3)]
    assert findings[0].severity == "fail"


def test_latin1_file_is_unreadable(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "old.py").write_bytes("x = 1\nname = 'Müller'\n".encode("latin-1"))
    findings = review_source(tmp_path)
    assert [(f.path, f.rule, f.line) for f in findings] == [("pkg/old.py", "unreadable", 2)]


def test_skipped_folders_and_relative_paths(tmp_path, caplog):
    fault = "def f(a=[]):\n    return a\n"
    for folder in (".git", ".venv", "venv", "build", "dist", "__pycache__", "src/pkg"):
        _write(tmp_path, f"{folder}/mod.py", fault)
    with caplog.at_level(logging.INFO, logger="mlgate.review.code"):
        findings = review_source(tmp_path)
    assert [(f.path, f.rule, f.line) for f in findings] == [
        ("src/pkg/mod.py", "mutable-default", 1)
    ]
    assert "read 1 Python files, found 1 findings" in caplog.text


def test_clean_file_has_no_findings(tmp_path):
    source = """
    import logging

    RETRIES = 3
    logger = logging.getLogger(__name__)


    def fetch(client, key=None, retries=RETRIES):
        attempt = 0
        while attempt < retries:
            attempt += 1
            value = client.get(key)
            if value is not None:
                return value
        while True:
            if client.ready():
                break
        try:
            return client.default()
        except Exception:
            logger.warning("no default for %s", key)
            return None
    """
    assert _review(tmp_path, source) == []


def test_every_rule_is_described_and_missing_folder_raises(tmp_path):
    assert set(RULES) == {
        "magic-number",
        "endless-loop",
        "self-comparison",
        "constant-condition",
        "none-equality",
        "mutable-default",
        "bare-except",
        "syntax-error",
        "unreadable",
        "too-large",
    }
    with pytest.raises(NotFoundError, match="missing"):
        review_source(tmp_path / "missing")


def test_listed_files_are_the_only_ones_reviewed(tmp_path):
    _write(tmp_path, "pkg/model.py", "def f(x):\n    return x == None\n")
    _write(tmp_path, "pkg/other.py", "def g(x):\n    return x == None\n")

    findings = review_source(tmp_path, ["pkg/model.py"])

    assert [(f.path, f.line, f.rule) for f in findings] == [("pkg/model.py", 2, "none-equality")]


def test_listed_file_that_is_missing_raises(tmp_path):
    _write(tmp_path, "model.py", "x = 1\n")

    with pytest.raises(NotFoundError, match="gone.py"):
        review_source(tmp_path, ["model.py", "gone.py"])


@pytest.mark.parametrize(
    ("clause", "body"),
    [
        ("except:", "pass"),
        ("except Exception:", "..."),
        ("except BaseException:", "continue"),
        ("except (ValueError, Exception):", "pass"),
        ("except (Exception,):", "continue"),
        ("except (KeyError, BaseException) as error:", "..."),
        ("except builtins.Exception:", "pass"),
        ("except Exception:", "return None"),
        ("except BaseException:", "return"),
    ],
)
def test_catch_all_in_a_tuple_or_by_module_name_is_reported(tmp_path, clause, body):
    source = f"""
    import builtins


    def f(items):
        for item in items:
            try:
                item.run()
            {clause}
                {body}
    """
    _write(tmp_path, "m.py", source)
    findings = review_source(tmp_path)
    assert _pairs(findings) == [("bare-except", 8)]
    assert findings[0].severity == "fail"


@pytest.mark.parametrize(
    ("clause", "body"),
    [
        ("except (ValueError, KeyError):", "pass"),
        ("except (ValueError, Exception):", "log(item)"),
        ("except (Exception,):", "raise"),
        ("except Exception:", "return item"),
        ("except errors.Exception:", "pass"),
    ],
)
def test_narrow_tuple_or_handled_catch_all_is_clean(tmp_path, clause, body):
    source = f"""
    def f(items, log, errors):
        for item in items:
            try:
                item.run()
            {clause}
                {body}
    """
    assert _review(tmp_path, source) == []


@pytest.mark.parametrize(
    ("condition", "first"),
    [
        ("not done", "done = False"),
        ("done", "done = True"),
        ("not done and ready", "done = False"),
        ("count != 0", "count = 3"),
    ],
)
def test_while_on_a_flag_nothing_changes_is_endless(tmp_path, condition, first):
    source = f"""
    def wait(log):
        ready = True
        {first}
        while {condition}:
            log("waiting")
    """
    assert _review(tmp_path, source) == [("endless-loop", 4)]


def test_while_on_a_parameter_with_no_call_in_the_body_is_endless(tmp_path):
    source = """
    def spin(flag, x):
        while flag:
            x += 1
        return x
    """
    assert _review(tmp_path, source) == [("endless-loop", 2)]


@pytest.mark.parametrize(
    "update",
    [
        "done = True",
        "done |= check()",
        "del done",
        "for done in check(): pass",
        "with open('f') as done: pass",
        "if (done := check()): pass",
        "import done",
        "def done(): pass",
        "global done",
        "check(done)",
        "check(flag=done)",
        "done.append(1)",
        "done[0] = 1",
        "try: check()\n            except OSError as done: pass",
    ],
)
def test_while_on_a_flag_the_body_rebinds_or_may_change_is_clean(tmp_path, update):
    source = f"""
    def wait(check):
        done = False
        while not done:
            {update}
    """
    assert _review(tmp_path, source) == []


@pytest.mark.parametrize(
    "source",
    [
        # a call could change a module-level or global name
        "done = False\nwhile not done:\n    step()\n",
        # a parameter or a name bound to a list may be shared with whatever the call reaches
        "def f(queue, wait):\n    while not queue:\n        wait()\n",
        "def f(wait):\n    queue = []\n    while not queue:\n        wait()\n",
        # an inner function may rebind the name with nonlocal
        "def f():\n    done = False\n    def stop():\n        nonlocal done\n        done = True\n"
        "    while not done:\n        stop()\n",
        # attributes and calls in the condition cannot be judged
        "def f(self):\n    while not self.done:\n        pass\n",
        "def f(event):\n    while not event.is_set():\n        pass\n",
    ],
)
def test_while_on_a_name_a_call_may_change_is_left_alone(tmp_path, source):
    assert _review(tmp_path, source) == []


def test_endless_generator_is_a_producer_not_an_endless_loop(tmp_path):
    source = """
    def numbers(x):
        while True:
            yield x
            x += 1


    def forwards(source, done):
        while not done:
            yield from source
    """
    assert _review(tmp_path, source) == []


def test_yield_in_an_inner_scope_does_not_excuse_the_loop(tmp_path):
    source = """
    def numbers(x):
        while True:
            items = [(yield_ for yield_ in x)]

            def inner():
                yield x
    """
    assert _review(tmp_path, source) == [("endless-loop", 2)]


@pytest.mark.parametrize(
    "body",
    [
        "await asyncio.sleep(1)",
        "async for item in feed():\n                pass",
        "async with lock:\n                pass",
    ],
)
def test_loops_that_await_are_left_alone(tmp_path, body):
    source = f"""
    import asyncio


    async def poll(feed, lock, done):
        while True:
            {body}
        while not done:
            {body}
    """
    assert _review(tmp_path, source) == []


def test_a_file_over_the_size_limit_is_a_warning_and_the_rest_is_reviewed(tmp_path, monkeypatch):
    from mlgate.review import code as code_module

    monkeypatch.setattr(code_module, "MAX_FILE_BYTES", 64)
    _write(tmp_path, "big.py", "VALUES = [\n" + "    1,\n" * 20 + "]\n")
    _write(tmp_path, "small.py", "while 1:\n    pass\n")
    size = (tmp_path / "big.py").stat().st_size

    findings = review_source(tmp_path)

    assert [(f.path, f.rule, f.severity) for f in findings] == [
        ("big.py", "too-large", "warn"),
        ("small.py", "endless-loop", "fail"),
    ]
    assert f"file is {size} bytes" in findings[0].message
    assert "at most 64 bytes" in findings[0].message


def test_mlgate_own_source_has_no_endless_loop_or_swallowed_error():
    import mlgate

    findings = review_source(Path(mlgate.__file__).parent)
    assert len(findings) > 0  # the review did read the package
    assert [f for f in findings if f.rule in ("endless-loop", "bare-except")] == []
