"""Validators' findings: problems recorded against a model version and tracked until closed.

A finding has a severity (low, medium, high, critical), a title and description, an owner who
is to fix it, a due date and a remediation plan. The rules, and why:

**Who records.** A validator, a risk officer or an admin (:data:`FINDING_ROLES`, those of them
the project's policy declares). Validators find the problems; risk officers own model risk and
may raise one from their own review; an admin stands in on a small team where one person
holds that role. The data scientists who build the model do not record findings against it.

**What it is bound to.** The newest model version unless another version is named (it must
exist). Before any model is registered a finding is bound to the project, and such a finding
counts against every model version until it is closed: a problem with the data found during
development does not vanish because a model is trained afterwards.

**Due dates** are today or later when a finding is recorded or its date is moved, where
"today" is any date current somewhere on Earth (UTC-12 to UTC+14, see
:mod:`mlgate.lifecycle.timezones`): people type the date in their own time zone, so in the
hours when UTC has already moved on, yesterday's UTC date is still today in the time zones
behind UTC and is accepted.

**Updates.** The finding's owner may update its remediation plan (they are the one fixing it);
the finding roles may also reassign it and move its due date. A closed finding is not updated:
reopen it first.

**Closing** needs a resolution text and one of the finding roles, held by someone who is
neither the author of the model version the finding concerns nor the finding's owner: the
person who made or fixed the problem does not certify that it is gone. The validator who
raised it is the natural person to close it.

**Reopening** a closed finding needs one of the finding roles and a reason; it adds scrutiny,
so no separation of duties applies. The previous resolution stays in the audit trail.

Every change is an audit event in the same transaction (``finding.added``, ``finding.updated``,
``finding.closed``, ``finding.reopened``); a refusal is audited as ``finding.<action>.refused``.
:func:`blocking_findings` is the pure rule the review gate applies to the stored rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlgate.errors import ConflictError, NotFoundError, ValidationError
from mlgate.lifecycle.service import Governance
from mlgate.lifecycle.timezones import earliest_today
from mlgate.registry.models import Member, ModelVersion, Project, ReviewFinding

logger = logging.getLogger(__name__)

SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
STATUSES: tuple[str, ...] = ("open", "closed")
FINDING_ROLES: tuple[str, ...] = ("validator", "risk_officer", "admin")
MAX_TITLE = 300
MAX_OWNER = 200
MIN_RESOLUTION = 10
MAX_LISTED_IDS = 20


@dataclass(frozen=True)
class Blocking:
    """What a model version's open findings mean at the gate.

    ``serious`` holds the open findings of the gate's severity or worse, which block it;
    ``overdue`` the open findings of any severity whose due date has passed, which the gate names
    without blocking. A finding can be in both.
    """

    serious: tuple[Any, ...]
    overdue: tuple[Any, ...]

    @property
    def blocked(self) -> bool:
        """Return whether a serious finding blocks the version."""
        return bool(self.serious)


def parse_severity(value: str) -> str:
    """Return ``value`` as one of :data:`SEVERITIES` (any case); refuse anything else."""
    severity = str(value).strip().lower()
    if severity not in SEVERITIES:
        raise ValidationError(
            f"unknown severity '{value}'; expected one of {', '.join(SEVERITIES)}"
        )
    return severity


def parse_status(value: str) -> str:
    """Return ``value`` as one of :data:`STATUSES` (any case); refuse anything else."""
    status = str(value).strip().lower()
    if status not in STATUSES:
        raise ValidationError(f"unknown status '{value}'; expected one of {', '.join(STATUSES)}")
    return status


def parse_due(text: str, option: str = "due date") -> date:
    """Return the date written ``YYYY-MM-DD`` in ``text``; refuse any other form."""
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise ValidationError(
            f"{option} must be a date YYYY-MM-DD; got '{text}'",
            hint=f"for instance {datetime.now(UTC).date().isoformat()}",
        ) from None


def parse_finding_id(text: str) -> int:
    """Return a finding's number written in ``text``; refuse anything but a positive integer."""
    value = str(text).strip()
    if not value.isdigit() or int(value) < 1:
        raise ValidationError(
            f"a finding id is a positive whole number; got '{text}'",
            hint="run `mlgate finding list` to see the ids",
        )
    return int(value)


