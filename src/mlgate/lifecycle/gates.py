"""Deciding, for each requirement of a stage, whether it is met, and what is still needed.

The evaluation reads a :class:`Snapshot` of the project's stored facts and changes nothing, so
``mlgate status``, ``mlgate advance`` and the report all see the same answer. Every unmet
requirement comes with a ``hint``: the command to run or the document to fill next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mlgate.checks import get_check
from mlgate.policy.model import Policy, Requirement, Tier
from mlgate.registry.models import (
    Approval,
    DatasetVersion,
    Deployment,
    Evidence,
    ModelVersion,
    Project,
    Waiver,
)

MET_STATES = ("satisfied", "waived")


@dataclass(frozen=True)
class RequirementState:
    """Where one requirement stands and why."""

    id: str
    title: str
    kind: str
    stage: str
    state: str
    detail: str
    hint: str = ""
    evidence_id: int | None = None
    actor: str | None = None
    at: datetime | None = None

    @property
    def met(self) -> bool:
        """Return whether the requirement lets the gate open."""
        return self.state in MET_STATES


@dataclass
class Snapshot:
    """The stored facts of one project that gate decisions depend on."""

    project: Project
    policy: Policy
    model: ModelVersion | None
    datasets: dict[str, DatasetVersion]
    evidence: Sequence[Evidence]
    approvals: Sequence[Approval]
    waivers: Sequence[Waiver]
    deployments: Sequence[Deployment]
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Validators' findings (ReviewFinding rows), for ``findings`` requirements.
    findings: Sequence[Any] = ()
    # The fingerprint of the project's code, tests and docs (SourceTree.sha256), or None when
    # they could not be read; checks of the source are stale when it changes.
    source_sha256: str | None = None
    # The audit chain's verification (a ChainReport), for ``process`` requirements.
    audit: Any | None = None

    @property
    def tier(self) -> Tier:
        """Return the project's risk tier."""
        return self.project.tier  # type: ignore[return-value]

    def latest_evidence(self, requirement_id: str) -> Evidence | None:
        """Return the newest evidence stored for ``requirement_id``."""
        found = [e for e in self.evidence if e.requirement_id == requirement_id]
        return max(found, key=lambda e: e.id) if found else None

    def live_waiver(self, requirement_id: str) -> Waiver | None:
        """Return the newest unexpired waiver of ``requirement_id`` for what exists now.

        A waiver granted on one model or dataset version does not carry over to the next: a
        retrained model must earn its evidence, or a waiver, again.
        """
        subject = waiver_subject(self, requirement_id)
        live = [
            w
            for w in self.waivers
            if w.requirement_id == requirement_id
            and aware(w.expires_at) > self.now
            and w.subject == subject
        ]
        return max(live, key=lambda w: w.id) if live else None

    def expired_waiver(self, requirement_id: str) -> Waiver | None:
        """Return the newest waiver of ``requirement_id`` that has expired, if any."""
        old = [
            w
            for w in self.waivers
            if w.requirement_id == requirement_id and aware(w.expires_at) <= self.now
        ]
        return max(old, key=lambda w: w.id) if old else None


def waiver_subject(snapshot: Snapshot, requirement_id: str) -> str:
    """Return what a waiver of ``requirement_id`` is bound to right now.

    A check that needs a model binds to the current model version, a check of the project's
    files to nothing (they change with every edit), any other check to the current version of
    its dataset; documents, records and approvals bind to nothing.
    """
    _, req = snapshot.policy.requirement(requirement_id)
    if req.kind != "check" or req.check is None or get_check(req.check).needs_source:
        return ""
    if get_check(req.check).needs_model:
        return f"model:v{snapshot.model.version}" if snapshot.model else "model:none"
    dataset = snapshot.datasets.get(req.dataset)
    return f"dataset:{req.dataset}#{dataset.id}" if dataset else f"dataset:{req.dataset}#none"


def aware(moment: datetime) -> datetime:
    """Return ``moment`` with UTC attached when the database dropped the zone (SQLite)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def evaluate_stage(snapshot: Snapshot, stage_id: str) -> list[RequirementState]:
    """Return the state of every requirement of ``stage_id`` for the project's tier."""
    return [
        _with_waiver(snapshot, stage_id, req, _evaluate(snapshot, stage_id, req))
        for req in snapshot.policy.requirements_for(stage_id, snapshot.tier)
    ]


