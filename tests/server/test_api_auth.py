"""Authentication and authorisation of the API: who may call it, as whom, and what is audited.

Every refusal must answer with a clear status and message and leave an event in the trail; no
refusal may leak the presented secret into the trail.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from mlgate.documents.examples import example
from mlgate.lifecycle.evidence import submit_document
from mlgate.registry.models import ApiToken, AuditEvent, Evidence
from mlgate.server.accounts import ANONYMOUS_PER_MINUTE, csrf_token, token_hash
from mlgate.server.auth import CSRF_HEADER, SESSION_COOKIE
from tests.server.conftest import PASSWORD, Server, post_login

STATUS = "/api/v1/projects/credit"


def events(server: Server, action: str) -> list[AuditEvent]:
    """Return the trail's events of ``action``, oldest first."""
    with server.store.transaction() as session:
        stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        return list(session.execute(stmt).scalars())


def trail_text(server: Server) -> str:
    """Return every event's subject and payload as one text, to look for leaked secrets."""
    with server.store.transaction() as session:
        rows = session.execute(select(AuditEvent)).scalars()
        return "\n".join(f"{e.actor} {e.subject} {e.payload}" for e in rows)


def assert_unauthenticated(server: Server, answer: Any, secret: str | None = None) -> None:
    """Check a 401 answer: the challenge header, a JSON message, and an audit event."""
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"].startswith("Bearer")
    body = answer.json()
    assert body["error"] == "unauthenticated"
    assert "token" in body["message"]
    refused = events(server, "auth.refused")
    assert refused, "the refusal was not audited"
    assert refused[-1].actor == "anonymous"
    assert refused[-1].subject == f"request:GET {STATUS}"
    if secret is not None:
        assert secret not in trail_text(server)


# -- 401: missing, wrong, revoked, expired tokens; disabled users -------------------------------


def test_request_without_a_token_is_refused_and_audited(team: Server) -> None:
    answer = team.client.get(STATUS)
    assert_unauthenticated(team, answer)
    assert "no credentials" in answer.json()["message"]
    assert "Bearer" in answer.json()["message"]


def test_wrong_token_is_refused_without_the_token_in_the_trail(team: Server) -> None:
    wrong = "mlg_" + "x" * 43
    answer = team.client.get(STATUS, headers={"Authorization": f"Bearer {wrong}"})
    assert_unauthenticated(team, answer, secret=wrong)
    assert "unknown, revoked or expired" in answer.json()["message"]


def test_other_authorization_scheme_is_refused(team: Server) -> None:
    raw = team.tokens["ada"]
    for header in (f"Basic {raw}", raw):
        answer = team.client.get(STATUS, headers={"Authorization": header})
        assert_unauthenticated(team, answer, secret=raw)
        assert "expected 'Authorization: Bearer <token>'" in answer.json()["message"]
        assert raw not in answer.text


def test_revoked_token_is_refused(team: Server) -> None:
    raw = team.tokens["vera"]
    assert team.call("vera", "GET", STATUS).status_code == 200
    listed = team.call("vera", "GET", "/api/v1/tokens").json()
    revoked = team.call("vera", "DELETE", f"/api/v1/tokens/{listed[0]['id']}")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    assert_unauthenticated(team, team.call("vera", "GET", STATUS), secret=raw)


def test_expired_token_is_refused(team: Server) -> None:
    token, raw = team.accounts.issue_token("root", "rita", "short", days=1)
    team.tokens["rita"] = raw
    assert team.call("rita", "GET", STATUS).status_code == 200
    with team.store.transaction() as session:
        row = session.get(ApiToken, token.id)
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(minutes=1)
    assert_unauthenticated(team, team.call("rita", "GET", STATUS), secret=raw)


def test_token_of_a_disabled_user_is_refused_and_stays_revoked(team: Server) -> None:
    team.accounts.set_disabled("root", "emil", True)
    assert_unauthenticated(team, team.call("emil", "GET", STATUS), secret=team.tokens["emil"])
    team.accounts.set_disabled("root", "emil", False)
    assert team.call("emil", "GET", STATUS).status_code == 401
    _, fresh = team.accounts.issue_token("root", "emil", "after re-enabling")
    again = team.client.get(STATUS, headers={"Authorization": f"Bearer {fresh}"})
    assert again.status_code == 200