def add_finding(
    gov: Governance,
    severity: str,
    title: str,
    description: str,
    owner: str,
    due: date,
    remediation: str = "",
    version: int | None = None,
) -> ReviewFinding:
    """Record a finding against model version ``version`` (default: the newest one).

    Needs one of :data:`FINDING_ROLES`; ``due`` must be today or later somewhere on Earth
    (from the date of the time zone furthest behind UTC). Returns the stored row.
    """
    severity = parse_severity(severity)
    title = _line("title", title, MAX_TITLE)
    description = _required("description", description)
    owner = _line("owner", owner, MAX_OWNER)
    _require_not_past(due)
    roles = finding_roles(gov)

    with gov.transaction(lock=True) as session:
        gov.require_role(session, roles, "finding.add", "finding:new", "record review findings")
        _require_member(gov, session, owner)
        project = gov.project(session)
        model = _bound_version(session, project, version)
        now = datetime.now(UTC)
        finding = ReviewFinding(
            project_id=project.id,
            model_version_id=model.id if model else None,
            severity=severity,
            title=title,
            description=description,
            owner=owner,
            due_date=due,
            remediation=remediation.strip(),
            status="open",
            created_by=gov.actor,
            created_at=now,
        )
        session.add(finding)
        session.flush()
        gov.audit(
            session,
            "finding.added",
            f"finding:{finding.id}",
            {
                "severity": severity,
                "title": title,
                "owner": owner,
                "due": due.isoformat(),
                "model_version": model.version if model else None,
            },
        )

    bound = f"model version {model.version}" if model else "the project (no model yet)"
    logger.info("%s recorded %s finding %d against %s", gov.actor, severity, finding.id, bound)
    return finding


def update_finding(
    gov: Governance,
    finding_id: int,
    remediation: str | None = None,
    owner: str | None = None,
    due: date | None = None,
) -> ReviewFinding:
    """Change an open finding's remediation plan, owner or due date; audit what changed.

    The finding's owner may change the remediation plan; the finding roles may change anything.
    """
    if remediation is None and owner is None and due is None:
        raise ValidationError("nothing to update; give a remediation, an owner or a due date")
    if owner is not None:
        owner = _line("owner", owner, MAX_OWNER)
    if due is not None:
        _require_not_past(due)
    roles = finding_roles(gov)

    with gov.transaction(lock=True) as session:
        finding = _get(gov, session, finding_id)
        _require_open(finding, "updated")
        if owner is not None:
            _require_member(gov, session, owner)
        _require_update_right(
            gov, session, finding, roles, reassigns=owner is not None or due is not None
        )
        changes = _apply(finding, remediation, owner, due)
        if changes:
            gov.audit(session, "finding.updated", f"finding:{finding.id}", {"changes": changes})

    logger.info("%s updated finding %d: %s", gov.actor, finding_id, ", ".join(changes) or "none")
    return finding


def close_finding(gov: Governance, finding_id: int, resolution: str) -> ReviewFinding:
    """Close an open finding with the resolution that settled it.

    Needs one of the finding roles, and neither the author of the finding's model version nor
    the finding's owner may close it (separation of duties).
    """
    resolution = _reason("resolution", resolution)
    roles = finding_roles(gov)

    with gov.transaction(lock=True) as session:
        finding = _get(gov, session, finding_id)
        _require_open(finding, "closed")
        subject = f"finding:{finding.id}"
        gov.require_role(session, roles, "finding.close", subject, "close review findings")
        _require_independent(gov, session, finding, roles)
        finding.status = "closed"
        finding.closed_by = gov.actor
        finding.closed_at = datetime.now(UTC)
        finding.resolution = resolution
        gov.audit(
            session,
            "finding.closed",
            subject,
            {"severity": finding.severity, "resolution": resolution},
        )

    logger.info("%s closed %s finding %d", gov.actor, finding.severity, finding_id)
    return finding


def reopen_finding(gov: Governance, finding_id: int, reason: str) -> ReviewFinding:
    """Reopen a closed finding, saying why; needs one of the finding roles."""
    reason = _reason("reason", reason)
    roles = finding_roles(gov)

    with gov.transaction(lock=True) as session:
        finding = _get(gov, session, finding_id)
        if finding.status != "closed":
            raise ConflictError(
                f"finding {finding.id} is {finding.status}; only a closed one reopens"
            )
        subject = f"finding:{finding.id}"
        gov.require_role(session, roles, "finding.reopen", subject, "reopen review findings")
        previous = {"closed_by": finding.closed_by, "resolution": finding.resolution}
        finding.status = "open"
        finding.closed_by = None
        finding.closed_at = None
        finding.resolution = None
        gov.audit(session, "finding.reopened", subject, {"reason": reason, "previous": previous})

    logger.info("%s reopened finding %d", gov.actor, finding_id)
    return finding


