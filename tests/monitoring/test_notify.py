"""Delivering alerts to a real local webhook receiver and a real local SMTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from mlgate.lifecycle.service import Governance
from mlgate.monitoring import notify
from mlgate.monitoring.alerts import AlertChanges, get_alert
from mlgate.monitoring.notify import deliver
from mlgate.monitoring.settings import SmtpConfig
from mlgate.registry.models import AuditEvent, Evidence
from tests.monitoring.alerting import make_project, obs, run

CONTACTS = ["lena.fischer@bank.example", "tobias.braun@bank.example", "anna.schmidt@bank.example"]
SECRET_PATH = "/hooks/T0KEN-IN-PATH?key=QUERYSECRET"
PASSWORD = "s3cret-smtp-pass"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("notify") / "ws")


@pytest.fixture
def gov(base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Governance:
    root = tmp_path / "ws"
    shutil.copytree(base, root)
    monkeypatch.delenv("MLGATE_ALERT_WEBHOOK", raising=False)
    monkeypatch.delenv(notify.SECRET_ENV, raising=False)
    monkeypatch.setattr(notify, "RETRY_BACKOFF", (0.05, 0.05))
    return Governance.open(root, actor="alice")


@pytest.fixture
def changes(gov: Governance) -> AlertChanges:
    """One alert opened on feature x1."""
    return run(gov, [obs(0.42)])


# -- a local webhook receiver -------------------------------------------------------------------


class Receiver:
    """A local HTTP server that answers POSTs with scripted statuses and keeps what it got."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{SECRET_PATH}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver([])
    found.thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _deliveries(gov: Governance, alert_id: int) -> list[dict[str, Any]]:
    return list(get_alert(gov, alert_id).notified)


def _audited(gov: Governance) -> list[dict[str, Any]]:
    with gov.transaction() as session:
        stmt = select(AuditEvent).where(AuditEvent.action == "alert.notified")
        return [e.payload for e in session.execute(stmt).scalars()]


