"""Documents, datasets, models, checks, evidence and findings over the API.

Each route is exercised on its success path with a value that could be wrong, and on bad input
with the status and a message that names the problem. Refusals by role are audited.

The tests share one server (its users' password hashes are slow to make on purpose) and each
gets a project of its own with the conftest's team, so that they stay independent.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from httpx import Response
from sqlalchemy import or_, select

from mlgate.contracts import dump_contract, infer_contract
from mlgate.documents.examples import example
from mlgate.lifecycle.models import train_model
from mlgate.lifecycle.service import Governance
from mlgate.registry.models import AuditEvent
from tests.server.conftest import TEAM, Server, running_server

TODAY = datetime.now(UTC).date()
NUMBERS = itertools.count(1)


@dataclass
class Team:
    """A project of its own on the shared server, with the conftest's team in it."""

    server: Server
    name: str

    def call(self, user: str, method: str, path: str = "", **kwargs: Any) -> Response:
        """Send a request about this project as ``user``; ``path`` follows its URL."""
        return self.server.call(user, method, f"/api/v1/projects/{self.name}{path}", **kwargs)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module: ada (a server admin), the team, zed and dora."""
    with running_server(tmp_path_factory.mktemp("evidence"), admin="ada") as server:
        for name in [*TEAM, "zed", "dora"]:
            server.user(name)
        yield server


def open_project(server: Server, name: str) -> Governance:
    """Return project ``name``'s governance acting as ada, to arrange what is not under test."""
    app: Any = server.client.app
    return app.state.projects.open(name, "ada")


def new_project(hub: Server, **settings: Any) -> Team:
    """Create a medium-tier project owned by ada, with target default and sensitive sex."""
    name = f"credit-{next(NUMBERS)}"
    body = {"name": name, "target": "default", "tier": "medium", "sensitive": ["sex"], **settings}
    created = hub.call("ada", "POST", "/api/v1/projects", json=body)
    assert created.status_code == 201, created.text
    gov = open_project(hub, name)
    for user, role in TEAM.items():
        gov.add_member(user, role)  # the members route has tests of its own
    return Team(hub, name)


@pytest.fixture
def team(hub: Server) -> Team:
    """A fresh project on the shared server."""
    return new_project(hub)


def document(kind: str, **changes: Any) -> str:
    """Return the YAML text of a filled example document, with ``changes`` applied."""
    return yaml.safe_dump({**example(kind, TODAY), **changes}, sort_keys=False)


def credit_csv(rows: int = 200, seed: int = 0) -> bytes:
    """Return a small credit table with the project's target and sensitive column."""
    rng = np.random.default_rng(seed)
    income = rng.normal(3000, 800, rows).round(2)
    frame = pd.DataFrame(
        {
            "income": income,
            "age": rng.integers(18, 80, rows),
            "sex": rng.choice(["f", "m"], rows),
            "default": (income + rng.normal(0, 600, rows) < 2800).astype(int),
        }
    )
    return frame.to_csv(index=False).encode("utf-8")


def events(team: Team, action: str) -> list[AuditEvent]:
    """Return the trail's events of ``action`` about the team's project, oldest first."""
    with team.server.store.transaction() as session:
        stmt = (
            select(AuditEvent)
            .where(
                AuditEvent.action == action,
                or_(AuditEvent.project == team.name, AuditEvent.subject == f"project:{team.name}"),
            )
            .order_by(AuditEvent.seq)
        )
        return list(session.execute(stmt).scalars())


def submit(
    team: Team, user: str, kind: str, filename: str | None = None, **changes: Any
) -> Response:
    """Submit an example document of ``kind`` as ``user``; return the answer."""
    body = {"filename": filename or f"{kind}.yaml", "content": document(kind, **changes)}
    return team.call(user, "POST", "/documents", json=body)


def upload(
    team: Team, user: str, content: bytes, filename: str = "train.csv", **form: Any
) -> Response:
    """Upload ``content`` as a dataset file as ``user``; return the answer."""
    files = {"file": (filename, content, "text/csv")}
    return team.call(user, "POST", "/datasets", files=files, data=form)


