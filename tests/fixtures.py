"""Fixtures and helpers: a small low-risk workspace, and the CLI run as a user would."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlgate.cli.app import main


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


Cli = Callable[..., CliResult]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run ``mlgate ARGS`` in-process through the real entry point; return code and output."""

    def run(*args: str, cwd: Path, user: str = "alice") -> CliResult:
        monkeypatch.chdir(cwd)
        monkeypatch.setenv("MLGATE_USER", user)
        monkeypatch.setenv("COLUMNS", "200")
        monkeypatch.setattr(sys, "argv", ["mlgate", *args])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def synthetic_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Return a binary task with a learnable signal and a sensitive column."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    group = rng.choice(["a", "b"], size=n)
    logit = 1.5 * x1 - 1.0 * x2
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {"x1": x1, "x2": x2, "region": rng.choice(["n", "s"], size=n), "group": group, "y": y}
    )


@pytest.fixture
def workspace(tmp_path: Path, cli: Cli) -> Path:
    """A low-risk project with its training data registered, in stage initiation."""
    return init_workspace(tmp_path / "ws", cli, synthetic_frame())


def init_workspace(root: Path, cli: Cli, frame: pd.DataFrame, project: str = "demo-low") -> Path:
    """Create a low-risk project at ``root`` whose training data is ``frame``.

    The target is ``y``; ``group`` is sensitive and excluded from the features.
    """
    root.mkdir()
    frame.to_csv(root / "train.csv", index=False)
    result = cli("init", project, *LOW_TIER_INIT, cwd=root)
    assert result.code == 0, result.text
    return root


# The options of `mlgate init` for the low-risk test project on train.csv.
LOW_TIER_INIT = (
    "--tier",
    "low",
    "--target",
    "y",
    "--sensitive",
    "group",
    "--exclude",
    "group",
    "--data",
    "train.csv",
    "--estimator",
    "sklearn.linear_model.LogisticRegression",
)


def fill(kind: str, root: Path, **changes: object) -> Path:
    """Write the realistic example of ``kind`` (with ``changes``) into the workspace's docs."""
    import datetime as dt

    import yaml

    from mlgate.documents import example

    content = {**example(kind, dt.date.today()), **changes}
    path = root / "docs" / f"{kind}.yaml"
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    return path


@contextmanager
def headless_chromium() -> Iterator[Any]:
    """Yield headless Chromium from the operating system (scripts/setup.sh installs it).

    A missing browser fails the test that asked for it, naming how to install it: the browser
    tests run in CI, which has it.
    """
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).is_file():
        pytest.fail(
            f"Chromium is not installed (looked for 'chromium' on PATH and {executable}); "
            "the browser tests need it: run scripts/setup.sh, or apt-get install chromium"
        )
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        yield browser
        browser.close()
    finally:
        playwright.stop()
