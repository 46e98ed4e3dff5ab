"""A small client of the team server's API: the token, timeouts, and errors the CLI can print.

Every failure becomes one of :mod:`mlgate.errors`' exceptions carrying the server's ``message``
and ``hint``, so the command line prints it as it prints a local error and exits with the same
code: 422 (and 400, 413, 415) -> ``ValidationError`` (2), 404 -> ``NotFoundError`` (3), 409 ->
``ConflictError`` (4), 403 -> ``PolicyViolation`` (5). Two failures exist only in remote mode
and take their codes from the BSD ``sysexits`` convention, as the internal-error code 70 does:

- ``ServerUnreachable`` (69, ``EX_UNAVAILABLE``): no server answers at ``MLGATE_SERVER_URL``,
  or it did not answer in time;
- ``NotAuthenticated`` (77, ``EX_NOPERM``): no token is set, or the server did not accept it
  (401: unknown, revoked or expired, or its user is disabled).

An answer the server could not give (500, or a proxy's error page) is ``ServerFailure`` (70).
The token is sent only in the ``Authorization`` header and never logged or printed.
"""

from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from mlgate import __version__
from mlgate.errors import (
    ConflictError,
    GovernanceError,
    NotFoundError,
    PolicyViolation,
    ValidationError,
)

logger = logging.getLogger(__name__)

URL_VARIABLE = "MLGATE_SERVER_URL"
TOKEN_VARIABLE = "MLGATE_TOKEN"
TIMEOUT_VARIABLE = "MLGATE_SERVER_TIMEOUT"
API_PREFIX = "/api/v1"
CONNECT_SECONDS = 10.0
# Checks, monitoring runs and reports run while the request waits; the slow ones take minutes.
DEFAULT_TIMEOUT_SECONDS = 600.0
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
TOKEN_HINT = (
    "make a token with `mlgate token create NAME` on the server (operator) or POST "
    "/api/v1/tokens, then export MLGATE_TOKEN=...; unset MLGATE_SERVER_URL to work locally"
)


class ServerUnreachable(GovernanceError):
    """No team server answered at the configured address, or it did not answer in time."""

    exit_code = 69


class NotAuthenticated(GovernanceError):
    """No token is configured, or the team server did not accept it."""

    exit_code = 77


class ServerFailure(GovernanceError):
    """The server failed to answer a request (a bug in the server, or a proxy in the way)."""

    exit_code = 70


STATUS_ERRORS: dict[int, type[GovernanceError]] = {
    400: ValidationError,
    403: PolicyViolation,
    404: NotFoundError,
    409: ConflictError,
    413: ValidationError,
    415: ValidationError,
    422: ValidationError,
    501: ValidationError,  # a format this server cannot produce (a PDF without its engine)
}


def server_url(raw: str) -> str:
    """Return the server's base address from ``MLGATE_SERVER_URL``, without ``/api/v1``.

    Refuses anything but an ``http`` or ``https`` address with a host, naming what was given.
    """
    text = raw.strip().rstrip("/")
    text = text.removesuffix(API_PREFIX).rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(
            f"{URL_VARIABLE} must be an http:// or https:// address with a host, such as "
            f"http://127.0.0.1:8700; got '{raw}'"
        )
    if parts.query or parts.fragment:
        raise ValidationError(
            f"{URL_VARIABLE} must not carry a query or fragment; got '{raw}'",
            hint="give the server's base address, such as https://mlgate.example.internal",
        )
    return text


def checked_token(raw: str | None) -> str:
    """Return the token from ``MLGATE_TOKEN``; refuse a missing or malformed one."""
    token = (raw or "").strip()
    if not token:
        raise NotAuthenticated(
            f"{TOKEN_VARIABLE} is not set: the team server needs a token", hint=TOKEN_HINT
        )
    if not token.isascii() or not token.isprintable() or " " in token:
        raise NotAuthenticated(
            f"{TOKEN_VARIABLE} is not a token: expected printable ASCII without spaces "
            "(tokens look like mlg_...)",
            hint=TOKEN_HINT,
        )
    return token


def timeout_seconds(raw: str | None) -> float:
    """Return the read timeout from ``MLGATE_SERVER_TIMEOUT`` (seconds), or the default."""
    if raw is None or not raw.strip():
        return DEFAULT_TIMEOUT_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= 86_400:
        raise ValidationError(
            f"{TIMEOUT_VARIABLE} must be a number of seconds between 1 and 86400; got '{raw}'"
        )
    return seconds


def segment(value: object) -> str:
    """Return ``value`` quoted as one path segment (names may hold spaces or slashes)."""
    return quote(str(value), safe="")


