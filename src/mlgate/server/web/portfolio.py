"""The portfolio dashboard: every project the user can see, and what needs attention.

Projects are listed by stage and risk tier with their open requirements and open alerts;
panels list the compute allocations past their reclaim date, the waivers and data grants
ending within 30 days, the other notices, the open monitoring alerts, and the approvals
waiting for the user.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import Response

from mlgate.errors import GovernanceError
from mlgate.lifecycle.gates import evaluate_stage
from mlgate.lifecycle.notices import Notice, notices
from mlgate.lifecycle.service import Governance
from mlgate.monitoring.alerts import open_alerts
from mlgate.registry.models import Alert
from mlgate.server.auth import projects
from mlgate.server.web.deps import WebUser, visible_projects
from mlgate.server.web.inbox import waiting_for
from mlgate.server.web.rendering import render

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

HORIZON_DAYS = 30
TIER_ORDER = ("high", "medium", "low")


@dataclass(frozen=True)
class ProjectRow:
    """One project's line in the portfolio table."""

    name: str
    tier: str
    stage: str
    stage_title: str
    position: int
    stages: int
    open_requirements: int
    open_alerts: int
    problem: str = ""


@dataclass
class Portfolio:
    """Everything the dashboard shows."""

    rows: list[ProjectRow] = field(default_factory=list)
    reclaims: list[tuple[str, Notice]] = field(default_factory=list)
    expiring: list[tuple[str, Notice]] = field(default_factory=list)
    other: list[tuple[str, Notice]] = field(default_factory=list)
    alerts: list[tuple[str, Alert]] = field(default_factory=list)

    def add_notice(self, project: str, notice: Notice) -> None:
        """File a notice under its panel: overdue reclaims, expiring grants and waivers, other."""
        text = notice.message
        if text.startswith("compute allocation") and notice.severity == "fail":
            self.reclaims.append((project, notice))
        elif text.startswith(("waiver of", "data access grant")):
            self.expiring.append((project, notice))
        else:
            self.other.append((project, notice))


def project_row(gov: Governance, portfolio: Portfolio) -> ProjectRow:
    """Return the project's row, filing its notices and open alerts in ``portfolio``."""
    snapshot = gov.snapshot_now()
    project = snapshot.project
    ids = snapshot.policy.stage_ids
    gaps = [s for s in evaluate_stage(snapshot, project.stage) if not s.met]
    alerts = open_alerts(gov)
    for notice in notices(snapshot, HORIZON_DAYS):
        portfolio.add_notice(project.name, notice)
    portfolio.alerts.extend((project.name, alert) for alert in alerts)
    return ProjectRow(
        name=project.name,
        tier=project.tier,
        stage=project.stage,
        stage_title=snapshot.policy.stage(project.stage).title,
        position=ids.index(project.stage) + 1,
        stages=len(ids),
        open_requirements=len(gaps),
        open_alerts=len(alerts),
    )


def build_portfolio(request: Request, names: list[str], actor: str) -> Portfolio:
    """Return the portfolio of ``names``, ordered by stage, then risk tier, then name.

    A project that cannot be read (its stored policy is missing, say) is listed with the
    reason instead of hiding the others.
    """
    portfolio = Portfolio()
    for name in names:
        try:
            row = project_row(projects(request).open(name, actor), portfolio)
        except GovernanceError as error:
            logger.warning("the portfolio could not read project %s: %s", name, error.message)
            row = ProjectRow(name, "?", "?", "?", 0, 0, 0, 0, problem=error.message)
        portfolio.rows.append(row)
    portfolio.rows.sort(key=_order)
    return portfolio


def _order(row: ProjectRow) -> tuple[int, int, str]:
    tier = TIER_ORDER.index(row.tier) if row.tier in TIER_ORDER else len(TIER_ORDER)
    return (row.position, tier, row.name)


@router.get("/")
def dashboard(request: Request, user: WebUser) -> Response:
    """Show the portfolio of the projects the signed-in user can see."""
    portfolio = build_portfolio(request, visible_projects(request, user), user.name)
    waiting = waiting_for(request, user)
    return render(
        request,
        "dashboard.html",
        user,
        portfolio=portfolio,
        waiting=len(waiting),
        horizon=HORIZON_DAYS,
    )