def list_findings(
    gov: Governance, status: str | None = None, version: int | None = None
) -> list[ReviewFinding]:
    """Return the project's findings, oldest first, optionally of one status or model version."""
    if status is not None:
        status = parse_status(status)

    with gov.transaction() as session:
        project = gov.project(session)
        stmt = select(ReviewFinding).where(ReviewFinding.project_id == project.id)
        if status is not None:
            stmt = stmt.where(ReviewFinding.status == status)
        if version is not None:
            model = _named_version(session, project, version)
            stmt = stmt.where(ReviewFinding.model_version_id == model.id)
        return list(session.execute(stmt.order_by(ReviewFinding.id)).scalars())


def version_numbers(gov: Governance) -> dict[int, int]:
    """Return the project's model version numbers by row id, to show findings' versions."""
    with gov.transaction() as session:
        return {m.id: m.version for m in gov.project_rows(session, ModelVersion)}


def blocking_findings(
    findings: Iterable[Any],
    model_version_id: int | None,
    now: datetime | date,
    severity: str = "high",
) -> Blocking:
    """Return the open findings that concern model version ``model_version_id`` at ``now``.

    ``findings`` are ReviewFinding rows (or anything with the same attributes). A finding
    concerns the version when it is bound to it, or to no version at all (recorded before any
    model existed). Of those, the open ones of ``severity`` or worse are ``serious``; the open
    ones whose due date is before ``now``'s date are ``overdue``, whatever their severity.
    """
    bar = SEVERITIES.index(severity)
    today = now.date() if isinstance(now, datetime) else now
    concerned = [
        f
        for f in findings
        if f.status == "open" and f.model_version_id in (model_version_id, None)
    ]

    serious = tuple(f for f in concerned if SEVERITIES.index(f.severity) >= bar)
    overdue = tuple(f for f in concerned if f.due_date < today)
    return Blocking(serious, overdue)


def finding_roles(gov: Governance) -> set[str]:
    """Return the roles that record and close findings: :data:`FINDING_ROLES` in the policy."""
    declared = {role for role in FINDING_ROLES if role in gov.policy.roles}
    return declared or set(FINDING_ROLES)


# -- helpers ---------------------------------------------------------------------------------


def _required(what: str, value: str) -> str:
    text = str(value).strip()
    if not text:
        raise ValidationError(
            f"the {what} is empty; a finding needs {'an' if what[0] in 'aeiou' else 'a'} {what}"
        )
    return text


def _line(what: str, value: str, limit: int) -> str:
    text = _required(what, value)
    if "\n" in text or "\r" in text:
        raise ValidationError(f"the {what} spans several lines; expected a single line")
    if len(text) > limit:
        raise ValidationError(f"the {what} has {len(text)} characters; expected at most {limit}")
    return text


def _reason(what: str, value: str) -> str:
    text = str(value).strip()
    if len(text) < MIN_RESOLUTION:
        raise ValidationError(
            f"a {what} of at least {MIN_RESOLUTION} characters is needed; got {len(text)}",
            hint="say what was done or found, e.g. 'retrained without the proxy column'",
        )
    return text


def _require_not_past(due: date) -> None:
    """Refuse a due date that has passed everywhere on Earth (see the module's docstring)."""
    earliest = earliest_today()
    if due < earliest:
        raise ValidationError(
            f"the due date {due} is in the past; expected {earliest} or later (today in the "
            "time zone furthest behind UTC, UTC-12)"
        )


def _bound_version(session: Session, project: Project, version: int | None) -> ModelVersion | None:
    """Return model version ``version``, else the newest one, else ``None`` when there is none."""
    if version is not None:
        return _named_version(session, project, version)
    stmt = select(ModelVersion).where(ModelVersion.project_id == project.id)
    return session.execute(stmt.order_by(ModelVersion.version.desc())).scalars().first()


