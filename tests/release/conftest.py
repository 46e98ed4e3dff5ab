"""A reviewed low-risk project, a real local package index, and a fresh virtual environment.

Everything here is module-scoped and started once: the pypiserver on a free port of 127.0.0.1
with an htpasswd file made with passlib, the workspace whose model version 1 passed the review
gate (built by running the real ``mlgate`` command), and the virtual environment into which the
published package is installed with pip from that index.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.fixtures import LOW_TIER_INIT, fill, synthetic_frame

USER = "uploader"
PASSWORD = "correct-horse-battery"
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Index:
    """A running pypiserver."""

    url: str
    simple: str  # with the credentials: this server asks for them to list and download too
    folder: Path

    def env(self, password: str = PASSWORD) -> dict[str, str]:
        """Return this process's environment with twine credentials for the index."""
        return {**os.environ, "TWINE_USERNAME": USER, "TWINE_PASSWORD": password}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(100):
        if process.poll() is not None:
            raise RuntimeError(f"pypi-server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:  # 401: it answers, and asks for the password
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"pypi-server did not answer at {url}")


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    """Start pypiserver with password-protected uploads; stop it afterwards."""
    root = tmp_path_factory.mktemp("index")
    packages = root / "packages"
    packages.mkdir()
    with warnings.catch_warnings():  # passlib imports the deprecated crypt module
        warnings.simplefilter("ignore", DeprecationWarning)
        from passlib.apache import HtpasswdFile

    htpasswd = HtpasswdFile(str(root / "htpasswd"), new=True)
    htpasswd.set_password(USER, PASSWORD)
    htpasswd.save()

    port = free_port()
    command = [str(BIN / "pypi-server"), "run", "-i", "127.0.0.1", "-p", str(port)]
    command += ["-P", str(root / "htpasswd"), "-a", "update,download,list", str(packages)]
    log = (root / "server.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_for(f"{url}simple/", process)
        simple = f"http://{USER}:{PASSWORD}@127.0.0.1:{port}/simple/"
        yield Index(url, simple, packages)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def mlgate(*args: str, cwd: Path, user: str = "alice") -> subprocess.CompletedProcess[str]:
    """Run the installed ``mlgate`` command as ``user``; fail the test when it fails."""
    env = {**os.environ, "MLGATE_USER": user, "COLUMNS": "200", "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run(
        [str(BIN / "mlgate"), *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, f"mlgate {' '.join(args)}: {result.stdout}{result.stderr}"
    return result


def reviewed_workspace(root: Path, project: str = "Churn Model") -> Path:
    """Create a low-risk project at ``root`` whose model version 1 passed the review gate."""
    root.mkdir()
    synthetic_frame().to_csv(root / "train.csv", index=False)
    mlgate("init", project, *LOW_TIER_INIT, cwd=root)
    fill("business_case", root)
    fill("emergency_contacts", root)
    mlgate("doc", "submit", "docs", cwd=root)
    mlgate("train", cwd=root)
    mlgate("advance", "--to", "deployment", cwd=root)
    return root


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A low-risk workspace in stage deployment; its model version 1 passed review."""
    return reviewed_workspace(tmp_path_factory.mktemp("reviewed") / "ws")


@dataclass(frozen=True)
class Installed:
    """The published package installed into a fresh virtual environment."""

    python: Path
    script: Path
    distribution: str
    module: str
    site_packages: Path


@pytest.fixture(scope="module")
def installed(reviewed: Path, index: Index, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Publish model version 1 to the index, then pip-install it into a new venv."""
    from mlgate.lifecycle.service import Governance
    from mlgate.release.publish import publish_model

    published = publish_model(Governance.open(reviewed, "alice"), 1, index.url, index.env())
    names = published.wheel.names

    venv = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet", "--index-url", index.simple]
    pip += [
        "--extra-index-url",
        "https://pypi.org/simple",
        f"{names.distribution}=={names.version}",
    ]
    result = subprocess.run(pip, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return Installed(
        python, venv / "bin" / names.script, names.distribution, names.module, Path(site)
    )
