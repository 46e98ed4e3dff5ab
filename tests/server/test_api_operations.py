"""The API of production: deployments, monitoring, alerts, labels, KPIs, reports and the trail.

Most tests use the sample project ``credit`` (no model yet). The monitoring path needs a trained
model and logged predictions: one project ``watched`` is built once for the module, on its own
server, with two model versions, two days of simulated traffic and a KPI below its target.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from mlgate.config import DataConfig, TrainingConfig, WorkspaceConfig
from mlgate.lifecycle.data import register_dataset
from mlgate.lifecycle.deploy import record_deployment
from mlgate.lifecycle.evidence import submit_document
from mlgate.lifecycle.models import get_model_version, train_model
from mlgate.lifecycle.project import init_project
from mlgate.monitoring.settings import MonitoringConfig
from mlgate.registry.models import AuditEvent
from mlgate.registry.models import Project as ProjectRow
from mlgate.server import accounts as accounts_module
from tests.fixtures import fill, synthetic_frame
from tests.monitoring.production import labels_for, log_traffic, traffic, until_day
from tests.server.conftest import TEAM, Server, running_server

CREDIT = "/api/v1/projects/credit"
WATCHED = "/api/v1/projects/watched"
KPI = {"name": "approval_rate", "unit": "%", "direction": "higher", "target": 50}


@pytest.fixture(scope="module", autouse=True)
def _cheap_passwords() -> Iterator[None]:
    """Hash the test users' passwords with a cheap scrypt cost: no test here signs in."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts_module, "_SCRYPT", {"n": 2**4, "r": 8, "p": 1})
        yield


def _message(answer: Any) -> str:
    return answer.json()["message"]


def _post_raw(server: Server, user: str, path: str, content: bytes, content_type: str) -> Any:
    """Send ``content`` as it is, with its content type, as ``user``."""
    headers = {**server.headers(user), "Content-Type": content_type}
    return server.client.post(path, content=content, headers=headers)