def _with_waiver(
    snapshot: Snapshot, stage_id: str, req: Requirement, state: RequirementState
) -> RequirementState:
    if state.met:
        return state

    waiver = snapshot.live_waiver(req.id)
    if waiver is not None:
        until = aware(waiver.expires_at).date().isoformat()
        return _state(
            req,
            stage_id,
            "waived",
            f"waived by {waiver.actor} ({waiver.role}) until {until}: {waiver.justification}",
            actor=waiver.actor,
            at=waiver.created_at,
        )

    other = [
        w
        for w in snapshot.waivers
        if w.requirement_id == req.id and aware(w.expires_at) > snapshot.now
    ]
    if other:
        detail = f"{state.detail}; the waiver by {other[-1].actor} was for {other[-1].subject}"
        return _state(req, stage_id, state.state, detail, state.hint, state.evidence_id)
    expired = snapshot.expired_waiver(req.id)
    if expired is not None:
        until = aware(expired.expires_at).date().isoformat()
        detail = f"{state.detail}; the waiver by {expired.actor} expired on {until}"
        return _state(req, stage_id, state.state, detail, state.hint, state.evidence_id)
    return state


def _state(
    req: Requirement,
    stage_id: str,
    state: str,
    detail: str,
    hint: str = "",
    evidence_id: int | None = None,
    actor: str | None = None,
    at: datetime | None = None,
) -> RequirementState:
    return RequirementState(
        req.id, req.title, req.kind, stage_id, state, detail, hint, evidence_id, actor, at
    )


def _evaluate(snapshot: Snapshot, stage_id: str, req: Requirement) -> RequirementState:
    if req.kind == "process":
        return _process(snapshot, stage_id, req)
    if req.kind == "findings":
        return _findings(snapshot, stage_id, req)
    if req.kind == "document":
        return _document(snapshot, stage_id, req)
    if req.kind == "record":
        return _record(snapshot, stage_id, req)
    if req.kind == "check":
        return _check(snapshot, stage_id, req)
    return _approval(snapshot, stage_id, req)


def _evidence_state(
    req: Requirement, stage_id: str, evidence: Evidence, hint: str
) -> RequirementState:
    state = {"pass": "satisfied", "warn": "satisfied", "fail": "failed"}[evidence.status]
    detail = evidence.summary if state == "satisfied" else f"failed: {evidence.summary}"
    return _state(
        req,
        stage_id,
        state,
        detail,
        hint if state != "satisfied" else "",
        evidence.id,
        evidence.actor,
        evidence.created_at,
    )


def document_hint(document: str) -> str:
    """Return the commands that produce a document of type ``document``."""
    return (
        f"fill in docs/{document}.yaml (mlgate doc new {document} writes it if it is missing), "
        f"then mlgate doc submit docs/{document}.yaml"
    )


def _document(snapshot: Snapshot, stage_id: str, req: Requirement) -> RequirementState:
    assert req.document is not None
    hint = document_hint(req.document)
    if req.document == "user_acceptance" and snapshot.model is not None:
        return _signed(snapshot, stage_id, req, hint, snapshot.model.version)
    if req.role is not None or req.count_for(snapshot.tier) > 1:
        return _signed(snapshot, stage_id, req, hint, None)

    evidence = snapshot.latest_evidence(req.id)
    if evidence is None:
        return _state(req, stage_id, "missing", f"no {req.document} document submitted", hint)
    return _evidence_state(req, stage_id, evidence, hint)


def _signed(
    snapshot: Snapshot, stage_id: str, req: Requirement, hint: str, version: int | None
) -> RequirementState:
    """A document that ``count`` distinct people each sign; any one's rejection blocks.

    With ``version``, only documents about that model version count (user acceptance of the
    current model); each signer's newest document is their decision.
    """
    mine = [e for e in snapshot.evidence if e.requirement_id == req.id]
    if version is not None:
        mine = [e for e in mine if e.payload.get("document", {}).get("model_version") == version]
    if not mine:
        return _state(req, stage_id, "missing", _nothing_signed(snapshot, req, version), hint)

    latest: dict[str, Evidence] = {}
    for evidence in sorted(mine, key=lambda e: e.id):
        latest[evidence.actor] = evidence
    rejected = [e for e in latest.values() if e.status == "fail"]
    if rejected:
        first = rejected[0]
        return _state(
            req,
            stage_id,
            "rejected",
            f"rejected by {first.actor}: {first.summary}",
            hint,
            first.id,
            first.actor,
            first.created_at,
        )

    needed = req.count_for(snapshot.tier)
    signers = sorted(latest)
    about = f" for model version {version}" if version is not None else ""
    who = f"{req.role} " if req.role else ""
    if len(signers) < needed:
        detail = (
            f"{len(signers)} of {needed} {who}signature(s){about} (so far: {', '.join(signers)})"
        )
        return _state(req, stage_id, "missing", detail, hint)

    newest = max(latest.values(), key=lambda e: e.id)
    detail = f"signed by {', '.join(signers)}{about}: {newest.summary}"
    return _state(
        req, stage_id, "satisfied", detail, "", newest.id, newest.actor, newest.created_at
    )


