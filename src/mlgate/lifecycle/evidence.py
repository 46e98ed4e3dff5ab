"""Producing evidence: submitted documents and records, and automated checks.

A document is validated field by field before anything is stored. A check runs on the current
versions of its dataset and model and is stored with both ids, so evidence made for one version
never satisfies a gate for another.
"""

from __future__ import annotations

import logging
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.base import clone

from mlgate.checks import REGISTRY, CheckInput, CheckResult, Finding, get_check
from mlgate.checks.contract import make_check
from mlgate.contracts import Contract
from mlgate.documents import named_role, parse_document, unmet_reason, valid_until
from mlgate.errors import ConflictError, NotFoundError, PolicyViolation, ValidationError
from mlgate.lifecycle.access import GRANT, check_grant_submission, require_grant
from mlgate.lifecycle.data import (
    LARGE_FILE_BYTES,
    contract_sensitive,
    latest_dataset,
    latest_or_none,
    load_dataset,
)
from mlgate.lifecycle.models import (
    get_model_version,
    load_stored_model,
)
from mlgate.lifecycle.service import Governance
from mlgate.lifecycle.thresholds import effective_thresholds
from mlgate.lifecycle.timezones import earliest_today, latest_today
from mlgate.policy.model import Requirement
from mlgate.registry.models import Evidence

logger = logging.getLogger(__name__)


def submit_document(gov: Governance, path: Path) -> Evidence:
    """Validate a filled document and store it as evidence for the requirement that asks for it."""
    kind, document = parse_document(path)
    stage, req = _requirement_for_document(gov, kind)
    content = document.model_dump(mode="json")
    status, summary = _document_verdict(document, kind, content)
    until = valid_until(document)
    _check_not_run_out(kind, until)

    model_version_id = None
    if kind == GRANT:
        check_grant_submission(gov, content)
    if kind == "user_acceptance":
        model_version_id = _check_acceptance(gov, content)
        summary += _superseded_note(gov, int(content["model_version"]))
    _check_signer(gov, kind, req)
    if kind == "user_acceptance":
        _check_acceptance_role(gov, content, _signing_role(kind, req))
    artifact = gov.artifacts.put_bytes(path.read_bytes())

    with gov.transaction(lock=True) as session:
        project = gov.project(session)
        evidence = Evidence(
            project_id=project.id,
            stage=stage,
            requirement_id=req.id,
            kind="record" if req.kind == "record" else "document",
            name=kind,
            status=status,
            summary=summary,
            payload={"document": content, "file": path.name},
            artifacts=[artifact],
            model_version_id=model_version_id,
            valid_until=_end_of_validity(kind, until),
            actor=gov.actor,
            created_at=datetime.now(UTC),
        )
        session.add(evidence)
        session.flush()
        gov.audit(
            session,
            "document.submitted",
            f"document:{kind}",
            {
                "evidence": evidence.id,
                "requirement": req.id,
                "sha256": artifact,
                "status": status,
                **_decision_of(kind, content),
            },
        )
    logger.info("stored %s document as evidence %d for %s", kind, evidence.id, req.id)
    return evidence


def _decision_of(kind: str, content: dict[str, Any]) -> dict[str, Any]:
    """Return what the audit event of a submission says beyond its status, by document kind.

    For a user acceptance that is the model version and the decision, so the trail alone says
    who accepted or rejected which version; the other kinds add nothing (their content is in
    the evidence the event names).
    """
    if kind != "user_acceptance":
        return {}
    return {"model_version": content["model_version"], "decision": content["decision"]}


def _superseded_note(gov: Governance, accepted: int) -> str:
    """Return the words added to the summary of an acceptance of a superseded model version.

    Recording the business's decision about an older version is legitimate (a late signature,
    a rejection kept for the record), so it is stored; but the gate counts only acceptances of
    the current version, and a plain "accepted" would read as if this one did.
    """
    current = get_model_version(gov).version
    if accepted == current:
        return ""
    logger.warning(
        "user acceptance of model version %d stored, but the current version is %d",
        accepted,
        current,
    )
    return (
        f"; recorded for the trail only: it does not count toward the gate, since the current "
        f"model version is {current} (submit an acceptance naming model_version: {current})"
    )


