"""Putting an approved model version to use, and scoring files with it.

A version is deployed only when every gate before the deployment stage holds for that very
version and the deployment stage's other requirements (confirmed emergency contacts, approvals)
are met. Batch scoring checks each chunk against the model's signature and writes its output
atomically, so an interrupted or refused run leaves no half-written file.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select

from mlgate.artifacts import sha256_file
from mlgate.errors import NotFoundError, ValidationError
from mlgate.lifecycle.gates import evaluate_stage
from mlgate.lifecycle.models import get_model_version, load_model_version
from mlgate.lifecycle.service import Governance, Progress
from mlgate.registry.models import Deployment, ModelVersion
from mlgate.runlog import record_prediction
from mlgate.serving.scorer import OUTPUT_COLUMNS, Scorer, output_columns
from mlgate.tabular import count_rows, iter_chunks, table_format

logger = logging.getLogger(__name__)

MODES = ("batch", "rest", "stream")
DEPLOY_STAGE = "deployment"
DEPLOY_ROLES = ("ml_engineer", "admin")


def deploy(gov: Governance, mode: str = "batch", endpoint: str | None = None) -> Deployment:
    """Deploy the current model version in ``mode`` after re-checking every gate for it."""
    if mode not in MODES:
        raise ValidationError(f"deployment mode must be one of {', '.join(MODES)}; got '{mode}'")

    with gov.transaction() as session:
        gov.require_role(
            session, set(DEPLOY_ROLES), "model.deploy", f"mode:{mode}", "deploy models"
        )
        snap = gov.snapshot(session)
        stage_ids = gov.policy.stage_ids
        position = stage_ids.index(snap.project.stage)
        deploy_at = (
            stage_ids.index(DEPLOY_STAGE) if DEPLOY_STAGE in stage_ids else len(stage_ids) - 1
        )
        gaps = [] if snap.model else ["no model version is registered"]
        if position < deploy_at:
            gaps.append(
                f"the project is in stage '{snap.project.stage}', not yet '{DEPLOY_STAGE}'"
            )
        for stage_id in stage_ids[: deploy_at + 1]:
            gaps += [
                f"{s.id} ({s.state}): {s.detail}"
                for s in evaluate_stage(snap, stage_id)
                if not s.met and not (s.kind == "record" and "deploy" in s.hint)
            ]

    if gaps:
        gov.refuse(
            "model.deploy",
            f"model:v{snap.model.version if snap.model else '?'}",
            "cannot deploy: " + "; ".join(gaps),
            hint="mlgate status shows each gap and the command that closes it",
        )
    assert snap.model is not None
    return _record_deployment(gov, snap.model, mode, endpoint or f"{mode}:{gov.config.project}")


def _record_deployment(
    gov: Governance, model: ModelVersion, mode: str, endpoint: str
) -> Deployment:
    now = datetime.now(UTC)
    with gov.transaction() as session:
        project = gov.project(session)
        live = select(Deployment).where(
            Deployment.project_id == project.id,
            Deployment.mode == mode,
            Deployment.ended_at.is_(None),
        )
        for old in session.execute(live).scalars():
            old.ended_at = now
        deployment = Deployment(
            project_id=project.id,
            model_version_id=model.id,
            mode=mode,
            endpoint=endpoint,
            actor=gov.actor,
            created_at=now,
        )
        session.add(deployment)
        session.flush()
        gov.audit(
            session,
            "model.deployed",
            f"model:v{model.version}",
            {"mode": mode, "endpoint": endpoint, "sha256": model.artifact_sha256},
        )
    logger.info("deployed model version %d (%s) at %s", model.version, mode, endpoint)
    return deployment


def deployed_version(gov: Governance, mode: str = "batch") -> ModelVersion | None:
    """Return the version live in ``mode``, if any."""
    with gov.transaction() as session:
        project = gov.project(session)
        stmt = (
            select(ModelVersion)
            .join(Deployment, Deployment.model_version_id == ModelVersion.id)
            .where(
                Deployment.project_id == project.id,
                Deployment.mode == mode,
                Deployment.ended_at.is_(None),
            )
            .order_by(Deployment.id.desc())
        )
        return session.execute(stmt).scalars().first()


@dataclass(frozen=True)
class ScoringRun:
    """What a batch run did: which version, how many rows, where the output went."""

    model_version: int
    rows: int
    output: Path
    input_sha256: str
    output_sha256: str
    deployed: bool = True
    columns: tuple[str, ...] = OUTPUT_COLUMNS


def predict_file(
    gov: Governance,
    source: Path,
    output: Path,
    version: int | None = None,
    chunk_rows: int = 50_000,
    progress: Progress | None = None,
) -> ScoringRun:
    """Score ``source`` with a model version and write it with prediction columns to ``output``.

    Without ``version`` the version deployed for batch use is taken. Each chunk is checked
    against the signature before it is scored; on any error the partial output is removed. When
    the input already has a column named ``prediction`` or ``score`` (a feature may carry that
    name), the added columns are named ``mlgate_prediction`` and ``mlgate_score`` instead, so no
    input is overwritten; :attr:`ScoringRun.columns` says which names were used.
    """
    table_format(source)
    out_format = table_format(output)
    if not source.is_file():
        raise NotFoundError(f"data file {source} does not exist")
    if not output.parent.is_dir():
        raise NotFoundError(f"the folder of --output, {output.parent}, does not exist")
    if output.resolve() == source.resolve():
        raise ValidationError(
            f"--output {output} is the input file; scoring would overwrite the data it reads"
        )
    model_version = _scoring_version(gov, version)
    scorer = load_scorer(gov, model_version)
    input_sha = sha256_file(source)
    total = count_rows(source)

    started = time.perf_counter()
    partial = output.with_name(f".{output.name}.partial")
    rows = 0
    writer: Any = None
    names = OUTPUT_COLUMNS
    try:
        for chunk in iter_chunks(source, chunk_rows):
            if chunk.empty:  # a CSV with a header and no rows reads as one empty chunk
                continue
            if rows == 0:
                names = output_columns(chunk.columns, source.name)
            scored = scorer.scored_frame(chunk, str(source), names)
            writer = _write(partial, out_format, scored, writer)
            rows += len(chunk)
            if progress is not None:
                progress("scoring", rows, total)
        if writer is not None and out_format == "parquet":
            writer.close()
        if rows == 0:
            raise ValidationError(f"{source} has no data rows to score")
    except BaseException:
        if writer is not None and out_format == "parquet":
            writer.close()
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, output)

    run = ScoringRun(
        model_version.version,
        rows,
        output,
        input_sha,
        sha256_file(output),
        _is_deployed(gov, model_version),
        names,
    )
    with gov.transaction() as session:
        gov.audit(
            session,
            "batch.scored",
            f"model:v{model_version.version}",
            {
                "rows": rows,
                "input": source.name,
                "input_sha256": input_sha,
                "deployed": run.deployed,
                "output": output.name,
                "output_sha256": run.output_sha256,
                "output_columns": list(names),
            },
        )
    logger.info("scored %d rows of %s with version %d", rows, source.name, run.model_version)
    record_prediction(gov, run, model_version, time.perf_counter() - started)
    return run


def load_scorer(gov: Governance, version: ModelVersion) -> Scorer:
    """Return ``version`` loaded (its artifact hash checked) and ready to score."""
    model = load_model_version(gov, version)
    return Scorer.from_version(model, version, gov.config.data.positive_label)


def _scoring_version(gov: Governance, version: int | None) -> ModelVersion:
    if version is not None:
        chosen = get_model_version(gov, version)
        if not _is_deployed(gov, chosen):
            logger.warning(
                "scoring with model version %d, which is not the version deployed for batch "
                "use; the run is recorded as such",
                chosen.version,
            )
        return chosen
    deployed = deployed_version(gov, "batch")
    if deployed is None:
        raise NotFoundError(
            "no model version is deployed for batch scoring",
            hint="deploy one with `mlgate deploy --mode batch`, or name one with --version N",
        )
    return deployed


def _is_deployed(gov: Governance, version: ModelVersion) -> bool:
    deployed = deployed_version(gov, "batch")
    return deployed is not None and deployed.id == version.id


def _write(path: Path, fmt: str, frame: pd.DataFrame, writer: Any) -> Any:
    if fmt == "csv":
        frame.to_csv(path, mode="a" if writer else "w", header=writer is None, index=False)
        return True
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if writer is None:
        writer = pq.ParquetWriter(path, table.schema)
    writer.write_table(table.cast(writer.schema))
    return writer