def grant_ada(team: Team) -> None:
    """Record, as the risk officer, the data access grant ada needs for the sensitive column."""
    answer = submit(team, "rita", "data_access_grant", grantee="ada", granted_by="rita")
    assert answer.status_code == 201, answer.text


def with_training_data(team: Team) -> Team:
    """Give ada a grant and register a training dataset as her."""
    grant_ada(team)
    answer = upload(team, "ada", credit_csv())
    assert answer.status_code == 201, answer.text
    return team


@pytest.fixture
def with_data(team: Team) -> Team:
    """A fresh project with a grant for ada and a training dataset she registered."""
    return with_training_data(team)


@pytest.fixture(scope="module")
def shared(hub: Server) -> Team:
    """A project with a grant, training data and dora as data scientist, for the tests that
    change nothing in it: refusals and reads. Nobody submits a business case or runs the
    data quality check here."""
    team = with_training_data(new_project(hub))
    gov = open_project(hub, team.name)
    gov.add_member("dora", "data_scientist")
    return team


def requirement(team: Team, req_id: str) -> dict[str, Any]:
    """Return requirement ``req_id`` of the project's status."""
    status = team.call("ada", "GET").json()
    reqs = [r for s in status["stages"] for r in s["requirements"] if r["id"] == req_id]
    assert reqs, f"no requirement {req_id}"
    return reqs[0]


# -- document kinds and templates ---------------------------------------------------------------


def test_document_kinds_are_listed_with_what_they_are_for(hub: Server) -> None:
    answer = hub.call("audrey", "GET", "/api/v1/document-kinds")
    assert answer.status_code == 200
    kinds = {k["kind"]: k["description"] for k in answer.json()}
    assert "business_case" in kinds
    assert "benefit" in kinds["business_case"]


def test_a_template_is_the_commented_yaml_of_its_kind(hub: Server) -> None:
    answer = hub.call("ada", "GET", "/api/v1/document-kinds/risk_assessment/template")
    assert answer.status_code == 200
    assert answer.json()["kind"] == "risk_assessment"
    assert yaml.safe_load(answer.json()["content"])["kind"] == "risk_assessment"


def test_an_unknown_kind_has_no_template_and_the_known_ones_are_named(hub: Server) -> None:
    answer = hub.call("ada", "GET", "/api/v1/document-kinds/business_cas/template")
    assert answer.status_code == 404
    assert "business_case" in answer.json()["message"]


def test_document_kinds_need_a_token(hub: Server) -> None:
    assert hub.client.get("/api/v1/document-kinds").status_code == 401


# -- documents ------------------------------------------------------------------------------------


def test_a_submitted_business_case_meets_its_requirement(team: Team) -> None:
    assert requirement(team, "business_case")["met"] is False
    answer = submit(team, "ada", "business_case", "my case.yaml")
    assert answer.status_code == 201, answer.text
    evidence = answer.json()
    assert (evidence["requirement_id"], evidence["status"]) == ("business_case", "pass")
    assert evidence["actor"] == "ada"
    met = requirement(team, "business_case")
    assert met["met"] is True
    assert met["evidence_id"] == evidence["id"]
    listed = team.call("vera", "GET", "/documents").json()
    assert [(d["name"], d["id"]) for d in listed] == [("business_case", evidence["id"])]


def test_the_upload_folder_is_emptied_after_a_submission(team: Team) -> None:
    assert submit(team, "ada", "business_case").status_code == 201
    gov = open_project(team.server, team.name)
    uploads = gov.workspace.root / "uploads"
    assert list(uploads.iterdir()) == []


def test_documents_list_the_newest_submission_of_each_kind(team: Team) -> None:
    first = submit(team, "ada", "business_case").json()
    grant = submit(team, "rita", "data_access_grant", grantee="ada", granted_by="rita").json()
    second = submit(team, "ada", "business_case", title="Second version").json()
    listed = team.call("ada", "GET", "/documents").json()
    assert [d["id"] for d in listed] == [second["id"], grant["id"]]
    assert first["id"] not in [d["id"] for d in listed]