@pytest.fixture(scope="module")
def crew(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The ``team`` set-up built once, for the tests that only read or are refused."""
    with running_server(tmp_path_factory.mktemp("crew")) as server:
        server.user("ada", admin=True)
        body = {"name": "credit", "target": "default", "tier": "medium", "sensitive": ["sex"]}
        assert server.call("ada", "POST", "/api/v1/projects", json=body).status_code == 201
        for name, role in TEAM.items():
            server.user(name)
            member = {"user": name, "role": role}
            added = server.call("ada", "POST", f"{CREDIT}/members", json=member)
            assert added.status_code == 201, added.text
        _declare_kpi(server, "credit")
        yield server


def _declare_kpi(server: Server, project: str) -> None:
    """Declare the KPI in the project's stored settings, as editing mlgate.yaml would."""
    with server.store.transaction() as session:
        row = session.execute(select(ProjectRow).where(ProjectRow.name == project)).scalar_one()
        config = dict(row.config)
        config["monitoring"] = {**(config.get("monitoring") or {}), "kpis": [KPI]}
        row.config = config


# -- the audit trail -------------------------------------------------------------------------


def test_the_project_trail_shows_who_created_the_project_and_added_members(team: Server) -> None:
    answer = team.call("audrey", "GET", f"{CREDIT}/audit", params={"limit": 100})

    assert answer.status_code == 200, answer.text
    events = answer.json()
    assert [e["seq"] for e in events] == sorted((e["seq"] for e in events), reverse=True)
    created = [e for e in events if e["action"] == "project.created"]
    assert [(e["actor"], e["subject"]) for e in created] == [("ada", "project:credit")]
    added = {e["subject"]: e["payload"]["role"] for e in events if e["action"] == "member.added"}
    assert added["member:vera"] == "validator"
    assert {e["actor"] for e in events if e["action"] == "member.added"} == {"ada"}
    assert all(e["project"] == "credit" and len(e["hash"]) == 64 for e in events)


def test_the_project_trail_pages_with_before_seq(crew: Server) -> None:
    first = crew.call("ada", "GET", f"{CREDIT}/audit", params={"limit": 2}).json()
    before = first[-1]["seq"]

    page = crew.call("ada", "GET", f"{CREDIT}/audit", params={"limit": 2, "before_seq": before})

    assert page.status_code == 200
    assert len(first) == 2
    assert all(e["seq"] < before for e in page.json())
    assert page.json()[0]["seq"] == max(
        e["seq"] for e in crew.call("ada", "GET", f"{CREDIT}/audit").json() if e["seq"] < before
    )


def test_a_bad_limit_is_refused_naming_it(crew: Server) -> None:
    answer = crew.call("ada", "GET", f"{CREDIT}/audit", params={"limit": 0})

    assert answer.status_code == 422
    assert "limit" in _message(answer)


def test_the_chain_verifies_for_any_signed_in_user(crew: Server) -> None:
    answer = crew.call("bob", "GET", "/api/v1/audit/verify")

    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["ok"] is True
    assert report["first_bad_seq"] is None
    trail = crew.call("root", "GET", "/api/v1/audit", params={"limit": 10_000}).json()
    assert report["n_events"] == len(trail)
    assert report["head_hash"] == trail[0]["hash"]


def test_verification_names_the_first_altered_event(team: Server) -> None:
    with team.store.transaction() as session:
        session.execute(
            update(AuditEvent).where(AuditEvent.seq == 3).values(payload={"role": "auditor"})
        )

    answer = team.call("audrey", "GET", "/api/v1/audit/verify")

    assert answer.status_code == 200
    report = answer.json()
    assert (report["ok"], report["first_bad_seq"]) == (False, 3)
    assert "event 3" in report["message"]


def test_a_request_without_a_token_appears_in_the_whole_trail(team: Server) -> None:
    refused = team.client.get("/api/v1/me")

    answer = team.call("root", "GET", "/api/v1/audit", params={"limit": 5})

    assert refused.status_code == 401
    assert answer.status_code == 200, answer.text
    newest = answer.json()[0]
    assert (newest["action"], newest["actor"]) == ("auth.refused", "anonymous")
    assert newest["subject"] == "request:GET /api/v1/me"
    assert newest["project"] is None


@pytest.mark.parametrize("member", ["bob", "audrey"])
def test_the_whole_trail_is_refused_to_anyone_but_a_server_admin(
    team: Server, member: str
) -> None:
    answer = team.call(member, "GET", "/api/v1/audit")
    own = team.call(member, "GET", "/api/v1/projects/credit/audit", params={"limit": 1})

    assert answer.status_code == 403
    assert "needs a server admin" in _message(answer)
    assert own.status_code == 200
    newest = team.call("root", "GET", "/api/v1/audit", params={"limit": 1}).json()[0]
    assert (newest["action"], newest["actor"], newest["subject"]) == (
        "audit.refused",
        member,
        "audit:all",
    )


# -- deployments -----------------------------------------------------------------------------


def test_a_new_project_has_no_deployments(crew: Server) -> None:
    answer = crew.call("emil", "GET", f"{CREDIT}/deployments")

    assert answer.status_code == 200, answer.text
    assert answer.json() == []


def test_deploying_before_any_model_is_refused_naming_the_gap(crew: Server) -> None:
    answer = crew.call("emil", "POST", f"{CREDIT}/deployments", json={"mode": "batch"})

    assert answer.status_code == 403, answer.text
    assert "no model version is registered" in _message(answer)
    assert crew.call("emil", "GET", f"{CREDIT}/deployments").json() == []


def test_an_unknown_deployment_mode_is_refused_naming_the_modes(crew: Server) -> None:
    answer = crew.call("emil", "POST", f"{CREDIT}/deployments", json={"mode": "ftp"})

    assert answer.status_code == 422
    assert "mode" in _message(answer)
    assert "batch" in _message(answer)


def test_rolling_back_with_nothing_deployed_is_refused(crew: Server) -> None:
    answer = crew.call(
        "emil", "POST", f"{CREDIT}/rollback", json={"mode": "rest", "reason": "latency doubled"}
    )

    assert answer.status_code == 404, answer.text
    assert "nothing is deployed in mode rest" in _message(answer)


def test_a_rollback_needs_a_reason(crew: Server) -> None:
    answer = crew.call("emil", "POST", f"{CREDIT}/rollback", json={"mode": "batch"})

    assert answer.status_code == 422
    assert "reason" in _message(answer)


# -- monitoring, alerts and labels without a model -------------------------------------------


def test_monitoring_history_is_empty_before_any_run(crew: Server) -> None:
    answer = crew.call("emil", "GET", f"{CREDIT}/monitor/runs")

    assert answer.status_code == 200
    assert answer.json() == []


def test_monitoring_is_refused_to_a_role_that_does_not_watch_models(crew: Server) -> None:
    answer = crew.call("bob", "POST", f"{CREDIT}/monitor", json={})

    assert answer.status_code == 403
    assert "run monitoring" in _message(answer)


def test_a_monitor_request_with_an_unknown_option_is_refused_naming_it(crew: Server) -> None:
    answer = crew.call("emil", "POST", f"{CREDIT}/monitor", json={"window": "1d"})

    assert answer.status_code == 422
    assert "window" in _message(answer)


def test_resolving_an_unknown_alert_is_refused_naming_the_id(crew: Server) -> None:
    answer = crew.call(
        "emil", "POST", f"{CREDIT}/alerts/4242/resolve", json={"reason": "upstream feed fixed"}
    )

    assert answer.status_code == 404
    assert "unknown alert 4242" in _message(answer)


def test_an_alert_id_must_be_a_positive_number(crew: Server) -> None:
    answer = crew.call("emil", "GET", f"{CREDIT}/alerts/abc")

    assert answer.status_code == 422
    assert "alert_id" in _message(answer)


def test_a_new_project_has_no_alerts(crew: Server) -> None:
    answer = crew.call("audrey", "GET", f"{CREDIT}/alerts", params={"all": "true"})

    assert answer.status_code == 200
    assert answer.json() == []


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"labels": []}, "labels"),
        ({"labels": [{"request_id": "r1"}]}, "label"),
        ({"labels": [{"request_id": "", "label": 1}]}, "request_id"),
        ({"labels": [{"request_id": "r1", "label": 1, "observed_at": "soon"}]}, "observed_at"),
        ({"rows": [{"request_id": "r1", "label": 1}]}, "rows"),
        ({"labels": [{"request_id": "r\u00001", "label": 1}]}, "NUL character"),
        ({"labels": [{"request_id": "r1", "label": "x" * 201}]}, "label"),
    ],
)
def test_labels_with_a_bad_body_are_refused_naming_the_field(
    crew: Server, body: dict[str, Any], named: str
) -> None:
    answer = crew.call("ada", "POST", f"{CREDIT}/labels", json=body)

    assert answer.status_code == 422, answer.text
    assert named in _message(answer)


