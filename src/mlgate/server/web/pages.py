"""Signing in and out, the error page, and the router that gathers every page."""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from mlgate.server.auth import SESSION_COOKIE, accounts, source
from mlgate.server.errors import ApiError
from mlgate.server.web import audit_pages, evidence_pages, inbox, portfolio, project_pages
from mlgate.server.web.deps import FormUser, WebUser
from mlgate.server.web.rendering import render, safe_next, to_login

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


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


LOGIN_COOKIE = "mlgate_login"


def _login_form(request: Request, next: str, failed: bool, status: int = 200) -> Response:
    """Render the sign-in form with a fresh token that its post must carry back.

    The token also goes into a cookie of this site; a form on another site cannot read it, so
    it cannot sign a visitor in to an account of its choosing.
    """
    token = secrets.token_urlsafe(24)
    page = render(
        request, "login.html", status=status, next=safe_next(next), failed=failed, token=token
    )
    settings = request.app.state.settings
    page.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
        path="/login",
    )
    return page


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    """Show the sign-in form."""
    return _login_form(request, next, failed=False)


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1000)],
    next: Annotated[str, Form(max_length=2000)] = "/",
    login_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Check the password; on success set the session cookie and go where the user was going.

    A failed sign-in is audited and answers the same whether the name exists or not. A post
    without the token of a sign-in form this site showed is refused before any password check.
    """
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(login_token, expected):
        raise ApiError(
            403, "this sign-in form is out of date or came from another site; reload the page"
        )
    raw = accounts(request).sign_in(username, password, source(request))
    if raw is None:
        return _login_form(request, next, failed=True, status=401)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
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


for _module in (portfolio, project_pages, evidence_pages, inbox, audit_pages):
    router.include_router(_module.router)

__all__ = ["FormUser", "WebUser", "error_page", "router"]
