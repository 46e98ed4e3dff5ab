"""The deployment record, ``--at`` questions about it, rollback, and refused deployments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from mlgate.errors import ValidationError
from mlgate.lifecycle.deploy import deployed_version
from mlgate.lifecycle.deployments import deployment_history, parse_moment, serving_at
from mlgate.lifecycle.models import get_model_version
from mlgate.lifecycle.service import Governance
from mlgate.registry.models import AuditEvent
from tests.fixtures import Cli, fill
from tests.serving.deployed import copy_of, deployed_workspace


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace where version 1, then version 2 was deployed for batch scoring."""
    return deployed_workspace(tmp_path_factory.mktemp("deployments") / "ws", versions=2)


@pytest.fixture
def twice(template: Path, tmp_path: Path) -> Path:
    """A private copy of the template."""
    return copy_of(template, tmp_path / "ws")


def _events(root: Path) -> list[AuditEvent]:
    gov = Governance.open(root, "alice")
    with gov.transaction() as session:
        return list(session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars())


def test_rollback_redeploys_previous_version_and_audits_it(twice: Path, cli: Cli) -> None:
    result = cli("rollback", "--reason", "version 2 rejects valid applications", cwd=twice)

    assert result.code == 0, result.text
    assert "from model version 2 to 1" in result.out
    gov = Governance.open(twice, "alice")
    assert deployed_version(gov, "batch").version == 1
    history = deployment_history(gov, "batch")
    assert [(r.version, r.live) for r in history] == [(1, False), (2, False), (1, True)]
    assert history[1].ended_at == history[2].created_at
    event = _events(twice)[-1]
    assert event.action == "model.rolled_back"
    assert event.payload["from_version"] == 2
    assert event.payload["to_version"] == 1
    assert event.payload["reason"] == "version 2 rejects valid applications"
    assert event.payload["gates_rechecked"] is False
    assert event.payload["target_first_deployed_at"] == history[0].created_at.isoformat()


def test_scoring_after_rollback_uses_the_rolled_back_version(twice: Path, cli: Cli) -> None:
    assert cli("rollback", "--reason", "scores drifted overnight", cwd=twice).code == 0

    result = cli("predict", "train.csv", "--output", "out.csv", cwd=twice)

    assert result.code == 0, result.text
    assert "with model version 1" in result.out
    assert "not the deployed one" not in result.err


def test_second_rollback_returns_to_the_version_rolled_back_from(twice: Path, cli: Cli) -> None:
    assert cli("rollback", "--reason", "scores drifted overnight", cwd=twice).code == 0
    assert cli("rollback", "--reason", "false alarm, drift was upstream", cwd=twice).code == 0

    assert deployed_version(Governance.open(twice, "alice"), "batch").version == 2


@pytest.mark.parametrize(
    ("args", "user", "code", "message", "refusal"),
    [
        (("--reason", "too short"), "alice", 2, "at least 10 characters; got 'too short'", None),
        (
            ("--reason", "a good long reason", "--mode", "nightly"),
            "alice",
            2,
            "got 'nightly'",
            None,
        ),
        (
            ("--reason", "a good long reason", "--mode", "rest"),
            "alice",
            3,
            "nothing is deployed",
            None,
        ),
        (
            ("--reason", "a good long reason"),
            "dave",
            5,
            "dave may not roll back deployments",
            "model.rollback.refused",
        ),
    ],
)
def test_rollback_refusals_change_nothing(
    twice: Path,
    cli: Cli,
    args: tuple[str, ...],
    user: str,
    code: int,
    message: str,
    refusal: str | None,
) -> None:
    before = deployment_history(Governance.open(twice, "alice"))

    result = cli("rollback", *args, cwd=twice, user=user)

    assert result.code == code, result.text
    assert message in result.err
    assert "Traceback" not in result.text
    assert deployment_history(Governance.open(twice, "alice")) == before
    if refusal is not None:
        assert _events(twice)[-1].action == refusal


def test_rollback_with_a_single_version_in_the_mode_is_refused(twice: Path, cli: Cli) -> None:
    assert cli("deploy", "--mode", "rest", cwd=twice).code == 0

    result = cli("rollback", "--reason", "scores drifted overnight", "--mode", "rest", cwd=twice)

    assert result.code == 3, result.text
    assert "model version 2 is the only version ever deployed in mode rest" in result.err
    assert deployed_version(Governance.open(twice, "alice"), "rest").version == 2


