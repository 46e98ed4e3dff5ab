"""The retraining trigger: an alert whose rule says ``retrain`` starts the training pipeline.

Retraining goes through the same governed path as any other model version. The declared
training pipeline (``monitoring.retrain.pipeline``, or the only pipeline of kind ``training``)
runs in its worker process and registers the next version as a **candidate**; with
``run_checks`` it also runs the testing checks. Nothing is deployed here: the servers keep the
deployed version, and ``mlgate deploy`` refuses the candidate until every gate holds for it
(its own evidence, its own approvals).

At most one retraining starts per monitor run, however many alerts ask for it, and none
within ``monitoring.retrain.cooldown`` of the last one, read from the audit trail, so a breach
that persists does not retrain again and again. Each step is an audit event:
``retrain.started``, then ``retrain.finished`` (with the new version) or ``retrain.failed``;
``retrain.skipped`` when the cooldown holds (it counts from the last start, whether that
retraining succeeded or failed). A failure is recorded and returned, never raised
into the monitor run.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select

from mlgate.errors import GovernanceError, ValidationError
from mlgate.lifecycle.deploy import deployed_version
from mlgate.lifecycle.service import Governance
from mlgate.monitoring.settings import parse_window
from mlgate.pipelines.runs import pipeline_config, run_pipeline
from mlgate.registry.models import AuditEvent

logger = logging.getLogger(__name__)

RETRAIN_ACTION = "retrain"
TRIGGER = "monitor"
SUBJECT = "monitoring:retrain"
# The training step writes "model version <n>" first in the run's output.
_VERSION_IN_OUTPUT = re.compile(r"\bmodel version (\d+)\b")


class _Changes(Protocol):
    """What :func:`maybe_retrain` reads of the alert changes of one monitor run."""

    opened: Sequence[Any]


@dataclass(frozen=True)
class RetrainOutcome:
    """What the retraining trigger did for one monitor run.

    ``status`` is ``succeeded`` (a candidate was registered), ``failed`` (no pipeline could be
    chosen, or the run failed; ``detail`` says why) or ``skipped`` (within the cooldown).
    """

    status: str
    alert_ids: tuple[int, ...]
    detail: str
    pipeline: str | None = None
    run_id: int | None = None
    model_version: int | None = None
    deployed_version: int | None = None


def maybe_retrain(gov: Governance, changes: _Changes) -> RetrainOutcome | None:
    """Start the training pipeline for the alerts just opened whose action is ``retrain``.

    Returns ``None`` when no such alert was opened. Never raises for a pipeline that cannot be
    chosen or that fails: the outcome and the audit trail say what happened.
    """
    alerts = [alert for alert in changes.opened if alert.action == RETRAIN_ACTION]
    if not alerts:
        return None
    alert_ids = tuple(sorted(int(alert.id) for alert in alerts))
    cause = {
        "alerts": list(alert_ids),
        "rules": sorted({alert.rule_id for alert in alerts}),
        "trigger": TRIGGER,
    }

    left = cooldown_left(gov)
    if left is not None:
        detail = (
            f"the last retraining started less than {gov.config.monitoring.retrain.cooldown} "
            f"ago (the cooldown); the next may start in {_duration(left)}"
        )
        _record(gov, "retrain.skipped", SUBJECT, {**cause, "reason": detail})
        logger.info("retraining for alert(s) %s skipped: %s", list(alert_ids), detail)
        return RetrainOutcome("skipped", alert_ids, detail)

    try:
        name = training_pipeline(gov)
    except GovernanceError as exc:
        _record(gov, "retrain.failed", SUBJECT, {**cause, "error": exc.message})
        logger.warning("retraining for alert(s) %s not started: %s", list(alert_ids), exc)
        return RetrainOutcome("failed", alert_ids, exc.message)

    return _run(gov, name, alert_ids, cause)


def training_pipeline(gov: Governance) -> str:
    """Return the training pipeline a ``retrain`` rule starts.

    ``monitoring.retrain.pipeline`` names it; without that setting the project must declare
    exactly one pipeline of kind ``training``.
    """
    configured = gov.config.monitoring.retrain.pipeline
    if configured is not None:
        pipeline = pipeline_config(gov, configured)
        if pipeline.kind != "training":
            raise _config_error(
                f"monitoring.retrain.pipeline names {configured!r}, a pipeline of kind "
                f"{pipeline.kind!r}; expected a pipeline of kind 'training'"
            )
        return configured

    training = sorted(n for n, p in gov.config.pipelines.items() if p.kind == "training")
    if len(training) == 1:
        return training[0]
    if not training:
        raise _config_error(
            "a rule asks for retraining, but no pipeline of kind 'training' is declared"
        )
    raise _config_error(
        f"a rule asks for retraining, and {len(training)} training pipelines are declared "
        f"({', '.join(training)}); name one in monitoring.retrain.pipeline"
    )


def _config_error(message: str) -> ValidationError:
    return ValidationError(
        message, hint="declare it under pipelines: in mlgate.yaml (docs/pipelines.md)"
    )


def _run(
    gov: Governance, name: str, alert_ids: tuple[int, ...], cause: dict[str, Any]
) -> RetrainOutcome:
    """Run pipeline ``name`` for ``alert_ids``; record and return how it went."""
    subject = f"pipeline:{name}"
    _record(gov, "retrain.started", subject, {**cause, "pipeline": name})
    logger.info("retraining with pipeline %s for alert(s) %s", name, list(alert_ids))

    started = time.monotonic()
    try:
        run = run_pipeline(gov, name, trigger=TRIGGER)
    except Exception as exc:  # the monitor run goes on: the failure is recorded instead
        error = exc.message if isinstance(exc, GovernanceError) else f"{type(exc).__name__}: {exc}"
        _record(gov, "retrain.failed", subject, {**cause, "pipeline": name, "error": error})
        logger.warning("retraining with pipeline %s did not run: %s", name, error)
        return RetrainOutcome("failed", alert_ids, error, pipeline=name)
    seconds = time.monotonic() - started

    serving = deployed_version(gov, "batch")
    serving_version = serving.version if serving is not None else None
    if run.status != "succeeded":
        error = run.error or f"the run ended {run.status}"
        payload = {**cause, "pipeline": name, "run": run.id, "error": error}
        _record(gov, "retrain.failed", subject, payload)
        logger.warning("retraining run %d of %s failed: %s", run.id, name, error)
        return RetrainOutcome("failed", alert_ids, error, name, run.id, None, serving_version)

    version = _new_version(run.output)
    payload = {
        **cause,
        "pipeline": name,
        "run": run.id,
        "model_version": version,
        "output": run.output,
        "deployed_version": serving_version,
        "seconds": round(seconds, 3),
    }
    _record(gov, "retrain.finished", subject, payload)
    logger.info(
        "retraining run %d of %s registered candidate model version %s in %.1f s; "
        "version %s stays deployed until the candidate passes the gates",
        run.id,
        name,
        version,
        seconds,
        serving_version,
    )
    detail = (
        f"model version {version} registered as a candidate; it is served only after it "
        "passes the gates and is deployed"
    )
    return RetrainOutcome("succeeded", alert_ids, detail, name, run.id, version, serving_version)


def cooldown_left(gov: Governance, now: datetime | None = None) -> timedelta | None:
    """Return how long until a retraining may start again, or ``None`` if it may now."""
    last = _last_start(gov)
    if last is None:
        return None
    cooldown = parse_window(gov.config.monitoring.retrain.cooldown)
    left = last + cooldown - (now or datetime.now(UTC))
    return left if left > timedelta(0) else None


def _new_version(output: str | None) -> int | None:
    match = _VERSION_IN_OUTPUT.search(output or "")
    return int(match.group(1)) if match else None


def _last_start(gov: Governance) -> datetime | None:
    """Return when the project's last retraining started, from the audit trail."""
    with gov.transaction() as session:
        stmt = (
            select(AuditEvent.created_at)
            .where(AuditEvent.project == gov.config.project)
            .where(AuditEvent.action == "retrain.started")
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )
        created = session.execute(stmt).scalar_one_or_none()
    if created is None:
        return None
    moment = datetime.fromisoformat(created)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _record(gov: Governance, action: str, subject: str, payload: dict[str, Any]) -> None:
    with gov.transaction() as session:
        gov.audit(session, action, subject, payload)


def _duration(left: timedelta) -> str:
    hours, seconds = divmod(int(left.total_seconds()), 3600)
    return f"{hours} h {seconds // 60} min"
