"""``mlgate test``: run every check the policy requires of the project, in one go.

The checks come from the policy the project is governed by, for its risk tier: by default those
of the development and testing stages, or of named stages, or of every stage up to the current
one. A check added to the policy is therefore run with no change here. Each check runs through
:func:`~mlgate.lifecycle.evidence.run_check` on its declared dataset and the current model
version, so its evidence is stored exactly as ``mlgate check`` stores it.

None is skipped silently. A check whose inputs do not exist yet (the hold-out set, a model
version, a data contract) is reported as ``not run`` with the reason and the command that
fixes it, using the same preconditions as the gates; a check that raises is reported too, and
the remaining checks still run.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from mlgate.errors import GovernanceError, ValidationError
from mlgate.lifecycle.evidence import run_check
from mlgate.lifecycle.gates import RequirementState, evaluate_stage
from mlgate.lifecycle.service import Governance, Progress
from mlgate.policy.model import Requirement

logger = logging.getLogger(__name__)

DEFAULT_STAGES = ("development", "testing")
NOT_RUN = "not run"
ERROR = "error"
PASSING = ("pass", "warn")


@dataclass(frozen=True)
class CheckOutcome:
    """How one required check went: its status (pass, warn, fail, not run, error) and why.

    ``seconds`` is the wall time of the run, loading included; ``fix`` is the command that
    lets a check that did not run, run.
    """

    stage: str
    requirement: str
    check: str
    dataset: str
    status: str
    summary: str
    seconds: float | None = None
    evidence_id: int | None = None
    fix: str = ""

    @property
    def ok(self) -> bool:
        """Return whether the check ran and passed (a warning passes, as at the gate)."""
        return self.status in PASSING


@dataclass(frozen=True)
class SuiteResult:
    """What ``mlgate test`` ran: on which stages and model version, and each outcome."""

    project: str
    stages: list[str]
    model_version: int | None
    outcomes: list[CheckOutcome]

    @property
    def ok(self) -> bool:
        """Return whether every required check ran and passed."""
        return all(outcome.ok for outcome in self.outcomes)

    def counts(self) -> dict[str, int]:
        """Return how many outcomes have each status, in a fixed order."""
        statuses = ("pass", "warn", "fail", NOT_RUN, ERROR)
        return {s: sum(o.status == s for o in self.outcomes) for s in statuses}


def select_stages(
    gov: Governance, stages: Sequence[str] = (), all_stages: bool = False
) -> list[str]:
    """Return the stages to test, in policy order.

    ``stages`` names them; ``all_stages`` takes every stage up to the current one; with
    neither, the development and testing stages of the policy are taken.
    """
    policy_stages = gov.policy.stage_ids
    if stages and all_stages:
        raise ValidationError("give either --stage or --all, not both")
    unknown = [s for s in stages if s not in policy_stages]
    if unknown:
        raise ValidationError(
            f"--stage {', '.join(unknown)}: not a stage of the policy '{gov.policy.name}'; "
            f"expected one of {', '.join(policy_stages)}"
        )

    if all_stages:
        with gov.transaction() as session:
            current = gov.project(session).stage
        return policy_stages[: policy_stages.index(current) + 1]
    chosen = set(stages) if stages else set(DEFAULT_STAGES)
    selected = [s for s in policy_stages if s in chosen]
    if not selected:
        raise ValidationError(
            f"the policy '{gov.policy.name}' has no {' or '.join(DEFAULT_STAGES)} stage; "
            f"its stages are {', '.join(policy_stages)}",
            hint="name the stages to test with --stage, or test up to the current one with --all",
        )
    return selected


def plan(
    gov: Governance, stages: Sequence[str], only: Sequence[str] = ()
) -> list[tuple[str, Requirement]]:
    """Return ``(stage, requirement)`` for each check the tier requires in ``stages``.

    ``only`` keeps the requirements whose id or check name it lists; a name that matches none
    is refused, naming those that could be chosen.
    """
    planned = [
        (stage_id, req)
        for stage_id in stages
        for req in gov.policy.requirements_for(stage_id, gov.tier)
        if req.kind == "check"
    ]
    if not only:
        return planned

    names = {req.id for _, req in planned} | {str(req.check) for _, req in planned}
    unknown = [name for name in only if name not in names]
    if unknown:
        choices = ", ".join(req.id for _, req in planned) or "none"
        elsewhere = _stages_requiring(gov, unknown)
        hint = f"add --stage {' --stage '.join(elsewhere)}" if elsewhere else None
        raise ValidationError(
            f"--only {', '.join(unknown)}: no check of stage(s) {', '.join(stages)} at tier "
            f"{gov.tier} has that name; expected one of {choices}",
            hint=hint,
        )
    return [(s, req) for s, req in planned if req.id in only or req.check in only]


def _stages_requiring(gov: Governance, names: Sequence[str]) -> list[str]:
    """Return the stages whose check requirements for the tier include one of ``names``."""
    return [
        stage.id
        for stage in gov.policy.stages
        if any(
            req.kind == "check" and (req.id in names or req.check in names)
            for req in gov.policy.requirements_for(stage.id, gov.tier)
        )
    ]


def run_tests(
    gov: Governance,
    stages: Sequence[str] = (),
    all_stages: bool = False,
    only: Sequence[str] = (),
    progress: Progress | None = None,
) -> SuiteResult:
    """Run the required checks of the selected stages on the current versions; store each.

    ``progress`` is called as ``(requirement id, done, total)`` before each check.
    """
    selected = select_stages(gov, stages, all_stages)
    planned = plan(gov, selected, only)
    blocked, model_version = _blocked(gov, selected)
    started = time.perf_counter()

    outcomes = []
    for position, (stage_id, req) in enumerate(planned):
        if progress is not None:
            progress(req.id, position, len(planned))
        if req.id in blocked:
            outcomes.append(_not_run(stage_id, req, blocked[req.id]))
        else:
            outcomes.append(_run_one(gov, stage_id, req))
    if progress is not None:
        progress("checks done", len(planned), len(planned))

    result = SuiteResult(gov.config.project, selected, model_version, outcomes)
    logger.info(
        "tested %s (model version %s, stages %s): %s in %.1f s",
        result.project,
        model_version,
        ", ".join(selected),
        ", ".join(f"{n} {s}" for s, n in result.counts().items() if n),
        time.perf_counter() - started,
    )
    return result


def _blocked(
    gov: Governance, stages: Sequence[str]
) -> tuple[dict[str, RequirementState], int | None]:
    """Return the check requirements whose inputs are missing, and the current model version.

    The gates decide: a check requirement is blocked when it is ``missing`` for a reason other
    than not having been run (its hint is then the command that registers the missing input).
    Waivers are left out, so that a waived requirement still shows why it cannot run.
    """
    with gov.transaction() as session:
        snapshot = dataclasses.replace(gov.snapshot(session), waivers=[])
        states = [state for stage_id in stages for state in evaluate_stage(snapshot, stage_id)]
        model_version = snapshot.model.version if snapshot.model is not None else None
    blocked = {
        state.id: state
        for state in states
        if state.kind == "check"
        and state.state == "missing"
        and not state.hint.startswith("mlgate check")
    }
    return blocked, model_version


def _not_run(stage_id: str, req: Requirement, state: RequirementState) -> CheckOutcome:
    return CheckOutcome(
        stage_id, req.id, str(req.check), req.dataset, NOT_RUN, state.detail, fix=state.hint
    )


def _run_one(gov: Governance, stage_id: str, req: Requirement) -> CheckOutcome:
    """Run one check; an error is reported as its outcome so the other checks still run."""
    started = time.perf_counter()
    try:
        evidence, result = run_check(gov, req.id)
    except GovernanceError as exc:
        logger.info("check %s did not run: %s", req.id, exc.message)
        fix = exc.hint or f"mlgate check {req.id} repeats the error on its own"
        return CheckOutcome(
            stage_id, req.id, str(req.check), req.dataset, NOT_RUN, exc.message, fix=fix
        )
    except Exception as exc:  # a faulty check must not hide the results of the others
        logger.warning("check %s raised %s: %s", req.id, type(exc).__name__, exc)
        logger.debug("traceback of check %s", req.id, exc_info=True)
        return CheckOutcome(
            stage_id,
            req.id,
            str(req.check),
            req.dataset,
            ERROR,
            f"the check raised {type(exc).__name__}: {exc}",
            fix=f"MLGATE_DEBUG=1 mlgate check {req.id} shows the traceback; report it as a bug",
        )
    seconds = time.perf_counter() - started
    return CheckOutcome(
        stage_id,
        req.id,
        str(req.check),
        req.dataset,
        result.status,
        result.summary,
        round(seconds, 3),
        evidence.id,
    )
