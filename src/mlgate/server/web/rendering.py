"""Rendering pages: the Jinja environment (escaping on), the layout's context, redirects."""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from mlgate import __version__
from mlgate.server.accounts import Principal, csrf_token

_TEMPLATES = resources.files("mlgate.server.web") / "templates"
ENV = Environment(
    loader=FileSystemLoader(str(_TEMPLATES)),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def path_segment(value: Any) -> str:
    """Return ``value`` quoted to be one segment of a URL path (a project name in a link)."""
    return quote(str(value), safe="")


def moment(value: datetime | str | None) -> str:
    """Return a time as the pages show it: UTC to the second, a dash when there is none."""
    if value is None:
        return "\u2014"
    if isinstance(value, str):
        return value[:19].replace("T", " ")
    return value.strftime("%Y-%m-%d %H:%M:%S")


ENV.filters["seg"] = path_segment
ENV.filters["when"] = moment
SECURITY_HEADERS = {
    # Everything the pages need is inline or served by this server, and no page runs a script.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def render(
    request: Request,
    template: str,
    user: Principal | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` inside the layout for ``user``, with the security headers."""
    page = ENV.get_template(template).render(
        request=request,
        user=user,
        csrf=csrf_token(user.raw_token) if user is not None and user.raw_token else "",
        version=__version__,
        **context,
    )
    return HTMLResponse(page, status_code=status, headers=SECURITY_HEADERS)


def to_login(request: Request) -> RedirectResponse:
    """Send the browser to the sign-in page, coming back here afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def safe_next(target: str | None) -> str:
    """Return ``target`` if it is a path on this server, else the dashboard.

    An absolute URL or a scheme-relative ``//host`` would send a signed-in user elsewhere.
    """
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
