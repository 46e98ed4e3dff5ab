"""The one place that changes a project's state.

:class:`Governance` opens a workspace's store, loads the policy the project is governed by, and
offers the actions of the process (members, approvals, waivers, advancing a stage). Each action
checks roles and separation of duties, writes its rows and appends its audit event in the same
transaction, so the trail and the state never disagree. A refused action is itself audited, in a
transaction of its own, and then raised as a :class:`~mlgate.errors.PolicyViolation`.

Data, models, evidence, deployments and reports live in sibling modules that act through a
:class:`Governance` instance.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError as StoreIntegrityError
from sqlalchemy.orm import Session

from mlgate.artifacts import ArtifactStore
from mlgate.checks import get_check
from mlgate.config import Workspace, WorkspaceConfig, current_user
from mlgate.errors import ConflictError, NotFoundError, PolicyViolation, ValidationError
from mlgate.lifecycle.gates import (
    RequirementState,
    Snapshot,
    approval_subject,
    evaluate_stage,
    waiver_subject,
)
from mlgate.policy import Policy, Tier, load_policy
from mlgate.registry.audit import ChainReport, append_event, verify_chain
from mlgate.registry.db import Store
from mlgate.registry.models import (
    Approval,
    DatasetVersion,
    Deployment,
    Evidence,
    Member,
    ModelVersion,
    Project,
    ReviewFinding,
    Waiver,
)
from mlgate.review.source import SourceTree, discover

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int | None], None]
MAX_WAIVER_DAYS = 366
MIN_JUSTIFICATION = 20
# Roles that read a project and change nothing in it.
READ_ONLY_ROLES = frozenset({"auditor"})


def _waived_authors(snap: Snapshot, requirement_id: str) -> set[str]:
    """Return who produced what a waiver of ``requirement_id`` would set aside."""
    authors = {e.actor for e in snap.evidence if e.requirement_id == requirement_id}
    _, req = snap.policy.requirement(requirement_id)
    if req.kind == "check" and req.check and get_check(req.check).needs_model and snap.model:
        authors.add(snap.model.created_by)
    return authors


def _suggested(roles: set[str]) -> str:
    """Return the role to suggest granting: the specific one rather than ``admin``."""
    specific = sorted(roles - {"admin"})
    return specific[0] if specific else "admin"


class Refusal(PolicyViolation):
    """An action the policy refused; the trail records it even though nothing else changes."""

    def __init__(
        self,
        action: str,
        subject: str,
        reason: str,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(reason, hint=hint)
        self.action = action
        self.subject = subject
        self.details = dict(details or {})
        self.audited = False


@dataclass(frozen=True)
class StageStatus:
    """One stage as ``mlgate status`` shows it."""

    id: str
    title: str
    status: str
    requirements: list[RequirementState]

    @property
    def satisfied(self) -> bool:
        """Return whether every requirement is met or waived."""
        return all(r.met for r in self.requirements)


class Governance:
    """A project's governance actions, performed by one actor."""

    def __init__(
        self,
        workspace: Workspace,
        actor: str | None = None,
        store: Store | None = None,
        config: WorkspaceConfig | None = None,
    ) -> None:
        self.workspace = workspace
        self.config: WorkspaceConfig = config or workspace.load_config()
        self.actor = actor or current_user()
        if store is None and workspace.local_store_missing():
            raise NotFoundError(
                f"the workspace's store {workspace.state_dir / 'mlgate.db'} is missing; the "
                "project's evidence and trail live there, not in mlgate.yaml",
                hint="restore the .mlgate folder from a backup, or point MLGATE_DATABASE_URL "
                "at the team store that holds the project",
            )
        self.store = store or Store(workspace.database_url)
        self.artifacts = ArtifactStore(workspace.artifact_url)
        self._policy: Policy | None = None
        self._policy_sha: str | None = None
        self._tier: Tier | None = None
        self._stored_sensitive: list[str] | None = None
        # False where the project's own code is not at hand (the team server): checks of the
        # source are then run in the workspace, and their latest run stands for the code.
        self.source_available = True

    @classmethod
    def open(cls, path: Path | None = None, actor: str | None = None) -> Governance:
        """Open the workspace that contains ``path`` (default: the current folder)."""
        return cls(Workspace.find(path), actor)

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def transaction(self, lock: bool = False) -> Iterator[Session]:
        """Yield a session whose writes and audit events commit together.

        With ``lock``, the project's row is locked first (see :meth:`project`): every action
        that reads the project's governance state and then changes it takes the lock, so two
        such actions at once run one after the other and each sees what the other wrote.

        A :class:`Refusal` raised inside rolls the work back and is then recorded in the trail
        in a transaction of its own, so refused attempts are audited even though they change
        nothing else.
        """
        try:
            with self.store.transaction() as session:
                if lock:
                    self.project(session, lock=True)
                yield session
        except Refusal as refusal:
            if not refusal.audited:
                self._record_refusal(refusal)
            raise

    def project(self, session: Session, lock: bool = False) -> Project:
        """Return this workspace's project row; with ``lock``, locked until the transaction ends.

        On PostgreSQL (READ COMMITTED) the lock is ``FOR NO KEY UPDATE``: it queues other
        transactions that lock the project, while rows that merely refer to the project can
        still be inserted. The row is re-read, so a copy loaded earlier in the session is
        refreshed. SQLite ignores the clause: its transactions begin with ``BEGIN IMMEDIATE``,
        which already serialises writers.
        """
        stmt = select(Project).where(Project.name == self.config.project)
        if lock:
            stmt = stmt.with_for_update(key_share=True).execution_options(populate_existing=True)
        project = session.execute(stmt).scalar_one_or_none()
        if project is None:
            raise NotFoundError(
                f"project '{self.config.project}' is not in the store at "
                f"{self.store.engine.url.render_as_string(hide_password=True)}",
                hint="run `mlgate init` in this folder, or point MLGATE_DATABASE_URL at its store",
            )
        self._policy_sha = project.policy_sha256
        self._tier = project.tier  # type: ignore[assignment]
        self._stored_sensitive = list(project.config.get("data", {}).get("sensitive", []))
        return project

    @property
    def sensitive(self) -> list[str]:
        """Return the sensitive attributes: those declared at creation and any added since.

        Removing a name from mlgate.yaml does not make its column ordinary again: what was
        declared sensitive when the project started stays sensitive.
        """
        if self._stored_sensitive is None:
            with self.transaction() as session:
                self.project(session)
        stored = self._stored_sensitive or []
        return list(dict.fromkeys([*stored, *self.config.data.sensitive]))

    @property
    def tier(self) -> Tier:
        """Return the risk tier the project is governed at, as recorded in the store.

        Editing ``tier`` in mlgate.yaml does not change it: a tier is a governance decision.
        """
        if self._tier is None:
            with self.transaction() as session:
                self.project(session)
        assert self._tier is not None
        return self._tier

    @property
    def policy(self) -> Policy:
        """Return the policy the project was started under, as recorded by its hash.

        The text comes from the artifact store, which checks it against the recorded hash, so a
        policy edited after the project started cannot change its gates.
        """
        if self._policy is None:
            if self._policy_sha is None:
                with self.transaction() as session:
                    self.project(session)
            assert self._policy_sha is not None
            text = self.artifacts.get_bytes(self._policy_sha).decode("utf-8")
            self._policy = load_policy(text, source_name=f"policy {self._policy_sha[:12]}")
        return self._policy

    def audit(
        self, session: Session, action: str, subject: str, payload: dict[str, Any] | None = None
    ) -> None:
        """Append an audit event for this actor inside ``session``'s transaction."""
        append_event(
            session,
            actor=self.actor,
            action=action,
            subject=subject,
            payload=payload,
            project=self.config.project,
        )

    def refuse(
        self,
        action: str,
        subject: str,
        reason: str,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> NoReturn:
        """Refuse an action: it is recorded in the trail, then raised as a policy violation.

        ``details`` go into the refusal's audit payload beside the reason (what else the
        attempt concerned, such as a repository's URL).
        """
        refusal = Refusal(action, subject, reason, hint, details)
        if not self.store.in_transaction:
            self._record_refusal(refusal)
        raise refusal

    def _record_refusal(self, refusal: Refusal) -> None:
        with self.store.transaction() as session:
            payload = {**refusal.details, "reason": refusal.message}
            self.audit(session, f"{refusal.action}.refused", refusal.subject, payload)
        refusal.audited = True
        logger.info("refused %s on %s for %s", refusal.action, refusal.subject, self.actor)

    def roles_of(self, session: Session, user: str) -> set[str]:
        """Return the roles ``user`` holds in the project."""
        project = self.project(session)
        rows = session.execute(
            select(Member.role).where(Member.project_id == project.id, Member.user == user)
        )
        return set(rows.scalars())

    def require_role(
        self,
        session: Session,
        roles: set[str],
        action: str,
        subject: str,
        doing: str,
        details: dict[str, Any] | None = None,
    ) -> str:
        """Return the first of ``roles`` the actor holds, or refuse ``doing`` (plain words)."""
        held = self.roles_of(session, self.actor)
        for role in sorted(roles):
            if role in held:
                return role
        self.refuse(
            action,
            subject,
            f"{self.actor} may not {doing}: it needs the role {' or '.join(sorted(roles))}, and "
            f"{self.actor} holds {', '.join(sorted(held)) or 'no role'} in project "
            f"{self.config.project}",
            hint=f"an admin runs: mlgate member add {self.actor} --role {_suggested(roles)}",
            details=details,
        )

    def project_rows(self, session: Session, model: type[Any]) -> list[Any]:
        """Return this project's rows of table ``model`` (datasets, models...), oldest first."""
        project = self.project(session)
        stmt = select(model).where(model.project_id == project.id).order_by(model.id)
        return list(session.execute(stmt).scalars())

    def snapshot(self, session: Session, now: datetime | None = None) -> Snapshot:
        """Load every fact the gates depend on."""
        project = self.project(session)

        def rows(model: type[Any]) -> list[Any]:
            return self.project_rows(session, model)

        datasets: dict[str, DatasetVersion] = {}
        for dataset in rows(DatasetVersion):
            datasets[dataset.name] = dataset
        models = rows(ModelVersion)
        kinds = self._requirement_kinds(project.tier)
        return Snapshot(
            project=project,
            policy=self.policy,
            model=models[-1] if models else None,
            datasets=datasets,
            evidence=rows(Evidence),
            approvals=rows(Approval),
            waivers=rows(Waiver),
            deployments=rows(Deployment),
            now=now or datetime.now(UTC),
            findings=rows(ReviewFinding) if "findings" in kinds else (),
            source_sha256=self._source_fingerprint(rows(Evidence)) if "source" in kinds else None,
            audit=verify_chain(session) if "process" in kinds else None,
        )

    def _requirement_kinds(self, tier: str) -> set[str]:
        """Return the requirement kinds the tier's policy uses, ``source`` for file checks.

        The snapshot loads findings, fingerprints the project's files and verifies the audit
        chain only for a policy that asks for them.
        """
        kinds = set()
        for stage in self.policy.stages:
            for req in stage.requirements:
                if not req.applies_to(tier):  # type: ignore[arg-type]
                    continue
                kinds.add(req.kind)
                if req.kind == "check" and req.check and get_check(req.check).needs_source:
                    kinds.add("source")
        return kinds

    def source_tree(self) -> SourceTree:
        """Return the project's code, tests and docs as the review settings list them."""
        return discover(self.workspace.root, self.config.review)

    def _source_fingerprint(self, evidence: list[Evidence]) -> str | None:
        """Return the fingerprint the source checks' evidence is compared with.

        Without the files at hand it is the newest fingerprint any source check recorded, so
        the source checks count while they all describe the same state of the code.
        """
        if self.source_available:
            return self.source_sha256()
        recorded = [e.payload["source_sha256"] for e in evidence if "source_sha256" in e.payload]
        return recorded[-1] if recorded else None

    def source_sha256(self) -> str | None:
        """Return the fingerprint of the project's files, or ``None`` when they cannot be read."""
        try:
            return self.source_tree().sha256()
        except (OSError, ValidationError) as error:
            logger.warning("the project's files could not be fingerprinted: %s", error)
            return None

    def snapshot_now(self) -> Snapshot:
        """Return a snapshot read in a transaction of its own."""
        with self.transaction() as session:
            return self.snapshot(session)

    # -- members ----------------------------------------------------------------------------

    def add_member(self, user: str, role: str) -> None:
        """Give ``user`` a role in the project; only an admin may."""
        if role not in self.policy.roles:
            raise ValidationError(
                f"unknown role '{role}'; the policy knows {', '.join(self.policy.roles)}"
            )
        with self.transaction(lock=True) as session:
            self.require_role(
                session, {"admin"}, "member.add", f"member:{user}", "give people roles"
            )
            project = self.project(session)
            if role in self.roles_of(session, user):
                raise ConflictError(f"{user} already holds the role {role}")
            session.add(
                Member(
                    project_id=project.id,
                    user=user,
                    role=role,
                    added_by=self.actor,
                    added_at=datetime.now(UTC),
                )
            )
            try:
                session.flush()
            except StoreIntegrityError as exc:  # a writer that did not take the project lock
                raise ConflictError(f"{user} already holds the role {role}") from exc
            self.audit(session, "member.added", f"member:{user}", {"role": role})
        logger.info("%s now holds %s in %s", user, role, self.config.project)

    def members(self) -> list[tuple[str, str]]:
        """Return ``(user, role)`` pairs of the project."""
        with self.transaction() as session:
            project = self.project(session)
            stmt = select(Member).where(Member.project_id == project.id).order_by(Member.id)
            return [(m.user, m.role) for m in session.execute(stmt).scalars()]

    # -- gates ------------------------------------------------------------------------------

    def status(self, now: datetime | None = None) -> tuple[Project, list[StageStatus]]:
        """Return the project and every stage with the state of its requirements."""
        with self.transaction() as session:
            snap = self.snapshot(session, now)
            return snap.project, self._stages(snap)

    def _stages(self, snap: Snapshot) -> list[StageStatus]:
        current = self.policy.stage_ids.index(snap.project.stage)
        result = []
        for position, stage in enumerate(self.policy.stages):
            status = (
                "passed" if position < current else "current" if position == current else "pending"
            )
            result.append(
                StageStatus(stage.id, stage.title, status, evaluate_stage(snap, stage.id))
            )
        return result

    def advance(self, now: datetime | None = None) -> str:
        """Move the project to the next stage if the current one is satisfied.

        Otherwise the refusal is audited and raised, naming every gap and what to do about it.
        """
        acting = set(self.policy.roles) - READ_ONLY_ROLES
        with self.transaction(lock=True) as session:
            self.require_role(session, acting, "stage.advance", "stage", "advance the project")
            snap = self.snapshot(session, now)
            stage = snap.project.stage
            target = self.policy.next_stage(stage)
            if target is None:
                raise ConflictError(
                    f"the project is in the last stage, {stage}; there is no stage after it"
                )
            gaps = [r for r in evaluate_stage(snap, stage) if not r.met]
            if not gaps:
                snap.project.stage = target
                self.audit(session, "stage.advanced", f"stage:{target}", {"from": stage})
                logger.info("project %s advanced from %s to %s", snap.project.name, stage, target)
                return target

        lines = [
            f"  - {g.id} ({g.state}): {g.detail}" + (f"\n    next: {g.hint}" if g.hint else "")
            for g in gaps
        ]
        self.refuse(
            "stage.advance",
            f"stage:{stage}",
            f"cannot leave stage '{stage}': {len(gaps)} requirement(s) not met:\n"
            + "\n".join(lines),
        )

    # -- approvals and waivers --------------------------------------------------------------

    def decide(self, requirement_id: str, decision: str, comment: str) -> Approval:
        """Record the actor's approval or rejection for an approval requirement."""
        stage, req = self._requirement(requirement_id, kind="approval")
        if decision not in ("approve", "reject"):
            raise ValidationError(f"decision must be 'approve' or 'reject'; got '{decision}'")
        if not comment.strip():
            noun = "an approval" if decision == "approve" else "a rejection"
            raise ValidationError(f"{noun} needs a comment saying why (--comment)")

        with self.transaction(lock=True) as session:
            assert req.role is not None
            role = self.require_role(
                session,
                {req.role},
                f"approval.{decision}",
                requirement_id,
                f"{decision} {requirement_id}",
            )
            snap = self.snapshot(session)
            self._check_reached(snap.project.stage, stage, requirement_id)
            subject = approval_subject(snap, stage, req)
            if subject is None:
                raise ConflictError(
                    f"nothing to {decision} yet for '{requirement_id}': it approves "
                    f"{req.subject}, which has no evidence or model yet"
                )
            if self.actor in subject.authors:
                self.refuse(
                    f"approval.{decision}",
                    requirement_id,
                    f"{self.actor} authored {subject.description} and may not {decision} it: "
                    f"separation of duties needs another {req.role}",
                    hint=f"ask another {req.role} to run: mlgate approve {requirement_id}",
                )
            approval = Approval(
                project_id=snap.project.id,
                stage=stage,
                requirement_id=requirement_id,
                subject=subject.key,
                decision=decision,
                role=role,
                comment=comment,
                actor=self.actor,
                created_at=datetime.now(UTC),
            )
            session.add(approval)
            self.audit(
                session,
                f"approval.{decision}",
                requirement_id,
                {"subject": subject.key, "role": role, "comment": comment},
            )
        logger.info("%s %sd %s (%s)", self.actor, decision, requirement_id, subject.key)
        return approval

    def waive(self, requirement_id: str, justification: str, expires: date) -> Waiver:
        """Set a requirement aside until ``expires``; only the policy's waiver roles may."""
        stage, req = self._requirement(requirement_id)
        if req.kind == "approval":
            self.refuse(
                "waiver.grant",
                requirement_id,
                f"'{requirement_id}' is an approval; approvals cannot be waived, because a "
                "waiver would bypass separation of duties",
            )
        if len(justification.strip()) < MIN_JUSTIFICATION:
            raise ValidationError(
                f"a waiver needs a justification of at least {MIN_JUSTIFICATION} characters; "
                f"got {len(justification.strip())}"
            )
        today = datetime.now(UTC).date()
        if not today < expires <= today + timedelta(days=MAX_WAIVER_DAYS):
            raise ValidationError(
                f"a waiver must expire after today ({today}) and within {MAX_WAIVER_DAYS} days; "
                f"got {expires}"
            )

        with self.transaction(lock=True) as session:
            roles = set(self.policy.waiver_roles)
            role = self.require_role(
                session, roles, "waiver.grant", requirement_id, "grant waivers"
            )
            snap = self.snapshot(session)
            authors = _waived_authors(snap, requirement_id)
            if self.actor in authors:
                self.refuse(
                    "waiver.grant",
                    requirement_id,
                    f"{self.actor} produced what '{requirement_id}' judges (its evidence or the "
                    "model) and may not waive it: separation of duties needs another "
                    f"{' or '.join(sorted(roles))}",
                )
            project = snap.project
            waiver = Waiver(
                project_id=project.id,
                stage=stage,
                requirement_id=requirement_id,
                subject=waiver_subject(snap, requirement_id),
                justification=justification.strip(),
                role=role,
                actor=self.actor,
                expires_at=datetime.combine(expires, time.max, tzinfo=UTC),
                created_at=datetime.now(UTC),
            )
            session.add(waiver)
            self.audit(
                session,
                "waiver.granted",
                requirement_id,
                {"expires": expires.isoformat(), "justification": waiver.justification},
            )
        logger.info("%s waived %s until %s", self.actor, requirement_id, expires)
        return waiver

    def _check_reached(self, current: str, stage: str, requirement_id: str) -> None:
        ids = self.policy.stage_ids
        if ids.index(stage) > ids.index(current):
            raise ConflictError(
                f"'{requirement_id}' belongs to stage '{stage}', after the current stage "
                f"'{current}'; it can be decided once the project reaches '{stage}'"
            )

    def _requirement(self, requirement_id: str, kind: str | None = None) -> tuple[str, Any]:
        try:
            stage, req = self.policy.requirement(requirement_id)
        except KeyError:
            known = [
                r.id
                for s in self.policy.stages
                for r in s.requirements
                if kind is None or r.kind == kind
            ]
            raise NotFoundError(
                f"unknown requirement '{requirement_id}'; expected one of {', '.join(known)}"
            ) from None
        if not req.applies_to(self.tier):
            raise ValidationError(
                f"requirement '{requirement_id}' does not apply to a {self.tier}-risk project "
                f"(it applies to {', '.join(req.tiers)})"
            )
        if kind is not None and req.kind != kind:
            raise ValidationError(f"requirement '{requirement_id}' is a {req.kind}, not an {kind}")
        return stage.id, req

    # -- audit ------------------------------------------------------------------------------

    def verify_audit(self, known_head: tuple[int, str] | None = None) -> ChainReport:
        """Recompute the audit chain and report the first broken event, if any.

        ``known_head`` is an event number and hash noted from an earlier verification, which
        must still be in the chain (see :func:`~mlgate.registry.audit.verify_chain`).
        """
        with self.transaction() as session:
            report = verify_chain(session, known_head)
        logger.info("audit verification: %s", report.message)
        return report

    def next_model_version(self, session: Session) -> int:
        """Return the version number the next registered model gets."""
        project = self.project(session)
        stmt = select(func.max(ModelVersion.version)).where(ModelVersion.project_id == project.id)
        return int(session.execute(stmt).scalar() or 0) + 1
