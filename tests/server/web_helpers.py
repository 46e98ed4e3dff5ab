"""Projects governed by the small web test policy, filled documents, and signing in."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import yaml
from fastapi.testclient import TestClient

from mlgate.config import parse_config
from mlgate.documents.examples import example
from mlgate.lifecycle.project import init_project
from mlgate.lifecycle.service import Governance
from mlgate.registry.db import Store
from mlgate.server.accounts import Accounts, csrf_token
from mlgate.server.auth import SESSION_COOKIE
from mlgate.server.projects import Projects
from mlgate.server.settings import ServerSettings

POLICY = Path(__file__).with_name("web_policy.yaml")
PASSWORD = "correct horse battery"


def make_project(
    settings: ServerSettings,
    store: Store,
    name: str,
    owner: str,
    members: dict[str, str] | None = None,
    tier: str = "medium",
) -> Governance:
    """Create project ``name`` under the web test policy, owned by ``owner``, with ``members``."""
    config = parse_config(
        {"project": name, "tier": tier, "owner": owner, "data": {"target": "y"}}, "the test"
    )
    server = Projects(settings, store)
    init_project(server.workspace(name), config, policy_file=POLICY, store=store)
    gov = server.open(name, owner)
    for user, role in (members or {}).items():
        gov.add_member(user, role)
    return gov


def business_case(title: str = "Credit-risk scoring for consumer loans") -> str:
    """Return the YAML text of a valid business case with ``title``."""
    document = example("business_case", datetime.now(UTC).date())
    document["title"] = title
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def sign_in(client: TestClient, accounts: Accounts, name: str) -> str:
    """Open a browser session for ``name`` on ``client``; return the session's form token.

    The session is issued directly (as signing in does after checking the password), which
    keeps the tests fast; the sign-in form itself has a test of its own.
    """
    _, raw = accounts.issue_token(name, name, "browser", kind="session", days=1)
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, raw)
    return csrf_token(raw)