def test_someone_elses_token_cannot_be_revoked(team: Server) -> None:
    vera_token = team.call("vera", "GET", "/api/v1/tokens").json()[0]["id"]
    answer = team.call("bob", "DELETE", f"/api/v1/tokens/{vera_token}")
    assert answer.status_code == 404
    assert f"no token {vera_token} of bob" in answer.json()["message"]
    assert team.call("vera", "GET", STATUS).status_code == 200


# -- 403: roles, membership, separation of duties ----------------------------------------------


def test_business_owner_cannot_approve_a_validator_requirement(team: Server) -> None:
    answer = team.call(
        "bob",
        "POST",
        f"{STATUS}/approvals/model_validation",
        json={"decision": "approve", "comment": "looks fine"},
    )
    assert answer.status_code == 403, answer.text
    assert "needs the role validator" in answer.json()["message"]
    refused = events(team, "approval.approve.refused")
    assert [(e.actor, e.subject, e.project) for e in refused] == [
        ("bob", "model_validation", "credit")
    ]


def test_auditor_cannot_advance(team: Server) -> None:
    answer = team.call("audrey", "POST", f"{STATUS}/advance")
    assert answer.status_code == 403, answer.text
    assert "audrey may not advance the project" in answer.json()["message"]
    refused = events(team, "stage.advance.refused")
    assert [e.actor for e in refused] == ["audrey"]
    assert team.call("audrey", "GET", STATUS).json()["stage"] == "initiation"


def test_only_waiver_roles_grant_waivers(team: Server) -> None:
    expires = (date.today() + timedelta(days=30)).isoformat()
    body = {
        "justification": "the feasibility study is covered by the pilot report",
        "expires": expires,
    }
    refused = team.call("bob", "POST", f"{STATUS}/waivers/feasibility", json=body)
    assert refused.status_code == 403, refused.text
    assert "bob may not grant waivers" in refused.json()["message"]
    assert [(e.actor, e.subject) for e in events(team, "waiver.grant.refused")] == [
        ("bob", "feasibility")
    ]
    granted = team.call("rita", "POST", f"{STATUS}/waivers/feasibility", json=body)
    assert granted.status_code == 201, granted.text
    assert granted.json()["actor"] == "rita"


def test_non_member_cannot_read_the_project(team: Server) -> None:
    team.user("mallory")
    for path in (STATUS, f"{STATUS}/members", f"{STATUS}/approvals", f"{STATUS}/waivers"):
        answer = team.call("mallory", "GET", path)
        assert answer.status_code == 403, (path, answer.text)
        assert "mallory holds no role in project 'credit'" in answer.json()["message"]
    refused = events(team, "access.refused")
    assert len(refused) == 4
    assert {(e.actor, e.subject) for e in refused} == {("mallory", "project:credit")}
    listed = team.call("mallory", "GET", "/api/v1/projects").json()
    assert listed == []


def test_non_member_cannot_act_on_the_project(team: Server) -> None:
    team.user("mallory")
    answer = team.call(
        "mallory", "POST", f"{STATUS}/members", json={"user": "mallory", "role": "admin"}
    )
    assert answer.status_code == 403
    members = team.call("ada", "GET", f"{STATUS}/members").json()
    assert {"user": "mallory", "role": "admin"} not in members


def test_server_admin_reads_any_project_but_needs_a_role_to_change_it(team: Server) -> None:
    assert team.call("root", "GET", STATUS).json()["roles"] == []
    answer = team.call("root", "POST", f"{STATUS}/members", json={"user": "x", "role": "admin"})
    assert answer.status_code == 403
    assert "root may not give people roles" in answer.json()["message"]
    assert [e.actor for e in events(team, "member.add.refused")] == ["root"]


