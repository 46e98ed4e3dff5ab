"""The web pages: server-rendered HTML that works offline, for people rather than scripts.

Pages sign in with a password and keep a session cookie (HttpOnly, SameSite=Lax); every form
carries the session's CSRF token, and templates escape everything they print.
"""

from __future__ import annotations

from mlgate.server.web.pages import error_page, router

__all__ = ["error_page", "router"]
