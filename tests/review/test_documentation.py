"""The documentation check and its heading parser, on small documentation trees."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlgate.checks import get_check
from mlgate.checks.base import CheckInput, CheckResult
from mlgate.checks.documentation import check_documentation, families_of
from mlgate.errors import ValidationError
from mlgate.review.docs import Heading, markdown_headings, rst_headings, sections
from mlgate.review.source import MAX_FILE_BYTES, discover

BODY = " ".join(f"word{i}" for i in range(25))  # 25 words, above the default of 20

COMPLETE_README = f"""# Credit model

Intro text.

## Training the model

{BODY}

## Batch scoring

{BODY}

## Configuration

{BODY}

## Troubleshooting

{BODY}
"""


def _run(root: Path, **thresholds: float) -> CheckResult:
    inp = CheckInput(data=pd.DataFrame(), source=discover(root))
    return check_documentation(inp, thresholds)


def _write(root: Path, files: dict[str, str | bytes]) -> Path:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def _failing_subjects(result: CheckResult) -> list[str | None]:
    return [f.subject for f in result.findings if f.severity == "fail"]


def test_complete_docs_pass_with_each_section_located(tmp_path: Path) -> None:
    result = _run(_write(tmp_path, {"README.md": COMPLETE_README}))

    assert result.status == "pass", result.findings
    located = {f.subject: f.value for f in result.findings if f.severity == "info"}
    assert located == {
        "training": "README.md:5",
        "prediction": "README.md:9",
        "configuration": "README.md:13",
        "troubleshooting": "README.md:17",
    }
    assert result.metrics["n_sections_found"] == 4
    assert result.metrics["n_doc_files"] == 1
    assert result.metrics["n_headings"] == 5
    assert result.metrics["n_words"] == 4 * 25 + 2 + 2 + 3 + 2 + 1 + 1


def test_sections_spread_over_docs_folder_pass(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "README.md": f"# Model\n\n## How to train\n\n{BODY}\n",
            "docs/inference.md": f"Inference\n=========\n\n{BODY}\n",
            "docs/settings.md": f"# Settings\n\n{BODY}\n",
            "docs/faq.md": f"# FAQ\n\n{BODY}\n",
            "notes/ignored.md": "# Troubleshooting\n\nnot under review.docs\n",
        },
    )

    result = _run(tmp_path)

    assert result.status == "pass", result.findings
    assert result.metrics["n_doc_files"] == 4
    located = {f.subject: f.value for f in result.findings if f.severity == "info"}
    assert located["prediction"] == "docs/inference.md:1"
    assert located["troubleshooting"] == "docs/faq.md:1"


@pytest.mark.parametrize(
    ("heading", "family"),
    [
        ("## Training the model", "training"),
        ("## Batch scoring", "prediction"),
        ("## Configuration", "configuration"),
        ("## Troubleshooting", "troubleshooting"),
    ],
)
def test_each_missing_section_is_named(tmp_path: Path, heading: str, family: str) -> None:
    readme = COMPLETE_README.replace(heading, "## Something else")

    result = _run(_write(tmp_path, {"README.md": readme}))

    assert result.status == "fail"
    assert _failing_subjects(result) == [family]
    assert result.metrics["n_sections_found"] == 3
    assert result.summary.endswith(f"missing: {family}")
    message = next(f.message for f in result.findings if f.severity == "fail")
    assert message.startswith(f"no {family} section: no heading in the 1 documentation file(s)")


def test_rst_headings_with_and_without_overline_count(tmp_path: Path) -> None:
    text = (
        "=========\nUser guide\n=========\n\nIntro.\n\n"
        f"Training\n--------\n\n{BODY}\n\n"
        f"Prediction\n----------\n\n{BODY}\n\n"
        f"Settings\n~~~~~~~~\n\n{BODY}\n\n"
        f"Known issues\n------------\n\n{BODY}\n"
    )

    result = _run(_write(tmp_path, {"docs/guide.rst": text}))

    assert result.status == "pass", result.findings
    assert rst_headings(text) == [
        Heading(2, 1, "User guide"),
        Heading(7, 2, "Training"),
        Heading(12, 2, "Prediction"),
        Heading(17, 3, "Settings"),
        Heading(22, 2, "Known issues"),
    ]


def test_an_empty_section_does_not_count_and_is_located(tmp_path: Path) -> None:
    readme = COMPLETE_README.replace(f"## Configuration\n\n{BODY}", "## Configuration\n\nTBD.")

    result = _run(_write(tmp_path, {"README.md": readme}))

    assert result.status == "fail"
    assert _failing_subjects(result) == ["configuration"]
    message = next(f.message for f in result.findings if f.severity == "fail")
    assert "'Configuration' at README.md:13 has 1 word(s)" in message
    assert "at least 20 words" in message
    assert _run(tmp_path, min_section_words=1).status == "pass"


def test_subsections_count_towards_their_parent(tmp_path: Path) -> None:
    text = "# Training\n\n## Step one\n\nPrepare the data file.\n\n## Step two\n\nRun it.\n"

    found = sections(text, "guide.md")

    assert [(s.title, s.level, s.words) for s in found] == [
        ("Training", 1, 6),  # the words of both steps, not their headings
        ("Step one", 2, 4),
        ("Step two", 2, 2),
    ]


def test_no_docs_at_all_fails_naming_all_four(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text("x = 1\n")

    result = _run(tmp_path)

    assert result.status == "fail"
    assert _failing_subjects(result) == [
        "training",
        "prediction",
        "configuration",
        "troubleshooting",
    ]
    assert all("no documentation file was found" in f.message for f in result.findings)
    assert result.metrics["n_doc_files"] == 0
    assert result.metrics["n_words"] == 0


def test_non_utf8_file_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    latin1 = f"# Troubleshooting\n\nCaf\xe9 {BODY}\n".encode("latin-1")
    readme = COMPLETE_README.replace(f"## Troubleshooting\n\n{BODY}\n", "")
    _write(tmp_path, {"README.md": readme, "docs/help.md": latin1})

    result = _run(tmp_path)

    assert result.status == "warn"
    warning = next(f for f in result.findings if f.severity == "warn")
    assert warning.subject == "docs/help.md"
    assert "byte 0xe9 on line 3" in warning.message
    assert result.metrics["n_undecodable_files"] == 1
    assert result.metrics["n_sections_found"] == 4


def test_a_doc_file_over_the_size_limit_is_a_warning_naming_it(tmp_path: Path) -> None:
    huge = "# Appendix\n\n" + "data " * (MAX_FILE_BYTES // 5 + 10)
    _write(tmp_path, {"README.md": COMPLETE_README, "docs/appendix.md": huge})

    result = _run(tmp_path)

    assert result.status == "warn"
    warning = next(f for f in result.findings if f.severity == "warn")
    assert warning.subject == "docs/appendix.md"
    assert warning.message.startswith(f"docs/appendix.md: file is {len(huge)} bytes")
    assert result.metrics["n_doc_files"] == 1


def test_markdown_code_fences_hide_headings_and_thematic_breaks_are_not_headings() -> None:
    text = "Intro\n\n---\n\n```bash\n# Training\n```\n\nPrediction\n---\n\n~~~\n# x\n~~~\n"

    assert markdown_headings(text) == [Heading(9, 2, "Prediction")]


def test_list_item_before_dashes_is_not_a_setext_heading() -> None:
    assert markdown_headings("- train\n---\n\n### Errors ###\n") == [Heading(4, 3, "Errors")]


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Model training", ["training"]),
        ("Training and prediction", ["training", "prediction"]),
        ("Frequently asked questions", ["troubleshooting"]),
        ("Known issues", ["troubleshooting"]),
        ("Constraints", []),
        ("Trainer internals", []),
        ("Config-file reference", ["configuration"]),
    ],
)
def test_families_match_whole_heading_words(title: str, expected: list[str]) -> None:
    assert families_of(title) == expected


def test_check_is_registered_and_needs_source() -> None:
    spec = get_check("documentation")

    assert spec.needs_source is True
    assert spec.needs_model is False
    assert spec.defaults == {"min_section_words": 20}
    with pytest.raises(ValidationError, match="needs the project's files"):
        spec.function(CheckInput(data=pd.DataFrame()), {})
