"""Serve a pickled model through a governed workspace, as the shared serving benchmark asks.

The harness (``../shared/bench/serve_bench.py``, see ``benchmarks/README.md``) fits a
classifier, pickles it and starts each server with a shell command; for mlgate that is::

    python -m mlgate.bench_serve --host 127.0.0.1 --port {port} --model {model_pkl}

Nothing is shortcut for the benchmark: the model goes through the same steps a user's would.
Once per model file (by its sha256), a low-risk workspace is built under the cache folder:
synthetic data with the model's feature columns, labelled by the model itself; ``mlgate init``;
the business case and the emergency contacts submitted; ``mlgate model add --allow-pickle``;
``mlgate advance --to deployment`` (which runs the tier's checks); ``mlgate deploy --mode rest``.
Then this process becomes ``mlgate serve`` with signature validation and the prediction log on
(they cannot be turned off) and ``--predictions proba``, because the harness compares every
server's answer with ``predict_proba``. The harness reads nothing from stdout, so everything
printed goes to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import logging
import os
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from mlgate.errors import ConflictError, GovernanceError, ValidationError

logger = logging.getLogger(__name__)

CACHE = Path.home() / ".cache" / "mlgate-bench-serve"
ACTOR = "alice"
PROJECT = "Bench Model"
TARGET = "y"
TRAIN_FILE = "train.csv"
READY_MARK = "ready"
TRAIN_ROWS = 2_000
FEATURE_SCALE = 2.0
SEED = 7
DOCUMENTS = ("business_case", "emergency_contacts")


def model_digest(path: Path) -> str:
    """Return the sha256 of the model file: the key of its cached workspace."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def training_frame(model: Any, rows: int = TRAIN_ROWS, seed: int = SEED) -> pd.DataFrame:
    """Return ``rows`` synthetic rows of the model's features, labelled by the model itself.

    The features are the columns the model was fitted on (``feature_names_in_``); each is
    normal with a spread of 2, which covers the harness's ``make_classification`` data.
    """
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        raise ValidationError(
            f"the model ({type(model).__name__}) has no feature_names_in_; "
            "expected one fitted on a DataFrame with named columns"
        )

    rng = np.random.default_rng(seed)
    values = rng.normal(scale=FEATURE_SCALE, size=(rows, len(names)))
    frame = pd.DataFrame(values, columns=[str(n) for n in names])

    frame[TARGET] = model.predict(frame)
    if frame[TARGET].nunique() < 2:
        raise ValidationError(
            f"the model predicts one class ({frame[TARGET].iloc[0]!r}) for every synthetic "
            "row; expected a classifier that separates at least two"
        )
    return frame


def build_workspace(model_path: Path, root: Path) -> None:
    """Create a low-risk project at ``root`` with the model deployed for REST."""
    with model_path.open("rb") as handle:
        model = pickle.load(handle)  # the harness's own file, as `model add --allow-pickle`
    root.mkdir(parents=True)
    training_frame(model).to_csv(root / TRAIN_FILE, index=False)

    _mlgate(root, "init", PROJECT, "--tier", "low", "--target", TARGET, "--data", TRAIN_FILE)
    for kind in DOCUMENTS:
        _write_document(root, kind)
    _mlgate(root, "doc", "submit", "docs")

    _mlgate(root, "model", "add", str(model_path), "--allow-pickle")
    _mlgate(root, "advance", "--to", "deployment")
    _mlgate(root, "deploy", "--mode", "rest")


def cached_workspace(model_path: Path, cache: Path = CACHE) -> Path:
    """Return the workspace serving ``model_path``, building it the first time."""
    if not model_path.is_file():
        raise ValidationError(f"--model {model_path} is not a file; expected the pickled model")

    folder = cache / model_digest(model_path)[:16]
    root = folder / "workspace"
    if (folder / READY_MARK).exists():
        logger.info("reusing the workspace %s for %s", root, model_path.name)
        return root

    if folder.exists():  # an earlier build stopped half-way
        shutil.rmtree(folder)
    started = time.perf_counter()
    build_workspace(model_path, root)
    (folder / READY_MARK).write_text(dt.datetime.now(dt.UTC).isoformat())
    logger.info(
        "built the workspace %s for %s in %.1f s",
        root,
        model_path.name,
        time.perf_counter() - started,
    )
    return root


def serve(root: Path, host: str, port: int) -> None:
    """Replace this process by ``mlgate serve`` on ``root`` (so the harness sees one PID)."""
    command = [
        str(_mlgate_command()),
        "serve",
        "--host",
        host,
        "--port",
        str(port),
        "--predictions",
        "proba",
    ]
    logger.info("starting %s in %s", " ".join(command[1:]), root)

    os.chdir(root)
    os.environ["MLGATE_USER"] = ACTOR
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    os.execv(command[0], command)


def main(argv: list[str] | None = None) -> None:
    """Build (or reuse) the workspace for ``--model``, then serve it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", type=Path, required=True, help="a pickled fitted classifier")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where workspaces are kept")
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s"
    )

    try:
        root = cached_workspace(args.model.resolve(), args.cache)
    except GovernanceError as error:
        sys.stderr.write(f"error: {error}\n")
        raise SystemExit(2) from None
    serve(root, args.host, args.port)


def _mlgate_command() -> Path:
    return Path(sys.executable).parent / "mlgate"


def _mlgate(root: Path, *args: str) -> None:
    env = {**os.environ, "MLGATE_USER": ACTOR, "COLUMNS": "200"}
    started = time.perf_counter()
    result = subprocess.run(
        [str(_mlgate_command()), *args], cwd=root, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise ConflictError(
            f"`mlgate {' '.join(args)}` failed with code {result.returncode} while building "
            f"the benchmark workspace {root}: {(result.stdout + result.stderr).strip()}"
        )
    logger.info("mlgate %s: %.1f s", args[0], time.perf_counter() - started)


def _write_document(root: Path, kind: str) -> None:
    from mlgate.documents import example

    content = example(kind, dt.date.today())
    (root / "docs" / f"{kind}.yaml").write_text(yaml.safe_dump(content, sort_keys=False))


if __name__ == "__main__":
    main()