def _end_of_validity(kind: str, until: Any) -> datetime | None:
    """Return when a record stops counting: a reclaim date's start, or an expiry day's end.

    A compute allocation is reclaimed on its reclaim date; a grant's ``expires`` is the last
    day the access is valid.
    """
    if until is None:
        return None
    moment = clock.min if kind == "compute_allocation" else clock.max
    return datetime.combine(until, moment, tzinfo=UTC)


def _check_not_run_out(kind: str, until: date | None) -> None:
    """Refuse a grant or allocation that has already run out on every calendar on Earth.

    An expired grant gives no access and an allocation past its reclaim date no compute, so
    neither could satisfy its requirement: such a submission is almost always a mistyped date.
    A grant is valid through its ``expires`` day, an allocation until its ``reclaim_date``
    begins. As for other dates people type, any day still current in some time zone counts
    (see :mod:`mlgate.lifecycle.timezones`).
    """
    if until is None:
        return
    field = "expires" if kind == GRANT else "reclaim_date"
    now = datetime.now(UTC)
    earliest = earliest_today(now)
    first_valid = earliest if kind == GRANT else earliest + timedelta(days=1)
    if until >= first_valid:
        return
    raise ValidationError(
        f"the {kind.replace('_', ' ')} has already run out: {field} is {until}, and today is "
        f"{now.date()} in UTC ({earliest} in the time zone furthest behind); expected "
        f"{field} {first_valid} or later",
        hint=f"set {field} to the real end date; an expired {kind.replace('_', ' ')} would not "
        "satisfy the requirement",
    )


def _requirement_for_document(gov: Governance, kind: str) -> tuple[str, Requirement]:
    tier = gov.tier
    matches = [
        (stage.id, req)
        for stage in gov.policy.stages
        for req in stage.requirements
        if kind in (req.document, req.record)
    ]
    for stage_id, req in matches:
        if req.applies_to(tier):
            return stage_id, req
    if matches:
        return matches[0]
    raise ValidationError(
        f"the policy '{gov.policy.name}' asks for no document of kind '{kind}', "
        "so it cannot be stored as evidence"
    )


def _document_verdict(document: Any, kind: str, content: dict[str, Any]) -> tuple[str, str]:
    reason = unmet_reason(document)
    if reason is not None:
        return "fail", reason
    if kind == "user_acceptance":
        return "pass", f"accepted by {content['signed_by']} for version {content['model_version']}"
    return "pass", f"{kind.replace('_', ' ')} submitted and valid"


def _check_acceptance(gov: Governance, content: dict[str, Any]) -> int:
    """Refuse an acceptance signed in another's name, misdated, or by the model's author.

    The date must be a day that was current somewhere on Earth between the registration of the
    model version and now: nobody accepts a model before it exists, or ahead of time.
    """
    signer = str(content["signed_by"]).strip()
    if signer.casefold() != gov.actor.casefold():
        gov.refuse(
            "document.submit",
            "document:user_acceptance",
            f"the acceptance is signed_by '{signer}', but {gov.actor} is submitting it; each "
            "business owner submits their own decision",
            hint=f"set signed_by: {gov.actor}, or let {signer} submit it as themselves",
        )
    signed_on = date.fromisoformat(str(content["date"]))
    latest = latest_today()
    if signed_on > latest:
        raise ValidationError(
            f"the acceptance is dated {signed_on}, after today ({latest} in the furthest time "
            "zone); expected the day it was decided"
        )
    version = get_model_version(gov, int(content["model_version"]))
    registered = version.created_at
    if registered.tzinfo is None:  # SQLite drops the zone; the registry stores UTC
        registered = registered.replace(tzinfo=UTC)
    earliest = earliest_today(registered)
    if signed_on < earliest:
        raise ValidationError(
            f"the acceptance is dated {signed_on}, before model version {version.version} was "
            f"registered ({registered:%Y-%m-%d %H:%M} UTC, {earliest} in the time zone furthest "
            f"behind); expected the day it was decided, from {earliest} to {latest}"
        )
    if gov.actor == version.created_by:
        gov.refuse(
            "document.submit",
            "document:user_acceptance",
            f"{gov.actor} registered model version {version.version} and may not sign its "
            "user acceptance: a business owner who did not build it must sign",
        )
    return version.id