def test_malformed_yaml_is_refused_naming_the_file_and_line(shared: Team) -> None:
    body = {"filename": "case.yaml", "content": "kind: business_case\ntitle: [unclosed\n"}
    answer = shared.call("ada", "POST", "/documents", json=body)
    assert answer.status_code == 422
    message = answer.json()["message"]
    assert "case.yaml" in message
    assert "line" in message
    assert "uploads" not in message


def test_control_characters_are_refused_as_not_yaml(shared: Team) -> None:
    body = {"filename": "case.yaml", "content": "kind: business_case\x07\n"}
    nul = {"filename": "case.yaml", "content": "kind: business_case\x00\n"}
    answer = shared.call("ada", "POST", "/documents", json=body)
    refused = shared.call("ada", "POST", "/documents", json=nul)
    assert answer.status_code == 422
    assert "not valid YAML: unacceptable character #x0007" in answer.json()["message"]
    assert refused.status_code == 422
    assert "holds the NUL character" in refused.json()["message"]


def test_a_document_missing_a_field_is_refused_naming_the_field(shared: Team) -> None:
    content = document("business_case")
    content = "\n".join(line for line in content.splitlines() if not line.startswith("problem:"))
    answer = shared.call(
        "ada", "POST", "/documents", json={"filename": "bc.yaml", "content": content}
    )
    assert answer.status_code == 422
    assert "problem" in answer.json()["message"]
    assert requirement(shared, "business_case")["met"] is False


@pytest.mark.parametrize(
    "filename", ["../evil.yaml", "docs/case.yaml", "..\\case.yaml", "case.txt", ".yaml"]
)
def test_a_file_name_that_is_not_a_bare_yaml_name_is_refused(shared: Team, filename: str) -> None:
    answer = submit(shared, "ada", "business_case", filename)
    assert answer.status_code == 422
    message = answer.json()["message"]
    assert "filename" in message
    assert "bare file name" in message


def test_an_auditor_may_not_submit_and_the_refusal_is_audited(team: Team) -> None:
    answer = submit(team, "audrey", "business_case")
    assert answer.status_code == 403
    assert "audrey may not submit documents" in answer.json()["message"]
    refused = events(team, "document.submit.refused")
    assert refused[-1].actor == "audrey"
    assert requirement(team, "business_case")["met"] is False


def test_a_non_member_is_refused_on_reading_and_submitting(shared: Team) -> None:
    before = len(events(shared, "access.refused"))
    read = shared.call("zed", "GET", "/documents")
    sent = submit(shared, "zed", "business_case")
    assert (read.status_code, sent.status_code) == (403, 403)
    assert f"zed holds no role in project '{shared.name}'" in sent.json()["message"]
    refused = events(shared, "access.refused")[before:]
    assert [e.actor for e in refused] == ["zed", "zed"]


# -- datasets and models --------------------------------------------------------------------------


def test_an_uploaded_dataset_is_registered_and_listed(with_data: Team) -> None:
    listed = with_data.call("vera", "GET", "/datasets").json()
    assert len(listed) == 1
    dataset = listed[0]
    assert (dataset["name"], dataset["version"], dataset["n_rows"]) == ("train", 1, 200)
    assert dataset["column_names"] == ["income", "age", "sex", "default"]
    assert dataset["file"] == "train.csv"
    assert dataset["created_by"] == "ada"


def test_the_same_file_again_registers_nothing(with_data: Team) -> None:
    again = upload(with_data, "ada", credit_csv())
    assert again.status_code == 200
    assert again.json()["unchanged"] is True
    other = upload(with_data, "ada", credit_csv(seed=1), "train-2.csv")
    assert other.status_code == 201
    assert (other.json()["version"], other.json()["unchanged"]) == (2, False)


