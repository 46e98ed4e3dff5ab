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
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from sqlalchemy import select

from mlgate.artifacts import sha256_file
from mlgate.errors import NotFoundError, ValidationError
from mlgate.lifecycle.gates import evaluate_stage
from mlgate.lifecycle.models import get_model_version, load_model_version
from mlgate.lifecycle.service import Governance, Progress
from mlgate.registry.models import Deployment, ModelVersion
from mlgate.runlog import record_prediction
from mlgate.serving.batch import ScoredChunk, WorkFolder, parquet_writer, scored_chunks
from mlgate.serving.scorer import OUTPUT_COLUMNS, Scorer
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
    return record_deployment(gov, snap.model, mode, endpoint or f"{mode}:{gov.config.project}")


def record_deployment(
    gov: Governance,
    model: ModelVersion,
    mode: str,
    endpoint: str,
    event: tuple[str, str, dict[str, Any]] | None = None,
) -> Deployment:
    """End what is live in ``mode`` and record ``model`` as serving there, in one transaction.

    The audit event is ``model.deployed`` unless ``event`` (action, subject, payload) names
    another, such as a rollback's.
    """
    now = datetime.now(UTC)
    # Locked, so that two deployments at once leave one of them live in the mode, not both.
    with gov.transaction(lock=True) as session:
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
        facts = {"mode": mode, "endpoint": endpoint, "sha256": model.artifact_sha256}
        action, subject, payload = event or ("model.deployed", f"model:v{model.version}", {})
        gov.audit(session, action, subject, {**facts, **payload})
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
    """What a batch run did: which version, how many rows, where the output went, and how.

    ``chunks_resumed`` counts the chunks a resumed run found already scored.
    """

    model_version: int
    rows: int
    output: Path
    input_sha256: str
    output_sha256: str
    deployed: bool = True
    columns: tuple[str, ...] = OUTPUT_COLUMNS
    workers: int = 1
    chunks_resumed: int = 0
    seconds: float = 0.0


def predict_file(
    gov: Governance,
    source: Path,
    output: Path,
    version: int | None = None,
    chunk_rows: int = 50_000,
    progress: Progress | None = None,
    workers: int = 1,
    resume: bool = False,
) -> ScoringRun:
    """Score ``source`` with a model version and write it with prediction columns to ``output``.

    Without ``version`` the version deployed for batch use is taken. Each chunk is checked
    against the signature before it is scored; on any error the partial output is removed. When
    the input already has a column named ``prediction`` or ``score`` (a feature may carry that
    name), the added columns are named ``mlgate_prediction`` and ``mlgate_score`` instead, so no
    input is overwritten; :attr:`ScoringRun.columns` says which names were used.

    ``workers`` processes score the chunks; the output is the same for any number. With
    ``resume`` the scored chunks are kept in a work folder beside the output, so a run that
    stops can be started again with the same arguments and continues where it stopped.
    """
    _check_paths(source, output)
    if workers < 1:
        raise ValidationError(f"--workers must be at least 1; got {workers}")
    if chunk_rows < 1:
        raise ValidationError(f"--chunk-rows must be at least 1; got {chunk_rows}")
    model_version = _scoring_version(gov, version)
    scorer = load_scorer(gov, model_version)

    started = time.perf_counter()
    batch = _Batch(scorer, source, chunk_rows, workers, progress)
    # the input's hash is read beside the scoring: hashlib releases the GIL on large blocks
    with ThreadPoolExecutor(1) as hasher:
        hashing = hasher.submit(sha256_file, source)
        if resume:
            manifest = {
                "input_sha256": hashing.result(),
                "model_version": model_version.version,
                "model_sha256": model_version.artifact_sha256,
                "chunk_rows": chunk_rows,
            }
            batch.resumable(output, WorkFolder(output, manifest))
        else:
            batch.streamed(output)
        input_sha = hashing.result()
    seconds = time.perf_counter() - started

    run = ScoringRun(
        model_version.version,
        batch.rows,
        output,
        input_sha,
        sha256_file(output),
        _is_deployed(gov, model_version),
        batch.names,
        workers,
        batch.resumed,
        round(seconds, 4),
    )
    _record_run(gov, run, model_version, source, chunk_rows)
    record_prediction(gov, run, model_version, seconds)
    return run