def _signing_role(kind: str, req: Requirement) -> str | None:
    """Return the role that signs documents of ``kind``: the requirement's, else its default."""
    return req.role or ("business_owner" if kind == "user_acceptance" else None)


def _check_acceptance_role(gov: Governance, content: dict[str, Any], role: str | None) -> None:
    """Refuse an acceptance whose ``role`` is not the role the policy asks to sign it.

    :func:`_check_signer` has made sure the actor holds that role; the document must also say
    so, since the signed text is what a reader of the evidence sees. A validator's or data
    scientist's role in the document would misstate in what capacity the model was accepted.
    """
    if role is None:
        return
    written = str(content["role"])
    if named_role(written) == role:
        return
    with gov.transaction() as session:
        held = ", ".join(sorted(gov.roles_of(session, gov.actor))) or "no role"
    gov.refuse(
        "document.submit",
        "document:user_acceptance",
        f"the acceptance names the role '{written}', but a user acceptance is signed as "
        f"{role}; {gov.actor} holds {held}",
        hint=f"set role: {role.replace('_', ' ')} (a qualifier may follow a comma, as in "
        f"'{role.replace('_', ' ')}, retail lending')",
    )


def _check_signer(gov: Governance, kind: str, req: Requirement) -> None:
    """Refuse a document the policy wants signed by a role the actor does not hold."""
    role = _signing_role(kind, req)
    if role is None:
        return

    with gov.transaction() as session:
        roles = gov.roles_of(session, gov.actor)
    if role not in roles:
        gov.refuse(
            "document.submit",
            f"document:{kind}",
            f"a {kind.replace('_', ' ')} is signed by a {role}; {gov.actor} holds "
            f"{', '.join(sorted(roles)) or 'no role'}",
            hint=f"an admin runs: mlgate member add {gov.actor} --role {role}",
        )


def resolve_check(
    gov: Governance, name: str, dataset: str | None = None
) -> tuple[str, Requirement, bool]:
    """Return the stage, requirement and whether the policy asks for it, for ``name``.

    ``name`` is a check requirement id, or the name of a check. A registered check that this
    tier's policy does not ask for still runs, as voluntary evidence in the current stage on
    ``dataset`` (default ``train``): teams often want a contract or leakage check early.
    """
    tier = gov.tier
    checks = [
        (stage.id, req)
        for stage in gov.policy.stages
        for req in stage.requirements
        if req.kind == "check" and req.applies_to(tier)
    ]
    for stage_id, req in checks:
        if name == req.id and dataset in (None, req.dataset):
            return stage_id, req, True
    for stage_id, req in checks:
        if name == req.check and dataset in (None, req.dataset):
            return stage_id, req, True

    if name in REGISTRY:
        with gov.transaction() as session:
            stage_id = gov.project(session).stage
        voluntary = Requirement(
            id=name,
            kind="check",
            check=name,
            title=REGISTRY[name].title,
            dataset=dataset or "train",
        )
        return stage_id, voluntary, False
    known = sorted({req.id for _, req in checks} | set(REGISTRY))
    raise NotFoundError(
        f"'{name}' is neither a check nor a check requirement of this {tier}-risk project; "
        f"expected one of {', '.join(known)}"
    )


def check_requirements(gov: Governance, stage_id: str) -> list[Requirement]:
    """Return the check requirements of ``stage_id`` for the project's tier."""
    return [r for r in gov.policy.requirements_for(stage_id, gov.tier) if r.kind == "check"]


