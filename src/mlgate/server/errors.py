"""How errors become HTTP answers: a status, and the same message and hint the CLI prints."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from mlgate.errors import (
    ConflictError,
    GovernanceError,
    IntegrityError,
    NotFoundError,
    PolicyViolation,
    ValidationError,
    describe_problems,
)

logger = logging.getLogger(__name__)

STATUS = {
    ValidationError: 422,
    NotFoundError: 404,
    ConflictError: 409,
    PolicyViolation: 403,
    IntegrityError: 409,
}
CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    500: "internal_error",
}
# FastAPI's words for a body it could not decode (bytes that are not UTF-8, say), and ours.
UNREADABLE_BODY = {
    "There was an error parsing the body": (
        "the request body could not be read: expected JSON text in UTF-8 (or a multipart form "
        "for a file upload), matching the request's Content-Type"
    )
}


class ApiError(Exception):
    """An answer other than success that the server itself decides (401, 403, 413...)."""

    def __init__(
        self, status: int, message: str, hint: str | None = None, headers: dict | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.hint = hint
        self.headers = headers or {}


def status_of(error: GovernanceError) -> int:
    """Return the HTTP status of a service-layer error."""
    for kind, status in STATUS.items():
        if isinstance(error, kind):
            return status
    return 400


def error_body(status: int, message: str, hint: str | None = None) -> dict[str, Any]:
    """Return the JSON body of every error answer: a code, a message and maybe a hint."""
    body: dict[str, Any] = {"error": CODES.get(status, "error"), "message": message}
    if hint:
        body["hint"] = hint
    return body


def install(app: FastAPI, html_errors: Any = None) -> None:
    """Register the handlers that turn every error into a JSON answer (or an HTML page).

    ``html_errors(request, status, message, hint)`` renders the error for browser pages; it
    returns ``None`` for API requests.
    """

    def answer(
        request: Request,
        status: int,
        message: str,
        hint: str | None = None,
        headers: dict | None = None,
    ) -> Response:
        if html_errors is not None:
            page = html_errors(request, status, message, hint)
            if page is not None:
                return page
        return JSONResponse(error_body(status, message, hint), status, headers=headers)

    @app.exception_handler(GovernanceError)
    async def _governance(request: Request, exc: GovernanceError) -> Response:
        return answer(request, status_of(exc), exc.message, exc.hint)

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> Response:
        return answer(request, exc.status, exc.message, exc.hint, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = describe_problems(_plain(exc.errors()))
        return answer(request, 422, f"the request is not valid: {problems}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        message = UNREADABLE_BODY.get(message, message)
        return answer(request, exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        conflict = store_conflict(exc)
        if conflict is not None:
            path = request.url.path
            logger.warning(
                "%s %s collided with a concurrent change: %s", request.method, path, conflict
            )
            return answer(request, 409, conflict, "send the request again")
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return answer(
            request,
            500,
            f"internal error: {type(exc).__name__}. This is a bug in mlgate; the server's log "
            "has the details",
        )


# PostgreSQL's codes for a transaction it aborted because of a concurrent one.
RETRYABLE_STATES = {"40001": "serialization failure", "40P01": "deadlock"}


def store_conflict(exc: Exception) -> str | None:
    """Return why the store refused a write that collided with a concurrent one, else ``None``.

    The service layer locks what it reads before it writes, so these are not expected; should
    one happen it is a conflict the client can retry, not an internal error.
    """
    if isinstance(exc, sqlalchemy.exc.IntegrityError):
        return (
            "the change conflicts with a record stored at the same time (the store refused "
            f"a duplicate: {str(exc.orig).splitlines()[0]})"
        )
    state = getattr(getattr(exc, "orig", None), "sqlstate", None)
    if isinstance(exc, sqlalchemy.exc.OperationalError) and state in RETRYABLE_STATES:
        return (
            "the change collided with another one made at the same time and was undone "
            f"(PostgreSQL {RETRYABLE_STATES[state]}, SQLSTATE {state})"
        )
    return None


def _plain(errors: Any) -> list[dict[str, Any]]:
    """Return FastAPI's validation errors with the request part named first in ``loc``."""
    plain = []
    for error in errors:
        item = dict(error)
        item["loc"] = tuple(str(part) for part in error.get("loc", ()))
        item.pop("ctx", None)
        item.pop("input", None)
        plain.append(item)
    return plain
