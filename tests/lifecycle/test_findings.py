"""Validators' findings: who records and closes them, what is audited, and what blocks a gate."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from mlgate.config import DataConfig, TrainingConfig, WorkspaceConfig
from mlgate.errors import ConflictError, NotFoundError, PolicyViolation, ValidationError
from mlgate.lifecycle.data import register_dataset
from mlgate.lifecycle.findings import (
    add_finding,
    blocking_findings,
    close_finding,
    list_findings,
    reopen_finding,
    update_finding,
)
from mlgate.lifecycle.models import train_model
from mlgate.lifecycle.project import init_project
from mlgate.lifecycle.service import Governance
from mlgate.lifecycle.timezones import earliest_today
from mlgate.registry.models import AuditEvent, ModelVersion
from tests.fixtures import synthetic_frame

DUE = datetime.now(UTC).date() + timedelta(days=30)
RESOLUTION = "retrained without the proxy column; gap now 0.02"


def _config() -> WorkspaceConfig:
    return WorkspaceConfig(
        project="credit",
        tier="low",
        owner="alice",
        data=DataConfig(target="y", sensitive=["group"], exclude=["group"]),
        training=TrainingConfig(estimator="sklearn.linear_model.LogisticRegression"),
    )


def _project(root: Path, trained: bool) -> Path:
    """A low-risk project: alice (admin, data scientist) owns it and trains when ``trained``.

    bob and carol are validators, erin a risk officer and dave a second data scientist.
    """
    root.mkdir()
    synthetic_frame().to_csv(root / "train.csv", index=False)
    gov = init_project(root, _config())
    register_dataset(gov, root / "train.csv", "train")
    for user, role in (
        ("bob", "validator"),
        ("carol", "validator"),
        ("erin", "risk_officer"),
        ("dave", "data_scientist"),
    ):
        gov.add_member(user, role)
    if trained:
        train_model(gov)
    return root


@pytest.fixture(scope="module")
def trained_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _project(tmp_path_factory.mktemp("findings") / "ws", trained=True)


@pytest.fixture
def project(trained_base: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(trained_base, root)
    return root


def _gov(root: Path, user: str) -> Governance:
    return Governance.open(root, actor=user)


def _events(root: Path, prefix: str = "finding.") -> list[tuple[str, str, str, dict]]:
    gov = _gov(root, "alice")
    with gov.transaction() as session:
        events = session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars()
        return [
            (e.actor, e.action, e.subject, e.payload)
            for e in events
            if e.action.startswith(prefix)
        ]


def _add(root: Path, user: str = "bob", **changes: object):  # type: ignore[no-untyped-def]
    arguments: dict = {
        "severity": "high",
        "title": "Approval rate differs by group",
        "description": "Group b is approved 12 points less often at the same score.",
        "owner": "dave",
        "due": DUE,
        **changes,
    }
    return add_finding(_gov(root, user), **arguments)


def test_validator_records_finding_on_newest_version_and_it_is_audited(project: Path) -> None:
    finding = _add(project, remediation="Drop the proxy column.")

    assert finding.status == "open"
    assert finding.severity == "high"
    assert finding.created_by == "bob"
    assert finding.remediation == "Drop the proxy column."
    with _gov(project, "bob").transaction() as session:
        model = session.execute(select(ModelVersion)).scalar_one()
    assert finding.model_version_id == model.id
    assert _events(project) == [
        (
            "bob",
            "finding.added",
            f"finding:{finding.id}",
            {
                "severity": "high",
                "title": "Approval rate differs by group",
                "owner": "dave",
                "due": DUE.isoformat(),
                "model_version": 1,
            },
        )
    ]
    assert _gov(project, "bob").verify_audit().ok


@pytest.mark.parametrize("user", ["erin", "alice"])
def test_risk_officer_and_admin_may_record(project: Path, user: str) -> None:
    assert _add(project, user).created_by == user


def test_data_scientist_may_not_record_and_refusal_is_audited(project: Path) -> None:
    with pytest.raises(PolicyViolation, match="dave may not record review findings: it needs"):
        _add(project, "dave")

    assert list_findings(_gov(project, "bob")) == []
    assert [e[:3] for e in _events(project)] == [("dave", "finding.add.refused", "finding:new")]


def test_named_version_must_exist(project: Path) -> None:
    with pytest.raises(NotFoundError, match="has no model version 7; its versions: 1$"):
        _add(project, version=7)

    assert _add(project, version=1).model_version_id is not None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"severity": "urgent"}, "unknown severity 'urgent'; expected one of low, medium, high"),
        ({"due": lambda: earliest_today() - timedelta(days=1)}, "is in the past; expected"),
        ({"title": "  "}, "the title is empty"),
        ({"title": "two\nlines"}, "the title spans several lines"),
        ({"owner": "x" * 201}, "the owner has 201 characters; expected at most 200"),
        ({"description": ""}, "the description is empty"),
    ],
)
def test_bad_input_is_refused_before_anything_is_stored(
    project: Path, changes: dict, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        _add(project, **{k: v() if callable(v) else v for k, v in changes.items()})

    assert _events(project) == []


def test_due_today_and_severity_in_any_case_are_accepted(project: Path) -> None:
    today = datetime.now(UTC).date()
    finding = _add(project, severity="Critical", due=today)

    assert (finding.severity, finding.due_date) == ("critical", today)


def test_due_today_in_the_zone_furthest_behind_utc_is_accepted(project: Path) -> None:
    finding = _add(project, due=earliest_today())

    assert finding.due_date <= datetime.now(UTC).date()


def test_finding_before_any_model_is_bound_to_the_project(tmp_path: Path) -> None:
    root = _project(tmp_path / "ws", trained=False)

    finding = _add(root)

    assert finding.model_version_id is None
    assert _events(root)[0][3]["model_version"] is None


def test_model_author_may_not_close_even_as_admin(project: Path) -> None:
    finding = _add(project)

    with pytest.raises(PolicyViolation, match="alice authored the model version finding"):
        close_finding(_gov(project, "alice"), finding.id, RESOLUTION)

    assert list_findings(_gov(project, "bob"), status="open")[0].id == finding.id
    assert _events(project)[-1][:2] == ("alice", "finding.close.refused")


def test_owner_may_not_close_their_own_finding(project: Path) -> None:
    finding = _add(project, owner="carol")

    with pytest.raises(PolicyViolation, match="carol owns finding .* and may not close it"):
        close_finding(_gov(project, "carol"), finding.id, RESOLUTION)

    assert _events(project)[-1][:2] == ("carol", "finding.close.refused")


def test_data_scientist_may_not_close(project: Path) -> None:
    finding = _add(project, owner="carol")

    with pytest.raises(PolicyViolation, match="dave may not close review findings"):
        close_finding(_gov(project, "dave"), finding.id, RESOLUTION)


def test_independent_validator_closes_with_resolution_once(project: Path) -> None:
    finding = _add(project)

    with pytest.raises(ValidationError, match="resolution of at least 10 characters"):
        close_finding(_gov(project, "bob"), finding.id, "done")
    closed = close_finding(_gov(project, "bob"), finding.id, RESOLUTION)
    with pytest.raises(ConflictError, match=f"finding {finding.id} is closed"):
        close_finding(_gov(project, "carol"), finding.id, RESOLUTION)

    assert (closed.status, closed.closed_by, closed.resolution) == ("closed", "bob", RESOLUTION)
    assert closed.closed_at is not None
    assert _events(project)[-1] == (
        "bob",
        "finding.closed",
        f"finding:{finding.id}",
        {"severity": "high", "resolution": RESOLUTION},
    )


def test_owner_updates_remediation_but_not_due_date_or_owner(project: Path) -> None:
    finding = _add(project)

    updated = update_finding(_gov(project, "dave"), finding.id, remediation="Retrain next week.")
    with pytest.raises(PolicyViolation, match="may update its remediation, but not its owner"):
        update_finding(_gov(project, "dave"), finding.id, due=DUE + timedelta(days=7))

    assert updated.remediation == "Retrain next week."
    actions = [e[1] for e in _events(project)]
    assert actions == ["finding.added", "finding.updated", "finding.update.refused"]
    assert _events(project)[1][3] == {"changes": {"remediation": ["", "Retrain next week."]}}


def test_validator_reassigns_and_moves_due_date(project: Path) -> None:
    finding = _add(project)
    later = DUE + timedelta(days=14)

    updated = update_finding(_gov(project, "carol"), finding.id, owner="alice", due=later)

    assert (updated.owner, updated.due_date) == ("alice", later)
    assert _events(project)[-1][3] == {
        "changes": {"owner": ["dave", "alice"], "due": [DUE.isoformat(), later.isoformat()]}
    }


def test_stranger_may_not_update(project: Path) -> None:
    finding = _add(project, owner="carol")

    with pytest.raises(PolicyViolation, match=r"needs its owner \(carol\) or the role"):
        update_finding(_gov(project, "dave"), finding.id, remediation="Something else")


def test_update_refuses_nothing_past_dates_unknown_ids_and_closed_findings(project: Path) -> None:
    finding = _add(project)
    gov = _gov(project, "bob")

    with pytest.raises(ValidationError, match="nothing to update"):
        update_finding(gov, finding.id)
    with pytest.raises(ValidationError, match="is in the past"):
        update_finding(gov, finding.id, due=earliest_today() - timedelta(days=1))
    with pytest.raises(NotFoundError, match=f"unknown finding 99; .* are: {finding.id}$"):
        update_finding(gov, 99, remediation="x")
    close_finding(gov, finding.id, RESOLUTION)
    with pytest.raises(ConflictError, match="is closed and cannot be updated"):
        update_finding(gov, finding.id, remediation="Another plan")


def test_reopen_clears_the_resolution_and_keeps_it_in_the_trail(project: Path) -> None:
    finding = _add(project)
    with pytest.raises(ConflictError, match="is open; only a closed one reopens"):
        reopen_finding(_gov(project, "carol"), finding.id, "the gap is back in May")
    close_finding(_gov(project, "bob"), finding.id, RESOLUTION)

    reopened = reopen_finding(_gov(project, "carol"), finding.id, "the gap is back in May")

    assert (reopened.status, reopened.closed_by, reopened.resolution) == ("open", None, None)
    assert _events(project)[-1][1:] == (
        "finding.reopened",
        f"finding:{finding.id}",
        {
            "reason": "the gap is back in May",
            "previous": {"closed_by": "bob", "resolution": RESOLUTION},
        },
    )
    close_finding(_gov(project, "bob"), finding.id, RESOLUTION)
    with pytest.raises(PolicyViolation, match="dave may not reopen review findings"):
        reopen_finding(_gov(project, "dave"), finding.id, "the gap is back in May")


def test_list_filters_by_status_and_version(project: Path) -> None:
    first = _add(project)
    second = _add(project, severity="low")
    close_finding(_gov(project, "bob"), first.id, RESOLUTION)
    gov = _gov(project, "erin")

    assert [f.id for f in list_findings(gov)] == [first.id, second.id]
    assert [f.id for f in list_findings(gov, status="OPEN")] == [second.id]
    assert [f.id for f in list_findings(gov, status="closed", version=1)] == [first.id]
    with pytest.raises(ValidationError, match="unknown status 'done'; expected one of open"):
        list_findings(gov, status="done")
    with pytest.raises(NotFoundError, match="has no model version 2"):
        list_findings(gov, version=2)


def _row(id: int, severity: str, version: int | None, due: date, status: str = "open"):  # type: ignore[no-untyped-def]
    return SimpleNamespace(
        id=id, severity=severity, model_version_id=version, due_date=due, status=status
    )


def test_blocking_findings_separates_serious_and_overdue() -> None:
    now = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)
    rows = [
        _row(1, "critical", 5, date(2027, 4, 1)),
        _row(2, "high", 5, date(2027, 3, 1), status="closed"),
        _row(3, "medium", 5, date(2027, 3, 9)),
        _row(4, "low", 5, date(2027, 3, 10)),
        _row(5, "high", 6, date(2027, 3, 1)),
        _row(6, "high", None, date(2027, 3, 1)),
        _row(7, "low", None, date(2027, 5, 1)),
    ]

    blocking = blocking_findings(rows, 5, now)

    assert [f.id for f in blocking.serious] == [1, 6]
    assert [f.id for f in blocking.overdue] == [3, 6]
    assert blocking.blocked
    assert blocking_findings(rows, 5, date(2027, 3, 11)).overdue[0].id == 3
    assert [f.id for f in blocking_findings(rows, 5, date(2027, 3, 11)).overdue] == [3, 4, 6]
    assert not blocking_findings([rows[1], rows[6]], 5, now).blocked
    assert not blocking_findings([rows[2]], 5, now).blocked  # overdue, but only medium
    assert [f.id for f in blocking_findings(rows, 5, now, severity="critical").serious] == [1]
    assert [f.id for f in blocking_findings(rows, 5, now, severity="medium").serious] == [1, 3, 6]


def test_an_owner_who_is_not_a_member_is_refused_by_name(project: Path) -> None:
    with pytest.raises(ValidationError, match="owner 'nobody' is not a member of project credit"):
        _add(project, owner="nobody")
    finding = _add(project)
    with pytest.raises(ValidationError, match="owner 'ghost' is not a member"):
        update_finding(_gov(project, "bob"), finding.id, owner="ghost")


def test_an_owner_with_a_finding_role_still_may_not_move_their_own_deadline(
    project: Path,
) -> None:
    finding = _add(project, owner="carol")  # carol is a validator, and owns this one
    later = DUE + timedelta(days=300)
    with pytest.raises(PolicyViolation, match="carol owns finding .* but not its owner or due"):
        update_finding(_gov(project, "carol"), finding.id, due=later)
    assert update_finding(_gov(project, "bob"), finding.id, due=later).due_date == later