def test_labels_that_are_not_json_are_refused(crew: Server) -> None:
    answer = _post_raw(crew, "ada", f"{CREDIT}/labels", b"{not json", "application/json")

    assert answer.status_code == 422
    assert "not valid JSON" in _message(answer)


def test_labels_in_another_content_type_are_refused_naming_the_accepted_ones(
    crew: Server,
) -> None:
    answer = _post_raw(crew, "ada", f"{CREDIT}/labels", b"request_id,label\nr1,1\n", "text/csv")

    assert answer.status_code == 415
    assert "multipart/form-data" in _message(answer)
    assert "text/csv" in _message(answer)


def test_labels_before_any_model_are_refused_saying_why(crew: Server) -> None:
    body = {"labels": [{"request_id": "r1", "label": 1}]}

    answer = crew.call("ada", "POST", f"{CREDIT}/labels", json=body)

    assert answer.status_code == 404
    assert "no classifier version" in _message(answer)


def test_a_label_file_with_another_suffix_is_refused(crew: Server) -> None:
    files = {"file": ("labels.xlsx", b"request_id,label\n", "application/octet-stream")}

    answer = crew.call("ada", "POST", f"{CREDIT}/labels", files=files)

    assert answer.status_code == 422
    assert "labels.xlsx" in _message(answer)
    assert ".csv" in _message(answer)
    assert list((crew.settings.home / "projects").glob("*/uploads/*")) == []


