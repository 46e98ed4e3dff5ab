"""Accounts: members must be users of the server; sessions opened by any sign-in method."""

from __future__ import annotations

from sqlalchemy import select

from mlgate.registry.models import AuditEvent
from mlgate.server.accounts import hash_password, verify_password
from tests.server.conftest import Server


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
