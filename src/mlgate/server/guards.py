"""Checks every request passes before any route sees it."""

from __future__ import annotations

from fastapi import Request

from mlgate.server.errors import ApiError

# How NUL is written in a query (percent-encoded) and in JSON text (escaped); uploads
# (multipart) are checked by the readers of their formats, which refuse control characters.
IN_QUERY = (b"\x00", b"%00")
IN_JSON = (b"\x00", b"\\u0000")


async def refuse_nul(request: Request) -> None:
    """Refuse (422) a request whose path, query or text body holds the NUL character.

    No name, comment or document of the process holds one, and PostgreSQL refuses to store it:
    refused here, it gets a clear answer instead of failing half-way into the store.
    """
    where = None
    if "\x00" in request.url.path:
        where = "path"
    elif any(m in request.scope.get("query_string", b"") for m in IN_QUERY):
        where = "query"
    else:
        kind = request.headers.get("content-type", "")
        if kind.startswith("application/json"):
            body = await request.body()
            where = "body" if any(m in body for m in IN_JSON) else None
        elif kind.startswith("application/x-www-form-urlencoded"):
            form = await request.form()  # parsed once; the route reads the same copy
            where = "form" if any("\x00" in str(v) for v in form.values()) else None
    if where is not None:
        raise ApiError(
            422,
            f"the request's {where} holds the NUL character (U+0000); expected text without it",
        )