def test_a_label_file_over_the_limit_is_refused_and_not_kept(
    crew: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = crew.client.app.state
    monkeypatch.setattr(state, "settings", replace(state.settings, max_upload_mb=2))
    big = b"request_id,label\n" + b"r123456789,1\n" * 200_000  # 2.6 MB
    files = {"file": ("labels.csv", big, "text/csv")}

    answer = crew.call("ada", "POST", f"{CREDIT}/labels", files=files)

    assert answer.status_code == 413
    assert "limit of 2 MB" in _message(answer)
    assert list((crew.settings.home / "projects").glob("*/uploads/*")) == []


# -- KPIs ------------------------------------------------------------------------------------


def test_a_kpi_value_posted_appears_in_the_list(team: Server) -> None:
    _declare_kpi(team, "credit")
    body = {
        "name": "approval_rate",
        "value": 47.5,
        "period_start": "2026-11-01",
        "period_end": "2026-11-30",
    }

    posted = team.call("bob", "POST", f"{CREDIT}/kpis", json=body)
    listed = team.call("audrey", "GET", f"{CREDIT}/kpis")

    assert posted.status_code == 201, posted.text
    assert listed.status_code == 200
    [row] = listed.json()
    assert (row["name"], row["value"], row["period_start"], row["period_end"]) == (
        "approval_rate",
        47.5,
        "2026-11-01",
        "2026-11-30",
    )
    assert (row["actor"], row["source"], row["unit"], row["target"]) == ("bob", "api", "%", 50)
    assert row["evaluated"] is False


def test_a_different_value_for_a_reported_period_is_a_conflict(team: Server) -> None:
    _declare_kpi(team, "credit")
    body = {"name": "approval_rate", "period_start": "2026-11-01", "period_end": "2026-11-30"}
    team.call("bob", "POST", f"{CREDIT}/kpis", json={**body, "value": 40})

    answer = team.call("bob", "POST", f"{CREDIT}/kpis", json={**body, "value": 41})

    assert answer.status_code == 409
    assert "already has the value 40" in _message(answer)


def test_an_undeclared_kpi_is_refused_naming_the_declared_ones(crew: Server) -> None:
    body = {
        "name": "revenue",
        "value": 1,
        "period_start": "2026-11-01",
        "period_end": "2026-11-30",
    }

    answer = crew.call("bob", "POST", f"{CREDIT}/kpis", json=body)

    assert answer.status_code == 422
    assert "unknown KPI 'revenue'" in _message(answer)
    assert "approval_rate" in _message(answer)


def test_a_kpi_with_a_bad_date_is_refused_naming_the_field(crew: Server) -> None:
    body = {"name": "approval_rate", "value": 1, "period_start": "November", "period_end": "x"}

    answer = crew.call("bob", "POST", f"{CREDIT}/kpis", json=body)

    assert answer.status_code == 422
    assert "period_start" in _message(answer)


def test_a_kpi_is_reported_by_the_business_owner_not_the_engineer(crew: Server) -> None:
    body = {
        "name": "approval_rate",
        "value": 1,
        "period_start": "2026-11-01",
        "period_end": "2026-11-02",
    }

    answer = crew.call("emil", "POST", f"{CREDIT}/kpis", json=body)

    assert answer.status_code == 403
    assert "report business KPI values" in _message(answer)


# -- reports ---------------------------------------------------------------------------------


def test_the_governance_report_downloads_as_html_naming_the_project(team: Server) -> None:
    answer = team.call("audrey", "GET", f"{CREDIT}/reports/governance")

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith("attachment")
    assert 'filename="governance-credit.html"' in disposition
    assert "credit" in answer.text
    assert "<script" not in answer.text
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    folders = list((team.settings.home / "projects").glob("*/reports"))
    assert [p.name for f in folders for p in f.iterdir()] == ["governance.html"]


def test_the_governance_report_prints_to_pdf(crew: Server) -> None:
    answer = crew.call("rita", "GET", f"{CREDIT}/reports/governance", params={"format": "pdf"})

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert 'filename="governance-credit.pdf"' in answer.headers["content-disposition"]
    assert answer.content.startswith(b"%PDF")


def test_a_report_in_an_unknown_format_is_refused_naming_the_formats(crew: Server) -> None:
    answer = crew.call("audrey", "GET", f"{CREDIT}/reports/governance", params={"format": "doc"})

    assert answer.status_code == 422
    assert "format" in _message(answer)
    assert "pdf" in _message(answer)


def test_the_model_card_comes_as_json(crew: Server) -> None:
    answer = crew.call("vera", "GET", f"{CREDIT}/reports/card", params={"format": "json"})

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    card = answer.json()
    assert card["project"]["name"] == "credit"
    assert "intended_use" in card["sections"]


def test_the_model_card_comes_as_a_page(crew: Server) -> None:
    answer = crew.call("vera", "GET", f"{CREDIT}/reports/card")

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["content-disposition"].startswith("inline")
    assert "credit" in answer.text


def test_the_monitoring_dashboard_of_an_unmonitored_project_says_so(crew: Server) -> None:
    answer = crew.call("emil", "GET", f"{CREDIT}/reports/monitoring")

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert "mlgate monitor" in answer.text


def test_reports_are_for_members_only(crew: Server) -> None:
    crew.user("mallory")

    answer = crew.call("mallory", "GET", f"{CREDIT}/reports/governance")

    assert answer.status_code == 403
    assert "holds no role in project 'credit'" in _message(answer)


# -- the monitored project -------------------------------------------------------------------


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Any]]:
    """A server with project ``watched``: two model versions and two days of logged traffic.

    ada owns it; emil is its ML engineer, vera its validator, bob its business owner. The
    KPI ``approval_rate`` (target 50) has a rule that alerts when a value falls below it.
    Returns the server and the traffic frame (its request ids are ``r<row>``).
    """
    home = tmp_path_factory.mktemp("watched")
    with running_server(home) as server:
        for name in ("ada", "emil", "vera", "bob"):
            server.user(name, admin=name == "ada")
        _build_watched(server, home)
        gov = server.client.app.state.projects.open("watched", "emil")
        frame = traffic(days=2, per_day=300, seed=7)
        log_traffic(gov, frame)
        yield server, frame