def _nothing_signed(snapshot: Snapshot, req: Requirement, version: int | None) -> str:
    on_file = snapshot.latest_evidence(req.id)
    if version is None or on_file is None:
        return f"no {req.document} document submitted"
    bound = on_file.payload.get("document", {}).get("model_version")
    return f"the {req.document} on file is for model version {bound}; the current is {version}"


def _record(snapshot: Snapshot, stage_id: str, req: Requirement) -> RequirementState:
    if req.record == "deployment":
        return _deployment(snapshot, stage_id, req)

    assert req.record is not None
    hint = document_hint(req.record)
    evidence = snapshot.latest_evidence(req.id)
    if evidence is None:
        return _state(req, stage_id, "missing", f"no {req.record} record submitted", hint)
    if evidence.valid_until is not None and aware(evidence.valid_until) <= snapshot.now:
        until = aware(evidence.valid_until).date().isoformat()
        detail = f"the {req.record} on file ran out on {until}"
        return _state(req, stage_id, "expired", detail, hint, evidence.id)
    return _evidence_state(req, stage_id, evidence, hint)


def _deployment(snapshot: Snapshot, stage_id: str, req: Requirement) -> RequirementState:
    hint = "mlgate deploy --mode batch (or rest, stream)"
    if snapshot.model is None:
        return _state(req, stage_id, "missing", "no model version is registered", hint)

    live = [
        d
        for d in snapshot.deployments
        if d.ended_at is None and d.model_version_id == snapshot.model.id
    ]
    if not live:
        detail = f"model version {snapshot.model.version} is not deployed"
        return _state(req, stage_id, "missing", detail, hint)

    deployment = max(live, key=lambda d: d.id)
    detail = (
        f"version {snapshot.model.version} deployed ({deployment.mode}) at {deployment.endpoint}"
    )
    return _state(
        req, stage_id, "satisfied", detail, actor=deployment.actor, at=deployment.created_at
    )


def _check(snapshot: Snapshot, stage_id: str, req: Requirement) -> RequirementState:
    assert req.check is not None
    hint = f"mlgate check {req.id}"
    spec = get_check(req.check)
    if spec.needs_source:
        return _source_check(snapshot, stage_id, req, hint)
    dataset = snapshot.datasets.get(req.dataset)
    if dataset is None:
        detail = f"the check runs on the dataset '{req.dataset}', which is not registered"
        return _state(
            req, stage_id, "missing", detail, f"mlgate data add FILE --name {req.dataset}"
        )
    if spec.name == "contract" and dataset.contract is None:
        detail = f"dataset '{req.dataset}' was registered without a data contract"
        hint = (
            "mlgate data infer FILE --output contract.yaml, review it, then "
            f"mlgate data add FILE --name {req.dataset} --contract contract.yaml"
        )
        return _state(req, stage_id, "missing", detail, hint)
    holdout = snapshot.datasets.get("holdout")
    if spec.needs_holdout and holdout is None:
        detail = "the check compares with the hold-out set, which is not registered yet"
        return _state(req, stage_id, "missing", detail, "mlgate data add FILE --name holdout")
    if spec.needs_reference and "train" not in snapshot.datasets:
        detail = "the check compares with the training dataset, which is not registered"
        return _state(req, stage_id, "missing", detail, "mlgate data add FILE --name train")
    if spec.needs_model and snapshot.model is None:
        detail = "the check needs a model version, and none is registered"
        return _state(req, stage_id, "missing", detail, "mlgate train (or mlgate model add FILE)")

    evidence = snapshot.latest_evidence(req.id)
    if evidence is None:
        return _state(req, stage_id, "missing", "the check has not been run", hint)
    if evidence.dataset_version_id != dataset.id:
        detail = (
            f"the last run used an older version of dataset '{req.dataset}'; "
            "run it again on the current one"
        )
        return _state(req, stage_id, "missing", detail, hint, evidence.id)
    if spec.needs_holdout and holdout and evidence.payload.get("holdout_version_id") != holdout.id:
        detail = "the last run used an older version of the hold-out set; run it again"
        return _state(req, stage_id, "missing", detail, hint, evidence.id)
    if evidence.status == "fail":
        hint = (
            f"fix the data or model, retrain if needed, then run `mlgate check {req.id}` again; "
            f"or a risk officer accepts the risk with `mlgate waive {req.id}`"
        )
    if spec.needs_model and snapshot.model and evidence.model_version_id != snapshot.model.id:
        detail = (
            "the last run was on an older model version; evidence for version "
            f"{snapshot.model.version} is needed"
        )
        return _state(req, stage_id, "missing", detail, f"mlgate check {req.id}", evidence.id)
    return _evidence_state(req, stage_id, evidence, hint)