def run_check(
    gov: Governance,
    name: str,
    dataset: str | None = None,
    streaming: bool = False,
    progress: Any = None,
) -> tuple[Evidence, CheckResult]:
    """Run a check on the current dataset and model versions and store the result.

    Evidence for a check the policy asks for satisfies that requirement; any other registered
    check is stored as voluntary evidence, bound to no requirement. The data-quality and drift
    checks read a large file (or any file, with ``streaming``) in batches, out of core.
    """
    stage_id, req, required = resolve_check(gov, name, dataset)
    assert req.check is not None
    spec = get_check(req.check)
    overrides = gov.config.thresholds.get(req.id, {})
    try:
        thresholds = effective_thresholds(spec, req, gov.tier, overrides)
    except PolicyViolation as refusal:
        gov.refuse("check.run", f"check:{req.id}", refusal.message, refusal.hint)

    if spec.needs_source:
        if not gov.source_available:
            raise ConflictError(
                f"the {spec.name} check reads the project's own code, tests and docs, which are "
                "in its workspace, not here",
                hint=f"run `mlgate check {req.id}` in the workspace, with MLGATE_DATABASE_URL "
                "and MLGATE_ARTIFACT_URL pointing at the team's store",
            )
        return _run_source_check(gov, stage_id, req, required, thresholds)
    if spec.name in OUT_OF_CORE and (streaming or _large(gov, req.dataset)):
        started = time.perf_counter()
        result, dataset = _run_out_of_core(gov, req, thresholds, progress)
        seconds = time.perf_counter() - started
        return _store_check(
            gov, stage_id, req, required, result, dataset, None, None, thresholds, seconds
        ), result

    inputs, dataset, model_version, holdout = _inputs(
        gov, req, spec.needs_model, spec.needs_reference
    )
    if spec.name == "run_logs":
        from mlgate.runlog import run_log_input

        inputs.run_log = run_log_input(gov, model_version)
    inputs.documents = _accepted_documents(gov)
    if spec.name == "challenger":
        inputs.champion = _champion(gov, model_version)
    function = spec.function
    if spec.name == "contract":
        if dataset.contract is None:
            raise ValidationError(
                f"dataset '{dataset.name}' was registered without a data contract",
                hint="mlgate data infer FILE --output contract.yaml, review it, then "
                f"mlgate data add FILE --name {dataset.name} --contract contract.yaml",
            )
        function = make_check(Contract.model_validate(dataset.contract))

    started = time.perf_counter()
    result = function(inputs, thresholds)
    seconds = time.perf_counter() - started
    evidence = _store_check(
        gov, stage_id, req, required, result, dataset, model_version, holdout, thresholds, seconds
    )
    return evidence, result


def _run_source_check(
    gov: Governance,
    stage_id: str,
    req: Requirement,
    required: bool,
    thresholds: dict[str, float],
) -> tuple[Evidence, CheckResult]:
    """Run a check of the project's own code, tests and docs; no dataset is involved.

    The evidence binds to the files as they are after the check: running the project's tests
    may write into its tree, and such files are named in a finding, since they would otherwise
    make the evidence stale on the next ``mlgate status`` without a visible reason.
    """
    assert req.check is not None
    tree = gov.source_tree()
    before = tree.file_hashes()

    started = time.perf_counter()
    result = get_check(req.check).function(
        CheckInput(data=pd.DataFrame(), source=tree), thresholds
    )
    seconds = time.perf_counter() - started

    after = gov.source_tree()
    changed = sorted(
        k.split(":", 1)[1] for k, v in after.file_hashes().items() if before.get(k) != v
    )
    if changed:
        listed = ", ".join(changed[:10]) + (
            f" and {len(changed) - 10} more" if len(changed) > 10 else ""
        )
        result.findings.append(
            Finding(
                "warn",
                f"files-written: running the check wrote or changed {listed} in the project; "
                "tests should write to a temporary folder",
                changed[0],
            )
        )
    evidence = _store_check(
        gov,
        stage_id,
        req,
        required,
        result,
        None,
        None,
        None,
        thresholds,
        seconds,
        source_sha256=after.sha256(),
    )
    return evidence, result