def _build_watched(server: Server, home: Path) -> None:
    """Create the project in the server's store and folder, and train two versions."""
    config = WorkspaceConfig(
        project="watched",
        tier="low",
        owner="ada",
        data=DataConfig(target="y", sensitive=["group"], exclude=["group"]),
        training=TrainingConfig(estimator="sklearn.linear_model.LogisticRegression"),
        monitoring=MonitoringConfig(
            kpis=[KPI],
            extra_rules=[
                {
                    "id": "approval_kpi",
                    "metric": "kpi.approval_rate",
                    "when": "below",
                    "threshold": "business_case",
                    "min_samples": 1,
                }
            ],
        ),
    )
    projects = server.client.app.state.projects
    init_project(projects.workspace("watched"), config, store=server.store)
    gov = projects.open("watched", "ada")
    for name, role in (("emil", "ml_engineer"), ("vera", "validator"), ("bob", "business_owner")):
        gov.add_member(name, role)
    data = home / "train.csv"
    synthetic_frame(2000, seed=1).to_csv(data, index=False)
    register_dataset(gov, data, "train")
    submit_document(gov, fill("business_case", gov.workspace.root))
    train_model(gov)
    train_model(gov)


@pytest.fixture(scope="module")
def monitored(watched: tuple[Server, Any]) -> tuple[Server, Any, Any]:
    """The watched server after bob reported a KPI below target and emil ran monitoring.

    Returns the server, bob's KPI answer and emil's monitoring answer.
    """
    server, _ = watched
    kpi = {"name": "approval_rate", "value": 41, "period_start": "2026-10-01"}
    posted = server.call(
        "bob", "POST", f"{WATCHED}/kpis", json={**kpi, "period_end": "2026-10-02"}
    )
    answer = server.call(
        "emil", "POST", f"{WATCHED}/monitor", json={"until": until_day(2).isoformat()}
    )
    return server, posted, answer


