"""Small pieces the pages share: the message shown after a form succeeded, and its redirect.

After a successful form post the browser is sent back (303) with ``?done=<code>`` and maybe
``&what=<detail>``; only the known codes print a message, so a crafted link cannot make a page
say anything it would not say itself (the detail is escaped and cut short).
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse

FLASH = {
    "submitted": "Document submitted",
    "advanced": "The project moved to the next stage",
    "approved": "Approval recorded",
    "rejected": "Rejection recorded",
}
MAX_DETAIL = 120


def flash(request: Request) -> str | None:
    """Return the message a redirect after a successful form asked to show, if any."""
    text = FLASH.get(request.query_params.get("done", ""))
    if text is None:
        return None
    detail = request.query_params.get("what", "")[:MAX_DETAIL]
    return f"{text}: {detail}" if detail else f"{text}."


def done(path: str, code: str, what: str = "") -> RedirectResponse:
    """Redirect (303) to ``path`` with the success message ``code`` and its detail."""
    query = {"done": code, **({"what": what[:MAX_DETAIL]} if what else {})}
    return RedirectResponse(f"{path}?{urlencode(query)}", status_code=303)