def _source_check(
    snapshot: Snapshot, stage_id: str, req: Requirement, hint: str
) -> RequirementState:
    """A check of the project's own files, current while those files are unchanged."""
    evidence = snapshot.latest_evidence(req.id)
    if evidence is None:
        return _state(req, stage_id, "missing", "the check has not been run", hint)
    if snapshot.source_sha256 is None:
        detail = "the project's code, tests and docs could not be read to compare with the run"
        return _state(req, stage_id, "missing", detail, hint, evidence.id)
    if evidence.payload.get("source_sha256") != snapshot.source_sha256:
        detail = "the code, tests or docs changed since the last run; run it again"
        return _state(req, stage_id, "missing", detail, hint, evidence.id)
    if evidence.status == "fail":
        hint = (
            f"fix what the findings name, then run `mlgate check {req.id}` again; or a risk "
            f"officer accepts the risk with `mlgate waive {req.id}`"
        )
    return _evidence_state(req, stage_id, evidence, hint)


@dataclass(frozen=True)
class Subject:
    """What an approval is about, and who authored it (and so may not approve it)."""

    key: str
    description: str
    authors: frozenset[str]


def approval_subject(snapshot: Snapshot, stage_id: str, req: Requirement) -> Subject | None:
    """Return the subject ``req`` approves right now, or ``None`` when nothing exists yet."""
    if req.subject == "model":
        model = snapshot.model
        if model is None:
            return None
        return Subject(
            f"model:v{model.version}",
            f"model version {model.version}",
            frozenset({model.created_by}),
        )

    if req.subject == "stage":
        stage_reqs = {r.id for r in snapshot.policy.requirements_for(stage_id, snapshot.tier)}
        items = [e for e in snapshot.evidence if e.requirement_id in stage_reqs]
        if not items:
            return None
        latest = max(e.id for e in items)
        authors = frozenset(e.actor for e in items)
        return Subject(f"stage:{stage_id}@{latest}", f"the {stage_id} stage's evidence", authors)

    evidence = snapshot.latest_evidence(req.subject)
    if evidence is None:
        return None
    return Subject(
        f"evidence:{evidence.id}",
        f"{evidence.name} (evidence {evidence.id})",
        frozenset({evidence.actor}),
    )


def _approval(snapshot: Snapshot, stage_id: str, req: Requirement) -> RequirementState:
    needed = req.count_for(snapshot.tier)
    hint = f"a {req.role} runs: mlgate approve {req.id} --comment '...'"
    subject = approval_subject(snapshot, stage_id, req)
    if subject is None:
        what = {"model": "a model version", "stage": "evidence in this stage"}.get(
            req.subject, f"evidence for {req.subject}"
        )
        return _state(req, stage_id, "missing", f"nothing to approve yet: {what} is needed first")

    latest: dict[str, Approval] = {}
    for approval in sorted(snapshot.approvals, key=lambda a: a.id):
        if approval.requirement_id == req.id and approval.subject == subject.key:
            latest[approval.actor] = approval

    rejections = [a for a in latest.values() if a.decision == "reject"]
    if rejections:
        first = rejections[0]
        detail = f"rejected by {first.actor} ({first.role}): {first.comment}"
        return _state(
            req, stage_id, "rejected", detail, hint, actor=first.actor, at=first.created_at
        )

    approvers = sorted(a.actor for a in latest.values() if a.decision == "approve")
    if len(approvers) < needed:
        have = f" (so far: {', '.join(approvers)})" if approvers else ""
        detail = (
            f"{len(approvers)} of {needed} {req.role} approval(s) of {subject.description}{have}"
        )
        return _state(req, stage_id, "missing", detail, hint)

    last = max((a for a in latest.values()), key=lambda a: a.id)
    detail = f"approved by {', '.join(approvers)} ({req.role}) for {subject.description}"
    return _state(req, stage_id, "satisfied", detail, actor=last.actor, at=last.created_at)


EXPIRING_RECORDS = ("compute_allocation", "data_access_grant")