def test_monitoring_summarises_each_window_and_opens_the_kpi_alert(
    monitored: tuple[Server, Any, Any],
) -> None:
    server, posted, answer = monitored

    assert posted.status_code == 201, posted.text
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    assert [(w["length"], w["start"][:10], w["rows"]) for w in summary["windows"]] == [
        ("1d", "2026-10-01", 300),
        ("1d", "2026-10-02", 300),
    ]
    assert {w["status"] for w in summary["windows"]} == {"succeeded"}
    assert (summary["failed"], summary["kpis"]) == (0, 1)
    opened = [(a["rule_id"], a["subject"], a["threshold"]) for a in summary["opened"]]
    assert ("approval_kpi", "approval_rate", 50.0) in opened

    runs = server.call("vera", "GET", f"{WATCHED}/monitor/runs", params={"limit": 1})
    assert runs.status_code == 200
    [newest] = runs.json()
    assert (newest["window"], newest["window_start"][:10], newest["actor"]) == (
        "1d",
        "2026-10-02",
        "emil",
    )


def test_an_alert_is_listed_shown_and_resolved_with_a_reason(
    monitored: tuple[Server, Any, Any],
) -> None:
    server, _, _ = monitored
    [alert] = [
        a
        for a in server.call("vera", "GET", f"{WATCHED}/alerts").json()
        if a["rule_id"] == "approval_kpi"
    ]

    shown = server.call("vera", "GET", f"{WATCHED}/alerts/{alert['id']}")
    resolved = server.call(
        "vera",
        "POST",
        f"{WATCHED}/alerts/{alert['id']}/resolve",
        json={"reason": "October promotion ended early"},
    )
    again = server.call(
        "vera",
        "POST",
        f"{WATCHED}/alerts/{alert['id']}/resolve",
        json={"reason": "October promotion ended early"},
    )
    listed = server.call("vera", "GET", f"{WATCHED}/alerts", params={"all": "true"}).json()

    assert shown.status_code == 200
    assert (shown.json()["open"], shown.json()["last_value"]) == (True, 41.0)
    assert isinstance(shown.json()["notified"], list)
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["open"] is False
    assert again.status_code == 409
    assert "already resolved" in _message(again)
    [closed] = [a for a in listed if a["id"] == alert["id"]]
    assert closed["resolution"] == "resolved by vera: October promotion ended early"


def test_a_short_resolution_reason_is_refused_naming_the_minimum(
    watched: tuple[Server, Any],
) -> None:
    server, _ = watched

    answer = server.call("vera", "POST", f"{WATCHED}/alerts/1/resolve", json={"reason": "ok"})

    assert answer.status_code == 422
    assert "at least 10 characters" in _message(answer)


def test_labels_sent_as_json_are_joined_to_logged_predictions(
    watched: tuple[Server, Any],
) -> None:
    server, frame = watched
    labels = labels_for(frame, frame.index[:50])
    body = {
        "labels": [
            {"request_id": r, "label": int(v), "observed_at": "2026-10-20T08:00:00Z"}
            for r, v in zip(labels["request_id"], labels["label"], strict=True)
        ]
        + [{"request_id": "elsewhere-1", "label": "1"}]
    }

    answer = server.call("bob", "POST", f"{WATCHED}/labels", json=body)
    again = server.call("bob", "POST", f"{WATCHED}/labels", json=body)

    assert answer.status_code == 201, answer.text
    result = answer.json()
    assert (result["received"], result["stored"], result["unlogged"]) == (51, 51, 1)
    assert (again.json()["stored"], again.json()["unchanged"]) == (0, 51)


