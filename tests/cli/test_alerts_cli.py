"""``mlgate alerts`` and the open alerts in ``mlgate status``, run as a user would."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from mlgate.lifecycle.service import Governance
from mlgate.monitoring import notify
from mlgate.monitoring.notify import deliver
from tests.fixtures import Cli
from tests.monitoring.alerting import make_project, obs, run


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MLGATE_ALERT_WEBHOOK", raising=False)
    return make_project(tmp_path / "ws")


def test_alerts_are_listed_shown_and_resolved(project: Path, cli: Cli) -> None:
    none = cli("alerts", cwd=project)
    gov = Governance.open(project, actor="alice")
    changes = run(gov, [obs(0.42, subject="x1"), obs(0.05, subject="x2")])
    deliver(gov, changes)
    (alert,) = changes.opened

    listed = cli("alerts", cwd=project)
    shown = cli("alerts", "show", str(alert.id), cwd=project)
    status = cli("status", cwd=project)

    assert none.code == 0
    assert "No alert is open" in none.out
    assert listed.code == 0, listed.text
    assert "Open monitoring alerts" in listed.out
    assert "psi" in listed.out
    assert "0.42 > 0.2" in listed.out
    assert "x2" not in listed.out
    assert shown.code == 0, shown.text
    assert "drift.psi of x1 is 0.42" in shown.out
    assert "webhook" in shown.out
    assert "MLGATE_ALERT_WEBHOOK is not set" in shown.out
    assert status.code == 0, status.text
    assert "Open monitoring alerts" in status.out
    assert "0.42 > 0.2" in status.out

    short = cli("alerts", "resolve", str(alert.id), "--reason", "ok", cwd=project, user="bob")
    refused = cli(
        "alerts", "resolve", str(alert.id), "--reason", "looked at it", cwd=project, user="dave"
    )
    done = cli(
        "alerts",
        "resolve",
        str(alert.id),
        "--reason",
        "feed fixed upstream",
        cwd=project,
        user="bob",
    )
    after = cli("alerts", cwd=project)
    history = cli("alerts", "--all", cwd=project)

    assert short.code == 2
    assert "at least 10 characters" in short.text
    assert refused.code != 0
    assert "ml_engineer or validator" in refused.text
    assert done.code == 0, done.text
    assert f"Resolved alert {alert.id}" in done.out
    assert "No alert is open" in after.out
    assert "resolved by bob: feed fixed upstream" in history.out
    assert "Traceback" not in short.text + refused.text


def test_an_unknown_or_malformed_alert_id_is_refused_without_a_traceback(
    project: Path, cli: Cli
) -> None:
    unknown = cli("alerts", "show", "7", cwd=project)
    malformed = cli("alerts", "resolve", "seven", "--reason", "a long enough reason", cwd=project)

    assert unknown.code == 3
    assert "unknown alert 7" in unknown.text
    assert malformed.code == 2
    assert "a whole number from 1 to" in malformed.text
    assert "Traceback" not in unknown.text + malformed.text


def test_a_failed_delivery_is_flagged_in_the_alert_list(
    project: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MLGATE_ALERT_WEBHOOK", f"http://127.0.0.1:{port}/hook")
    monkeypatch.setattr(notify, "RETRY_BACKOFF", (0.0, 0.0))
    gov = Governance.open(project, actor="alice")
    deliver(gov, run(gov, [obs(0.42)]))

    listed = cli("alerts", cwd=project)
    shown = cli("alerts", "show", "1", cwd=project)

    assert listed.code == 0, listed.text
    assert "a notice of alert 1 could not be delivered" in listed.out
    assert "failed" in shown.out
    assert "connection failed" in shown.out