def test_rollback_refuses_a_previous_version_whose_model_was_altered(
    twice: Path, cli: Cli
) -> None:
    gov = Governance.open(twice, "alice")
    first = deployment_history(gov)[0]
    sha = get_model_version(gov, first.version).artifact_sha256
    stored = next((twice / ".mlgate" / "artifacts").rglob(sha))
    stored.write_bytes(stored.read_bytes() + b"tampered")

    result = cli("rollback", "--reason", "version 2 rejects valid applications", cwd=twice)

    assert result.code == 5, result.text
    assert f"cannot roll back batch to model version 1: artifact {sha}" in result.err
    assert deployed_version(Governance.open(twice, "alice"), "batch").version == 2
    assert _events(twice)[-1].action == "model.rollback.refused"


def test_serving_at_answers_for_every_moment(twice: Path, cli: Cli) -> None:
    assert cli("rollback", "--reason", "scores drifted overnight", cwd=twice).code == 0
    gov = Governance.open(twice, "alice")
    first, second, third = deployment_history(gov, "batch")
    tick = timedelta(microseconds=1)

    def batch_at(moment: datetime) -> int | None:
        record = serving_at(gov, moment)["batch"]
        return None if record is None else record.version

    assert batch_at(first.created_at - tick) is None
    assert batch_at(first.created_at) == 1
    assert batch_at(second.created_at - tick) == 1
    assert batch_at(second.created_at) == 2
    assert batch_at(third.created_at) == 1
    assert batch_at(datetime.now(UTC) + timedelta(days=1)) == 1
    assert serving_at(gov, third.created_at)["rest"] is None
    assert list(serving_at(gov, third.created_at, "batch")) == ["batch"]


def test_deployments_command_lists_rows_and_answers_at(twice: Path, cli: Cli) -> None:
    listed = cli("deployments", cwd=twice)
    past = cli("deployments", "--at", "2000-01-01", cwd=twice)
    now = cli("deployments", "--at", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), cwd=twice)

    assert listed.code == 0, listed.text
    rows = [line for line in listed.out.splitlines() if "batch:deployed" in line]
    assert len(rows) == 2
    assert "│ no" in rows[0]
    assert "│ yes" in rows[1]
    assert "batch   nothing" in past.out
    assert "batch   model version 2" in now.out
    assert "rest    nothing" in now.out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01T10:00", datetime(2026, 12, 1, 10, 0, tzinfo=UTC)),
        ("2026-12-01", datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12-01T10:00+02:00", datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
    ],
)
def test_parse_moment_reads_dates_and_times_as_utc(text: str, expected: datetime) -> None:
    assert parse_moment(text) == expected


def test_parse_moment_names_the_bad_value() -> None:
    with pytest.raises(ValidationError, match="--at must be an ISO date .*got 'yesterday'"):
        parse_moment("yesterday")


def test_deploying_a_version_without_its_gates_is_refused_and_audited(
    template: Path, tmp_path: Path, cli: Cli
) -> None:
    root = copy_of(template, tmp_path / "ws")
    assert cli("train", cwd=root).code == 0

    result = cli("deploy", cwd=root)

    assert result.code == 5, result.text
    assert "evidence for version 3 is needed" in result.err
    assert _events(root)[-1].action == "model.deploy.refused"
    assert deployed_version(Governance.open(root, "alice"), "batch").version == 2


def test_deploying_with_unconfirmed_contacts_is_refused_and_audited(
    template: Path, tmp_path: Path, cli: Cli
) -> None:
    root = copy_of(template, tmp_path / "ws")
    fill("emergency_contacts", root, confirmed=False)
    submitted = cli("doc", "submit", "docs/emergency_contacts.yaml", cwd=root)
    assert submitted.code == 0, submitted.text

    result = cli("deploy", "--mode", "rest", cwd=root)

    assert result.code == 5, result.text
    assert "emergency_contacts" in result.err
    assert "not confirmed" in result.err
    assert _events(root)[-1].action == "model.deploy.refused"
    assert deployed_version(Governance.open(root, "alice"), "rest") is None
