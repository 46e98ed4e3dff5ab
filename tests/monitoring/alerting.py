"""Helpers of the alert tests: a project with a business case and contacts, and observations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mlgate.config import DataConfig, TrainingConfig, WorkspaceConfig
from mlgate.lifecycle.evidence import submit_document
from mlgate.lifecycle.project import init_project
from mlgate.lifecycle.service import Governance
from mlgate.monitoring.alerts import AlertChanges, evaluate
from mlgate.monitoring.settings import Rule
from mlgate.monitoring.store import Observation
from tests.fixtures import fill, synthetic_frame

START = datetime(2026, 11, 1, tzinfo=UTC)
DAY = timedelta(days=1)
PSI_RULE = Rule(id="psi", metric="drift.psi", threshold=0.2, window="1d", min_samples=500)


def _config() -> WorkspaceConfig:
    return WorkspaceConfig(
        project="credit",
        tier="low",
        owner="alice",
        data=DataConfig(target="y", sensitive=["group"], exclude=["group"]),
        training=TrainingConfig(estimator="sklearn.linear_model.LogisticRegression"),
    )


def make_project(root: Path) -> Path:
    """A low-risk project with an accepted business case and emergency contacts.

    alice is its admin, bob an ml_engineer, carol a validator, dave a data scientist and erin
    the business owner.
    """
    root.mkdir()
    synthetic_frame().to_csv(root / "train.csv", index=False)
    gov = init_project(root, _config(), data_file=root / "train.csv")
    for user, role in (
        ("bob", "ml_engineer"),
        ("carol", "validator"),
        ("dave", "data_scientist"),
        ("erin", "business_owner"),
    ):
        gov.add_member(user, role)
    submit_document(Governance.open(root, actor="erin"), fill("business_case", root))
    submit_document(gov, fill("emergency_contacts", root))
    return root


def obs(
    value: float | None,
    day: int = 0,
    subject: str = "x1",
    metric: str = "drift.psi",
    n: int = 1000,
    length: timedelta = DAY,
) -> Observation:
    """Return an observation of ``metric`` over the window starting ``day`` days after START."""
    start = START + day * DAY
    return Observation(metric, subject, value, n, start, start + length)


def run(
    gov: Governance, observations: Sequence[Observation], rules: Sequence[Rule] = (PSI_RULE,)
) -> AlertChanges:
    """Evaluate ``observations`` in a transaction of their own, as a monitor run does."""
    with gov.transaction() as session:
        return evaluate(gov, session, observations, rules, 1, datetime.now(UTC))
