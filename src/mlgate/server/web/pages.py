"""Signing in and out, and the error page; the other pages live in sibling modules."""

from __future__ import annotations

import hmac
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from mlgate.server.accounts import Principal, csrf_token
from mlgate.server.auth import SESSION_COOKIE, accounts, authenticate, source
from mlgate.server.errors import ApiError
from mlgate.server.web.rendering import render, safe_next, to_login

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


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
    assert principal.raw_token is not None
    if not hmac.compare_digest(sent, csrf_token(principal.raw_token)):
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


def error_page(request: Request, status: int, message: str, hint: str | None) -> Response | None:
    """Render an error for a page; ``None`` for the API, which answers in JSON."""
    if request.url.path.startswith("/api/"):
        return None
    if status == 401:
        return to_login(request)
    user = getattr(request.state, "principal", None)
    return render(
        request, "error.html", user, status=status, status_code=status, message=message, hint=hint
    )


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    """Show the sign-in form."""
    return render(request, "login.html", next=safe_next(next), failed=False)


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1000)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the password; on success set the session cookie and go where the user was going.

    A failed sign-in is audited and answers the same whether the name exists or not.
    """
    raw = accounts(request).sign_in(username, password, source(request))
    if raw is None:
        return render(request, "login.html", status=401, next=safe_next(next), failed=True)
    response = RedirectResponse(safe_next(next), status_code=303)
    settings = request.app.state.settings
    response.set_cookie(
        SESSION_COOKIE,
        raw,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request, user: FormUser) -> Response:
    """End the session and return to the sign-in page."""
    accounts(request).sign_out(user)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    logger.info("%s signed out", user.name)
    return response


@router.get("/")
def dashboard(request: Request, user: WebUser) -> Response:
    """The portfolio dashboard."""
    return render(request, "dashboard.html", user)
