"""Small pieces the pages share: the message shown after a form succeeded, and its redirect.

After a successful form post the browser is sent back (303) with ``?done=<code>`` and the
names the message needs (a requirement, a stage, an evidence number). Only the known codes print
a message, and each name must look like an identifier, so a crafted link cannot make a page say
a sentence of its own ("your session expired, enter your password at ...").
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse

FLASH = {
    "submitted": "Document submitted: {kind} as evidence {evidence}.",
    "advanced": "The project moved to the next stage: now in {stage}.",
    "approved": "Approval recorded: {requirement} in {project}.",
    "rejected": "Rejection recorded: {requirement} in {project}.",
}
NAME = re.compile(r"^[\w.-]{1,100}$")


def flash(request: Request) -> str | None:
    """Return the message a redirect after a successful form asked to show, if any."""
    template = FLASH.get(request.query_params.get("done", ""))
    if template is None:
        return None
    names = re.findall(r"{(\w+)}", template)
    values = {n: request.query_params.get(n, "") for n in names}
    if not all(NAME.fullmatch(v) for v in values.values()):
        return None
    return template.format(**values)


def done(path: str, code: str, **names: object) -> RedirectResponse:
    """Redirect (303) to ``path`` with the success message ``code`` and the names it shows."""
    query = {"done": code, **{k: str(v) for k, v in names.items()}}
    return RedirectResponse(f"{path}?{urlencode(query)}", status_code=303)