def _named_version(session: Session, project: Project, version: int) -> ModelVersion:
    stmt = select(ModelVersion).where(ModelVersion.project_id == project.id)
    versions = list(session.execute(stmt.order_by(ModelVersion.version)).scalars())
    for model in versions:
        if model.version == version:
            return model

    known = ", ".join(str(m.version) for m in versions) or "none yet"
    raise NotFoundError(
        f"project {project.name} has no model version {version}; its versions: {known}",
        hint="run `mlgate model list`",
    )


def _get(gov: Governance, session: Session, finding_id: int) -> ReviewFinding:
    project = gov.project(session)
    finding = session.get(ReviewFinding, finding_id)
    if finding is not None and finding.project_id == project.id:
        return finding

    stmt = select(ReviewFinding.id).where(ReviewFinding.project_id == project.id)
    ids = [str(i) for i in session.execute(stmt.order_by(ReviewFinding.id)).scalars()]
    known = ", ".join(ids[-MAX_LISTED_IDS:]) or "none yet"
    raise NotFoundError(
        f"unknown finding {finding_id}; the findings of project {project.name} are: {known}",
        hint="run `mlgate finding list`",
    )


def _require_open(finding: ReviewFinding, doing: str) -> None:
    if finding.status != "open":
        raise ConflictError(
            f"finding {finding.id} is closed and cannot be {doing}",
            hint=f"reopen it first: mlgate finding reopen {finding.id} --reason TEXT",
        )


def _require_member(gov: Governance, session: Session, owner: str) -> None:
    """Refuse an owner who is not a member of the project: nobody could be held to it."""
    project = gov.project(session)
    members = sorted(
        set(session.execute(select(Member.user).where(Member.project_id == project.id)).scalars())
    )
    if owner not in members:
        raise ValidationError(
            f"owner '{owner}' is not a member of project {project.name}; expected one of "
            f"{', '.join(members)}",
            hint=f"an admin runs: mlgate member add {owner} --role ROLE",
        )


def _require_update_right(
    gov: Governance, session: Session, finding: ReviewFinding, roles: set[str], reassigns: bool
) -> None:
    """Let the owner change only the remediation plan, and the other finding roles anything.

    The person fixing a finding never moves its deadline or hands it on, whatever roles they
    hold: the reviewer sets those.
    """
    subject = f"finding:{finding.id}"
    if gov.actor == finding.owner and not reassigns:
        return
    if gov.actor == finding.owner:
        gov.refuse(
            "finding.update",
            subject,
            f"{gov.actor} owns finding {finding.id} and may update its remediation, but not "
            f"its owner or due date: another {' or '.join(sorted(roles))} sets those",
        )
    if gov.roles_of(session, gov.actor) & roles:
        return
    gov.refuse(
        "finding.update",
        subject,
        f"{gov.actor} may not update finding {finding.id}: it needs its owner "
        f"({finding.owner}) or the role {' or '.join(sorted(roles))}",
    )


def _require_independent(
    gov: Governance, session: Session, finding: ReviewFinding, roles: set[str]
) -> None:
    """Refuse a close by the model version's author or the finding's owner."""
    author = None
    if finding.model_version_id is not None:
        model = session.get(ModelVersion, finding.model_version_id)
        author = model.created_by if model else None
    other = f"another {' or '.join(sorted(roles))}"

    if gov.actor == author:
        gov.refuse(
            "finding.close",
            f"finding:{finding.id}",
            f"{gov.actor} authored the model version finding {finding.id} concerns and may not "
            f"close it: separation of duties needs {other}",
        )
    if gov.actor == finding.owner:
        gov.refuse(
            "finding.close",
            f"finding:{finding.id}",
            f"{gov.actor} owns finding {finding.id} (is fixing it) and may not close it: "
            f"separation of duties needs {other}",
        )


def _apply(
    finding: ReviewFinding, remediation: str | None, owner: str | None, due: date | None
) -> dict[str, list[str]]:
    """Set the given values; return ``{field: [old, new]}`` of those that changed."""
    changes: dict[str, list[str]] = {}
    if remediation is not None and remediation.strip() != finding.remediation:
        changes["remediation"] = [finding.remediation, remediation.strip()]
        finding.remediation = remediation.strip()
    if owner is not None and owner != finding.owner:
        changes["owner"] = [finding.owner, owner]
        finding.owner = owner
    if due is not None and due != finding.due_date:
        changes["due"] = [finding.due_date.isoformat(), due.isoformat()]
        finding.due_date = due
    return changes