def test_a_holdout_with_a_contract_keeps_the_contract(with_data: Team) -> None:
    frame = pd.read_csv(io.BytesIO(credit_csv(seed=2)))
    contract = dump_contract(infer_contract(frame, "holdout", target="default"))
    files = {
        "file": ("holdout.csv", credit_csv(seed=2), "text/csv"),
        "contract": ("holdout.contract.yaml", contract, "application/yaml"),
    }
    answer = with_data.call("ada", "POST", "/datasets", files=files, data={"name": "holdout"})
    assert answer.status_code == 201, answer.text
    assert (answer.json()["name"], answer.json()["has_contract"]) == ("holdout", True)


def test_dataset_uploads_need_a_grant_for_sensitive_columns(team: Team) -> None:
    answer = upload(team, "ada", credit_csv())
    assert answer.status_code == 403
    assert "no live data access grant" in answer.json()["message"]
    assert "sex" in answer.json()["message"]


def test_a_dataset_without_the_target_is_refused_naming_column_and_file(shared: Team) -> None:
    frame = pd.read_csv(io.BytesIO(credit_csv())).drop(columns=["default"])
    answer = upload(shared, "ada", frame.to_csv(index=False).encode(), "loans.csv")
    assert answer.status_code == 422
    message = answer.json()["message"]
    assert "loans.csv lacks column(s) default" in message
    assert str(shared.server.settings.home) not in message


@pytest.mark.parametrize(
    ("form", "filename", "named"),
    [
        ({}, "train.txt", "expected a file name ending .csv or .parquet or .pq"),
        ({"name": "../train"}, "train.csv", "name"),
        ({}, "train.csv", "empty"),
    ],
)
def test_bad_dataset_uploads_are_refused(
    shared: Team, form: dict, filename: str, named: str
) -> None:
    content = b"" if named == "empty" else credit_csv()
    answer = upload(shared, "ada", content, filename, **form)
    assert answer.status_code == 422
    assert named in answer.json()["message"]


def test_a_dataset_above_the_upload_limit_is_refused_naming_the_limit(team: Team) -> None:
    grant_ada(team)
    state = team.server.client.app.state  # type: ignore[attr-defined]
    settings = state.settings
    state.settings = replace(settings, max_upload_mb=1)
    big = credit_csv(rows=80_000)
    assert len(big) > 2**20
    try:
        answer = upload(team, "ada", big)
    finally:
        state.settings = settings
    assert answer.status_code == 413
    assert "limit of 1 MB" in answer.json()["message"]
    assert team.call("ada", "GET", "/datasets").json() == []


def test_models_are_listed_with_their_features_and_metrics(hub: Server) -> None:
    # A linear model trains in a blink; the default boosting model takes seconds.
    with_data = with_training_data(
        new_project(hub, estimator="sklearn.linear_model.LogisticRegression")
    )
    assert with_data.call("ada", "GET", "/models").json() == []
    gov = open_project(hub, with_data.name)
    train_model(gov, search=False)
    models = with_data.call("emil", "GET", "/models").json()
    assert len(models) == 1
    model = models[0]
    assert model["version"] == 1
    assert model["features"] == ["income", "age", "sex"]
    assert model["created_by"] == "ada"
    assert model["dataset_version_id"] == with_data.call("ada", "GET", "/datasets").json()[0]["id"]


# -- checks and evidence --------------------------------------------------------------------------


def test_a_check_run_is_stored_and_its_evidence_readable(with_data: Team) -> None:
    answer = with_data.call("ada", "POST", "/checks/data_quality", json={})
    assert answer.status_code == 200, answer.text
    run = answer.json()
    assert run["check"] == "data_quality"
    assert run["status"] in ("pass", "warn")
    assert run["evidence"]["requirement_id"] == "data_quality"
    assert run["required"] is True
    assert run["metrics"]

    evidence_id = run["evidence"]["id"]
    detail = with_data.call("audrey", "GET", f"/evidence/{evidence_id}").json()
    assert detail["payload"]["result"]["check"] == "data_quality"
    assert detail["dataset_version_id"] is not None
    listed = with_data.call("ada", "GET", "/evidence?name=data_quality").json()
    assert [e["id"] for e in listed] == [evidence_id]


