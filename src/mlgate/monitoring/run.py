"""One monitor run: every complete window of the prediction log not yet monitored, in time order.

For each window length in use (the configured ``monitoring.window`` and the window of every
effective rule) the run takes the windows that have ended since the newest monitored one. Each
window is claimed first by inserting its :class:`~mlgate.registry.models.MonitorRun` row; the
store keeps (project, length, start) unique, so a second monitor running at the same moment
skips the windows the first one took instead of summarising them twice.

A claimed window is compared with the reference of the model version that served it (data
drift, score drift, performance with the labels in so far, estimates without them); its
observations are recorded and evaluated against the rules in one transaction, so a window is
either fully recorded or marked ``failed`` with the reason, and one bad window never costs the
others. A window without predictions is recorded with no rows: a model that stopped receiving
traffic is visible rather than silently skipped.

After the new windows, labels that arrived late update the performance of windows monitored
earlier, and KPI values the business owner reported since the last run are evaluated. Alerts
are delivered and the retraining trigger consulted only after the transaction that opened them
has committed, so a notification never announces an alert the store does not hold.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import sqlalchemy.exc
from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from mlgate.errors import ValidationError
from mlgate.lifecycle.deployments import DeploymentRecord, deployment_history
from mlgate.lifecycle.models import get_model_version
from mlgate.lifecycle.service import Governance
from mlgate.monitoring.alerts import AlertChanges, evaluate, resolve_threshold
from mlgate.monitoring.data_drift import window_drift
from mlgate.monitoring.kpis import pending_kpi_observations
from mlgate.monitoring.notify import Delivery, deliver
from mlgate.monitoring.performance import (
    catch_up_performance,
    reference_scores,
    window_model_metrics,
)
from mlgate.monitoring.reference import Reference, load_reference
from mlgate.monitoring.retrain import RetrainOutcome, maybe_retrain
from mlgate.monitoring.settings import Rule, effective_rules, parse_window
from mlgate.monitoring.store import Observation, record_observations
from mlgate.monitoring.windows import Window, complete_windows
from mlgate.registry.models import Alert, AuditEvent, KpiValue, MonitorRun, PredictionLabel
from mlgate.serving.predictions import prediction_log_folder

logger = logging.getLogger(__name__)

MONITOR_ROLES: tuple[str, ...] = ("ml_engineer", "data_scientist", "admin")
TRIGGERS: tuple[str, ...] = ("manual", "schedule")
# The serving modes whose predictions reach the log, in the order a window's model is taken.
LOGGING_MODES: tuple[str, ...] = ("rest", "stream", "batch")
MAX_REASON = 2000
LATE_ACTION = "monitor.late"  # the audit event of late labels and KPI values checked

# A run still "running" after this long was left by a monitor that was killed; it is retried.
ABANDONED_AFTER = timedelta(hours=1)

Progress = Callable[[int, int], None]


def _retryable(now: datetime) -> ColumnElement[bool]:
    """The runs a monitor may take over: failed ones, and ones abandoned while running."""
    return or_(
        MonitorRun.status == "failed",
        and_(MonitorRun.status == "running", MonitorRun.started_at < now - ABANDONED_AFTER),
    )


@dataclass(frozen=True)
class WindowResult:
    """What the run did with one window: its rows, model, status and what it found."""

    run_id: int | None  # None when another monitor had claimed the window
    length: str
    start: datetime
    end: datetime
    model_version: int | None
    rows: int
    status: str  # succeeded, failed or skipped
    summary: str
    drifted: tuple[str, ...] = ()
    performance: dict[str, float | None] = field(default_factory=dict)
    estimates: dict[str, float | None] = field(default_factory=dict)
    opened: tuple[str, ...] = ()
    resolved: tuple[str, ...] = ()


@dataclass
class MonitorSummary:
    """Everything one call of :func:`monitor` did, for the command line and the log."""

    windows: list[WindowResult] = field(default_factory=list)
    opened: list[Alert] = field(default_factory=list)
    continued: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    caught_up: int = 0  # performance observations recomputed for earlier windows
    kpis: int = 0  # KPI values evaluated
    not_applicable: dict[str, str] = field(default_factory=dict)  # rule id: why it judged nothing
    late_error: str = ""  # why late labels and KPI values could not be checked, if they could not
    retrain: RetrainOutcome | None = None  # what a rule's retraining did, if one asked
    seconds: float = 0.0

    @property
    def failed(self) -> list[WindowResult]:
        """Return the windows whose run failed."""
        return [w for w in self.windows if w.status == "failed"]

    @property
    def silent(self) -> list[WindowResult]:
        """Return the windows monitored without a single logged prediction."""
        return [w for w in self.windows if w.status == "succeeded" and w.rows == 0]

    def add(self, changes: AlertChanges) -> None:
        """Count the alert changes of one evaluation into the totals."""
        self.opened.extend(changes.opened)
        self.continued.extend(changes.continued)
        self.resolved.extend(changes.resolved)
        for rule in changes.not_applicable:
            self.not_applicable.setdefault(rule.rule_id, rule.reason)

    def changes(self) -> AlertChanges:
        """Return every alert change of the call as one set, for the retraining trigger."""
        return AlertChanges(
            opened=list(self.opened), continued=list(self.continued), resolved=list(self.resolved)
        )


def monitor(
    gov: Governance,
    until: datetime | None = None,
    trigger: str = "manual",
    progress: Progress | None = None,
) -> MonitorSummary:
    """Monitor every complete window that ended by ``until`` (default: now) and is not yet done.

    ``progress`` is called with (windows done, windows in all) after each window.
    """
    started = time.perf_counter()
    if trigger not in TRIGGERS:
        raise ValidationError(f"trigger {trigger!r} is not known; expected one of {TRIGGERS}")
    now = datetime.now(UTC)
    until = now if until is None else min(_utc(until), now)
    with gov.transaction() as session:
        gov.require_role(
            session, set(MONITOR_ROLES), "monitor.run", "monitoring", "run monitoring"
        )

    context = _Context(gov, trigger)
    pending = context.pending_windows(until)
    summary = MonitorSummary()
    logger.info(
        "monitoring %s: %d window(s) to monitor up to %s (%s)",
        gov.config.project,
        len(pending),
        until.isoformat(),
        trigger,
    )

    for done, window in enumerate(pending, start=1):
        result, changes = context.monitor_window(window)
        summary.windows.append(result)
        if changes is not None:
            summary.add(changes)
            summary.deliveries.extend(_deliver(gov, changes))
        if progress is not None:
            progress(done, len(pending))

    _warn_if_silent(gov, summary)
    late = _late(gov, context, summary)
    if late is not None:
        summary.add(late)
        summary.deliveries.extend(_deliver(gov, late))
    summary.retrain = _maybe_retrain(gov, summary.changes())

    summary.seconds = time.perf_counter() - started
    logger.info(
        "monitoring %s done in %.1f s: %d window(s) (%d failed), %d alert(s) opened, "
        "%d resolved, %d late performance value(s), %d KPI value(s)",
        gov.config.project,
        summary.seconds,
        len(summary.windows),
        len(summary.failed),
        len(summary.opened),
        len(summary.resolved),
        summary.caught_up,
        summary.kpis,
    )
    return summary


def monitor_history(gov: Governance, limit: int | None = None) -> list[MonitorRun]:
    """Return the project's monitor runs, newest window first (at most ``limit``)."""
    with gov.transaction() as session:
        project = gov.project(session)
        stmt = (
            select(MonitorRun)
            .where(MonitorRun.project_id == project.id)
            .order_by(MonitorRun.window_start.desc(), MonitorRun.window, MonitorRun.id.desc())
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        return list(session.execute(stmt).scalars())


def monitored_on_schedule_since(gov: Governance, moment: datetime) -> bool:
    """Return whether a scheduled monitor run started at or after ``moment``."""
    with gov.transaction() as session:
        project = gov.project(session)
        found = session.execute(
            select(func.max(MonitorRun.started_at)).where(
                MonitorRun.project_id == project.id, MonitorRun.trigger == "schedule"
            )
        ).scalar_one_or_none()
    return found is not None and _utc(found) >= moment


def window_lengths(gov: Governance, rules: Sequence[Rule]) -> list[str]:
    """Return the window lengths in use, shortest first: the configured one and the rules'.

    KPI rules do not count: a KPI comes per reported period, not per window of the log.
    """
    watched = [rule.window for rule in rules if not rule.metric.startswith("kpi.")]
    texts = {gov.config.monitoring.window, *watched}
    return sorted(texts, key=lambda text: (parse_window(text), text))


class _Context:
    """What stays the same across the windows of one call: rules, deployments, references."""

    def __init__(self, gov: Governance, trigger: str) -> None:
        self.gov = gov
        self.trigger = trigger
        self.folder = prediction_log_folder(gov)
        try:
            self.rules = effective_rules(
                gov.policy.monitoring.rules, gov.config.monitoring, gov.tier
            )
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc
        self.history = deployment_history(gov)
        self._references: dict[int, tuple[Reference, np.ndarray | None]] = {}

    # -- which windows, which model ----------------------------------------------------------

    def pending_windows(self, until: datetime) -> list[Window]:
        """Return the windows to monitor, oldest end first.

        They are, for each length in use, the complete windows after the newest monitored one,
        and the windows whose run failed before (a file fixed since, a reference registered).
        """
        newest, failed = self._monitored()
        lengths = window_lengths(self.gov, self.rules)
        windows = [w for w in failed if w.length in lengths and w.end <= until]
        for text in lengths:
            windows.extend(
                complete_windows(self.folder, text, parse_window(text), newest.get(text), until)
            )
        return sorted(windows, key=lambda w: (w.end, parse_window(w.length)))

    def _monitored(self) -> tuple[dict[str, datetime], list[Window]]:
        """Return the end of the newest monitored window per length, and the failed windows."""
        with self.gov.transaction() as session:
            project = self.gov.project(session)
            rows = session.execute(
                select(MonitorRun.window, func.max(MonitorRun.window_end))
                .where(MonitorRun.project_id == project.id)
                .group_by(MonitorRun.window)
            ).all()
            failed = session.execute(
                select(MonitorRun).where(
                    MonitorRun.project_id == project.id, _retryable(datetime.now(UTC))
                )
            ).scalars()
            retry = [self._window_of(run) for run in failed]
        return {text: _utc(end) for text, end in rows}, retry

    def version_at(self, window: Window) -> int:
        """Return the model version that served at the end of ``window``.

        Without a deployment at that moment: the version live now, else the newest version.
        """
        moment = window.end - timedelta(microseconds=1)
        for records in (
            [r for r in self.history if r.served_at(moment)],
            [r for r in self.history if r.live],
        ):
            chosen = _preferred(records)
            if chosen is not None:
                return chosen.version
        return get_model_version(self.gov).version

    def reference(self, version: int) -> tuple[Reference, np.ndarray | None]:
        """Return the reference and its scores for model ``version``, loaded once per call."""
        if version not in self._references:
            started = time.perf_counter()
            row = get_model_version(self.gov, version)
            reference = load_reference(self.gov, row)
            scores = reference_scores(self.gov, row, reference)
            self._references[version] = (reference, scores)
            logger.info(
                "reference of model v%d loaded: %s, %d rows, %d feature(s), in %.1f s",
                version,
                reference.dataset_name,
                len(reference.frame),
                len(reference.features),
                time.perf_counter() - started,
            )
        return self._references[version]

    # -- one window --------------------------------------------------------------------------

    def monitor_window(self, window: Window) -> tuple[WindowResult, AlertChanges | None]:
        """Claim, compute, record and evaluate one window; mark it failed if anything breaks."""
        started = time.perf_counter()
        version: int | None = None
        run_id = self._claim(window)
        if run_id is None:
            logger.info("window %s skipped: another monitor claimed it", _label(window))
            return _result(window, None, None, 0, "skipped", "claimed by another monitor"), None

        try:
            version = self.version_at(window)
            rows = window.rows()
            if rows == 0:
                return self._finish_empty(window, run_id, version, started), None
            return self._observe(window, run_id, version, rows, started)
        except BaseException as exc:
            reason = _reason(exc)
            self._mark_failed(window, run_id, version, reason)
            if not isinstance(exc, Exception):
                raise
            logger.error("window %s failed: %s", _label(window), reason)
            logger.debug("window %s failed", _label(window), exc_info=True)
            return _result(window, run_id, version, 0, "failed", reason), None

    def _claim(self, window: Window) -> int | None:
        try:
            with self.gov.transaction() as session:
                project = self.gov.project(session)
                run = MonitorRun(
                    project_id=project.id,
                    window=window.length,
                    window_start=window.start,
                    window_end=window.end,
                    rows=0,
                    status="running",
                    summary="",
                    trigger=self.trigger,
                    actor=self.gov.actor,
                    started_at=datetime.now(UTC),
                )
                session.add(run)
                session.flush()
                return run.id
        except sqlalchemy.exc.IntegrityError:
            return self._reclaim(window)

    def _reclaim(self, window: Window) -> int | None:
        """Claim a window whose earlier run failed or was abandoned; None when another holds it.

        The update only takes a run that is still ``failed`` (or ``running`` for longer than
        :data:`ABANDONED_AFTER`, left so by a monitor that was killed), so of two monitors
        retrying the same window, one wins.
        """
        with self.gov.transaction() as session:
            project = self.gov.project(session)
            claimed = session.execute(
                update(MonitorRun)
                .where(
                    MonitorRun.project_id == project.id,
                    MonitorRun.window == window.length,
                    MonitorRun.window_start == window.start,
                    _retryable(datetime.now(UTC)),
                )
                .values(
                    status="running",
                    summary="",
                    trigger=self.trigger,
                    actor=self.gov.actor,
                    started_at=datetime.now(UTC),
                    ended_at=None,
                )
                .returning(MonitorRun.id)
            ).scalar_one_or_none()
        if claimed is not None:
            logger.info("window %s failed before; trying it again", _label(window))
        return claimed

    def _observe(
        self, window: Window, run_id: int, version: int, rows: int, started: float
    ) -> tuple[WindowResult, AlertChanges]:
        reference, scores = self.reference(version)
        drift = window_drift(reference, window)

        with self.gov.transaction() as session:
            project = self.gov.project(session)
            model = window_model_metrics(self.gov, session, reference, scores, window)
            observations = _in_time_order([*drift, *model])
            record_observations(session, project.id, run_id, observations)
            changes = evaluate(
                self.gov, session, observations, self.rules, version, datetime.now(UTC)
            )
            result = _found(window, run_id, version, rows, observations, changes)
            self._finish(session, run_id, "succeeded", rows, version, result.summary)
            self._audit(session, window, run_id, version, rows, observations, changes)

        logger.info(
            "window %s monitored in %.1f s: %d row(s), model v%d, %d observation(s); %s",
            _label(window),
            time.perf_counter() - started,
            rows,
            version,
            len(observations),
            result.summary,
        )
        return result, changes

    def _finish_empty(
        self, window: Window, run_id: int, version: int, started: float
    ) -> WindowResult:
        summary = "no predictions logged"
        with self.gov.transaction() as session:
            self._finish(session, run_id, "succeeded", 0, version, summary)
            self._audit(session, window, run_id, version, 0, [], None)
        logger.info(
            "window %s has no predictions (model v%d); checked in %.1f s",
            _label(window),
            version,
            time.perf_counter() - started,
        )
        return _result(window, run_id, version, 0, "succeeded", summary)

    def _finish(
        self,
        session: Session,
        run_id: int,
        status: str,
        rows: int,
        version: int | None,
        summary: str,
    ) -> None:
        run = session.get(MonitorRun, run_id)
        assert run is not None
        run.status = status
        run.rows = rows
        run.model_version = version
        run.summary = summary[:MAX_REASON]
        run.ended_at = datetime.now(UTC)

    def _mark_failed(self, window: Window, run_id: int, version: int | None, reason: str) -> None:
        with self.gov.transaction() as session:
            self._finish(session, run_id, "failed", 0, version, reason)
            self.gov.audit(
                session,
                "monitor.run",
                _subject(window),
                {"run": run_id, "status": "failed", "reason": reason[:MAX_REASON]},
            )

    def _audit(
        self,
        session: Session,
        window: Window,
        run_id: int,
        version: int,
        rows: int,
        observations: Sequence[Observation],
        changes: AlertChanges | None,
    ) -> None:
        self.gov.audit(
            session,
            "monitor.run",
            _subject(window),
            {
                "run": run_id,
                "status": "succeeded",
                "trigger": self.trigger,
                "model_version": version,
                "rows": rows,
                "observations": len(observations),
                "drifted": list(_drifted(observations)),
                "alerts_opened": len(changes.opened) if changes else 0,
                "alerts_continued": len(changes.continued) if changes else 0,
                "alerts_resolved": len(changes.resolved) if changes else 0,
            },
        )

    # -- late labels and KPI values -----------------------------------------------------------

    def late_observations(self, summary: MonitorSummary) -> AlertChanges | None:
        """Recompute performance where labels arrived, evaluate new KPI values; return changes.

        Late values are recorded under the run of the window they describe; KPI values under
        the newest run of the project, which is marked as the one that evaluated them.
        """
        labels_until, runs = self._labelled_runs()
        for version in sorted({run.model_version for run in runs if run.model_version}):
            self.reference(version)
        anchor = self._anchor_run(summary)

        with self.gov.transaction() as session:
            project = self.gov.project(session)
            late: list[tuple[int, Observation, int | None]] = []
            for version in sorted({run.model_version for run in runs if run.model_version}):
                reference, scores = self.reference(version)
                monitored = [
                    (run.id, self._window_of(run)) for run in runs if run.model_version == version
                ]
                for run_id, obs in catch_up_performance(
                    self.gov, session, reference, scores, monitored
                ):
                    late.append((run_id, obs, version))
            kpis = self._pending_kpis(session, project.id, anchor)
            if labels_until is None and not kpis:
                return None

            for run_id, obs, _ in late:
                record_observations(session, project.id, run_id, [obs])
            if kpis and anchor is not None:
                record_observations(session, project.id, anchor.id, [obs for _, obs in kpis])
                for value, _ in kpis:
                    value.run_id = anchor.id
            changes = self._evaluate_late(session, late, kpis, anchor)
            self.gov.audit(
                session,
                LATE_ACTION,
                "monitoring",
                {
                    "labels_until": labels_until.isoformat() if labels_until else None,
                    "windows_checked": len(runs),
                    "performance_values": len(late),
                    "kpi_values": len(kpis),
                    "kpi_run": anchor.id if kpis and anchor is not None else None,
                    "alerts_opened": len(changes.opened),
                    "alerts_resolved": len(changes.resolved),
                },
            )

        summary.caught_up, summary.kpis = len(late), len(kpis)
        logger.info(
            "late values of %s: %d window(s) checked for new labels, %d performance value(s) "
            "recomputed, %d KPI value(s) evaluated",
            self.gov.config.project,
            len(runs),
            len(late),
            len(kpis),
        )
        return changes

    def _labelled_runs(self) -> tuple[datetime | None, list[MonitorRun]]:
        """Return the newest label's arrival and the windows to check again for it.

        Nothing is to be checked unless a label arrived after the last check (recorded in the
        trail as ``monitor.late`` with ``labels_until``). Then the windows whose run ended
        before that label are checked: labels ingested earlier were counted by the run itself
        or by an earlier check, which the labelled count in the values' details tells.
        """
        with self.gov.transaction() as session:
            project = self.gov.project(session)
            newest_label = session.execute(
                select(func.max(PredictionLabel.ingested_at)).where(
                    PredictionLabel.project_id == project.id
                )
            ).scalar_one_or_none()
            if newest_label is None:
                return None, []
            newest_label = _utc(newest_label)
            checked = _labels_checked_until(session, self.gov.config.project)
            if checked is not None and newest_label <= checked:
                return None, []
            runs = list(
                session.execute(
                    select(MonitorRun)
                    .where(
                        MonitorRun.project_id == project.id,
                        MonitorRun.status == "succeeded",
                        MonitorRun.rows > 0,
                        MonitorRun.model_version.is_not(None),
                        MonitorRun.ended_at < newest_label,
                    )
                    .order_by(MonitorRun.window_start, MonitorRun.id)
                ).scalars()
            )
        return newest_label, runs

    def _anchor_run(self, summary: MonitorSummary) -> MonitorRun | None:
        """Return the run that evaluates pending KPI values: this call's newest, or the last."""
        mine = [w.run_id for w in summary.windows if w.status == "succeeded" and w.run_id]
        with self.gov.transaction() as session:
            project = self.gov.project(session)
            stmt = select(MonitorRun).where(
                MonitorRun.project_id == project.id, MonitorRun.status == "succeeded"
            )
            if mine:
                stmt = stmt.where(MonitorRun.id.in_(mine))
            return session.execute(stmt.order_by(MonitorRun.window_end.desc())).scalars().first()

    def _pending_kpis(
        self, session: Session, project_id: int, anchor: MonitorRun | None
    ) -> list[tuple[KpiValue, Observation]]:
        specs = self.gov.config.monitoring.kpis
        if not specs or anchor is None:
            return []
        return pending_kpi_observations(session, project_id, specs, self._kpi_targets(session))

    def _kpi_targets(self, session: Session) -> dict[str, float | None]:
        targets: dict[str, float | None] = {}
        for spec in self.gov.config.monitoring.kpis:
            if spec.target is not None:
                targets[spec.name] = spec.target
                continue
            probe = Rule(
                id=f"kpi_{spec.name}",
                metric=f"kpi.{spec.name}",
                when="below" if spec.direction == "higher" else "above",
                threshold="business_case",
            )
            targets[spec.name] = resolve_threshold(self.gov, probe, session)
        return targets

    def _evaluate_late(
        self,
        session: Session,
        late: list[tuple[int, Observation, int | None]],
        kpis: list[tuple[KpiValue, Observation]],
        anchor: MonitorRun | None,
    ) -> AlertChanges:
        changes = AlertChanges(opened=[], continued=[], resolved=[])
        groups: dict[int | None, list[Observation]] = {}
        for _, obs, version in late:
            groups.setdefault(version, []).append(obs)
        if kpis:
            version = anchor.model_version if anchor is not None else None
            groups.setdefault(version, []).extend(obs for _, obs in kpis)
        for version, observations in groups.items():
            found = evaluate(
                self.gov,
                session,
                _in_time_order(observations),
                self.rules,
                version,
                datetime.now(UTC),
            )
            changes.opened.extend(found.opened)
            changes.continued.extend(found.continued)
            changes.resolved.extend(found.resolved)
        return changes

    def _window_of(self, run: MonitorRun) -> Window:
        return Window(Path(self.folder), _utc(run.window_start), _utc(run.window_end), run.window)


# -- helpers -------------------------------------------------------------------------------


def _warn_if_silent(gov: Governance, summary: MonitorSummary) -> None:
    silent = summary.silent
    if silent:
        logger.warning(
            "%s: %d window(s) without any logged prediction, the first from %s; is the model "
            "still receiving traffic, and is its prediction log written?",
            gov.config.project,
            len(silent),
            silent[0].start.isoformat(),
        )


def _late(gov: Governance, context: _Context, summary: MonitorSummary) -> AlertChanges | None:
    """Check late labels and KPI values; a failure is reported, the windows stay recorded."""
    try:
        return context.late_observations(summary)
    except Exception as exc:
        summary.late_error = _reason(exc)
        logger.error(
            "late labels and KPI values of %s: %s", gov.config.project, summary.late_error
        )
        logger.debug("late labels and KPI values failed", exc_info=True)
        return None


def _deliver(gov: Governance, changes: AlertChanges) -> list[Delivery]:
    if not changes.opened and not changes.resolved:
        return []
    return list(deliver(gov, changes))


def _maybe_retrain(gov: Governance, changes: AlertChanges) -> RetrainOutcome | None:
    if not changes.opened:
        return None
    return maybe_retrain(gov, changes)


def _labels_checked_until(session: Session, project: str) -> datetime | None:
    """Return the newest label arrival that an earlier run has checked the windows for."""
    payloads = session.execute(
        select(AuditEvent.payload)
        .where(AuditEvent.project == project, AuditEvent.action == LATE_ACTION)
        .order_by(AuditEvent.seq.desc())
        .limit(20)
    ).scalars()
    for payload in payloads:
        if payload and payload.get("labels_until"):
            return _utc(datetime.fromisoformat(payload["labels_until"]))
    return None


def _preferred(records: Sequence[DeploymentRecord]) -> DeploymentRecord | None:
    for mode in LOGGING_MODES:
        chosen = [r for r in records if r.mode == mode]
        if chosen:
            return chosen[-1]
    return None


def _found(
    window: Window,
    run_id: int,
    version: int,
    rows: int,
    observations: Sequence[Observation],
    changes: AlertChanges,
) -> WindowResult:
    drifted = _drifted(observations)
    performance = {
        o.metric.removeprefix("performance."): o.value
        for o in observations
        if o.metric.startswith("performance.")
    }
    estimates = {
        o.metric.removeprefix("estimate."): o.value
        for o in observations
        if o.metric.startswith("estimate.")
    }
    opened = tuple(f"{a.rule_id}:{a.subject}" for a in changes.opened)
    resolved = tuple(f"{a.rule_id}:{a.subject}" for a in changes.resolved)
    parts = [f"{len(drifted)} drifted feature(s)"]
    if drifted:
        parts[0] += f" ({', '.join(drifted)})"
    parts.append(f"{len(opened)} alert(s) opened, {len(resolved)} resolved")
    return WindowResult(
        run_id,
        window.length,
        window.start,
        window.end,
        version,
        rows,
        "succeeded",
        "; ".join(parts),
        drifted,
        performance,
        estimates,
        opened,
        resolved,
    )


def _drifted(observations: Sequence[Observation]) -> tuple[str, ...]:
    return tuple(
        sorted(
            o.subject for o in observations if o.metric == "drift.drifted" and (o.value or 0) >= 1
        )
    )


def _in_time_order(observations: Sequence[Observation]) -> list[Observation]:
    return sorted(observations, key=lambda o: (o.window_start, o.window_end))


def _result(
    window: Window,
    run_id: int | None,
    version: int | None,
    rows: int,
    status: str,
    summary: str,
) -> WindowResult:
    return WindowResult(
        run_id, window.length, window.start, window.end, version, rows, status, summary
    )


def _reason(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or "no message"
    return f"{type(exc).__name__}: {message}"


def _label(window: Window) -> str:
    return f"{window.length} {window.start:%Y-%m-%d %H:%M}..{window.end:%Y-%m-%d %H:%M} UTC"


def _subject(window: Window) -> str:
    return f"window:{window.length}@{window.start:%Y-%m-%dT%H:%MZ}"


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive date-times; every moment mlgate stores is UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
