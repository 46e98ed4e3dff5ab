"""Which files the review reads: code, tests and docs, with the same exclusions for every check."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgate.config import ReviewConfig
from mlgate.errors import ValidationError
from mlgate.review.source import discover


def _touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {name}\n", encoding="utf-8")


def test_code_tests_and_docs_are_told_apart(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "src/pkg/model.py",
        "src/pkg/test_inline.py",
        "tests/test_model.py",
        "tests/conftest.py",
        "README.md",
        "docs/usage.rst",
        "docs/data.csv",
        ".venv/lib/site.py",
        "build/lib/pkg/model.py",
        "src/pkg.egg-info/x.py",
    )

    tree = discover(tmp_path)

    assert tree.code == ("src/pkg/model.py",)
    assert tree.tests == ("src/pkg/test_inline.py", "tests/conftest.py", "tests/test_model.py")
    assert tree.docs == ("README.md", "docs/usage.rst")


def test_the_fingerprint_follows_every_listed_file_and_nothing_else(tmp_path: Path) -> None:
    _touch(tmp_path, "model.py", "README.md", "notes.csv")
    before = discover(tmp_path).sha256()

    (tmp_path / "notes.csv").write_text("changed\n")
    assert discover(tmp_path).sha256() == before
    (tmp_path / "README.md").write_text("# changed\n")
    assert discover(tmp_path).sha256() != before


def test_exclude_patterns_and_links_out_of_the_project_are_left_out(tmp_path: Path) -> None:
    _touch(tmp_path, "project/model.py", "project/gen/auto.py", "elsewhere/secret.py")
    (tmp_path / "project" / "outside.py").symlink_to(tmp_path / "elsewhere" / "secret.py")

    tree = discover(tmp_path / "project", ReviewConfig(exclude=["gen/*"]))

    assert tree.code == ("model.py",)


def test_a_source_path_that_does_not_exist_is_named(tmp_path: Path) -> None:
    _touch(tmp_path, "model.py")
    with pytest.raises(ValidationError, match="review.source names lib, which the workspace"):
        discover(tmp_path, ReviewConfig(source=["lib"]))


def test_one_path_may_be_given_without_a_list() -> None:
    assert ReviewConfig.model_validate({"source": "src", "docs": "README.md"}).source == ["src"]


def test_paths_leaving_the_workspace_are_refused() -> None:
    with pytest.raises(ValueError, match="leaves the workspace"):
        ReviewConfig(source=["../other"])


def test_a_test_path_set_but_missing_is_named(tmp_path: Path) -> None:
    _touch(tmp_path, "model.py", "tests/test_model.py")
    with pytest.raises(ValidationError, match="review.tests names checks, which the workspace"):
        discover(tmp_path, ReviewConfig(tests=["tests", "checks"]))


@pytest.mark.parametrize("settings", [{}, {"source": ["."], "tests": ["tests"]}])
def test_the_default_test_path_may_be_missing(tmp_path: Path, settings: dict) -> None:
    _touch(tmp_path, "model.py")
    tree = discover(tmp_path, ReviewConfig.model_validate(settings))
    assert (tree.code, tree.tests) == (("model.py",), ())


def test_a_file_over_the_size_limit_is_left_out_and_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlgate.review import source as source_module

    monkeypatch.setattr(source_module, "MAX_FILE_BYTES", 64)
    _touch(tmp_path, "model.py", "tests/test_model.py", "README.md")
    (tmp_path / "generated.py").write_text("X = 1\n" * 20, encoding="utf-8")

    tree = discover(tmp_path)

    assert tree.code == ("model.py",)
    assert tree.tests == ("tests/test_model.py",)
    assert tree.oversized == ("generated.py",)
    before = tree.sha256()
    (tmp_path / "generated.py").write_text("X = 2\n" * 20, encoding="utf-8")
    assert discover(tmp_path).sha256() != before
