"""The command line as a client of a real team server: same commands, same output, same codes.

A uvicorn server runs in a thread on a free port over a fresh SQLite store. The scenarios a user
meets first run ``mlgate`` as a separate process, exactly as typed in a shell; the others run
the same entry point in this process (it starts in a fraction of the time).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
import yaml
from fastapi import FastAPI

from mlgate.client.http import (
    NotAuthenticated,
    ServerClient,
    ServerFailure,
    ServerUnreachable,
    server_url,
)
from mlgate.client.remote import hoist_options
from mlgate.documents import example
from mlgate.errors import ConflictError, GovernanceError, PolicyViolation, ValidationError
from mlgate.lifecycle.models import train_model
from mlgate.registry.db import Store
from mlgate.server.app import create_app
from tests.fixtures import Cli, CliResult, synthetic_frame
from tests.server.conftest import PASSWORD, server_settings

ENTRY = "from mlgate.cli.app import main; main()"
# remote(user, project, *args, cwd=...) runs `mlgate ARGS` in this process as that user.
Remote = Callable[..., CliResult]


@dataclass
class Live:
    """A team server listening on 127.0.0.1 and each user's token."""

    url: str
    app: FastAPI
    tokens: dict[str, str] = field(default_factory=dict)

    def api(self, user: str, method: str, path: str, **kwargs: object) -> httpx.Response:
        """Call the API directly as ``user`` (to set a scene up)."""
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        return httpx.request(method, f"{self.url}/api/v1{path}", headers=headers, **kwargs)

    def project(
        self, name: str, tier: str = "medium", estimator: str | None = None, **roles: str
    ) -> str:
        """Create project ``name`` owned by ada and give ``roles`` (user: role); return it."""
        body = {"name": name, "target": "y", "tier": tier}
        if estimator is not None:
            body["estimator"] = estimator
        created = self.api("ada", "POST", "/projects", json=body)
        assert created.status_code == 201, created.text
        for user, role in roles.items():
            added = self.api(
                "ada", "POST", f"/projects/{name}/members", json={"user": user, "role": role}
            )
            assert added.status_code == 201, added.text
        return name

    def env(self, user: str, project: str | None = None) -> dict[str, str]:
        """Return the variables that point ``mlgate`` at this server as ``user``."""
        env = {"MLGATE_SERVER_URL": self.url, "MLGATE_TOKEN": self.tokens[user]}
        if project is not None:
            env["MLGATE_PROJECT"] = project
        return env


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A team server in a thread with users ada (server admin), vera and bob."""
    settings = server_settings(tmp_path_factory.mktemp("server"))
    settings.prepare()
    store = Store(settings.database_url)
    app = create_app(settings, store)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    _wait_until_started(server, thread)
    live = Live(f"http://127.0.0.1:{port}", app)
    for name in ("ada", "vera", "bob"):
        app.state.accounts.create_user("operator", name, PASSWORD, admin=name == "ada")
        live.tokens[name] = app.state.accounts.issue_token("operator", name, "tests")[1]
    live.project("who", vera="validator")
    yield live
    server.should_exit = True
    thread.join(timeout=30)
    listener.close()
    store.close()


def _wait_until_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    for _ in range(600):  # a bounded wait, not a timing assertion
        if server.started:
            return
        assert thread.is_alive(), "the server thread stopped while starting"
        time.sleep(0.05)
    raise AssertionError("the server did not start")


def mlgate(*args: str, env: dict[str, str], cwd: Path) -> CliResult:
    """Run ``mlgate ARGS`` as its own process with ``env`` added; return code and output."""
    variables = {k: v for k, v in os.environ.items() if not k.startswith("MLGATE_")}
    variables.update(env, COLUMNS="200", OPENBLAS_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", ENTRY, *args],
        env=variables,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def remote(cli: Cli, monkeypatch: pytest.MonkeyPatch, live: Live, tmp_path: Path) -> Remote:
    """Run ``mlgate`` in this process against the live server: ``remote(user, project, *args)``."""

    def run(user: str, project: str | None, *args: str, cwd: Path = tmp_path) -> CliResult:
        for name in ("MLGATE_PROJECT", "MLGATE_WORKSPACE", "MLGATE_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        for name, value in live.env(user, project).items():
            monkeypatch.setenv(name, value)
        return cli(*args, cwd=cwd)

    return run


def filled(kind: str, folder: Path) -> Path:
    """Write the realistic example of a document into ``folder``; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kind}.yaml"
    path.write_text(yaml.safe_dump(example(kind, dt.date.today()), sort_keys=False))
    return path


