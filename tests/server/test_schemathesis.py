"""Property-based tests of the whole API from its OpenAPI schema: no request is a server error.

Schemathesis generates valid and invalid requests for every operation the schema describes
(whatever routers it holds when the tests run) and sends them to the application in process.
Bad input must be answered with a 4xx naming the problem, never a 500. Three runs: as a user
who owns the sample project and is a server admin, the same with the project's name filled in
(so the generated requests reach past the "no such project" answer), and without a token,
where no request may succeed.

Each operation's requests are drawn with Hypothesis from ``operation.as_strategy`` here, rather
than with ``schemathesis.pytest.from_fixture``: that loader sets a private attribute of pytest's
test items that pytest 9 no longer has. A failing operation is listed with the request that
failed, its answer and the last lines of the server's traceback.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from schemathesis.generation import GenerationMode

from mlgate.registry.db import Store
from mlgate.server import errors
from mlgate.server.app import create_app
from tests.server.conftest import TEAM, Server, server_settings

PROJECT = "credit"
ACTOR = "ada"
# Rendering a PDF report takes seconds on a busy machine; a request is given this long before
# it counts as hanging (the default of 10 seconds made such runs fail at random).
SLOWEST = 120
EXAMPLES = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server on a fresh SQLite store with project ``credit`` and its team."""
    home: Path = tmp_path_factory.mktemp("fuzzed") / "server"
    config = server_settings(home)
    config.prepare()
    store = Store(config.database_url)
    app = create_app(config, store)
    with TestClient(app, raise_server_exceptions=False) as client:
        srv = Server(client, app.state.accounts, config, store)
        srv.user(ACTOR, admin=True)
        made = srv.call(
            ACTOR,
            "POST",
            "/api/v1/projects",
            json={"name": PROJECT, "target": "default", "sensitive": ["sex"]},
        )
        assert made.status_code == 201, made.text
        for name, role in TEAM.items():
            srv.user(name)
            body = {"user": name, "role": role}
            added = srv.call(ACTOR, "POST", f"/api/v1/projects/{PROJECT}/members", json=body)
            assert added.status_code == 201, added.text
        yield srv
    store.close()


@pytest.fixture(scope="module")
def api_schema(fuzzed: Server) -> Any:
    """The API's OpenAPI schema, read from the application itself."""
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", fuzzed.client.app)


class ServerErrors(logging.Handler):
    """Keeps the last lines of each traceback the server logs for an unexpected error."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.tracebacks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            lines = traceback.format_exception(*record.exc_info)
            self.tracebacks.append("".join(lines[-3:]).strip())


@pytest.fixture
def server_errors() -> Iterator[ServerErrors]:
    """Collect the tracebacks of the server's 500 answers, to name them in a failure."""
    handler = ServerErrors()
    log = logging.getLogger(errors.__name__)
    log.addHandler(handler)
    yield handler
    log.removeHandler(handler)


def bearer(server: Server) -> dict[str, str]:
    """Return a valid Authorization header for the actor.

    A generated ``DELETE /tokens/{id}`` may revoke the token in use; a new one is made then, so
    the remaining requests are still authenticated.
    """
    if server.accounts.authenticate(server.tokens[ACTOR]) is None:
        _, server.tokens[ACTOR] = server.accounts.issue_token("operator", ACTOR, "fuzzing")
    return server.headers(ACTOR)


def describe(case: Any, answer: Any, caught: ServerErrors) -> str:
    """Return a failing request, its answer and the server's traceback, for the report."""
    body = "" if case.body is None else f" body={str(case.body)[:300]!r}"
    return (
        f"{case.method} {case.formatted_path} query={case.query}{body} -> "
        f"{answer.status_code} {answer.text[:300]}\n"
        + (caught.tracebacks[-1] if caught.tracebacks else "(no traceback logged)")
    )


def strategy(operation: Any, project: str | None) -> SearchStrategy[Any]:
    """Return valid and invalid requests for ``operation``; ``project`` fixes its name."""
    fixed = {"project": project} if project and "{project}" in operation.path else None
    return st.one_of(
        *[operation.as_strategy(mode, path_parameters=fixed) for mode in GenerationMode]
    )


def fuzz(
    schema: Any, send: Callable[[Any], None], project: str | None = None
) -> tuple[int, list[str]]:
    """Send generated requests to every operation; return how many and each failing one."""
    operations, failures = 0, []
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=strategy(operation, project))
        @EXAMPLES
        def run(case: Any) -> None:
            send(case)

        try:
            run()
        except Exception as failure:  # a failed assertion, or a request that never finished
            first = str(failure).split("\n\nReproduce with", 1)[0]
            failures.append(f"{operation.method.upper()} {operation.path}: {first}")
    return operations, failures


def assert_all_passed(operations: int, failures: list[str]) -> None:
    """Fail with every failing operation listed."""
    assert operations >= 10, f"the schema holds only {operations} operations"
    assert not failures, f"{len(failures)} operation(s) failed:\n" + "\n\n".join(failures)


def test_authenticated_requests_never_fail_the_server(
    api_schema: Any, fuzzed: Server, server_errors: ServerErrors
) -> None:
    def send(case: Any) -> None:
        answer = case.call(headers=bearer(fuzzed), timeout=SLOWEST)
        assert answer.status_code < 500, describe(case, answer, server_errors)

    assert_all_passed(*fuzz(api_schema, send))


def test_requests_on_the_project_never_fail_the_server(
    api_schema: Any, fuzzed: Server, server_errors: ServerErrors
) -> None:
    def send(case: Any) -> None:
        answer = case.call(headers=bearer(fuzzed), timeout=SLOWEST)
        assert answer.status_code < 500, describe(case, answer, server_errors)

    assert_all_passed(*fuzz(api_schema, send, project=PROJECT))


def test_requests_without_a_token_never_succeed(
    api_schema: Any, fuzzed: Server, server_errors: ServerErrors
) -> None:
    def send(case: Any) -> None:
        answer = case.call(timeout=SLOWEST)
        assert answer.status_code < 500, describe(case, answer, server_errors)
        assert not 200 <= answer.status_code < 300, describe(case, answer, server_errors)

    assert_all_passed(*fuzz(api_schema, send, project=PROJECT))
