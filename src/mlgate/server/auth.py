"""Who a request acts as: the dependencies every endpoint and page declares.

The API takes ``Authorization: Bearer <token>``; the web pages take the session cookie that
signing in sets. A request without valid credentials is refused with 401 and audited; a browser
form must also carry the session's CSRF token. The actor of every action is the authenticated
user: no endpoint accepts a name to act as.
"""

from __future__ import annotations

import hmac
import logging
from typing import Annotated

from fastapi import Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from mlgate.lifecycle.service import Governance
from mlgate.server.accounts import ANONYMOUS, Accounts, Principal, csrf_token
from mlgate.server.errors import ApiError
from mlgate.server.projects import Projects

logger = logging.getLogger(__name__)

SESSION_COOKIE = "mlgate_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REFUSALS = {
    "none": "no credentials: expected an Authorization: Bearer token",
    "bearer": "the bearer token is unknown, revoked or expired, or its user is disabled",
    "scheme": "the Authorization header does not use the Bearer scheme: expected "
    "'Authorization: Bearer <token>'",
    "cookie": "the browser session has ended; sign in again",
}
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="mlgate"'}


def accounts(request: Request) -> Accounts:
    """Return the server's accounts."""
    return request.app.state.accounts


def projects(request: Request) -> Projects:
    """Return the server's projects."""
    return request.app.state.projects


def source(request: Request) -> str:
    """Return what the trail records as where a request came from: method, path and client."""
    host = request.client.host if request.client else "unknown"
    return f"{request.method} {request.url.path} from {host}"


def credentials(request: Request) -> tuple[str | None, str]:
    """Return the presented secret and how: ``bearer``, ``scheme``, ``cookie`` or ``none``.

    An Authorization header that is not a bearer token is refused, never read as one: the part
    that does not fit may be a secret sent the wrong way, so no message repeats it.
    """
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer":
            return None, "scheme"
        return value.strip() or None, "bearer"
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return cookie, "cookie"
    return None, "none"


async def authenticate(request: Request) -> Principal | None:
    """Return the request's principal, or ``None`` when its credentials are missing or wrong."""
    raw, _ = credentials(request)
    if raw is None:
        return None
    return await run_in_threadpool(accounts(request).authenticate, raw)


async def require_user(request: Request) -> Principal:
    """Return the authenticated user of an API request; refuse (401, audited) otherwise.

    A request that authenticates with the browser's session cookie and changes state must also
    send the session's CSRF token in the ``X-CSRF-Token`` header.
    """
    _, how = credentials(request)
    principal = await authenticate(request)
    if principal is None:
        reason = REFUSALS[how]
        await run_in_threadpool(
            accounts(request).record_refusal,
            ANONYMOUS,
            "auth.refused",
            f"request:{request.method} {request.url.path}"[:200],
            reason,
            source(request),
        )
        raise ApiError(401, reason, hint="mlgate token create makes a token", headers=CHALLENGE)
    if principal.kind == "session" and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        await _check_csrf(request, principal, sent)
    request.state.principal = principal
    return principal


async def _check_csrf(request: Request, principal: Principal, sent: str) -> None:
    assert principal.raw_token is not None
    if not hmac.compare_digest(sent, csrf_token(principal.raw_token)):
        await run_in_threadpool(
            accounts(request).record_refusal,
            principal.name,
            "csrf.refused",
            f"request:{request.method} {request.url.path}"[:200],
            "the form's CSRF token is missing or does not belong to this session",
            source(request),
        )
        raise ApiError(
            403,
            "the request's CSRF token is missing or wrong; reload the page and try again",
        )


User = Annotated[Principal, Depends(require_user)]
ProjectName = Annotated[str, Path(min_length=1, max_length=200, description="Project name.")]


def member_roles(request: Request, principal: Principal, project: str) -> set[str]:
    """Return ``principal``'s roles in ``project``; refuse (403, audited) a non-member.

    Server admins may read every project without a role in it; changing one still needs the
    role the policy asks for.
    """
    held = projects(request).roles(principal.name).get(project, set())
    if held or principal.is_admin:
        return held
    names = projects(request).names()
    if project not in names:
        return held  # opening it names the missing project (404)
    accounts(request).record_refusal(
        principal.name,
        "access.refused",
        f"project:{project}",
        f"{principal.name} holds no role in project {project}",
        source(request),
    )
    raise ApiError(
        403,
        f"{principal.name} holds no role in project '{project}'",
        hint="an admin of the project gives you a role: mlgate member add NAME --role ROLE",
    )


def open_project(request: Request, principal: User, project: ProjectName) -> Governance:
    """Return the project's governance acting as the authenticated user (members only)."""
    member_roles(request, principal, project)
    return projects(request).open(project, principal.name)


Project = Annotated[Governance, Depends(open_project)]