# -- as a user types it -------------------------------------------------------------------


def test_status_and_a_submitted_document_as_separate_processes(live: Live, tmp_path: Path) -> None:
    project = live.project("proc")
    env = live.env("ada", project)
    document = filled("business_case", tmp_path / "docs")

    before = mlgate("status", env=env, cwd=tmp_path)
    submitted = mlgate("doc", "submit", "docs/business_case.yaml", env=env, cwd=tmp_path)
    after = mlgate("status", env=env, cwd=tmp_path)

    assert before.code == 0, before.text
    assert "stage initiation" in before.out
    assert "no business_case document submitted" in before.out
    assert submitted.code == 0, submitted.text
    assert f"pass {Path('docs') / document.name}: business case submitted and valid" in (
        submitted.out
    )
    assert after.code == 0, after.text
    business_case = next(line for line in after.out.splitlines() if "business_case" in line)
    assert "satisfied" in business_case
    assert "no business_case document submitted" not in after.out


def test_approving_ones_own_work_is_refused_with_the_servers_message(
    live: Live, tmp_path: Path
) -> None:
    project = live.project("selfish", tier="high", ada="business_owner")
    document = {"filename": "bc.yaml", "content": filled("business_case", tmp_path).read_text()}
    assert live.api("ada", "POST", f"/projects/{project}/documents", json=document).is_success
    env = live.env("ada", project)

    result = mlgate(
        "approve", "business_case_approval", "--comment", "looks right", env=env, cwd=tmp_path
    )

    assert result.code == 5, result.text
    assert "ada authored business_case" in result.err
    assert "may not approve it: separation of duties needs another business_owner" in result.err
    assert "Traceback" not in result.text
    trail = live.api("ada", "GET", f"/projects/{project}/audit", params={"limit": 5}).json()
    assert "approval.approve.refused" in [event["action"] for event in trail]


def test_a_wrong_token_is_not_accepted(live: Live, tmp_path: Path) -> None:
    env = {**live.env("ada", "proc"), "MLGATE_TOKEN": "mlg_not-a-real-token"}

    result = mlgate("status", env=env, cwd=tmp_path)

    assert result.code == 77, result.text
    assert f"the token in MLGATE_TOKEN was not accepted by the team server at {live.url}" in (
        result.err
    )
    assert "unknown, revoked or expired" in result.err
    assert "mlg_not-a-real-token" not in result.text