def _store_check(
    gov: Governance,
    stage_id: str,
    req: Requirement,
    required: bool,
    result: CheckResult,
    dataset: Any,
    model_version: Any,
    holdout: Any,
    thresholds: dict[str, float],
    seconds: float,
    source_sha256: str | None = None,
) -> Evidence:
    with gov.transaction(lock=True) as session:
        project = gov.project(session)
        evidence = Evidence(
            project_id=project.id,
            stage=stage_id,
            requirement_id=req.id if required else None,
            kind="check",
            name=req.check,
            status=result.status,
            summary=result.summary,
            payload={
                "result": result.to_dict(),
                "thresholds": thresholds,
                "seconds": round(seconds, 3),
                "holdout_version_id": holdout.id if holdout is not None else None,
                **({"source_sha256": source_sha256} if source_sha256 else {}),
            },
            artifacts=[],
            dataset_version_id=dataset.id if dataset is not None else None,
            model_version_id=model_version.id if model_version else None,
            actor=gov.actor,
            created_at=datetime.now(UTC),
        )
        session.add(evidence)
        session.flush()
        gov.audit(
            session,
            "check.run",
            f"check:{req.id}",
            {
                "evidence": evidence.id,
                "status": result.status,
                "dataset_sha256": dataset.sha256 if dataset is not None else None,
                "model_sha256": model_version.artifact_sha256 if model_version else None,
                **({"source_sha256": source_sha256} if source_sha256 else {}),
            },
        )
    subject = f"dataset {dataset.name}" if dataset is not None else "the project's files"
    logger.info("check %s on %s: %s in %.2f s", req.id, subject, result.status, seconds)
    return evidence


OUT_OF_CORE = ("data_quality", "drift")


def _large(gov: Governance, dataset: str) -> bool:
    """Return whether the dataset's stored file is too large to load whole."""
    version = latest_dataset(gov, dataset)
    return gov.artifacts.size(version.artifact_sha256) > LARGE_FILE_BYTES


def _run_out_of_core(
    gov: Governance, req: Requirement, thresholds: dict[str, float], progress: Any
) -> tuple[CheckResult, Any]:
    """Run data quality or drift on the stored files in batches, never loading them whole."""
    from mlgate.scale import drift_files, profile_file

    data_cfg = gov.config.data
    dataset = latest_dataset(gov, req.dataset)
    columns = [c["name"] for c in dataset.schema]
    require_grant(
        gov, "check.run", f"dataset '{req.dataset}'", columns, contract_sensitive(dataset.contract)
    )
    target = data_cfg.target if data_cfg.target in columns else None
    features = [c for c in columns if c not in {data_cfg.target, *data_cfg.exclude}]

    with tempfile.TemporaryDirectory(prefix="mlgate-") as scratch:
        current = _readable_copy(gov, dataset, Path(scratch), "current")
        if req.check == "drift":
            reference_version = latest_dataset(gov, "train")
            reference = _readable_copy(gov, reference_version, Path(scratch), "reference")
            result = drift_files(
                reference,
                current,
                features=features,
                target=target,
                thresholds=thresholds,
                progress=progress,
                scratch_dir=scratch,
            )
        else:
            result = profile_file(
                current,
                features=features,
                target=target,
                sensitive=gov.sensitive,
                thresholds=thresholds,
                seed=gov.config.training.seed,
                progress=progress,
                scratch_dir=scratch,
            )
    logger.info(
        "ran %s out of core on dataset %s (%d rows)", req.check, dataset.name, dataset.n_rows
    )
    return result, dataset


def _readable_copy(gov: Governance, dataset: Any, folder: Path, name: str) -> Path:
    """Return a link to the verified stored file, named with its format's suffix."""
    source = gov.artifacts.verified_local_path(dataset.artifact_sha256)
    link = folder / f"{name}{Path(dataset.uri).suffix.lower()}"
    link.symlink_to(source)
    return link


def _holdout_for(gov: Governance, needs_holdout: bool, dataset: str) -> Any:
    """Return the latest hold-out version and frame for a check that compares with it.

    Without a registered hold-out set the check runs without that comparison; the gate keeps
    the requirement open until it is run again with one.
    """
    version = latest_or_none(gov, "holdout")
    if not needs_holdout or dataset == "holdout" or version is None:
        return None, None
    return version, load_dataset(gov, version)


