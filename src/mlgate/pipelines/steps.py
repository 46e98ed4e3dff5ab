"""What each kind of pipeline does with its entry point's result, inside the worker process.

A data pipeline registers a dataset version, a training pipeline a candidate model version, a
scoring pipeline writes a scored file with the model deployed for batch use. Every step goes
through the same governed functions as the commands (``register_dataset``, ``train_model``,
``add_model``, ``predict_file``), so grants, hashes and the audit trail apply unchanged. A new
model version is only registered: it is served once it passes the gates and is deployed.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import pickle
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from mlgate.config import PipelineConfig
from mlgate.errors import NotFoundError, ValidationError
from mlgate.lifecycle.service import Governance

logger = logging.getLogger(__name__)

TESTING_STAGE = "testing"


def load_entry(root: Path, entry: str) -> Callable[..., Any]:
    """Import ``module:function`` from the workspace root or its ``src/`` folder."""
    module_name, _, function_name = entry.partition(":")
    for folder in (root, root / "src"):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))

    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise NotFoundError(
            f"entry {entry!r}: module {module_name!r} cannot be imported from {root} or "
            f"{root / 'src'} ({exc})"
        ) from exc
    function = getattr(module, function_name, None)
    if not callable(function):
        raise NotFoundError(
            f"entry {entry!r}: module {module_name!r} has no function {function_name!r}"
        )
    return function


def call_entry(root: Path, pipeline: PipelineConfig) -> Any:
    """Call the pipeline's entry point with its ``params`` as keyword arguments."""
    assert pipeline.entry is not None
    function = load_entry(root, pipeline.entry)
    try:
        inspect.signature(function).bind(**pipeline.params)
    except TypeError as exc:
        raise ValidationError(
            f"entry {pipeline.entry!r} does not take params {sorted(pipeline.params)}: {exc}"
        ) from exc

    logger.info("calling %s", pipeline.entry)
    return function(**pipeline.params)


def run_step(gov: Governance, pipeline: PipelineConfig, run_dir: Path, run_id: int) -> str:
    """Run ``pipeline`` and return what it produced, in words for the run record."""
    steps = {"data": _data, "training": _training, "scoring": _scoring}
    return steps[pipeline.kind](gov, pipeline, run_dir, run_id)


def _data(gov: Governance, pipeline: PipelineConfig, run_dir: Path, run_id: int) -> str:
    from mlgate.lifecycle.data import register_dataset

    assert pipeline.dataset is not None
    path = _as_table(call_entry(gov.workspace.root, pipeline), run_dir, pipeline.entry)
    contract = gov.workspace.root / pipeline.contract if pipeline.contract else None

    dataset = register_dataset(gov, path, pipeline.dataset, contract)
    return f"dataset '{dataset.name}' version {dataset.id} ({dataset.n_rows} rows)"


def _training(gov: Governance, pipeline: PipelineConfig, run_dir: Path, run_id: int) -> str:
    from mlgate.lifecycle.evidence import ensure_checks
    from mlgate.lifecycle.models import add_model, train_model

    if pipeline.entry is None:
        version = train_model(gov)
    else:
        path, allow_pickle = _as_model_file(call_entry(gov.workspace.root, pipeline), run_dir)
        version = add_model(gov, path, pipeline.trust, allow_pickle or pipeline.allow_pickle)
    described = f"model version {version.version}"

    if pipeline.run_checks and TESTING_STAGE in gov.policy.stage_ids:
        ran = ensure_checks(gov, TESTING_STAGE)
        failed = [e.name for e in ran if e.status != "pass"]
        described += f"; {len(ran)} testing check(s) run"
        if failed:
            described += f", not passed: {', '.join(failed)}"
    return described


def _scoring(gov: Governance, pipeline: PipelineConfig, run_dir: Path, run_id: int) -> str:
    from mlgate.lifecycle.data import latest_dataset, load_dataset
    from mlgate.lifecycle.deploy import predict_file

    root = gov.workspace.root
    if pipeline.input is not None:
        source = root / pipeline.input
    elif pipeline.dataset is not None:
        frame = load_dataset(gov, latest_dataset(gov, pipeline.dataset))
        source = _as_table(frame, run_dir, f"dataset '{pipeline.dataset}'")
    else:
        source = _as_table(call_entry(root, pipeline), run_dir, pipeline.entry)

    assert pipeline.output is not None
    output = root / output_path(pipeline.output, run_id, datetime.now(UTC))
    output.parent.mkdir(parents=True, exist_ok=True)
    run = predict_file(gov, source, output)
    return f"{run.rows} rows scored with model version {run.model_version} into {run.output}"


def output_path(template: str, run_id: int, now: datetime) -> str:
    """Return ``template`` with ``{run}`` and ``{date}`` (UTC, YYYY-MM-DD) filled in."""
    try:
        return template.format(run=run_id, date=now.strftime("%Y-%m-%d"))
    except (KeyError, IndexError, ValueError) as exc:
        raise ValidationError(
            f"output {template!r} has a placeholder other than {{run}} and {{date}}: {exc}"
        ) from exc


def _as_table(result: Any, run_dir: Path, source: str | None) -> Path:
    """Return the file an entry produced: the path it returned, or its frame written out."""
    if isinstance(result, pd.DataFrame):
        path = run_dir / "output.parquet"
        result.to_parquet(path, index=False)
        return path
    if isinstance(result, str | Path):
        path = Path(result)
        if not path.is_file():
            raise NotFoundError(f"{source} returned {str(path)!r}, which is not a file")
        return path
    raise ValidationError(
        f"{source} returned a {type(result).__name__}; expected a pandas DataFrame or the path "
        "of a CSV or Parquet file"
    )


def _as_model_file(result: Any, run_dir: Path) -> tuple[Path, bool]:
    """Return the model file an entry produced and whether it is a pickle made here.

    A fitted estimator comes straight from the project's own code in this process, so
    pickling it and reading it back trusts nothing new; ``add_model`` turns it into skops.
    """
    if isinstance(result, str | Path):
        return Path(result), False
    if not hasattr(result, "predict"):
        raise ValidationError(
            f"the training entry returned a {type(result).__name__}; expected a fitted "
            "estimator or the path of a model file (skops, pickle or MLflow directory)"
        )
    path = run_dir / "model.pkl"
    path.write_bytes(pickle.dumps(result))
    return path, True
