"""Concurrent requests to a team server on PostgreSQL give what some serial order would give.

A real server (uvicorn with several worker processes) serves a store on PostgreSQL; a thread
pool fires approvals, advances, member changes and document submissions at one project at once.
The audit chain's order is the order the store serialised the actions in, so each check below
replays the trail: every stage boundary is crossed once, and only after what its gate needed
was recorded.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy.exc
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text

from mlgate.config import parse_config
from mlgate.documents import example
from mlgate.errors import GovernanceError
from mlgate.lifecycle.evidence import submit_document
from mlgate.lifecycle.project import init_project
from mlgate.lifecycle.service import Governance
from mlgate.registry.audit import append_event, verify_chain
from mlgate.registry.db import Store
from mlgate.registry.models import Approval, AuditEvent, Member
from mlgate.registry.models import Project as ProjectRow
from mlgate.server.accounts import Accounts
from mlgate.server.app import create_app
from mlgate.server.projects import Projects
from mlgate.server.settings import ServerSettings
from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.postgres

POLICY = Path(__file__).with_name("concurrency_policy.yaml")
PASSWORD = "correct horse battery"
VALIDATORS = ("vera", "val", "vik", "vio")
# Who advances: the owner (admin, data scientist), another data scientist and an engineer.
ADVANCERS = ("ada", "dan", "emil")
WORKERS = 2
# Each worker imports the whole application; a busy machine takes a while.
STARTUP_SECONDS = 120


@dataclass
class Live:
    """A running server on a PostgreSQL store, the same store opened here, and user tokens."""

    base_url: str
    settings: ServerSettings
    store: Store
    tokens: dict[str, str] = field(default_factory=dict)

    def governance(self, project: str, actor: str) -> Governance:
        """Return ``project``'s governance acting as ``actor``, in this process."""
        return Projects(self.settings, self.store).open(project, actor)

    def headers(self, user: str) -> dict[str, str]:
        """Return the Authorization header of ``user``'s token."""
        return {"Authorization": f"Bearer {self.tokens[user]}"}


