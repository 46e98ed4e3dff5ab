"""Alerts: turning observations that cross a rule's threshold into one alert per ongoing breach.

A rule (see :mod:`mlgate.monitoring.settings`) applies to an observation when the metric is the
rule's, the subject is one of the rule's subjects (or the rule names none), and the window is
as long as the rule's window. A KPI is reported per period (a month has 28 to 31 days), so a
``kpi.*`` rule applies to every period length. An observation with no value, or resting on
fewer than ``min_samples`` rows, is *thin*: it is counted and judged neither way.

**One breach, one alert.** The first breaching window of a rule and subject opens an alert;
later breaching windows continue it (its last value and window, and a count of breaching
windows) without notifying anyone again. The store keeps at most one open alert per project,
rule and subject, so two monitors evaluating the same window at once still raise one alert.

**Hysteresis.** An open alert resolves only after :data:`CLEAR_WINDOWS` consecutive windows
within the threshold, so a metric hovering at its threshold does not open and close an alert
every day. A breach in between starts the count again; thin windows do not count.

**Windows already judged.** Windows are evaluated oldest first. A window that ends no later
than the last one an alert has accounted for (its newest breaching window plus the clear
windows after it) is not counted again; a revised value of the alert's newest breaching window
(labels that arrived late) only updates the value shown.

**Thresholds.** A number is used as it is. ``business_case`` takes the target of the accepted
business case's success metric that means the rule's metric (``ROC AUC on held-out
applications`` means ``roc_auc``, see :func:`mlgate.checks.business.metric_for`); for a KPI
rule, the target declared with the KPI in ``monitoring.kpis``, else the business case's
success metric of the same name. A rule whose threshold cannot be found is reported as not
applicable, never silently dropped.

Opening and resolving are audit events (``alert.opened``, ``alert.resolved``) naming rule,
subject, value, threshold and window. An ml_engineer or validator may resolve an alert by hand
with a reason (``alert.resolved`` with ``manual: true``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as DatabaseIntegrityError
from sqlalchemy.orm import Session

from mlgate.errors import ConflictError, NotFoundError, ValidationError
from mlgate.lifecycle.service import Governance
from mlgate.monitoring.settings import Rule, parse_window
from mlgate.monitoring.store import Observation
from mlgate.registry.models import Alert, AuditEvent, Evidence

logger = logging.getLogger(__name__)

# Consecutive windows within the threshold (each with enough samples) that resolve an open
# alert. One quiet window after a breach is common noise; three in a row is a recovery.
CLEAR_WINDOWS = 3
RESOLVE_ROLES: tuple[str, ...] = ("ml_engineer", "validator")
MIN_REASON = 10
SEVERITY_ORDER: tuple[str, ...] = ("critical", "high", "medium", "low")
MAX_LISTED_IDS = 20


@dataclass(frozen=True)
class NotApplicable:
    """A rule that judged nothing because its threshold could not be found, and why."""

    rule_id: str
    reason: str


@dataclass
class AlertChanges:
    """What one evaluation did: alerts opened, continued and resolved, and what it skipped.

    ``thin`` counts observations a rule matched but did not judge (no value, or fewer than the
    rule's ``min_samples`` rows); ``not_applicable`` lists rules without a threshold.
    """

    opened: list[Alert] = field(default_factory=list)
    continued: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    thin: int = 0
    judged: int = 0
    not_applicable: list[NotApplicable] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Return whether any alert opened or resolved (what is worth notifying)."""
        return bool(self.opened or self.resolved)

    def summary(self) -> str:
        """Return one line for logs and run summaries."""
        text = (
            f"{len(self.opened)} opened, {len(self.continued)} continued, "
            f"{len(self.resolved)} resolved, {self.judged} judged, {self.thin} thin"
        )
        if self.not_applicable:
            text += f", not applicable: {', '.join(n.rule_id for n in self.not_applicable)}"
        return text


# -- evaluation --------------------------------------------------------------------------------


def evaluate(
    gov: Governance,
    session: Session,
    observations: Sequence[Observation],
    rules: Sequence[Rule],
    model_version: int | None,
    now: datetime,
) -> AlertChanges:
    """Judge ``observations`` against ``rules`` inside ``session``; return what changed.

    Observations are taken oldest window first. Nothing is committed here: the alerts and
    their audit events belong to the caller's transaction.
    """
    project = gov.project(session)
    changes = AlertChanges()
    thresholds: dict[str, float] = {}
    for rule in rules:
        threshold, reason = _threshold(gov, rule, session)
        if threshold is None:
            changes.not_applicable.append(NotApplicable(rule.id, reason))
            logger.info("rule %s is not applicable: %s", rule.id, reason)
            continue
        thresholds[rule.id] = threshold
    applicable = [rule for rule in rules if rule.id in thresholds]

    run = _Evaluation(gov, session, project.id, model_version, now, changes)
    run.state = _newest_alerts(session, project.id, [rule.id for rule in applicable])
    ordered = sorted(
        observations, key=lambda o: (o.window_start, o.window_end, o.metric, o.subject)
    )
    for obs in ordered:
        for rule in applicable:
            if not applies(rule, obs):
                continue
            if obs.value is None or obs.n < rule.min_samples:
                changes.thin += 1
                continue
            changes.judged += 1
            run.judge(rule, thresholds[rule.id], obs)

    logger.info(
        "evaluated %d observations against %d rules for %s: %s",
        len(observations),
        len(rules),
        project.name,
        changes.summary(),
    )
    return changes


def applies(rule: Rule, obs: Observation) -> bool:
    """Return whether ``rule`` judges ``obs``: same metric, a named subject, same window."""
    if obs.metric != rule.metric:
        return False
    if rule.subjects is not None and obs.subject not in rule.subjects:
        return False
    if rule.metric.startswith("kpi."):
        return True
    return _aware(obs.window_end) - _aware(obs.window_start) == parse_window(rule.window)


@dataclass
class _Evaluation:
    """One evaluation's context: where it writes, and the newest alert per rule and subject."""

    gov: Governance
    session: Session
    project_id: int
    model_version: int | None
    now: datetime
    changes: AlertChanges
    state: dict[tuple[str, str], Alert] = field(default_factory=dict)

    def judge(self, rule: Rule, threshold: float, obs: Observation) -> None:
        """Open, continue, clear or resolve the alert of a rule and subject for one window."""
        key = (rule.id, obs.subject)
        alert = self.state.get(key)
        value = float(obs.value)  # type: ignore[arg-type]
        breach = rule.breached(value, threshold)
        end = _aware(obs.window_end)

        if alert is not None and end <= _accounted_until(alert, obs):
            if alert.open and breach and end == _aware(alert.last_window_end):
                alert.last_value = value  # a revised value of the newest breaching window
            return

        if alert is None or not alert.open:
            if breach:
                alert, opened = self.open(rule, threshold, obs)
                self.state[key] = alert
                if opened:
                    self.changes.opened.append(alert)
                elif end > _accounted_until(alert, obs):
                    self.continue_(alert, value, end)
            return

        if breach:
            self.continue_(alert, value, end)
            return

        alert.clear_windows += 1
        if alert.clear_windows >= CLEAR_WINDOWS:
            self.resolve(alert, value, obs)

    def continue_(self, alert: Alert, value: float, end: datetime) -> None:
        """Count one more breaching window of an open alert; no one is notified again."""
        alert.last_value = value
        alert.last_window_end = end
        alert.breaches += 1
        alert.clear_windows = 0
        listed = (*self.changes.continued, *self.changes.opened)
        if all(alert is not other for other in listed):
            self.changes.continued.append(alert)

    def open(self, rule: Rule, threshold: float, obs: Observation) -> tuple[Alert, bool]:
        """Open an alert; return it and True, or the one another monitor opened and False."""
        value = float(obs.value)  # type: ignore[arg-type]
        alert = Alert(
            project_id=self.project_id,
            rule_id=rule.id,
            metric=rule.metric,
            subject=obs.subject,
            severity=rule.severity,
            action=rule.action,
            open=True,
            threshold=threshold,
            first_value=value,
            last_value=value,
            first_window_start=_aware(obs.window_start),
            last_window_end=_aware(obs.window_end),
            breaches=1,
            clear_windows=0,
            model_version=self.model_version,
            message=_message(rule, obs, value, threshold),
            notified=[],
            opened_at=self.now,
        )
        try:
            with self.session.begin_nested():
                self.session.add(alert)
                self.session.flush()
        except DatabaseIntegrityError:
            existing = _open_alert(self.session, self.project_id, rule.id, obs.subject)
            if existing is None:
                raise
            logger.info(
                "alert %d (%s on %s) was opened by another monitor",
                existing.id,
                rule.id,
                obs.subject,
            )
            return existing, False

        self.gov.audit(
            self.session,
            "alert.opened",
            f"alert:{alert.id}",
            {
                "rule": rule.id,
                "metric": rule.metric,
                "subject": obs.subject,
                "value": value,
                "threshold": threshold,
                "when": rule.when,
                "window_start": _iso(obs.window_start),
                "window_end": _iso(obs.window_end),
                "n": obs.n,
                "severity": rule.severity,
                "estimated": obs.estimated,
            },
        )
        logger.warning("alert %d opened: %s", alert.id, alert.message)
        return alert, True

    def resolve(self, alert: Alert, value: float, obs: Observation) -> None:
        """Resolve an alert whose metric stayed within the threshold long enough."""
        alert.open = None
        alert.resolved_at = self.now
        self.gov.audit(
            self.session,
            "alert.resolved",
            f"alert:{alert.id}",
            {
                "rule": alert.rule_id,
                "subject": alert.subject,
                "value": value,
                "threshold": alert.threshold,
                "window_start": _iso(obs.window_start),
                "window_end": _iso(obs.window_end),
                "clear_windows": alert.clear_windows,
                "breaches": alert.breaches,
                "manual": False,
            },
        )
        self.changes.resolved.append(alert)
        logger.info(
            "alert %d resolved: %s on %s within %g for %d windows",
            alert.id,
            alert.rule_id,
            alert.subject,
            alert.threshold,
            alert.clear_windows,
        )


def _accounted_until(alert: Alert, obs: Observation) -> datetime:
    """Return the end of the last window ``alert`` has accounted for (breaching or clear)."""
    length = _aware(obs.window_end) - _aware(obs.window_start)
    return _aware(alert.last_window_end) + alert.clear_windows * length


def _message(rule: Rule, obs: Observation, value: float, threshold: float) -> str:
    estimated = " (estimated)" if obs.estimated else ""
    return (
        f"{rule.metric}{estimated} of {obs.subject} is {value:.4g}, {rule.when} the threshold "
        f"{threshold:.4g}, in the window {_iso(obs.window_start)} to {_iso(obs.window_end)} "
        f"({obs.n} rows)"
    )


def _newest_alerts(
    session: Session, project_id: int, rule_ids: Sequence[str]
) -> dict[tuple[str, str], Alert]:
    """Return the newest alert of each rule and subject, open or not."""
    if not rule_ids:
        return {}
    stmt = (
        select(Alert)
        .where(Alert.project_id == project_id, Alert.rule_id.in_(list(rule_ids)))
        .order_by(Alert.id)
    )
    return {(a.rule_id, a.subject): a for a in session.execute(stmt).scalars()}


def _open_alert(session: Session, project_id: int, rule_id: str, subject: str) -> Alert | None:
    stmt = select(Alert).where(
        Alert.project_id == project_id,
        Alert.rule_id == rule_id,
        Alert.subject == subject,
        Alert.open.is_(True),
    )
    return session.execute(stmt).scalars().first()


# -- thresholds --------------------------------------------------------------------------------


def resolve_threshold(gov: Governance, rule: Rule, session: Session | None = None) -> float | None:
    """Return the number ``rule`` compares with, or ``None`` when none can be found.

    Pass ``session`` when already inside a transaction (the business case is read from it).
    """
    if session is None:
        with gov.transaction() as own:
            return _threshold(gov, rule, own)[0]
    return _threshold(gov, rule, session)[0]


def _threshold(gov: Governance, rule: Rule, session: Session) -> tuple[float | None, str]:
    """Return the rule's threshold and, when there is none, why."""
    if rule.threshold != "business_case":
        return float(rule.threshold), ""

    if rule.metric.startswith("kpi."):
        name = rule.metric.removeprefix("kpi.")
        spec = next((k for k in gov.config.monitoring.kpis if k.name == name), None)
        if spec is not None and spec.target is not None:
            return float(spec.target), ""

    case = _business_case(gov, session)
    if case is None:
        return None, "threshold business_case, but no business case has been accepted"
    from mlgate.checks.business import success_criteria

    try:
        criteria = success_criteria({"business_case": case})
    except ValidationError as exc:
        return None, f"threshold business_case, but the business case is unusable: {exc}"

    family, _, name = rule.metric.partition(".")
    for criterion in criteria:
        if family == "kpi" and _identifier(criterion.name) == name:
            return float(criterion.target), ""
        if family != "kpi" and criterion.metric == name:
            return float(criterion.target), ""
    names = ", ".join(f"'{c.name}'" for c in criteria)
    return None, (
        f"threshold business_case, but no success metric of the business case means {name} "
        f"(it lists {names})"
    )


def _identifier(text: str) -> str:
    """Return a success metric's name as a KPI name: lower-case words joined by underscores."""
    return "_".join(re.findall(r"[a-z0-9]+", text.lower()))


def _business_case(gov: Governance, session: Session) -> dict[str, Any] | None:
    """Return the newest accepted business case's content, or ``None``."""
    stmt = (
        select(Evidence)
        .where(
            Evidence.project_id == gov.project(session).id,
            Evidence.name == "business_case",
            Evidence.status == "pass",
        )
        .order_by(Evidence.id.desc())
    )
    evidence = session.execute(stmt).scalars().first()
    return None if evidence is None else evidence.payload.get("document")


# -- reading and resolving by hand ----------------------------------------------------------


def open_alerts(gov: Governance) -> list[Alert]:
    """Return the project's open alerts, most severe first, then oldest first."""
    return list_alerts(gov, include_resolved=False)


def list_alerts(gov: Governance, include_resolved: bool = False) -> list[Alert]:
    """Return the project's alerts (open ones only unless ``include_resolved``).

    Open alerts come first, most severe first; resolved ones follow, newest first.
    """
    with gov.transaction() as session:
        rows = _project_alerts(gov, session, include_resolved)
    return sorted(rows, key=_display_order)


def _project_alerts(gov: Governance, session: Session, include_resolved: bool) -> list[Alert]:
    stmt = select(Alert).where(Alert.project_id == gov.project(session).id)
    if not include_resolved:
        stmt = stmt.where(Alert.open.is_(True))
    return list(session.execute(stmt.order_by(Alert.id)).scalars())


def _display_order(alert: Alert) -> tuple[int, int, float, int]:
    severity = SEVERITY_ORDER.index(alert.severity) if alert.severity in SEVERITY_ORDER else 9
    if alert.open:
        return (0, severity, _aware(alert.opened_at).timestamp(), alert.id)
    return (1, 0, -_aware(alert.resolved_at or alert.opened_at).timestamp(), -alert.id)


def get_alert(gov: Governance, alert_id: int) -> Alert:
    """Return alert ``alert_id`` of this project; refuse an unknown id, naming the known ones."""
    with gov.transaction() as session:
        return _get(gov, session, alert_id)


def resolutions(gov: Governance, session: Session | None = None) -> dict[int, dict[str, Any]]:
    """Return how each resolved alert closed, by alert id, from the audit trail.

    Each value holds ``actor``, ``at``, ``manual`` and, for a manual resolution, ``reason``;
    an automatic one holds the number of ``clear_windows``.
    """
    if session is None:
        with gov.transaction() as own:
            return resolutions(gov, own)
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.project == gov.config.project, AuditEvent.action == "alert.resolved")
        .order_by(AuditEvent.seq)
    )
    found: dict[int, dict[str, Any]] = {}
    for event in session.execute(stmt).scalars():
        alert_id = event.subject.removeprefix("alert:")
        if alert_id.isdigit():
            found[int(alert_id)] = {"actor": event.actor, "at": event.created_at, **event.payload}
    return found