def test_a_server_that_is_not_running_is_named(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    env = {"MLGATE_SERVER_URL": url, "MLGATE_TOKEN": "mlg_x", "MLGATE_PROJECT": "p"}

    result = mlgate("status", env=env, cwd=tmp_path)

    assert result.code == 69, result.text
    assert f"cannot reach the team server at {url}: connection refused" in result.err
    assert "Traceback" not in result.text


def test_a_local_only_command_says_so_in_one_line(live: Live, tmp_path: Path) -> None:
    result = mlgate("train", "--trials", "3", env=live.env("ada", "proc"), cwd=tmp_path)

    assert result.code == 2, result.text
    assert result.err.strip() == (
        "error: `mlgate train` runs locally, where the files are; unset MLGATE_SERVER_URL to "
        "run it"
    )
    assert result.out == ""


# -- the rest of the commands, in this process ---------------------------------------------


def test_whoami_names_the_tokens_user_and_roles(remote: Remote, live: Live) -> None:
    result = remote("vera", None, "whoami")

    assert result.code == 0, result.text
    assert f"vera on {live.url}" in result.out
    assert "who" in result.out
    assert "validator" in result.out


def test_acting_as_someone_else_is_refused(remote) -> None:
    result = remote("vera", "who", "approve", "model_validation", "--comment", "ok", "--as", "ada")

    assert result.code == 2
    assert "--as ada works in local mode only" in result.err


def test_the_project_comes_from_the_workspace_or_is_asked_for(
    remote: Remote, tmp_path: Path
) -> None:
    (tmp_path / "ws" / "sub").mkdir(parents=True)
    (tmp_path / "ws" / "mlgate.yaml").write_text("project: who\ntier: low\n")

    found = remote("vera", None, "status", cwd=tmp_path / "ws" / "sub")
    missing = remote("vera", None, "status", cwd=tmp_path)
    named_after = remote("vera", None, "status", "--project", "who", cwd=tmp_path)

    assert found.code == 0, found.text
    assert found.out.startswith("who  tier medium  stage initiation")
    assert missing.code == 3
    assert "no project given: neither --project, MLGATE_PROJECT nor a mlgate.yaml" in missing.err
    assert named_after.code == 0, named_after.text


def test_a_non_member_is_refused_and_an_unknown_project_named(remote: Remote, live: Live) -> None:
    live.project("closed")

    outsider = remote("bob", "closed", "status")
    unknown = remote("ada", "nowhere", "status")

    assert outsider.code == 5
    assert "bob holds no role in project 'closed'" in outsider.err
    assert unknown.code == 3
    assert "nowhere" in unknown.err


def test_init_members_and_the_audit_trail(remote: Remote, live: Live) -> None:
    created = remote("ada", None, "init", "fresh", "--target", "y", "--tier", "low")
    added = remote("ada", "fresh", "member", "add", "vera", "--role", "validator")
    members = remote("ada", "fresh", "member", "list")
    bad_role = remote("ada", "fresh", "member", "add", "vera", "--role", "wizard")
    log = remote("ada", "fresh", "audit", "log", "--limit", "3")
    verified = remote("vera", "fresh", "audit", "verify")

    assert created.code == 0, created.text
    assert "Created project fresh (low risk)" in created.out
    assert added.out.strip() == "vera now holds validator"
    assert [line.split() for line in members.out.splitlines()] == [
        ["ada", "admin"],
        ["ada", "data_scientist"],
        ["vera", "validator"],
    ]
    assert bad_role.code == 2
    assert "unknown role 'wizard'" in bad_role.err
    assert log.out.splitlines()[-1].split()[2:] == [
        "ada",
        "member.added",
        "member:vera",
        "role=validator",
    ]
    assert verified.code == 0
    assert verified.out.startswith("OK ")


def test_data_upload_list_and_a_check(remote: Remote, live: Live, tmp_path: Path) -> None:
    # A linear model trains in a blink; the default boosting model takes seconds.
    live.project("data", tier="low", estimator="sklearn.linear_model.LogisticRegression")
    synthetic_frame().drop(columns=["group"]).to_csv(tmp_path / "train.csv", index=False)

    added = remote("ada", "data", "data", "add", "train.csv")
    again = remote("ada", "data", "data", "add", "train.csv")
    listed = remote("ada", "data", "data", "list")
    checked = remote("ada", "data", "check", "data_quality")
    missing = remote("ada", "data", "data", "add", "nothere.csv")
    train_model(live.app.state.projects.open("data", "ada"), search=False)
    models = remote("ada", "data", "model", "list")

    assert added.code == 0, added.text
    assert "Registered train.csv as dataset 'train': version 1, 400 rows, 4 columns" in added.out
    assert "is unchanged since version 1 of dataset 'train'" in again.out
    assert listed.out.split()[:4] == ["1", "train", "400", "rows"]
    assert checked.code == 0, checked.text
    assert "data_quality: pass" in checked.out
    assert "Stored as evidence" in checked.out
    assert "for requirement data_quality" in checked.out
    assert missing.code == 3
    assert "data file nothere.csv does not exist" in missing.err
    assert models.out.split()[:2] == ["v1", "sklearn.linear_model._logistic.LogisticRegression"]
    assert models.out.split()[3] == "ada"


def test_approve_without_a_reason_and_waive_with_a_bad_date(remote: Remote, live: Live) -> None:
    live.project("decide", vera="validator")

    no_reason = remote("vera", "decide", "approve", "model_validation")
    bad_date = remote(
        "ada", "decide", "waive", "model_validation", "--justification", "x", "--expires", "soon"
    )
    nothing_yet = remote("vera", "decide", "approve", "model_validation", "--comment", "fine")
    reason = "accepted risk for a pilot run"
    markup = remote("ada", "decide", "waive", "[bold]x", "--justification", reason, "--days", "3")

    assert no_reason.code == 2
    assert "--comment is required on the team server" in no_reason.err
    assert bad_date.code == 2
    assert "--expires must be a date YYYY-MM-DD; got 'soon'" in bad_date.err
    assert nothing_yet.code in (4, 5), nothing_yet.text
    assert "model_validation" in nothing_yet.err
    assert markup.code == 3
    assert "unknown requirement '[bold]x'" in markup.err


def test_advance_when_the_gate_holds_and_not_backwards(
    remote: Remote, live: Live, tmp_path: Path
) -> None:
    project = live.project("gate")
    closed = remote("ada", project, "advance")
    for kind in ("business_case", "feasibility", "risk_assessment"):
        content = filled(kind, tmp_path).read_text()
        body = {"filename": f"{kind}.yaml", "content": content}
        assert live.api("ada", "POST", f"/projects/{project}/documents", json=body).is_success

    backwards = remote("ada", project, "advance", "--to", "initiation")
    moved = remote("ada", project, "advance")
    rechecked = remote("ada", project, "recheck")

    assert closed.code == 5
    assert "business_case" in closed.err
    assert backwards.code == 2
    assert "--to initiation is not after the current stage 'initiation'" in backwards.err
    assert moved.code == 0, moved.text
    assert moved.out.strip() == "Advanced from initiation to kickoff"
    assert rechecked.out.strip().endswith("`mlgate status --all` shows where each stage stands.")


def test_findings_from_record_to_closing(remote: Remote, live: Live) -> None:
    live.project("review", vera="validator")
    due = (dt.date.today() + dt.timedelta(days=30)).isoformat()

    added = remote(
        "vera", "review", "finding", "add", "--severity", "high", "--title", "Leaky feature",
        "--description", "x1 is computed after the outcome", "--owner", "ada", "--due", due,
    )  # fmt: skip
    listed = remote("vera", "review", "finding", "list")
    by_owner = remote("ada", "review", "finding", "close", "1", "--resolution", "x1 is gone now")
    closed = remote("vera", "review", "finding", "close", "1", "--resolution", "x1 is gone now")
    nothing = remote("vera", "review", "finding", "update", "1")

    assert added.code == 0, added.text
    assert "Recorded high finding 1 against the project" in added.out
    assert "Leaky feature" in listed.out
    assert "open" in listed.out
    assert by_owner.code == 5
    assert "ada owns finding 1" in by_owner.err
    assert closed.out.strip() == "Closed finding 1 by vera"
    assert nothing.code == 2
    assert "give at least one of --remediation, --owner or --due" in nothing.err


def test_operations_on_a_project_without_a_model(remote: Remote, live: Live) -> None:
    live.project("ops")

    deployments = remote("ada", "ops", "deployments")
    deploy = remote("ada", "ops", "deploy")
    alerts = remote("ada", "ops", "alerts", "--all")
    unknown = remote("ada", "ops", "alerts", "show", "7")
    kpis = remote("ada", "ops", "kpi", "list")
    runs = remote("ada", "ops", "monitor", "history")

    assert deployments.out.strip() == "No deployments yet; `mlgate deploy` makes the first."
    assert deploy.code == 5
    assert "cannot deploy: no model version is registered" in deploy.err
    assert alerts.out.startswith("No alert has been raised")
    assert unknown.code == 3
    assert "unknown alert 7" in unknown.err
    assert kpis.out.startswith("No KPI value is reported yet")
    assert runs.out.startswith("No window has been monitored yet")


def test_report_and_card_are_downloaded(remote: Remote, live: Live, tmp_path: Path) -> None:
    live.project("docs", tier="low")

    report = remote("ada", "docs", "report", "--output", "out/report.html")
    card = remote("ada", "docs", "card", "--output-dir", "card", "--no-pdf")
    wrong = remote("ada", "docs", "report", "--output", "report.txt")

    assert report.code == 0, report.text
    assert "<html" in (tmp_path / "out" / "report.html").read_text().lower()
    assert card.code == 0, card.text
    assert json.loads((tmp_path / "card" / "model-card.json").read_text())
    assert (tmp_path / "card" / "model-card.html").is_file()
    assert wrong.code == 2
    assert "--output must be an .html file; got 'report.txt'" in wrong.err


def test_storeless_commands_still_run_here(remote: Remote, tmp_path: Path) -> None:
    kinds = remote("vera", None, "doc", "kinds")
    new = remote("vera", None, "doc", "new", "business_case", "--output", "bc.yaml")
    model_add = remote("vera", "who", "model", "add", "model.skops")

    assert kinds.code == 0
    assert kinds.out.startswith("business_case: ")
    assert new.code == 0
    assert (tmp_path / "bc.yaml").is_file()
    assert model_add.code == 2
    assert "`mlgate model add` runs locally" in model_add.err


# -- the client on its own ----------------------------------------------------------------


def answering(status: int, body: object, headers: dict[str, str] | None = None) -> ServerClient:
    """Return a client whose every request gets this answer."""

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer mlg_secret"
        if isinstance(body, bytes):
            return httpx.Response(status, content=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return ServerClient("http://server.test", "mlg_secret", transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    ("status", "kind"),
    [(409, ConflictError), (422, ValidationError), (403, PolicyViolation), (413, ValidationError)],
)
def test_error_answers_become_mlgate_errors_with_message_and_hint(
    status: int, kind: type[GovernanceError]
) -> None:
    client = answering(status, {"error": "x", "message": "the name is taken", "hint": "rename"})

    with pytest.raises(kind) as raised:
        client.get("/projects")

    assert raised.value.message == "the name is taken"
    assert raised.value.hint == "rename"


def test_a_failure_without_an_mlgate_body_is_described() -> None:
    client = answering(502, b"<html>bad gateway</html>", {"content-type": "text/html"})

    with pytest.raises(ServerFailure) as raised:
        client.get("/me")

    assert raised.value.exit_code == 70
    assert "failed (502): 502 Bad Gateway (text/html, not an mlgate answer)" in (
        raised.value.message
    )


def test_a_redirect_is_not_followed_and_is_named() -> None:
    client = answering(308, b"", {"location": "https://server.test/api/v1/me"})

    with pytest.raises(ServerFailure) as raised:
        client.get("/me")

    assert "redirected to 'https://server.test/api/v1/me'" in raised.value.message


def test_a_timeout_names_the_request_and_the_setting() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    client = ServerClient(
        "http://server.test", "mlg_secret", timeout=5, transport=httpx.MockTransport(handler)
    )

    with pytest.raises(ServerUnreachable) as raised:
        client.post("/projects/p/recheck")

    assert raised.value.message == (
        "the team server at http://server.test did not answer POST /projects/p/recheck within 5 s"
    )
    assert "MLGATE_SERVER_TIMEOUT" in (raised.value.hint or "")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://h:8700/", "http://h:8700"),
        ("https://h/api/v1", "https://h"),
        ("https://h/mlgate/", "https://h/mlgate"),
    ],
)
def test_the_server_address_is_normalised(given: str, expected: str) -> None:
    assert server_url(given) == expected


@pytest.mark.parametrize("given", ["h:8700", "file:///etc", "http://", "http://h/?a=1"])
def test_a_bad_server_address_is_refused(given: str) -> None:
    with pytest.raises(ValidationError) as raised:
        server_url(given)

    assert f"got '{given}'" in raised.value.message


@pytest.mark.parametrize("token", ["", "  ", "two words", "mlg_\x01"])
def test_a_missing_or_malformed_token_is_refused(token: str) -> None:
    with pytest.raises(NotAuthenticated) as raised:
        ServerClient("http://server.test", token)

    assert raised.value.exit_code == 77
    assert "MLGATE_TOKEN" in raised.value.message


def test_project_and_as_may_follow_the_command() -> None:
    assert hoist_options(["status", "--project", "credit", "--all"]) == [
        "--project",
        "credit",
        "status",
        "--all",
    ]
    assert hoist_options(["approve", "x", "--as=bob", "--", "--project"]) == [
        "--as=bob",
        "approve",
        "x",
        "--",
        "--project",
    ]
