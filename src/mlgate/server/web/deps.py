"""What every page declares: the signed-in user, a form's CSRF check, the project it shows.

A page without a session sends the browser to sign in; a form post must carry the session's
CSRF token; a project page is open to the project's members and to server admins, exactly as
the API is.
"""

from __future__ import annotations

import hmac
import logging
from typing import Annotated

from fastapi import Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from mlgate.lifecycle.service import Governance
from mlgate.server.accounts import Principal, csrf_token
from mlgate.server.auth import accounts, authenticate, member_roles, projects, source
from mlgate.server.errors import ApiError

logger = logging.getLogger(__name__)


async def web_user(request: Request) -> Principal:
    """Return the signed-in user of a page; without a session the page sends them to sign in."""
    principal = await authenticate(request)
    if principal is None:
        raise ApiError(401, "sign in to see this page")
    request.state.principal = principal
    return principal


async def form_user(request: Request) -> Principal:
    """Return the signed-in user of a form post whose CSRF token belongs to their session."""
    principal = await web_user(request)
    form = await request.form()
    sent = str(form.get("csrf_token", ""))
    if principal.raw_token is None or not hmac.compare_digest(
        sent, csrf_token(principal.raw_token)
    ):
        await run_in_threadpool(
            accounts(request).record_refusal,
            principal.name,
            "csrf.refused",
            f"request:POST {request.url.path}"[:200],
            "the form's CSRF token is missing or does not belong to this session",
            source(request),
        )
        raise ApiError(403, "this form is out of date or came from another site; reload the page")
    return principal


WebUser = Annotated[Principal, Depends(web_user)]
FormUser = Annotated[Principal, Depends(form_user)]
PageProjectName = Annotated[str, Path(min_length=1, max_length=200, description="Project name.")]


def visible_projects(request: Request, user: Principal) -> list[str]:
    """Return the projects ``user`` may see: those they hold a role in, every one for admins."""
    names = projects(request).names()
    if user.is_admin:
        return names
    held = projects(request).roles(user.name)
    return [name for name in names if name in held]


def open_for_page(request: Request, user: Principal, name: str) -> tuple[Governance, set[str]]:
    """Return project ``name`` acting as ``user``, and their roles; refuse a non-member (403)."""
    roles = member_roles(request, user, name)
    return projects(request).open(name, user.name), roles