def test_a_voluntary_check_binds_to_no_requirement(with_data: Team) -> None:
    answer = with_data.call("ada", "POST", "/checks/representation")
    assert answer.status_code == 200, answer.text
    assert answer.json()["required"] is False
    assert answer.json()["evidence"]["requirement_id"] is None


def test_an_unknown_check_is_refused_naming_the_known_ones(shared: Team) -> None:
    answer = shared.call("ada", "POST", "/checks/data_qualty", json={})
    assert answer.status_code == 404
    assert "data_quality" in answer.json()["message"]


def test_a_check_on_a_bad_dataset_name_is_refused(shared: Team) -> None:
    answer = shared.call("ada", "POST", "/checks/data_quality", json={"dataset": "x/../y"})
    assert answer.status_code == 422
    assert "dataset" in answer.json()["message"]


def test_an_auditor_may_not_run_checks_or_recheck(shared: Team) -> None:
    ran = shared.call("audrey", "POST", "/checks/data_quality")
    again = shared.call("audrey", "POST", "/recheck")
    assert (ran.status_code, again.status_code) == (403, 403)
    assert "audrey may not run checks" in ran.json()["message"]
    assert shared.call("ada", "GET", "/evidence?name=data_quality").json() == []


def test_recheck_runs_nothing_while_the_first_stage_has_no_checks(shared: Team) -> None:
    answer = shared.call("ada", "POST", "/recheck")
    assert answer.status_code == 200
    assert answer.json() == []


def test_evidence_filters_by_requirement_and_limits_newest_first(with_data: Team) -> None:
    first = submit(with_data, "ada", "business_case").json()
    second = submit(with_data, "ada", "business_case", title="Again").json()
    listed = with_data.call("ada", "GET", "/evidence?requirement=business_case&limit=1")
    assert [e["id"] for e in listed.json()] == [second["id"]]
    assert first["id"] < second["id"]
    bad = with_data.call("ada", "GET", "/evidence?limit=0")
    assert bad.status_code == 422
    assert "limit" in bad.json()["message"]


def test_a_document_artifact_is_served_as_a_yaml_attachment(team: Team) -> None:
    content = document("business_case")
    sent = team.call(
        "ada", "POST", "/documents", json={"filename": "case.yaml", "content": content}
    )
    evidence = sent.json()
    sha = evidence["artifacts"][0]
    answer = team.call("audrey", "GET", f"/evidence/{evidence['id']}/artifacts/{sha}")
    assert answer.status_code == 200
    assert answer.content == content.encode("utf-8")
    assert answer.headers["content-type"].startswith("application/yaml")
    assert answer.headers["content-disposition"] == 'attachment; filename="case.yaml"'
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_only_the_artifacts_of_the_evidence_are_served(shared: Team) -> None:
    grant = shared.call("ada", "GET", "/evidence?name=data_access_grant").json()[0]
    path = f"/evidence/{grant['id']}/artifacts"
    assert shared.call("vera", "GET", f"{path}/{grant['artifacts'][0]}").status_code == 200
    missing = shared.call("ada", "GET", f"{path}/{'0' * 64}")
    assert missing.status_code == 404
    assert "has no artifact" in missing.json()["message"]
    bad = shared.call("ada", "GET", f"{path}/not-a-hash")
    assert bad.status_code == 422
    assert "sha256" in bad.json()["message"]


def test_evidence_of_another_project_or_none_is_not_found(team: Team, shared: Team) -> None:
    theirs = shared.call("ada", "GET", "/evidence?limit=1").json()[0]["id"]
    assert shared.call("ada", "GET", f"/evidence/{theirs}").status_code == 200
    answer = team.call("ada", "GET", f"/evidence/{theirs}")
    assert answer.status_code == 404
    assert f"project {team.name} has no evidence {theirs}" in answer.json()["message"]
    assert team.call("ada", "GET", "/evidence/999999").status_code == 404
    zero = team.call("ada", "GET", "/evidence/zero")
    assert zero.status_code == 422
    assert "evidence_id" in zero.json()["message"]


# -- findings -------------------------------------------------------------------------------------