def test_only_server_admins_manage_users_and_projects(team: Server) -> None:
    listed = team.call("vera", "GET", "/api/v1/users")
    assert listed.status_code == 403
    assert "needs a server admin" in listed.json()["message"]
    made = team.call("vera", "POST", "/api/v1/users", json={"name": "eve", "admin": True})
    assert made.status_code == 403
    project = team.call("vera", "POST", "/api/v1/projects", json={"name": "p", "target": "y"})
    assert project.status_code == 403
    assert [e.actor for e in events(team, "account.refused")] == ["vera", "vera"]
    assert [e.actor for e in events(team, "project.create.refused")] == ["vera"]
    names = [u["name"] for u in team.call("root", "GET", "/api/v1/users").json()]
    assert "eve" not in names


def loans_with_business_case(team: Server) -> Evidence:
    """Create high-risk project ``loans`` where ada, also a business owner, wrote the case."""
    made = team.call(
        "ada",
        "POST",
        "/api/v1/projects",
        json={"name": "loans", "target": "default", "tier": "high"},
    )
    assert made.status_code == 201, made.text
    for user, role in (("ada", "business_owner"), ("bob", "business_owner")):
        added = team.call(
            "ada", "POST", "/api/v1/projects/loans/members", json={"user": user, "role": role}
        )
        assert added.status_code == 201, added.text
    gov = team.client.app.state.projects.open("loans", "ada")  # type: ignore[attr-defined]
    path = gov.workspace.root / "docs" / "business_case.yaml"
    path.write_text(
        yaml.safe_dump(example("business_case", date.today()), sort_keys=False), encoding="utf-8"
    )
    return submit_document(gov, path)


def test_self_approval_is_refused_and_audited(team: Server) -> None:
    """Ada writes the business case of a high-risk project, then may not approve it herself."""
    evidence = loans_with_business_case(team)
    decision = {"decision": "approve", "comment": "benefit is clear"}

    own = team.call(
        "ada", "POST", "/api/v1/projects/loans/approvals/business_case_approval", json=decision
    )
    assert own.status_code == 403, own.text
    assert "ada authored business_case" in own.json()["message"]
    assert "separation of duties" in own.json()["message"]
    refused = events(team, "approval.approve.refused")
    assert [(e.actor, e.subject, e.project) for e in refused] == [
        ("ada", "business_case_approval", "loans")
    ]

    other = team.call(
        "bob", "POST", "/api/v1/projects/loans/approvals/business_case_approval", json=decision
    )
    assert other.status_code == 201, other.text
    assert other.json()["actor"] == "bob"
    assert other.json()["subject"] == f"evidence:{evidence.id}"


def test_evidence_of_another_project_stays_hidden(team: Server) -> None:
    """A member of one project reads no evidence of another, by its path or by its number."""
    evidence = loans_with_business_case(team)
    own = team.call("ada", "GET", f"/api/v1/projects/loans/evidence/{evidence.id}")
    assert own.status_code == 200, own.text
    assert own.json()["name"] == "business_case"
    direct = team.call("vera", "GET", f"/api/v1/projects/loans/evidence/{evidence.id}")
    assert direct.status_code == 403
    assert "vera holds no role in project 'loans'" in direct.json()["message"]
    across = team.call("vera", "GET", f"{STATUS}/evidence/{evidence.id}")
    assert across.status_code == 404
    assert f"project credit has no evidence {evidence.id}" in across.json()["message"]


def test_a_body_cannot_name_another_actor(team: Server) -> None:
    """An ``actor`` field in a body is ignored: the token decides who acts."""
    answer = team.call(
        "bob",
        "POST",
        f"{STATUS}/approvals/model_validation",
        json={"decision": "approve", "comment": "as vera", "actor": "vera"},
    )
    assert answer.status_code == 403
    assert "bob may not approve" in answer.json()["message"]
    assert [e.actor for e in events(team, "approval.approve.refused")] == ["bob"]

    added = team.call(
        "ada",
        "POST",
        f"{STATUS}/members",
        json={"user": "vera", "role": "auditor", "actor": "vera"},
    )
    assert added.status_code == 201, added.text
    assert [e.actor for e in events(team, "member.added") if e.subject == "member:vera"] == [
        "ada",
        "ada",
    ]


