"""The code_review check on the sample projects: each planted fault found, the clean one passes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from mlgate.checks import get_check
from mlgate.checks.base import CheckInput, CheckResult
from mlgate.checks.code_review import DEFAULTS, check_code_review
from mlgate.errors import ValidationError
from mlgate.review.source import discover

SAMPLES = Path(__file__).parent / "samples"


def _run(root: Path, thresholds: dict[str, float] | None = None) -> CheckResult:
    inp = CheckInput(data=pd.DataFrame(), source=discover(root))
    return check_code_review(inp, thresholds or {})


@pytest.fixture(scope="module")
def copies(tmp_path_factory) -> Path:
    """The sample projects, copied so that nothing is run inside the repository."""
    target = tmp_path_factory.mktemp("samples")
    for name in ("clean", "faulty"):
        shutil.copytree(SAMPLES / name, target / name)
    return target


@pytest.fixture(scope="module")
def faulty(copies) -> CheckResult:
    return _run(copies / "faulty")


@pytest.fixture(scope="module")
def clean(copies) -> CheckResult:
    return _run(copies / "clean")


def _rule_and_subject(result: CheckResult) -> set[tuple[str, str | None]]:
    return {(f.message.split(":", 1)[0], f.subject) for f in result.findings}


def test_clean_project_passes_with_default_thresholds(clean):
    assert clean.status == "pass"
    assert clean.findings == []
    assert clean.metrics["files_reviewed"] == 3
    assert clean.metrics["coverage.line"] == 1.0
    assert clean.metrics["coverage.tests_run"] == 4
    assert clean.metrics["docstrings.coverage"] == 1.0
    assert clean.metrics["lint.findings"] == 0
    assert clean.metrics["duplication.blocks"] == 0


@pytest.mark.parametrize(
    ("rule", "subject"),
    [
        ("magic-number", "churn/train.py:11"),
        ("endless-loop", "churn/monitor.py:8"),
        ("self-comparison", "churn/train.py:27"),
        ("bare-except", "churn/train.py:21"),
        ("duplicated-block", "churn/train.py:43"),
        ("untested-module", "churn/monitor.py:1"),
        ("F401", "churn/train.py:3"),
        ("missing-docstring", "churn/train.py:26"),
    ],
)
def test_each_planted_fault_is_found_at_its_file_and_line(faulty, rule, subject):
    assert (rule, subject) in _rule_and_subject(faulty)


def test_faulty_project_fails_on_the_breached_groups(faulty):
    breached = {f.subject for f in faulty.findings if f.subject in DEFAULTS}

    assert faulty.status == "fail"
    assert breached == {
        "max_failing_findings",
        "max_lint_findings",
        "max_duplicated_blocks",
        "min_line_coverage",
    }
    severities = {f.subject: f.severity for f in faulty.findings}
    assert severities["churn/monitor.py:8"] == "fail"  # endless loop, over max_failing_findings
    assert severities["churn/train.py:27"] == "warn"  # self-comparison has no limit
    assert severities["churn/train.py:26"] == "warn"  # 8 of 9 documented, above 0.8


def test_duplicate_names_the_original_location(faulty):
    [duplicate] = [f for f in faulty.findings if f.message.startswith("duplicated-block")]
    assert "churn/train.py:43-49 repeat churn/train.py:32-38" in duplicate.message
    assert faulty.tables["duplication"] == [
        {"copy": "churn/train.py:43-49", "original": "churn/train.py:32-38"}
        | {"statements": 7, "lines": 7}
    ]


def test_metrics_count_each_group(faulty):
    metrics = faulty.metrics
    assert metrics["ast.findings"] == 5
    assert (metrics["ast.magic-number"], metrics["ast.endless-loop"]) == (2, 1)
    assert (metrics["ast.bare-except"], metrics["ast.failing"]) == (1, 2)
    assert metrics["lint.findings"] == 1
    assert (metrics["duplication.blocks"], metrics["duplication.lines"]) == (1, 7)
    assert metrics["docstrings.coverage"] == pytest.approx(8 / 9)
    assert metrics["coverage.line"] == pytest.approx(25 / 38)
    assert metrics["coverage.untested_modules"] == 1
    assert metrics["coverage.status"] == "passed"


def test_tables_and_figures_group_the_findings(faulty):
    assert set(faulty.tables) >= {"ast", "lint", "duplication", "docstrings", "coverage"}
    assert len(faulty.tables["ast"]) == 5
    by_name = {figure.name: figure for figure in faulty.figures}
    [rules] = by_name["findings_per_rule"].series
    assert dict(zip(rules.x, rules.y, strict=True)) == {
        "magic-number": 2.0,
        "endless-loop": 1.0,
        "self-comparison": 1.0,
        "bare-except": 1.0,
        "F401": 1.0,
        "duplicated-block": 1.0,
        "missing-docstring": 1.0,
    }
    coverage = by_name["coverage_per_file"]
    assert coverage.threshold == 0.8
    assert (
        dict(zip(coverage.series[0].x, coverage.series[0].y, strict=True))["churn/monitor.py"]
        == 0.0
    )


def test_loose_thresholds_turn_failures_into_warnings(copies):
    loose = {
        "max_failing_findings": 5,
        "max_lint_findings": 5,
        "max_duplicated_blocks": 5,
        "min_line_coverage": 0.5,
    }
    result = _run(copies / "faulty", loose)

    assert result.status == "warn"
    assert {f.severity for f in result.findings} == {"warn"}


def test_tests_can_be_left_unrun(copies):
    result = _run(copies / "faulty", {"run_tests": 0})

    assert result.metrics["coverage.line"] is None
    assert result.metrics["coverage.status"] == "not run"
    assert not any(f.message.startswith("untested-module") for f in result.findings)


def test_project_without_tests_fails_with_a_clear_finding(tmp_path):
    (tmp_path / "model.py").write_text('"""Model."""\n\nVALUE = 1\n', encoding="utf-8")

    result = _run(tmp_path)

    [finding] = [f for f in result.findings if f.message.startswith("no-tests")]
    assert (finding.severity, finding.subject) == ("fail", "review.tests")
    assert result.status == "fail"


def test_result_survives_a_round_trip(faulty):
    assert CheckResult.from_dict(faulty.to_dict()) == faulty


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ({"max_lint_findings": -1}, "max_lint_findings must be a number >= 0; got -1"),
        ({"min_line_coverage": 1.5}, "min_line_coverage is a share between 0 and 1; got 1.5"),
        ({"duplicate_min_lines": 1}, "duplicate_min_lines must be a whole number of at least 2"),
        ({"test_timeout_seconds": 0}, "test_timeout_seconds must be above 0; got 0"),
    ],
)
def test_invalid_thresholds_raise(tmp_path, thresholds, message):
    (tmp_path / "model.py").write_text("VALUE = 1\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=message):
        _run(tmp_path, thresholds)


def test_missing_source_and_empty_source_raise(tmp_path):
    with pytest.raises(ValidationError, match="as a SourceTree"):
        check_code_review(CheckInput(data=pd.DataFrame()), {})
    with pytest.raises(ValidationError, match="hold no Python code file"):
        _run(tmp_path)


def test_check_is_registered_as_a_source_check():
    spec = get_check("code_review")
    assert (spec.needs_source, spec.needs_model, spec.needs_reference) == (True, False, False)
    assert spec.defaults["min_line_coverage"] == 0.8


def test_coverage_that_could_not_be_measured_fails_the_limit():
    from mlgate.checks.code_review import _coverage_findings
    from mlgate.review.coverage import CoverageReport

    findings = _coverage_findings(CoverageReport("passed", None, tests_run=3), DEFAULTS)
    assert [(f.severity, f.subject) for f in findings][:1] == [("fail", "min_line_coverage")]
    assert "coverage-unmeasured" in findings[0].message

    relaxed = {**DEFAULTS, "min_line_coverage": 0}
    assert not any(
        f.severity == "fail"
        for f in _coverage_findings(CoverageReport("passed", None, tests_run=3), relaxed)
    )


def test_mandatory_lint_fails_a_project_that_switched_ruff_off(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.ruff]\nexclude = ["src"]\n\n[tool.ruff.lint]\nselect = []\n', encoding="utf-8"
    )
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "model.py").write_text(
        '"""Model."""\n\n\ndef score(rows):\n    """Score."""\n    return rows * weight\n',
        encoding="utf-8",
    )

    result = _run(tmp_path, {"run_tests": 0, "max_lint_findings": 5})

    assert result.status == "fail"
    assert result.metrics["lint.mandatory"] == 1
    [undefined] = [f for f in result.findings if f.message.startswith("F821")]
    assert (undefined.severity, undefined.subject) == ("fail", "src/model.py:6")
    assert any(f.subject == "lint.mandatory" and f.severity == "fail" for f in result.findings)


def test_a_file_over_the_size_limit_warns_and_the_rest_is_reviewed(tmp_path, monkeypatch):
    from mlgate.review import source as source_module

    monkeypatch.setattr(source_module, "MAX_FILE_BYTES", 200)
    (tmp_path / "model.py").write_text('"""Model."""\n\nVALUE = 1\n', encoding="utf-8")
    (tmp_path / "generated.py").write_text("X = 1\n" * 50, encoding="utf-8")

    result = _run(tmp_path, {"run_tests": 0})

    assert result.metrics["files_reviewed"] == 1
    [large] = [f for f in result.findings if f.message.startswith("too-large")]
    assert (large.severity, large.subject) == ("warn", "generated.py:1")
    assert "file is 300 bytes" in large.message
    assert result.metrics["ast.too-large"] == 1