def new_finding(**changes: Any) -> dict[str, Any]:
    """Return the body of a finding vera records against ada's work."""
    return {
        "severity": "high",
        "title": "Income is a proxy for sex",
        "description": "Income differs by sex; check the fairness of refusals.",
        "owner": "ada",
        "due": (TODAY + timedelta(days=30)).isoformat(),
        **changes,
    }


def test_a_finding_is_recorded_updated_closed_and_reopened(team: Team) -> None:
    added = team.call("vera", "POST", "/findings", json=new_finding())
    assert added.status_code == 201, added.text
    finding = added.json()
    assert (finding["status"], finding["owner"], finding["model_version"]) == ("open", "ada", None)
    path = f"/findings/{finding['id']}"

    plan = team.call("ada", "PATCH", path, json={"remediation": "drop income"})
    assert plan.status_code == 200
    assert plan.json()["remediation"] == "drop income"

    closed = team.call("vera", "POST", f"{path}/close", json={"resolution": "income dropped"})
    assert closed.status_code == 200
    assert (closed.json()["status"], closed.json()["closed_by"]) == ("closed", "vera")

    reopened = team.call("rita", "POST", f"{path}/reopen", json={"reason": "proxy is back"})
    assert reopened.status_code == 200
    assert reopened.json()["status"] == "open"
    listed = team.call("audrey", "GET", "/findings?status=open").json()
    assert [f["id"] for f in listed] == [finding["id"]]


def test_the_owner_may_not_move_the_due_date(shared: Team) -> None:
    finding = shared.call("vera", "POST", "/findings", json=new_finding()).json()
    later = (TODAY + timedelta(days=90)).isoformat()
    answer = shared.call("ada", "PATCH", f"/findings/{finding['id']}", json={"due": later})
    assert answer.status_code == 403
    assert "may update its remediation, but not its owner or due date" in answer.json()["message"]


def test_a_data_scientist_may_not_record_findings(shared: Team) -> None:
    shared.call("ada", "POST", "/members", json={"user": "dora", "role": "data_scientist"})
    answer = shared.call("dora", "POST", "/findings", json=new_finding())
    assert answer.status_code == 403
    assert "record review findings" in answer.json()["message"]


@pytest.mark.parametrize(
    ("changes", "status", "named"),
    [
        ({"severity": "severe"}, 422, "severity"),
        ({"owner": "nobody"}, 422, "owner 'nobody' is not a member"),
        ({"due": "2020-01-01"}, 422, "in the past"),
        ({"due": "next week"}, 422, "body.due"),
        ({"title": "two\nlines"}, 422, "the title spans several lines"),
        ({"model_version": 3}, 404, "no model version 3"),
    ],
)
def test_bad_findings_are_refused_naming_the_problem(
    shared: Team, changes: dict, status: int, named: str
) -> None:
    answer = shared.call("vera", "POST", "/findings", json=new_finding(**changes))
    assert answer.status_code == status
    assert named in answer.json()["message"]


def test_closing_needs_a_real_resolution_and_an_open_finding(shared: Team) -> None:
    finding = shared.call("vera", "POST", "/findings", json=new_finding()).json()
    path = f"/findings/{finding['id']}"
    short = shared.call("vera", "POST", f"{path}/close", json={"resolution": "done"})
    assert short.status_code == 422
    assert "at least 10 characters" in short.json()["message"]
    assert (
        shared.call(
            "vera", "POST", f"{path}/reopen", json={"reason": "not closed yet"}
        ).status_code
        == 409
    )
    empty = shared.call("vera", "PATCH", path, json={})
    assert empty.status_code == 422
    assert "nothing to update" in empty.json()["message"]
    unknown = shared.call("vera", "POST", "/findings/99/close", json={"resolution": "x" * 12})
    assert unknown.status_code == 404
    assert "unknown finding 99" in unknown.json()["message"]


def test_finding_dates_are_plain_dates(shared: Team) -> None:
    finding = shared.call("vera", "POST", "/findings", json=new_finding()).json()
    assert date.fromisoformat(finding["due_date"]) == TODAY + timedelta(days=30)
    assert finding["overdue"] is False
