"""A team server on a fresh store, its users and tokens, and a project with a team."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mlgate.registry.db import Store
from mlgate.server.accounts import Accounts
from mlgate.server.app import create_app
from mlgate.server.settings import ServerSettings

PASSWORD = "correct horse battery"
# Who holds what in the sample project; the owner (ada) holds admin and data_scientist.
TEAM = {
    "vera": "validator",
    "rita": "risk_officer",
    "bob": "business_owner",
    "emil": "ml_engineer",
    "audrey": "auditor",
}


@dataclass
class Server:
    """A running application, its accounts and each user's token."""

    client: TestClient
    accounts: Accounts
    settings: ServerSettings
    store: Store
    tokens: dict[str, str] = field(default_factory=dict)

    def user(self, name: str, *, admin: bool = False, password: str | None = PASSWORD) -> str:
        """Create ``name`` with a password and an API token; return the token."""
        self.accounts.create_user("operator", name, password, admin=admin)
        _, raw = self.accounts.issue_token("operator", name, "tests")
        self.tokens[name] = raw
        return raw

    def headers(self, name: str) -> dict[str, str]:
        """Return the Authorization header of ``name``'s token."""
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def call(self, name: str, method: str, path: str, **kwargs):  # type: ignore[no-untyped-def]
        """Send a request as ``name`` and return the response."""
        return self.client.request(method, path, headers=self.headers(name), **kwargs)


def server_settings(home: Path, database_url: str | None = None) -> ServerSettings:
    """Return settings whose store and artifacts live under ``home``."""
    return ServerSettings(
        home=home,
        database_url=database_url or f"sqlite:///{home / 'mlgate.db'}",
        artifact_url=str(home / "artifacts"),
    )


@contextmanager
def running_server(home: Path, admin: str = "root") -> Iterator[Server]:
    """Yield a team server on a fresh SQLite store under ``home``, ``admin`` its server admin."""
    settings = server_settings(home / "server")
    settings.prepare()
    store = Store(settings.database_url)
    app = create_app(settings, store)
    with TestClient(app, raise_server_exceptions=False) as client:
        srv = Server(client, app.state.accounts, settings, store)
        srv.user(admin, admin=True)
        yield srv
    store.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A team server on a fresh SQLite store with one server admin, ``root``."""
    with running_server(tmp_path) as srv:
        yield srv


@pytest.fixture
def team(server: Server) -> Server:
    """The server with project ``credit`` (medium tier) owned by ada and a full team."""
    server.user("ada", admin=True)
    answer = server.call(
        "ada",
        "POST",
        "/api/v1/projects",
        json={"name": "credit", "target": "default", "tier": "medium", "sensitive": ["sex"]},
    )
    assert answer.status_code == 201, answer.text
    for name, role in TEAM.items():
        server.user(name)
        added = server.call(
            "ada", "POST", "/api/v1/projects/credit/members", json={"user": name, "role": role}
        )
        assert added.status_code == 201, added.text
    return server


def post_login(client: TestClient, data: dict[str, str], **kwargs):  # type: ignore[no-untyped-def]
    """Post the sign-in form as a browser does: with the token of the form it was shown."""
    form = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token is not None, form.text
    return client.post("/login", data={**data, "login_token": token.group(1)}, **kwargs)