def _process(snapshot: Snapshot, stage_id: str, req: Requirement) -> RequirementState:
    """Every earlier stage still holds, and the trail is intact.

    Earlier stages are evaluated again now, not taken from the day they were passed: a waiver
    that has since expired, or evidence gone stale, is a gap. A compute allocation past its
    reclaim date or an expired data grant is expected once the work is done, so it is flagged
    for the reviewer (were the resources given back, is the data still in use?) and does not
    block.
    """
    position = snapshot.policy.stage_ids.index(stage_id)
    gaps: list[str] = []
    flags: list[str] = []
    checked = 0
    for earlier in snapshot.policy.stage_ids[:position]:
        for state in evaluate_stage(snapshot, earlier):
            checked += 1
            _, earlier_req = snapshot.policy.requirement(state.id)
            if state.state == "expired" and earlier_req.record in EXPIRING_RECORDS:
                flags.append(f"{state.id}: {state.detail}")
            elif not state.met:
                gaps.append(f"{earlier}/{state.id} is {state.state}: {state.detail}")

    audit = snapshot.audit
    if audit is not None and not audit.ok:
        gaps.append(f"the audit trail does not verify: {audit.message}")
    elif audit is None:
        gaps.append("the audit trail was not verified")

    flagged = f"; flagged: {'; '.join(flags)}" if flags else ""
    if gaps:
        detail = f"{len(gaps)} gap(s): " + "; ".join(gaps) + flagged
        hint = "mlgate status shows each earlier gap and what to do; mlgate audit verify"
        return _state(req, stage_id, "failed", detail, hint)

    detail = (
        f"all {checked} requirement(s) of earlier stages are met or waived; the audit trail of "
        f"{audit.n_events} event(s) verifies{flagged}"
    )
    return _state(req, stage_id, "satisfied", detail)


# How many overdue findings the gate names one by one; the count always covers all of them.
MAX_NAMED_OVERDUE = 10
# How much of an overdue finding's title the gate quotes.
MAX_TITLE_QUOTED = 60


def _overdue_note(late: Sequence[Any]) -> str:
    """Return "; N open finding(s) past their due date: #id title (due D, owner O); ...".

    Each overdue finding is named by id, the start of its title, its due date and its owner,
    so the reviewer knows whom to ask about which finding without another command.
    """
    if not late:
        return ""
    named = []
    for finding in sorted(late, key=lambda f: (f.due_date, f.id))[:MAX_NAMED_OVERDUE]:
        title = " ".join(str(finding.title or finding.description or "").split())
        if len(title) > MAX_TITLE_QUOTED:
            title = title[: MAX_TITLE_QUOTED - 3].rstrip() + "..."
        named.append(
            f"#{finding.id} {finding.severity}: {title} "
            f"(due {finding.due_date.isoformat()}, owner {finding.owner})"
        )
    more = len(late) - len(named)
    rest = f"; and {more} more (mlgate finding list --status open)" if more else ""
    return f"; {len(late)} open finding(s) past their due date: " + "; ".join(named) + rest


def _findings(snapshot: Snapshot, stage_id: str, req: Requirement) -> RequirementState:
    """No open finding of the requirement's severity or worse stands against the model.

    Open findings past their due date are named in the detail (id, title, due date, owner) so
    the reviewer sees them, but block only when they are serious.
    """
    from mlgate.lifecycle.findings import blocking_findings  # it acts through the service

    model = snapshot.model
    if model is None:
        detail = "nothing to review yet: a model version is needed first"
        return _state(req, stage_id, "missing", detail, "mlgate train (or mlgate model add FILE)")

    found = blocking_findings(snapshot.findings, model.id, snapshot.now, req.severity)
    concerned = [f for f in snapshot.findings if f.model_version_id in (model.id, None)]
    still_open = sum(f.status == "open" for f in concerned)
    notes = _overdue_note(found.overdue)
    if found.blocked:
        listed = "; ".join(
            f"#{f.id} {f.severity}: {f.title} (owner {f.owner})" for f in found.serious
        )
        detail = (
            f"{len(found.serious)} open finding(s) of severity {req.severity} or worse: {listed}"
        )
        hint = "fix each, then a validator runs: mlgate finding close ID --resolution '...'"
        return _state(req, stage_id, "failed", detail + notes, hint)

    detail = (
        f"no open finding of severity {req.severity} or worse against model version "
        f"{model.version} ({len(concerned)} recorded, {still_open} open){notes}"
    )
    return _state(req, stage_id, "satisfied", detail)
