"""Checks of a project's own code run in its workspace; the server relies on their last run."""

from __future__ import annotations

from datetime import UTC, datetime

from mlgate.registry.models import Evidence
from tests.server.conftest import Server


def _record_source_run(team: Server, fingerprint: str) -> None:
    gov = team.client.app.state.projects.open("credit", "ada")
    with gov.transaction() as session:
        session.add(
            Evidence(
                project_id=gov.project(session).id,
                stage="review",
                requirement_id="code_review",
                kind="check",
                name="code_review",
                status="pass",
                summary="no findings",
                payload={"source_sha256": fingerprint},
                artifacts=[],
                actor="ada",
                created_at=datetime.now(UTC),
            )
        )


def test_a_source_check_asked_of_the_server_names_where_to_run_it(team: Server) -> None:
    answer = team.call("ada", "POST", "/api/v1/projects/credit/checks/code_review", json={})

    assert answer.status_code == 409
    body = answer.json()
    assert "reads the project's own code, tests and docs" in body["message"]
    assert "mlgate check code_review` in the workspace" in body["hint"]


def test_the_newest_recorded_fingerprint_stands_for_the_code_on_the_server(team: Server) -> None:
    _record_source_run(team, "a" * 64)
    _record_source_run(team, "b" * 64)

    gov = team.client.app.state.projects.open("credit", "ada")
    snapshot = gov.snapshot_now()

    assert gov.source_available is False
    assert snapshot.source_sha256 == "b" * 64  # the medium tier asks for code_review