# -- browser sessions: CSRF and sign-in -------------------------------------------------------


def signed_in(team: Server, name: str) -> tuple[TestClient, str]:
    """Return a client signed in as ``name`` through the login form, and its session secret."""
    client = TestClient(team.client.app, raise_server_exceptions=False)
    answer = post_login(
        client,
        data={"username": name, "password": PASSWORD, "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    raw = client.cookies[SESSION_COOKIE]
    return client, raw


def test_session_cookie_post_without_csrf_header_is_refused(team: Server) -> None:
    client, raw = signed_in(team, "ada")
    body = {"user": "emil", "role": "auditor"}
    assert client.get(STATUS).status_code == 200  # reading needs no CSRF token

    missing = client.post(f"{STATUS}/members", json=body)
    assert missing.status_code == 403, missing.text
    assert "CSRF token is missing or wrong" in missing.json()["message"]
    wrong = client.post(f"{STATUS}/members", json=body, headers={CSRF_HEADER: "0" * 64})
    assert wrong.status_code == 403
    refused = events(team, "csrf.refused")
    assert [(e.actor, e.subject) for e in refused] == [
        ("ada", f"request:POST {STATUS}/members")
    ] * 2
    assert raw not in trail_text(team)
    assert ("emil", "auditor") not in [
        tuple(m.values()) for m in team.call("ada", "GET", f"{STATUS}/members").json()
    ]

    good = client.post(f"{STATUS}/members", json=body, headers={CSRF_HEADER: csrf_token(raw)})
    assert good.status_code == 201, good.text
    assert events(team, "member.added")[-1].actor == "ada"


def test_wrong_password_shows_the_form_again_and_is_audited(team: Server) -> None:
    client = TestClient(team.client.app, raise_server_exceptions=False)
    answer = post_login(
        client, data={"username": "vera", "password": "not the password"}, follow_redirects=False
    )
    assert answer.status_code == 401
    assert "text/html" in answer.headers["content-type"]
    assert "Wrong user name or password" in answer.text
    assert SESSION_COOKIE not in client.cookies
    unknown = post_login(client, data={"username": "nobody", "password": "whatever it is"})
    assert unknown.status_code == 401
    failed = events(team, "login.failed")
    assert [(e.actor, e.subject) for e in failed] == [
        ("anonymous", "user:vera"),
        ("anonymous", "user:(no such user)"),
    ]
    assert "not the password" not in trail_text(team)


def test_disabled_user_cannot_sign_in(team: Server) -> None:
    team.accounts.set_disabled("root", "bob", True)
    client = TestClient(team.client.app, raise_server_exceptions=False)
    answer = post_login(client, data={"username": "bob", "password": PASSWORD})
    assert answer.status_code == 401
    assert events(team, "login.failed")[-1].payload["reason"] == "disabled account"


def test_signed_out_session_no_longer_works(team: Server) -> None:
    client, raw = signed_in(team, "vera")
    out = client.post("/logout", data={"csrf_token": csrf_token(raw)}, follow_redirects=False)
    assert out.status_code == 303
    stale = TestClient(team.client.app, raise_server_exceptions=False)
    stale.cookies.set(SESSION_COOKIE, raw)
    answer = stale.get(STATUS)
    assert answer.status_code == 401
    assert "browser session has ended" in answer.json()["message"]


# -- tokens: stored hashed, shown once ---------------------------------------------------------


def test_tokens_are_stored_hashed(team: Server) -> None:
    with team.store.transaction() as session:
        rows = list(session.execute(select(ApiToken)).scalars())
        stored = {
            r.token_hash: " ".join(str(getattr(r, c.name)) for c in ApiToken.__table__.columns)
            for r in rows
        }
    for raw in team.tokens.values():
        assert token_hash(raw) in stored
        assert all(raw not in text for text in stored.values())
        assert all(raw[12:] not in text for text in stored.values())


def test_a_new_token_is_shown_once(team: Server) -> None:
    made = team.call("vera", "POST", "/api/v1/tokens", json={"label": "laptop", "days": 30})
    assert made.status_code == 201, made.text
    raw = made.json()["token"]
    assert raw.startswith("mlg_")
    assert made.json()["prefix"] == raw[:12]
    listed = team.call("vera", "GET", "/api/v1/tokens")
    assert listed.status_code == 200
    assert raw not in listed.text
    assert "token" not in listed.json()[0]
    assert [t["label"] for t in listed.json()] == ["laptop", "tests"]
    me = team.client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert me.json()["name"] == "vera"
    assert raw not in trail_text(team)


def test_token_lifetime_is_checked(team: Server) -> None:
    answer = team.call("vera", "POST", "/api/v1/tokens", json={"days": 0})
    assert answer.status_code == 422
    assert "days" in answer.json()["message"]


def test_body_that_is_not_utf8_is_a_clear_400(team: Server) -> None:
    answer = team.client.post(
        f"{STATUS}/members",
        content=b'{"user": "\xff\xfe", "role": "auditor"}',
        headers={**team.headers("ada"), "Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad_request"
    assert "expected JSON text in UTF-8" in answer.json()["message"]


def operations(team: Server) -> list[tuple[str, str]]:
    """Return every operation of the API's schema, path parameters filled with ``1``."""
    schema = team.client.get("/api/v1/openapi.json").json()
    found = []
    for path, methods in schema["paths"].items():
        filled = re.sub(r"\{[^}]+\}", "1", path)
        found += [(method.upper(), filled) for method in methods]
    return found


def test_every_operation_needs_a_token(team: Server) -> None:
    """No route of the schema answers without credentials, whatever it is."""
    found = operations(team)
    assert len(found) >= 16
    for method, path in found:
        answer = team.client.request(method, path)
        assert answer.status_code == 401, (method, path, answer.status_code, answer.text[:200])
        assert answer.json()["error"] == "unauthenticated"
    # One client's refusals are recorded up to a limit per minute (a minute may turn meanwhile).
    recorded = len(events(team, "auth.refused"))
    assert min(len(found), ANONYMOUS_PER_MINUTE) <= recorded <= len(found)


def test_every_change_by_session_needs_the_csrf_token(team: Server) -> None:
    """A page of another site could send the session cookie; without the token, nothing runs."""
    client, _ = signed_in(team, "ada")
    changes = [(m, p) for m, p in operations(team) if m not in ("GET", "HEAD", "OPTIONS")]
    assert changes
    for method, path in changes:
        answer = client.request(method, path, json={})
        assert answer.status_code == 403, (method, path, answer.status_code, answer.text[:200])
        assert "CSRF" in answer.json()["message"]
    assert len(events(team, "csrf.refused")) == len(changes)


def test_sign_in_never_sends_the_browser_to_another_site(team: Server) -> None:
    client = TestClient(team.client.app, raise_server_exceptions=False)
    for target in (
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "/\t/evil.example",
    ):
        answer = post_login(
            client,
            data={"username": "vera", "password": PASSWORD, "next": target},
            follow_redirects=False,
        )
        assert answer.status_code == 303
        location = answer.headers["location"]
        # Browsers drop tabs and newlines from a URL before reading it.
        cleaned = re.sub(r"[\t\n\r]", "", location)
        assert cleaned.startswith("/"), (target, location)
        assert not cleaned.startswith(("//", "/\\")), (target, location)


def test_token_number_out_of_range_is_refused(team: Server) -> None:
    answer = team.call("vera", "DELETE", f"/api/v1/tokens/{2**70}")
    assert answer.status_code == 422
    assert "token_id" in answer.json()["message"]
    missing = team.call("vera", "DELETE", "/api/v1/tokens/123456")
    assert missing.status_code == 404
    assert "no token 123456 of vera" in missing.json()["message"]