def _check_paths(source: Path, output: Path) -> None:
    table_format(source)
    table_format(output)
    if not source.is_file():
        raise NotFoundError(f"data file {source} does not exist")
    if not output.parent.is_dir():
        raise NotFoundError(f"the folder of --output, {output.parent}, does not exist")
    if output.resolve() == source.resolve():
        raise ValidationError(
            f"--output {output} is the input file; scoring would overwrite the data it reads"
        )


class _Batch:
    """One scoring run over a file: streams it to the output, or through a work folder."""

    def __init__(
        self,
        scorer: Scorer,
        source: Path,
        chunk_rows: int,
        workers: int,
        progress: Progress | None,
    ) -> None:
        self.scorer, self.source, self.chunk_rows = scorer, source, chunk_rows
        self.workers, self.progress = workers, progress
        self.total = count_rows(source)
        self.rows = 0
        self.resumed = 0
        self.names: tuple[str, ...] = OUTPUT_COLUMNS

    def chunks(self, done: frozenset[int] = frozenset()) -> Iterator[ScoredChunk]:
        """Yield the scored chunks in order, counting rows and reporting progress."""
        chunks = iter_chunks(self.source, self.chunk_rows)
        scored = scored_chunks(self.scorer, chunks, str(self.source), self.workers, done)
        with closing(scored):  # stops the worker processes as soon as anything fails
            for chunk in scored:
                self.names = chunk.names
                self.rows += chunk.rows
                self.resumed += chunk.frame is None
                yield chunk
                if self.progress is not None:
                    self.progress("scoring", self.rows, self.total)
        if self.rows == 0:
            raise ValidationError(f"{self.source} has no data rows to score")

    def streamed(self, output: Path) -> None:
        """Write every chunk straight to a hidden partial file, then move it into place."""
        out_format = table_format(output)
        partial = output.with_name(f".{output.name}.partial")
        writer: Any = None
        try:
            for chunk in self.chunks():
                assert chunk.frame is not None
                writer = _write(partial, out_format, chunk.frame, writer)
        except BaseException:
            _close(writer)
            partial.unlink(missing_ok=True)
            raise
        _close(writer)
        os.replace(partial, output)

    def resumable(self, output: Path, work: WorkFolder) -> None:
        """Write each chunk to its part file, skipping finished ones, then join the parts."""
        done = work.open()
        count = 0
        for chunk in self.chunks(done):
            if chunk.frame is not None:
                work.write(chunk)
            count += 1

        partial = output.with_name(f".{output.name}.partial")
        try:
            work.join(count, partial)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, output)
        work.remove()
        logger.info("joined %d chunk(s) of %s, %d resumed", count, output.name, self.resumed)


def _record_run(
    gov: Governance, run: ScoringRun, version: ModelVersion, source: Path, chunk_rows: int
) -> None:
    with gov.transaction() as session:
        gov.audit(
            session,
            "batch.scored",
            f"model:v{version.version}",
            {
                "rows": run.rows,
                "input": source.name,
                "input_sha256": run.input_sha256,
                "deployed": run.deployed,
                "output": run.output.name,
                "output_sha256": run.output_sha256,
                "output_columns": list(run.columns),
                "workers": run.workers,
                "chunk_rows": chunk_rows,
                "chunks_resumed": run.chunks_resumed,
                "seconds": run.seconds,
            },
        )
    logger.info(
        "scored %d rows of %s with version %d on %d worker(s) in %.2f s (%d chunk(s) resumed)",
        run.rows,
        source.name,
        run.model_version,
        run.workers,
        run.seconds,
        run.chunks_resumed,
    )


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
        writer = parquet_writer(path, table.schema)
    writer.write_table(table.cast(writer.schema))
    return writer


def _close(writer: Any) -> None:
    if writer is not None and writer is not True:  # a CSV "writer" is only a flag
        writer.close()