def test_a_label_that_is_no_class_is_refused_naming_the_classes(
    watched: tuple[Server, Any],
) -> None:
    server, _ = watched
    body = {"labels": [{"request_id": "r9999", "label": "maybe"}]}

    answer = server.call("bob", "POST", f"{WATCHED}/labels", json=body)

    assert answer.status_code == 422
    assert "'maybe'" in _message(answer)
    assert "expected one of 0, 1" in _message(answer)


def test_labels_sent_as_a_csv_file_are_ingested_under_its_bare_name(
    watched: tuple[Server, Any],
) -> None:
    server, frame = watched
    labels = labels_for(frame, frame.index[100:120])
    buffer = io.StringIO()
    labels.to_csv(buffer, index=False)
    files = {"file": ("../../outcomes.csv", buffer.getvalue().encode(), "text/csv")}

    answer = server.call(
        "emil", "POST", f"{WATCHED}/labels", files=files, data={"replace": "false"}
    )

    assert answer.status_code == 201, answer.text
    assert (answer.json()["stored"], answer.json()["unlogged"]) == (20, 0)
    assert answer.json()["source"] == "outcomes.csv"
    uploads = server.client.app.state.projects.workspace("watched").root / "uploads"
    assert list(uploads.iterdir()) == []  # read into the store, then removed
    assert not (server.settings.home / "outcomes.csv").exists()


def test_an_empty_label_file_is_refused(watched: tuple[Server, Any]) -> None:
    server, _ = watched
    files = {"file": ("outcomes.csv", b"", "text/csv")}

    answer = server.call("emil", "POST", f"{WATCHED}/labels", files=files)

    assert answer.status_code == 422
    assert "'outcomes.csv' is empty" in _message(answer)


def test_deploying_a_version_other_than_the_newest_is_a_conflict(
    watched: tuple[Server, Any],
) -> None:
    server, _ = watched

    answer = server.call(
        "emil", "POST", f"{WATCHED}/deployments", json={"mode": "batch", "version": 1}
    )

    assert answer.status_code == 409
    assert "newest model version, 2" in _message(answer)
    assert "version 1" in _message(answer)


def test_a_rollback_redeploys_the_version_served_before(watched: tuple[Server, Any]) -> None:
    server, _ = watched
    gov = server.client.app.state.projects.open("watched", "emil")
    for version in (1, 2):  # as two passed deployments would have recorded them
        record_deployment(gov, get_model_version(gov, version), "stream", "stream:watched")

    answer = server.call(
        "emil",
        "POST",
        f"{WATCHED}/rollback",
        json={"mode": "stream", "reason": "version 2 scores drift upwards"},
    )
    history = server.call("vera", "GET", f"{WATCHED}/deployments", params={"mode": "stream"})

    assert answer.status_code == 200, answer.text
    done = answer.json()
    assert (done["from_version"], done["to_version"], done["deployment"]["live"]) == (2, 1, True)
    assert [(d["version"], d["live"]) for d in history.json()] == [
        (1, False),
        (2, False),
        (1, True),
    ]
    trail = server.call("root", "GET", f"{WATCHED}/audit", params={"limit": 1}).json()
    assert (trail[0]["action"], trail[0]["payload"]["reason"]) == (
        "model.rolled_back",
        "version 2 scores drift upwards",
    )


def test_a_rollback_by_a_validator_is_refused(watched: tuple[Server, Any]) -> None:
    server, _ = watched

    answer = server.call(
        "vera",
        "POST",
        f"{WATCHED}/rollback",
        json={"mode": "stream", "reason": "version 2 scores drift upwards"},
    )

    assert answer.status_code == 403
    assert "roll back deployments" in _message(answer)


def test_the_monitoring_dashboard_shows_the_monitored_windows(
    monitored: tuple[Server, Any, Any],
) -> None:
    server, _, _ = monitored

    answer = server.call("vera", "GET", f"{WATCHED}/reports/monitoring")

    assert answer.status_code == 200, answer.text
    assert "<svg" in answer.text
    assert "approval_rate" in answer.text