@dataclass(frozen=True)
class Answer:
    """What one concurrent action got back: its kind, who sent it, the status and the body."""

    kind: str
    user: str
    status: int
    body: dict[str, Any]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def schema_url() -> Iterator[str]:
    """Yield the URL of a fresh PostgreSQL schema for this module, dropped afterwards."""
    schema = f"mlgate_race_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _start_server(settings: ServerSettings, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "MLGATE_SERVER_HOME": str(settings.home),
        "MLGATE_DATABASE_URL": settings.database_url,
        "MLGATE_ARTIFACT_URL": settings.artifact_url,
        "OPENBLAS_NUM_THREADS": "1",
    }
    command = [sys.executable, "-m", "uvicorn", "mlgate.server.main:app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS)]
    command += ["--log-level", "info"]
    with open(settings.home / "server.log", "wb") as log:  # the child keeps its own handle
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def _wait_until_up(live: Live, process: subprocess.Popen[bytes]) -> None:
    """Wait until every worker has started and the server answers an authenticated request."""
    log = live.settings.home / "server.log"
    deadline = time.monotonic() + STARTUP_SECONDS
    while log.read_text().count("Application startup complete") < WORKERS:
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"the server did not start: {log.read_text()}"
        time.sleep(0.2)
    answer = httpx.get(f"{live.base_url}/api/v1/me", headers=live.headers("ada"))
    assert answer.status_code == 200, answer.text


@pytest.fixture(scope="module")
def live(schema_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A server with several workers on a PostgreSQL store, and a token per user."""
    home = tmp_path_factory.mktemp("race") / "server"
    settings = ServerSettings(
        home=home, database_url=schema_url, artifact_url=str(home / "artifacts")
    )
    settings.prepare()
    store = Store(schema_url)
    port = _free_port()
    live = Live(f"http://127.0.0.1:{port}", settings, store)
    accounts = Accounts(store)
    for name in (*VALIDATORS, *ADVANCERS, "auditor"):
        accounts.create_user("operator", name, PASSWORD, admin=name == "ada")
        live.tokens[name] = accounts.issue_token("operator", name, "tests")[1]
    process = _start_server(settings, port)
    try:
        _wait_until_up(live, process)
        yield live
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        store.close()


def _submit(live: Live, project: str, kind: str, actor: str = "ada") -> None:
    """File the realistic example of document ``kind`` as ``actor``, in this process."""
    gov = live.governance(project, actor)
    path = gov.workspace.root / "docs" / f"{kind}-{uuid.uuid4().hex[:8]}.yaml"
    content = example(kind, dt.date.today())
    path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    submit_document(gov, path)


def _start_project(live: Live, name: str, approvals: int = 0) -> None:
    """Create ``name`` under the test policy with its team, its business case and approvals."""
    server = Projects(live.settings, live.store)
    config = parse_config(
        {"project": name, "tier": "medium", "owner": "ada", "data": {"target": "default"}},
        "the test project",
    )
    gov = init_project(server.workspace(name), config, policy_file=POLICY, store=live.store)
    for user in VALIDATORS:
        gov.add_member(user, "validator")
    gov.add_member("dan", "data_scientist")
    gov.add_member("emil", "ml_engineer")
    _submit(live, name, "business_case")
    for user in VALIDATORS[:approvals]:
        live.governance(name, user).decide("case_review", "approve", "the case is sound")


def _events(live: Live, project: str) -> list[AuditEvent]:
    with live.store.transaction() as session:
        stmt = select(AuditEvent).where(AuditEvent.project == project).order_by(AuditEvent.seq)
        return list(session.execute(stmt).scalars())


def _stage(live: Live, project: str) -> str:
    with live.store.transaction() as session:
        stmt = select(ProjectRow.stage).where(ProjectRow.name == project)
        return str(session.execute(stmt).scalar_one())


def _request(live: Live, client: httpx.Client, kind: str, user: str, method: str, path: str,
             body: dict[str, Any] | None = None) -> Answer:  # fmt: skip
    answer = client.request(method, path, headers=live.headers(user), json=body)
    return Answer(kind, user, answer.status_code, answer.json())


def _document(live: Live, project: str) -> Answer:
    """Submit a feasibility study through the service layer while the requests run."""
    try:
        _submit(live, project, "feasibility", actor="dan")
    except GovernanceError as error:  # an answer the test then reports, never a crash
        return Answer("document", "dan", 409, {"message": error.message})
    return Answer("document", "dan", 201, {})


def _verify(live: Live, project: str) -> Answer:
    """Verify the audit chain through the service layer while the requests run."""
    report = live.governance(project, "auditor").verify_audit()
    return Answer("verify", "auditor", 200 if report.ok else 409, {"message": report.message})


def _run_all(jobs: list[Callable[[], Answer]]) -> list[Answer]:
    """Run ``jobs`` at once from a pool of threads, released together by a barrier."""
    barrier = threading.Barrier(len(jobs))

    def released(job: Callable[[], Answer]) -> Answer:
        barrier.wait(timeout=60)
        return job()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(released, jobs))


def _storm_jobs(live: Live, client: httpx.Client, project: str) -> list[Callable[[], Answer]]:
    """Return 50 requests, 3 document submissions and 3 verifications, shuffled."""
    base = f"/api/v1/projects/{project}"
    approve = {"decision": "approve", "comment": "reviewed the business case"}
    jobs: list[Callable[[], Answer]] = []

    def add(kind: str, user: str, method: str, path: str, body: Any = None) -> None:
        jobs.append(lambda: _request(live, client, kind, user, method, path, body))

    for user in VALIDATORS * 3:
        add("approve", user, "POST", f"{base}/approvals/case_review", approve)
    for _ in range(2):  # a data scientist is not a validator: refused and audited
        add("approve", "dan", "POST", f"{base}/approvals/case_review", approve)
    for _ in range(4):  # the same role given four times at once: one grant, three conflicts
        add("member", "ada", "POST", f"{base}/members", {"user": "auditor", "role": "auditor"})
    for position in range(32):
        add("advance", ADVANCERS[position % len(ADVANCERS)], "POST", f"{base}/advance")
    jobs += [lambda: _document(live, project)] * 3
    jobs += [lambda: _verify(live, project)] * 3
    random.Random(7).shuffle(jobs)
    return jobs


def _before_crossing(events: list[AuditEvent], target: str) -> list[AuditEvent]:
    """Return the events recorded before the one that advanced the project to ``target``."""
    crossing = [e for e in events if e.action == "stage.advanced" and e.subject == target]
    return [e for e in events if e.seq < crossing[0].seq] if crossing else []


def _check_stages(live: Live, answers: list[Answer], events: list[AuditEvent]) -> None:
    """Each boundary is crossed once, in order, only once its gate was met, and no further."""
    advanced = [e.subject.removeprefix("stage:") for e in events if e.action == "stage.advanced"]
    assert advanced == ["planning", "done"][: len(advanced)]
    won = [a.body for a in answers if a.kind == "advance" and a.status == 200]
    assert sorted(body["stage"] for body in won) == sorted(advanced)
    previous = {"planning": "proposal", "done": "planning"}
    assert all(body["previous"] == previous[body["stage"]] for body in won), won
    assert _stage(live, "storm") == (advanced[-1] if advanced else "proposal")

    reviewed = _before_crossing(events, "stage:planning")
    approvers = {e.actor for e in reviewed if e.action == "approval.approve"}
    assert not advanced or len(approvers) >= 2, approvers
    studied = _before_crossing(events, "stage:done")
    assert len(advanced) < 2 or any(e.action == "document.submitted" for e in studied)


def _check_decisions(live: Live, answers: list[Answer], events: list[AuditEvent]) -> None:
    """Every answered approval has one row and one event; the role was granted once."""
    with live.store.transaction() as session:
        project_id = session.execute(
            select(ProjectRow.id).where(ProjectRow.name == "storm")
        ).scalar_one()
        stmt = select(Approval.actor).where(Approval.project_id == project_id)
        rows = Counter(session.execute(stmt).scalars())
        stmt = select(Member).where(Member.project_id == project_id, Member.user == "auditor")
        auditors = session.execute(stmt).all()
    for user in VALIDATORS:
        approved = sum(1 for a in answers if a.user == user and a.status == 201)
        recorded = sum(1 for e in events if e.action == "approval.approve" and e.actor == user)
        assert approved == rows[user] == recorded == 3
    granted = [a for a in answers if a.kind == "member" and a.status == 201]
    assert len(granted) == len(auditors) == 1
    conflicts = [a.body["message"] for a in answers if a.kind == "member" and a.status == 409]
    assert conflicts == ["auditor already holds the role auditor"] * 3


def test_a_storm_of_actions_gives_a_serial_outcome(live: Live) -> None:
    _start_project(live, "storm")
    before = len(_events(live, "storm"))
    with httpx.Client(base_url=live.base_url, timeout=60) as client:
        answers = _run_all(_storm_jobs(live, client, "storm"))

    statuses = Counter((a.kind, a.status) for a in answers)
    assert set(statuses) <= {
        ("approve", 201), ("approve", 403), ("member", 201), ("member", 409),
        ("advance", 200), ("advance", 403), ("advance", 409), ("document", 201),
        ("verify", 200),
    }, [a for a in answers if a.status >= 500 or a.kind == "verify"]  # fmt: skip
    events = _events(live, "storm")[before:]
    _check_stages(live, answers, events)
    _check_decisions(live, answers, events)

    # Refusals and successes each wrote one event (a 409 and a verification none), and the
    # chain verifies.
    actions = Counter(e.action for e in events)
    assert statuses[("advance", 403)] == actions["stage.advance.refused"]
    assert statuses[("approve", 403)] == actions["approval.approve.refused"] == 2
    assert statuses[("document", 201)] == actions["document.submitted"] == 3
    writing = [a for a in answers if a.kind != "verify" and a.status in (200, 201, 403)]
    assert len(events) == len(writing)
    with live.store.transaction() as session:
        chain = verify_chain(session)
    assert chain.ok, chain.message


def test_two_advances_at_once_cross_a_closed_gate_once(live: Live) -> None:
    projects = [f"duel-{n}" for n in range(4)]
    for name in projects:
        _start_project(live, name, approvals=2)
    with httpx.Client(base_url=live.base_url, timeout=60) as client:
        jobs = [
            (lambda name=name, user=user: _request(
                live, client, name, user, "POST", f"/api/v1/projects/{name}/advance"))
            for name in projects
            for user in ("ada", "emil")
        ]  # fmt: skip
        answers = _run_all(jobs)

    for name in projects:
        mine = sorted((a for a in answers if a.kind == name), key=lambda a: a.status)
        assert [a.status for a in mine] == [200, 403], mine
        assert mine[0].body == {"project": name, "previous": "proposal", "stage": "planning"}
        assert "feasibility" in mine[1].body["message"]
        events = [e for e in _events(live, name) if e.action.startswith("stage.")]
        assert [(e.action, e.subject) for e in events] == [
            ("stage.advanced", "stage:planning"),
            ("stage.advance.refused", "stage:planning"),
        ]
        assert _stage(live, name) == "planning"


def test_verification_during_appends_finds_no_tampering(live: Live) -> None:
    _start_project(live, "ledger")
    done = threading.Event()
    reports: list[Any] = []

    def submit() -> None:
        for _ in range(12):
            _submit(live, "ledger", "feasibility")

    def verify() -> None:
        gov = live.governance("ledger", "auditor")
        while not done.is_set():
            reports.append(gov.verify_audit())

    submitters = [threading.Thread(target=submit) for _ in range(2)]
    verifiers = [threading.Thread(target=verify) for _ in range(2)]
    for thread in submitters + verifiers:
        thread.start()
    for thread in submitters:
        thread.join()
    done.set()
    for thread in verifiers:
        thread.join()

    assert reports
    assert [r.message for r in reports if not r.ok] == []
    documents = [e for e in _events(live, "ledger") if e.action == "document.submitted"]
    assert len(documents) == 1 + 24


def test_the_first_events_of_a_new_store_append_at_once(postgres_url: str) -> None:
    store = Store(postgres_url)
    barrier = threading.Barrier(4)

    def append(n: int) -> int:
        barrier.wait(timeout=30)
        with store.transaction() as session:
            return append_event(session, actor=f"user{n}", action="test.append", subject="x").seq

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            seqs = sorted(pool.map(append, range(4)))
        with store.transaction() as session:
            chain = verify_chain(session)
    finally:
        store.close()
    assert seqs == [1, 2, 3, 4]
    assert chain.ok, chain.message
    assert chain.n_events == 4


class _Deadlock(Exception):
    """A driver error as psycopg raises it for a deadlock, with its SQLSTATE."""

    sqlstate = "40P01"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            sqlalchemy.exc.IntegrityError(
                "INSERT INTO members", {}, Exception('duplicate key value violates "members_key"')
            ),
            'a duplicate: duplicate key value violates "members_key"',
        ),
        (
            sqlalchemy.exc.OperationalError("UPDATE projects", {}, _Deadlock("deadlock")),
            "PostgreSQL deadlock, SQLSTATE 40P01",
        ),
    ],
    ids=["duplicate", "deadlock"],
)
def test_a_write_that_collides_answers_409_not_500(
    tmp_path: Path, error: Exception, expected: str
) -> None:
    settings = ServerSettings(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", str(tmp_path / "a"))
    settings.prepare()
    app = create_app(settings)

    @app.get("/api/v1/collide")
    def collide() -> None:
        raise error

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/api/v1/collide")
    assert answer.status_code == 409
    assert expected in answer.json()["message"]
    assert answer.json()["hint"] == "send the request again"