class ServerClient:
    """Calls the team server's API as the token's user and turns failures into mlgate errors."""

    def __init__(
        self,
        url: str,
        token: str,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = server_url(url)
        self._http = httpx.Client(
            base_url=self.url + API_PREFIX,
            headers={
                "Authorization": f"Bearer {checked_token(token)}",
                "User-Agent": f"mlgate-cli/{__version__}",
                "Accept": "application/json",
            },
            timeout=httpx.Timeout(timeout, connect=min(CONNECT_SECONDS, timeout)),
            follow_redirects=False,
            transport=transport,
        )
        self.timeout = timeout

    @classmethod
    def from_env(cls) -> ServerClient:
        """Return a client for ``MLGATE_SERVER_URL`` with ``MLGATE_TOKEN``."""
        url = server_url(os.environ.get(URL_VARIABLE, ""))
        parts = urlsplit(url)
        if parts.scheme == "http" and parts.hostname not in LOOPBACK:
            logger.warning(
                "%s is plain http to %s: the token crosses the network unencrypted; "
                "use https outside a trusted network",
                URL_VARIABLE,
                parts.hostname,
            )
        return cls(
            url,
            checked_token(os.environ.get(TOKEN_VARIABLE)),
            timeout_seconds(os.environ.get(TIMEOUT_VARIABLE)),
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # -- requests ---------------------------------------------------------------------------

    def get(self, path: str, **params: Any) -> Any:
        """Return the JSON answer of ``GET path`` (``None`` parameters are left out)."""
        return self.request("GET", path, params=params).json()

    def post(self, path: str, json: Any = None, **upload: Any) -> Any:
        """Return the JSON answer of ``POST path`` with a JSON body or a multipart upload."""
        return self.request("POST", path, json=json, **upload).json()

    def patch(self, path: str, json: Any) -> Any:
        """Return the JSON answer of ``PATCH path``."""
        return self.request("PATCH", path, json=json).json()

    def download(self, path: str, **params: Any) -> httpx.Response:
        """Return the answer of ``GET path`` whose body is a file (HTML, PDF, JSON...)."""
        return self.request("GET", path, params=params, accept="*/*")

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        files: Any = None,
        data: dict[str, Any] | None = None,
        accept: str | None = None,
    ) -> httpx.Response:
        """Send one request; return a successful answer or raise the matching mlgate error."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        headers = {"Accept": accept} if accept else None
        try:
            answer = self._http.request(
                method, path, params=query, json=json, files=files, data=data, headers=headers
            )
        except httpx.TimeoutException:
            raise ServerUnreachable(
                f"the team server at {self.url} did not answer {method} {path} within "
                f"{self.timeout:g} s",
                hint=f"it may still be working; raise {TIMEOUT_VARIABLE} (seconds) for slow "
                "checks and reports",
            ) from None
        except httpx.TransportError as exc:
            raise ServerUnreachable(
                f"cannot reach the team server at {self.url}: {_reason(exc)}",
                hint=f"check {URL_VARIABLE} and that `mlgate server` runs there; unset "
                f"{URL_VARIABLE} to work on a local workspace",
            ) from None
        logger.debug("%s %s -> %s", method, path, answer.status_code)
        if answer.is_success:
            return answer
        raise self._error(answer)

    def _error(self, answer: httpx.Response) -> GovernanceError:
        """Return the mlgate error matching a failed answer, with the server's message."""
        status = answer.status_code
        message, hint = _message_of(answer)
        if answer.is_redirect:
            return ServerFailure(
                f"the team server at {self.url} redirected to "
                f"'{answer.headers.get('location', '?')}'",
                hint=f"set {URL_VARIABLE} to the address it redirects to (https?)",
            )
        if status == 401:
            return NotAuthenticated(
                f"the token in {TOKEN_VARIABLE} was not accepted by the team server at "
                f"{self.url}: {message}",
                hint=TOKEN_HINT,
            )
        kind = STATUS_ERRORS.get(status)
        if kind is not None:
            return kind(message, hint=hint)
        return ServerFailure(
            f"the team server at {self.url} failed ({status}): {message}", hint=hint
        )


def _message_of(answer: httpx.Response) -> tuple[str, str | None]:
    """Return the ``message`` and ``hint`` of an error answer, or a description of its body."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        hint = body.get("hint")
        return body["message"], hint if isinstance(hint, str) else None
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"]), None
    kind = answer.headers.get("content-type", "no content type").split(";")[0]
    return f"{answer.status_code} {answer.reason_phrase} ({kind}, not an mlgate answer)", None


def _reason(exc: httpx.TransportError) -> str:
    """Return why a connection failed, in words (``connection refused``, a DNS failure...)."""
    text = str(exc) or type(exc).__name__
    if "refused" in text.lower():
        return "connection refused"
    return text
