"""A workspace whose model is deployed, built once by the real ``mlgate`` command and copied.

Building takes a few commands of training and checks; a test that changes deployments works on
its own copy of the built folder (the SQLite store, artifacts and logs live inside it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.fixtures import LOW_TIER_INIT, fill, synthetic_frame

BIN = Path(sys.executable).parent


def mlgate(*args: str, cwd: Path, user: str = "alice") -> subprocess.CompletedProcess[str]:
    """Run the installed ``mlgate`` command as ``user``; fail when it fails."""
    env = {**os.environ, "MLGATE_USER": user, "COLUMNS": "200", "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run(
        [str(BIN / "mlgate"), *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, f"mlgate {' '.join(args)}: {result.stdout}{result.stderr}"
    return result


def deployed_workspace(root: Path, versions: int = 1, mode: str = "batch") -> Path:
    """Create a low-risk project at ``root`` with ``versions`` versions deployed in turn."""
    root.mkdir()
    synthetic_frame().to_csv(root / "train.csv", index=False)
    mlgate("init", "deployed", *LOW_TIER_INIT, cwd=root)
    fill("business_case", root)
    fill("emergency_contacts", root)
    mlgate("doc", "submit", "docs", cwd=root)
    mlgate("train", cwd=root)
    mlgate("advance", "--to", "deployment", cwd=root)
    mlgate("deploy", "--mode", mode, cwd=root)
    for _ in range(versions - 1):
        mlgate("train", cwd=root)
        mlgate("recheck", cwd=root)
        mlgate("deploy", "--mode", mode, cwd=root)
    return root


def copy_of(template: Path, target: Path) -> Path:
    """Return a private copy of a built workspace at ``target``."""
    shutil.copytree(template, target)
    return target