def test_the_webhook_gets_the_alert_as_signed_json(
    gov: Governance,
    changes: AlertChanges,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLGATE_ALERT_WEBHOOK", receiver.url)
    monkeypatch.setenv(notify.SECRET_ENV, "shared-secret")

    (webhook, email) = deliver(gov, changes)

    (request,) = receiver.requests
    body = json.loads(request["body"])
    assert request["path"] == SECRET_PATH
    assert body["event"] == "alert.opened"
    assert body["project"] == "credit"
    assert body["alert"]["rule"] == "psi"
    assert body["alert"]["subject"] == "x1"
    assert body["alert"]["last_value"] == 0.42
    assert body["alert"]["threshold"] == 0.2
    expected = hmac.new(b"shared-secret", request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-Mlgate-Signature"] == f"sha256={expected}"
    assert (webhook.channel, webhook.status, webhook.attempts) == ("webhook", "sent", 1)
    assert (email.channel, email.status) == ("email", "not_configured")
    alert_id = changes.opened[0].id
    assert [d["status"] for d in _deliveries(gov, alert_id)] == ["sent", "not_configured"]
    assert _audited(gov)[0]["event"] == "opened"


def test_without_a_secret_no_signature_is_sent(
    gov: Governance, changes: AlertChanges, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLGATE_ALERT_WEBHOOK", receiver.url)

    deliver(gov, changes)

    assert "X-Mlgate-Signature" not in receiver.requests[0]["headers"]


def test_a_server_error_is_tried_again_until_it_succeeds(
    gov: Governance, changes: AlertChanges, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLGATE_ALERT_WEBHOOK", receiver.url)
    receiver.statuses.extend([503])

    webhook = deliver(gov, changes)[0]

    assert (webhook.status, webhook.attempts) == ("sent", 2)
    assert len(receiver.requests) == 2
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]


def test_a_client_error_is_not_tried_again(
    gov: Governance, changes: AlertChanges, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLGATE_ALERT_WEBHOOK", receiver.url)
    receiver.statuses.extend([404])

    webhook = deliver(gov, changes)[0]

    assert (webhook.status, webhook.attempts, len(receiver.requests)) == ("failed", 1, 1)
    assert "HTTP 404" in webhook.detail


def test_an_unreachable_webhook_is_recorded_as_a_failure_without_raising(
    gov: Governance,
    changes: AlertChanges,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("MLGATE_ALERT_WEBHOOK", f"http://127.0.0.1:{_free_port()}{SECRET_PATH}")

    webhook = deliver(gov, changes)[0]

    assert (webhook.status, webhook.attempts) == ("failed", 3)
    assert "connection failed" in webhook.detail
    assert _deliveries(gov, changes.opened[0].id)[0]["status"] == "failed"
    assert any("not sent by webhook" in r.message for r in caplog.records)


def test_only_http_urls_are_used_and_an_unset_variable_is_reported(
    gov: Governance, changes: AlertChanges, monkeypatch: pytest.MonkeyPatch
) -> None:
    unset = deliver(gov, changes)[0]
    monkeypatch.setenv("MLGATE_ALERT_WEBHOOK", "file:///etc/hostname")
    local_file = deliver(gov, changes)[0]

    assert (unset.status, unset.detail) == ("not_configured", "MLGATE_ALERT_WEBHOOK is not set")
    assert local_file.status == "failed"
    assert "not an http or https URL" in local_file.detail


# -- a local SMTP server ------------------------------------------------------------------------


class Mailbox:
    """What the local SMTP server received."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:  # type: ignore[no-untyped-def]
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == PASSWORD.encode())


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = _free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        authenticator=box.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield box, port
    controller.stop()


def _smtp(gov: Governance, port: int, **changes: Any) -> None:
    settings = {"host": "127.0.0.1", "port": port, "sender": "mlgate@bank.example"}
    gov.config.monitoring.notify.smtp = SmtpConfig(**{"starttls": False, **settings, **changes})


def test_the_mail_goes_to_the_three_emergency_contacts(
    gov: Governance, changes: AlertChanges, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    _smtp(gov, port)

    email = deliver(gov, changes)[1]

    (envelope,) = box.envelopes
    assert sorted(envelope.rcpt_tos) == sorted(CONTACTS)
    assert envelope.mail_from == "mlgate@bank.example"
    message = message_from_bytes(envelope.content)
    assert "OPEN high alert on credit: psi (x1)" in message["Subject"]
    assert "drift.psi of x1 is 0.42" in message.get_payload()
    assert email.status == "sent"
    assert email.detail.endswith("to the primary, secondary, escalation contacts")
    assert not any(address in email.detail for address in CONTACTS)


def test_a_resolved_alert_is_sent_too(
    gov: Governance, changes: AlertChanges, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    _smtp(gov, port)
    cleared = run(gov, [obs(0.01, day=d) for d in range(1, 4)])

    deliver(gov, cleared)

    assert "RESOLVED" in message_from_bytes(box.envelopes[0].content)["Subject"]


def test_the_smtp_password_comes_from_the_environment_and_is_never_stored(
    gov: Governance,
    changes: AlertChanges,
    mailbox: tuple[Mailbox, int],
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box, port = mailbox
    monkeypatch.setenv("SMTP_USER", "monitor")
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    monkeypatch.setenv("MLGATE_ALERT_WEBHOOK", receiver.url)
    monkeypatch.setenv(notify.SECRET_ENV, "shared-secret")
    _smtp(gov, port, username_env="SMTP_USER", password_env="SMTP_PASSWORD")

    webhook, email = deliver(gov, changes)

    assert box.logins == [(b"monitor", PASSWORD.encode())]
    assert (webhook.status, email.status) == ("sent", "sent")
    stored = json.dumps([_deliveries(gov, changes.opened[0].id), _audited(gov)])
    for secret in (PASSWORD, "T0KEN-IN-PATH", "QUERYSECRET", "shared-secret", *CONTACTS):
        assert secret not in stored
    assert f"http://127.0.0.1:{receiver.server.server_address[1]}" in stored


def test_a_broken_mail_server_is_recorded_and_monitoring_goes_on(
    gov: Governance, changes: AlertChanges, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    _smtp(gov, _free_port())
    down = deliver(gov, changes)[1]
    _smtp(gov, port, starttls=True)  # the local server offers no STARTTLS: never send in clear
    plain = deliver(gov, changes)[1]

    assert down.status == plain.status == "failed"
    assert "ConnectionRefusedError" in down.detail
    assert "STARTTLS" in plain.detail
    assert box.envelopes == []
    assert [d["status"] for d in _deliveries(gov, changes.opened[0].id)] == [
        "not_configured",
        "failed",
        "not_configured",
        "failed",
    ]


def test_without_contacts_the_mail_fails_with_the_reason(
    gov: Governance, changes: AlertChanges, mailbox: tuple[Mailbox, int]
) -> None:
    _, port = mailbox
    _smtp(gov, port)
    with gov.transaction() as session:
        for evidence in session.execute(select(Evidence)).scalars():
            if evidence.name == "emergency_contacts":
                evidence.status = "fail"

    email = deliver(gov, changes)[1]

    assert email.status == "failed"
    assert "no emergency contacts" in email.detail


def test_nothing_is_sent_when_no_alert_opened_or_resolved(gov: Governance) -> None:
    run(gov, [obs(0.42)])
    continued = run(gov, [obs(0.5, day=1)])

    assert len(continued.continued) == 1
    assert deliver(gov, continued) == []


def test_an_alert_resolved_by_hand_is_sent_once_the_resolution_is_stored(
    gov: Governance, changes: AlertChanges, mailbox: tuple[Mailbox, int]
) -> None:
    from mlgate.monitoring.alerts import resolve_alert

    box, port = mailbox
    bob = Governance.open(gov.workspace.root, actor="bob")
    _smtp(bob, port)

    resolve_alert(bob, changes.opened[0].id, "upstream feed fixed on 3 Nov")

    (envelope,) = box.envelopes
    assert "RESOLVED" in message_from_bytes(envelope.content)["Subject"]
    assert [d["status"] for d in _deliveries(gov, changes.opened[0].id)][-1] == "sent"
