"""Signing in and out, the error page, and the router that gathers every page."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from mlgate.server.auth import SESSION_COOKIE, accounts, source
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


for _module in (portfolio, project_pages, evidence_pages, inbox, audit_pages):
    router.include_router(_module.router)

__all__ = ["FormUser", "WebUser", "error_page", "router"]