def _inputs(gov: Governance, req: Requirement, needs_model: bool, needs_reference: bool) -> tuple:
    data_cfg = gov.config.data
    needs_holdout = get_check(req.check or "").needs_holdout
    dataset = latest_dataset(gov, req.dataset)
    columns = [c["name"] for c in dataset.schema]
    marked = contract_sensitive(dataset.contract)
    require_grant(gov, "check.run", f"dataset '{req.dataset}'", columns, marked)
    frame = load_dataset(gov, dataset)

    model_version = model = artifact = loader = None
    if needs_model:
        model_version = get_model_version(gov)
        model, artifact, loader = load_stored_model(gov, model_version)
        features = [c["name"] for c in model_version.signature]
    else:
        features = [c for c in frame.columns if c not in {data_cfg.target, *data_cfg.exclude}]

    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"dataset '{req.dataset}' lacks the model's feature column(s) {', '.join(missing)}"
        )

    reference = None
    if needs_reference:
        reference = load_dataset(gov, latest_dataset(gov, "train"))

    holdout_version, holdout = _holdout_for(gov, needs_holdout, req.dataset)
    inputs = CheckInput(
        data=frame,
        target=data_cfg.target if data_cfg.target in frame.columns else None,
        features=features,
        sensitive=gov.sensitive,
        positive_label=data_cfg.positive_label,
        model=model,
        estimator_factory=(lambda: clone(model)) if needs_model else None,
        reference=reference,
        holdout=holdout,
        seed=gov.config.training.seed,
        time_column=_time_column(dataset.contract),
        model_artifact=artifact,
        model_loader=loader,
    )
    return inputs, dataset, model_version, holdout_version


def _time_column(contract: dict[str, Any] | None) -> str | None:
    """Return the column a data contract marks as the timestamp (the first, if several)."""
    if contract is None:
        return None
    columns = Contract.model_validate(contract).columns
    return next((c.name for c in columns if c.timestamp), None)


def _accepted_documents(gov: Governance) -> dict[str, dict[str, Any]]:
    """Return the content of the newest accepted (valid) submission of each document kind."""
    from sqlalchemy import select

    with gov.transaction() as session:
        stmt = (
            select(Evidence)
            .where(
                Evidence.project_id == gov.project(session).id,
                Evidence.kind == "document",
                Evidence.status == "pass",
            )
            .order_by(Evidence.id)
        )
        return {e.name: e.payload["document"] for e in session.execute(stmt).scalars()}


def _champion(gov: Governance, challenger: Any) -> Any:
    """Return the newest live deployment's version as the champion a challenger must beat."""
    from sqlalchemy import select

    from mlgate.checks.challenger import Champion
    from mlgate.lifecycle.models import load_model_version
    from mlgate.registry.models import Deployment, ModelVersion

    with gov.transaction() as session:
        stmt = (
            select(ModelVersion)
            .join(Deployment, Deployment.model_version_id == ModelVersion.id)
            .where(Deployment.project_id == gov.project(session).id, Deployment.ended_at.is_(None))
            .order_by(Deployment.id.desc())
        )
        version = session.execute(stmt).scalars().first()
    if version is None:
        return None
    return Champion(
        model=load_model_version(gov, version),
        version=version.version,
        features=[c["name"] for c in version.signature],
        challenger_version=challenger.version,
    )


def ensure_checks(gov: Governance, stage_id: str, progress: Any = None) -> list[Evidence]:
    """Run every check of ``stage_id`` whose evidence is missing or stale; return what ran."""
    from mlgate.lifecycle.gates import evaluate_stage

    with gov.transaction() as session:
        states = {s.id: s for s in evaluate_stage(gov.snapshot(session), stage_id)}
    todo = [
        r
        for r in check_requirements(gov, stage_id)
        if states[r.id].state == "missing"
        and states[r.id].hint.startswith("mlgate check")
        and (gov.source_available or not get_check(r.check or "").needs_source)
    ]

    ran = []
    for position, req in enumerate(todo):
        if progress is not None:
            progress(f"check {req.id}", position, len(todo))
        evidence, _ = run_check(gov, req.id)
        ran.append(evidence)
    if progress is not None and todo:
        progress("checks done", len(todo), len(todo))
    return ran


def recheck(gov: Governance, progress: Any = None) -> list[Evidence]:
    """Re-run every check, up to the current stage, whose evidence is missing or stale.

    After retraining, the evidence of earlier stages that depends on the model no longer counts;
    this brings all of it up to date in one go.
    """
    with gov.transaction() as session:
        current = gov.project(session).stage
    stages = gov.policy.stage_ids
    ran = []
    for stage_id in stages[: stages.index(current) + 1]:
        ran += ensure_checks(gov, stage_id, progress)
    return ran