def describe_resolution(resolution: dict[str, Any] | None) -> str:
    """Return one sentence saying how an alert closed."""
    if not resolution:
        return "resolved"
    if resolution.get("manual"):
        return f"resolved by {resolution.get('actor')}: {resolution.get('reason', '')}"
    return (
        f"cleared after {resolution.get('clear_windows', CLEAR_WINDOWS)} consecutive windows "
        "within the threshold"
    )


MAX_ID = 2**63 - 1  # the largest id any store can hold


def parse_alert_id(text: str) -> int:
    """Return an alert's number written in ``text``; refuse anything but a positive integer."""
    value = str(text).strip()
    if not value.isdigit() or not 1 <= int(value) <= MAX_ID:
        raise ValidationError(
            f"an alert id is a whole number from 1 to {MAX_ID}; got '{text}'",
            hint="run `mlgate alerts --all` to see the ids",
        )
    return int(value)


def resolve_alert(gov: Governance, alert_id: int, reason: str) -> Alert:
    """Resolve an open alert by hand, saying why; needs an ml_engineer or a validator.

    The alert's next breach opens a new alert: resolving says the breach is understood, not
    that the metric may stay over its threshold unnoticed. The emergency contacts are told,
    as when the monitor resolves an alert, once the resolution is stored.
    """
    from mlgate.monitoring.notify import deliver  # notify builds on this module

    text = str(reason).strip()
    if len(text) < MIN_REASON:
        raise ValidationError(
            f"a reason of at least {MIN_REASON} characters is needed; got {len(text)}",
            hint="say what was found or done, e.g. 'upstream feed fixed on 3 Dec'",
        )
    roles = {role for role in RESOLVE_ROLES if role in gov.policy.roles} or set(RESOLVE_ROLES)

    with gov.transaction() as session:
        alert = _get(gov, session, alert_id)
        subject = f"alert:{alert.id}"
        gov.require_role(session, roles, "alert.resolve", subject, "resolve monitoring alerts")
        if not alert.open:
            raise ConflictError(
                f"alert {alert.id} was already resolved on {_iso(alert.resolved_at)}",
                hint="run `mlgate alerts --all` to see how it closed",
            )
        alert.open = None
        alert.resolved_at = datetime.now(UTC)
        gov.audit(
            session,
            "alert.resolved",
            subject,
            {
                "rule": alert.rule_id,
                "subject": alert.subject,
                "value": alert.last_value,
                "threshold": alert.threshold,
                "window_end": _iso(alert.last_window_end),
                "breaches": alert.breaches,
                "manual": True,
                "reason": text,
            },
        )

    logger.info(
        "%s resolved alert %d (%s on %s) by hand",
        gov.actor,
        alert.id,
        alert.rule_id,
        alert.subject,
    )
    deliver(gov, AlertChanges(resolved=[alert]))
    return alert


def _get(gov: Governance, session: Session, alert_id: int) -> Alert:
    project = gov.project(session)
    alert = session.get(Alert, alert_id)
    if alert is not None and alert.project_id == project.id:
        return alert

    stmt = select(Alert.id).where(Alert.project_id == project.id).order_by(Alert.id)
    ids = [str(i) for i in session.execute(stmt).scalars()]
    known = ", ".join(ids[-MAX_LISTED_IDS:]) or "none yet"
    raise NotFoundError(
        f"unknown alert {alert_id}; the alerts of project {project.name} are: {known}",
        hint="run `mlgate alerts --all`",
    )


# -- helpers -----------------------------------------------------------------------------------


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every moment mlgate stores is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return _aware(moment).isoformat(timespec="seconds")
