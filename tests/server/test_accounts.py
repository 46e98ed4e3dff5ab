"""Accounts: members must be users of the server; sessions opened by any sign-in method."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mlgate.registry.models import AuditEvent
from mlgate.server.accounts import (
    ANONYMOUS_PER_MINUTE,
    MAX_FAILED_SIGN_INS,
    hash_password,
    verify_password,
)
from tests.server.conftest import PASSWORD, Server, post_login


def test_a_role_for_someone_without_an_account_is_refused(team: Server) -> None:
    answer = team.call(
        "ada",
        "POST",
        "/api/v1/projects/credit/members",
        json={"user": "nobody", "role": "validator"},
    )

    assert answer.status_code == 422
    assert answer.json()["message"].startswith("'nobody' is no user of this server")
    assert answer.json()["hint"] == "a server admin creates it first: mlgate user add nobody"
    members = team.call("ada", "GET", "/api/v1/projects/credit/members").json()
    assert "nobody" not in {m["user"] for m in members}


def test_a_session_opened_by_another_sign_in_method_acts_as_its_user(team: Server) -> None:
    raw = team.accounts.open_session("vera", "GET /login/oidc from 127.0.0.1", via="oidc")

    principal = team.accounts.authenticate(raw)
    team.client.cookies.set("mlgate_session", raw)
    page = team.client.get("/inbox", follow_redirects=False)
    team.client.cookies.clear()

    assert principal is not None
    assert (principal.name, principal.kind) == ("vera", "session")
    assert page.status_code == 200
    with team.store.transaction() as session:
        login = (
            session.execute(
                select(AuditEvent)
                .where(AuditEvent.action == "login")
                .order_by(AuditEvent.seq.desc())
            )
            .scalars()
            .first()
        )
    assert (login.actor, login.payload) == ("vera", {"via": "oidc"})


def test_a_password_hash_is_salted_and_checks_only_its_password() -> None:
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")

    assert first != second
    assert first.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse battery", first)
    assert not verify_password("correct horse batterz", first)
    assert not verify_password("correct horse battery", None)
    assert not verify_password("correct horse battery", "md5$abc")


def test_a_sign_in_post_without_the_forms_token_is_refused(team: Server) -> None:
    answer = team.client.post(
        "/login", data={"username": "vera", "password": PASSWORD}, follow_redirects=False
    )

    assert answer.status_code == 403
    assert "sign-in form is out of date or came from another site" in answer.text
    assert "mlgate_session" not in team.client.cookies


def test_disabling_a_user_ends_their_tokens_for_good(team: Server) -> None:
    before = team.call("vera", "GET", "/api/v1/me")
    team.accounts.set_disabled("root", "vera", True)
    team.accounts.set_disabled("root", "vera", False)

    after = team.call("vera", "GET", "/api/v1/me")

    assert before.status_code == 200
    assert after.status_code == 401
    assert all(t.revoked_at is not None for t in team.accounts.tokens("vera"))


def test_failed_sign_ins_beyond_the_limit_are_refused_without_a_password_check(
    team: Server,
) -> None:
    client = TestClient(team.client.app, raise_server_exceptions=False)
    for _ in range(MAX_FAILED_SIGN_INS):
        assert (
            post_login(client, {"username": "vera", "password": "wrong password!"}).status_code
            == 401
        )

    right = post_login(client, {"username": "vera", "password": PASSWORD}, follow_redirects=False)

    assert right.status_code == 401
    reasons = [e.payload["reason"] for e in _events(team, "login.failed")]
    assert reasons[-1] == f"more than {MAX_FAILED_SIGN_INS} failed sign-ins in 15 minutes"
    assert reasons.count("bad credentials") == MAX_FAILED_SIGN_INS


def test_a_flood_of_anonymous_refusals_is_recorded_up_to_the_limit_per_minute(
    team: Server,
) -> None:
    before = len(_events(team, "auth.refused"))
    answers = [team.client.get("/api/v1/me").status_code for _ in range(ANONYMOUS_PER_MINUTE + 15)]

    recorded = _events(team, "auth.refused")[before:]

    assert set(answers) == {401}
    assert ANONYMOUS_PER_MINUTE <= len(recorded) <= ANONYMOUS_PER_MINUTE + 15
    assert len(recorded) < len(answers) or "left_out_before" in recorded[-1].payload


def test_nul_characters_are_refused_before_they_reach_the_store(team: Server) -> None:
    path = team.call("ada", "GET", "/api/v1/projects/a%00b")
    query = team.call("ada", "GET", "/api/v1/projects/credit/evidence", params={"name": "a\x00"})
    body = team.call("ada", "POST", "/api/v1/tokens", json={"label": "a\x00b"})
    login = post_login(team.client, {"username": "ro\x00ot", "password": PASSWORD})

    assert [a.status_code for a in (path, query, body, login)] == [422] * 4
    assert "holds the NUL character" in body.json()["message"]
    assert "holds the NUL character" in login.text


def _events(team: Server, action: str) -> list[AuditEvent]:
    with team.store.transaction() as session:
        stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        return list(session.execute(stmt).scalars())


@pytest.mark.parametrize("name", [".", "..", "tab\there"])
def test_a_project_name_that_cannot_be_a_path_segment_is_refused(team: Server, name: str) -> None:
    answer = team.call("ada", "POST", "/api/v1/projects", json={"name": name, "target": "y"})

    assert answer.status_code == 422
    assert (
        "is not allowed; expected a name that is neither '.' nor '..'" in answer.json()["message"]
    )
