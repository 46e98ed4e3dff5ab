"""Score a stored model in a fresh Python process, to compare with the scores of this one.

A model can give the same output on every call inside one process and still not be
reproducible: it may draw a random number once per process, read a global that training left
behind, or keep state that its artifact does not hold. The ``determinism`` check therefore also
loads the model from its stored artifact bytes in a new interpreter and scores the same rows
there. The new interpreter runs this file by its path, so that it imports only what loading
and scoring need: importing it as ``mlgate.checks._fresh_process`` would first import every
check through the package's ``__init__`` and double the start-up time.

Everything crosses the process boundary as files in a private temporary folder, and the
crossing unpickles nothing: the artifact bytes with their sha256 (the new process refuses bytes
that no longer match), a JSON request naming the loader that rebuilds the model (see
:class:`~mlgate.checks.base.ModelLoader`; mlgate's own loads skops), the rows as Parquet, and
the outputs as an ``.npz`` read with ``allow_pickle=False``. Labels that are not numbers
travel as text, on both sides of the comparison.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # the fresh process itself must not import the checks package (see above)
    from mlgate.checks.base import ModelLoader

logger = logging.getLogger(__name__)

MODEL_FILE = "model.bin"
REQUEST_FILE = "request.json"
INPUT_FILE = "input.parquet"
OUTPUT_FILE = "outputs.npz"
ERROR_PREFIX = "fresh-process error: "
RUN_THIS_FILE = "import runpy, sys; runpy.run_path(sys.argv.pop(1), run_name='__main__')"


@dataclass(frozen=True)
class FreshOutcome:
    """What the fresh process returned: its outputs by method name, or why it has none."""

    outputs: dict[str, np.ndarray] | None
    error: str | None = None


def portable(values: Any) -> np.ndarray:
    """Return ``values`` as an array that an ``.npz`` file holds without pickling.

    Numbers and booleans stay as they are; anything else (string or mixed labels) becomes text.
    """
    array = np.asarray(values)
    if array.dtype.kind in "biufc":
        return array
    return array.astype(str)


def model_outputs(model: Any, x: pd.DataFrame) -> dict[str, np.ndarray]:
    """Return ``predict`` and, where the model has one, ``predict_proba`` on ``x``, portable."""
    outputs = {"predict": portable(model.predict(x))}
    if hasattr(model, "predict_proba"):
        outputs["predict_proba"] = np.asarray(model.predict_proba(x), dtype=np.float64)
    return outputs


def score_in_fresh_process(
    artifact: bytes, loader: ModelLoader, x: pd.DataFrame, timeout: float
) -> FreshOutcome:
    """Load ``artifact`` with ``loader`` in a new Python process and score ``x`` there."""
    with tempfile.TemporaryDirectory(prefix="mlgate-fresh-") as scratch:
        folder = Path(scratch)
        try:
            _write_request(folder, artifact, loader, x)
        except (TypeError, ValueError, OSError, ImportError) as exc:
            return FreshOutcome(None, f"the rows could not be handed to it: {exc}")

        command = [sys.executable, "-c", RUN_THIS_FILE, __file__, str(folder)]
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                env=_environment(),
            )
        except subprocess.TimeoutExpired:
            return FreshOutcome(None, f"it did not finish within {timeout:g} s")

        if done.returncode != 0:
            return FreshOutcome(None, _child_error(done.stderr, done.returncode))
        with np.load(folder / OUTPUT_FILE, allow_pickle=False) as stored:
            outputs = {name: stored[name] for name in stored.files}
    logger.info("scored %d rows in a fresh Python process", len(x))
    return FreshOutcome(outputs)


def _write_request(folder: Path, artifact: bytes, loader: ModelLoader, x: pd.DataFrame) -> None:
    (folder / MODEL_FILE).write_bytes(artifact)
    request = {
        "sha256": hashlib.sha256(artifact).hexdigest(),
        "function": loader.function,
        "options": dict(loader.options),
    }
    (folder / REQUEST_FILE).write_text(json.dumps(request), encoding="utf-8")
    x.reset_index(drop=True).to_parquet(folder / INPUT_FILE, index=False)


def _environment() -> dict[str, str]:
    """Return this process's environment, with its import path, so the loader is importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


def _child_error(stderr: str, code: int) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    reported = [line[len(ERROR_PREFIX) :] for line in lines if line.startswith(ERROR_PREFIX)]
    if reported:
        return reported[-1]
    last = lines[-1] if lines else "no error message"
    return f"it exited with code {code}: {last}"


def _load(folder: Path) -> tuple[Any, pd.DataFrame]:
    request = json.loads((folder / REQUEST_FILE).read_text(encoding="utf-8"))
    data = (folder / MODEL_FILE).read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != request["sha256"]:
        raise ValueError(
            f"the model bytes hash to {actual}, not the {request['sha256']} they were sent "
            "with; refusing to load them"
        )

    module_name, _, function_name = str(request["function"]).partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    model = function(data, **request["options"])
    return model, pd.read_parquet(folder / INPUT_FILE)


def main(argv: list[str]) -> int:
    """Entry point of the fresh process: ``FOLDER`` holds the request, the rows and the model."""
    if len(argv) != 1:
        sys.stderr.write(f"{ERROR_PREFIX}expected one argument, the request folder; got {argv}\n")
        return 2
    folder = Path(argv[0])
    try:
        model, x = _load(folder)
        outputs = model_outputs(model, x)
        np.savez(folder / OUTPUT_FILE, allow_pickle=False, **outputs)
    except Exception as exc:  # the parent reports any failure as a finding, never a traceback
        message = " ".join(str(exc).split()) or type(exc).__name__
        sys.stderr.write(f"{ERROR_PREFIX}{type(exc).__name__}: {message}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
