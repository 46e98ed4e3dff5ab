"""The web pages over a test client: who sees what, forms and their CSRF token, escaping."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from mlgate.lifecycle.service import Governance
from mlgate.registry.models import Alert, AuditEvent, Evidence, MonitorRun
from mlgate.server.web.inbox import pending_approvals
from tests.server.conftest import Server, post_login
from tests.server.web_helpers import PASSWORD, business_case, make_project, sign_in

PROJECT = "loans"
HOSTILE = "<img src=x onerror=alert(1)>"


@dataclass
class Web:
    """The server with project ``loans`` under the web test policy and its people."""

    server: Server
    gov: Governance  # acting as the owner, dana

    def client(self, name: str) -> tuple[object, str]:
        """Sign ``name`` in; return the client and the session's form token."""
        return self.server.client, sign_in(self.server.client, self.server.accounts, name)

    def submit_case(self, name: str = "dana", title: str = "Loans") -> Evidence:
        """Submit a business case as ``name`` through the page; return the stored evidence."""
        client, csrf = self.client(name)
        answer = client.post(
            f"/projects/{PROJECT}/documents",
            data={"csrf_token": csrf, "filename": "case.yaml", "content": business_case(title)},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        with self.gov.transaction() as session:
            return self.gov.project_rows(session, Evidence)[-1]


@pytest.fixture
def web(server: Server) -> Web:
    """Project ``loans``: dana owns it, val validates, sam is data scientist and validator."""
    for name in ("dana", "val", "sam", "audra", "outsider"):
        server.user(name, password=None)
    members = {"val": "validator", "sam": "data_scientist", "audra": "auditor"}
    gov = make_project(server.settings, server.store, PROJECT, "dana", members)
    gov.add_member("sam", "validator")
    return Web(server, gov)


def events(server: Server, action: str) -> list[AuditEvent]:
    """Return the trail's events of ``action``."""
    with server.store.transaction() as session:
        stmt = select(AuditEvent).where(AuditEvent.action == action)
        return list(session.execute(stmt).scalars())


# -- signing in and the portfolio ----------------------------------------------------------


def test_pages_send_a_visitor_without_a_session_to_sign_in(web: Web) -> None:
    answer = web.server.client.get(f"/projects/{PROJECT}", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/login?next=%2Fprojects%2F{PROJECT}"


def test_signing_in_with_the_form_opens_the_page_asked_for(server: Server) -> None:
    server.user("dana")
    make_project(server.settings, server.store, PROJECT, "dana")
    answer = post_login(
        server.client,
        data={"username": "dana", "password": PASSWORD, "next": f"/projects/{PROJECT}"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/projects/{PROJECT}"
    page = server.client.get(answer.headers["location"])
    assert page.status_code == 200
    assert "<h1>loans</h1>" in page.text


def test_portfolio_lists_visible_projects_with_open_requirements(web: Web) -> None:
    make_project(web.server.settings, web.server.store, "vault", "root")
    client, _ = web.client("val")
    page = client.get("/")
    assert page.status_code == 200
    row = re.search(r'href="/projects/loans">loans</a>.*?</tr>', page.text, re.DOTALL)
    assert row is not None
    assert ">2</td>" in row.group(0)
    assert "vault" not in page.text  # val holds no role there
    client, _ = web.client("root")  # a server admin sees every project
    assert 'href="/projects/vault"' in client.get("/").text


def test_portfolio_panels_show_expiring_waivers_alerts_and_waiting_approvals(web: Web) -> None:
    web.server.user("rita", password=None)
    web.gov.add_member("rita", "risk_officer")
    rita = Governance(web.gov.workspace, "rita", store=web.server.store, config=web.gov.config)
    rita.waive(
        "business_case", "the case is being rewritten by finance", date.today() + timedelta(10)
    )
    _add_alert(web.gov, "roc_auc fell to 0.61 <b>below</b> 0.70")
    web.submit_case()
    client, _ = web.client("val")
    page = client.get("/").text
    expiring = page[page.index('id="expiring"') : page.index('id="alerts"')]
    assert "waiver of business_case by rita ends on" in expiring
    assert "roc_auc fell to 0.61 &lt;b&gt;below&lt;/b&gt; 0.70" in page
    assert re.search(r'id="waiting-count">1 approval\s+waiting<', page)


def _add_alert(gov: Governance, message: str) -> None:
    now = datetime.now(UTC)
    with gov.transaction() as session:
        session.add(
            Alert(
                project_id=gov.project(session).id,
                rule_id="auc",
                metric="performance.roc_auc",
                subject="model",
                severity="high",
                action="notify",
                open=True,
                threshold=0.7,
                first_value=0.61,
                last_value=0.61,
                first_window_start=now - timedelta(days=1),
                last_window_end=now,
                message=message,
                notified=[],
                opened_at=now,
            )
        )


# -- the project page ------------------------------------------------------------------------


def test_project_page_shows_stages_checklist_and_hints(web: Web) -> None:
    client, _ = web.client("dana")
    page = client.get(f"/projects/{PROJECT}").text
    assert page.count('<li class="pending"') == 6
    assert '<li class="current" aria-current="step">1. Initiation</li>' in page
    assert "no business_case document submitted" in page
    assert "mlgate doc submit docs/business_case.yaml" in page  # what it still needs
    assert "<details>" in page
    assert "Kickoff" in page
    assert "<td>val</td><td>validator</td>" in page


def test_project_page_refuses_a_non_member_and_audits_it(web: Web) -> None:
    client, _ = web.client("outsider")
    answer = client.get(f"/projects/{PROJECT}")
    assert answer.status_code == 403
    assert "outsider holds no role in project &#39;loans&#39;" in answer.text
    assert [e.subject for e in events(web.server, "access.refused")] == [f"project:{PROJECT}"]


def test_unknown_project_is_a_404_page(web: Web) -> None:
    client, _ = web.client("root")
    answer = client.get("/projects/nope")
    assert answer.status_code == 404
    assert "no project &#39;nope&#39; on this server" in answer.text


def test_submitting_a_document_shows_the_remaining_gap(web: Web) -> None:
    evidence = web.submit_case()
    assert (evidence.name, evidence.actor, evidence.status) == ("business_case", "dana", "pass")
    assert evidence.payload["file"] == "case.yaml"
    page = web.server.client.get(
        f"/projects/{PROJECT}?done=submitted&kind=business_case&evidence={evidence.id}"
    ).text
    assert f"Document submitted: business_case as evidence {evidence.id}." in page
    assert "0 of 1 validator approval(s) of business_case" in page
    assert f'href="/projects/{PROJECT}/evidence/{evidence.id}"' in page


def test_an_invalid_document_is_shown_on_the_page_with_the_text_kept(web: Web) -> None:
    client, csrf = web.client("dana")
    text = "kind: business_case\ntitle: <b>draft</b>\n"
    answer = client.post(
        f"/projects/{PROJECT}/documents",
        data={"csrf_token": csrf, "filename": "draft.yaml", "content": text},
    )
    assert answer.status_code == 422
    assert "draft.yaml" in answer.text
    assert "problem" in answer.text
    assert "title: &lt;b&gt;draft&lt;/b&gt;" in answer.text  # kept in the box, escaped
    assert "uploads" not in answer.text  # the server's own file names stay private


def test_an_empty_submission_names_what_was_expected(web: Web) -> None:
    client, csrf = web.client("dana")
    answer = client.post(f"/projects/{PROJECT}/documents", data={"csrf_token": csrf})
    assert answer.status_code == 422
    assert "expected the document&#39;s YAML in the text box or an uploaded file" in answer.text


def test_a_document_can_be_uploaded_as_a_file_within_the_size_limit(web: Web) -> None:
    client, csrf = web.client("dana")
    files = {"upload": ("../../etc/case.yaml", business_case().encode(), "text/yaml")}
    answer = client.post(
        f"/projects/{PROJECT}/documents",
        data={"csrf_token": csrf},
        files=files,
        follow_redirects=False,
    )
    assert answer.status_code == 303
    with web.gov.transaction() as session:
        stored = web.gov.project_rows(session, Evidence)[-1]
    assert stored.payload["file"] == "case.yaml"  # the bare name, never the client's path
    assert list((web.gov.workspace.root / "uploads").iterdir()) == []  # staged, then removed
    big = {"upload": ("big.yaml", b"#" * (1100 * 1024), "text/yaml")}
    answer = client.post(f"/projects/{PROJECT}/documents", data={"csrf_token": csrf}, files=big)
    assert answer.status_code == 413
    assert "above the server&#39;s limit of 1 MB per file" in answer.text


def test_a_document_name_without_a_yaml_suffix_is_refused(web: Web) -> None:
    client, csrf = web.client("dana")
    data = {"csrf_token": csrf, "filename": "case.txt", "content": business_case()}
    answer = client.post(f"/projects/{PROJECT}/documents", data=data)
    assert answer.status_code == 422
    assert "expected a file name ending .yaml or .yml" in answer.text


def test_a_form_without_its_csrf_token_is_refused_and_audited(web: Web) -> None:
    client, _ = web.client("dana")
    answer = client.post(
        f"/projects/{PROJECT}/documents",
        data={"csrf_token": "forged", "content": business_case()},
    )
    assert answer.status_code == 403
    assert "reload the page" in answer.text
    assert len(events(web.server, "csrf.refused")) == 1
    with web.gov.transaction() as session:
        assert web.gov.project_rows(session, Evidence) == []


def test_advancing_a_closed_gate_shows_the_gaps_then_advances_once_met(web: Web) -> None:
    client, csrf = web.client("dana")
    answer = client.post(f"/projects/{PROJECT}/advance", data={"csrf_token": csrf})
    assert answer.status_code == 403
    assert "cannot leave stage &#39;initiation&#39;: 2 requirement(s) not met" in answer.text
    web.submit_case()
    val = Governance(web.gov.workspace, "val", store=web.server.store, config=web.gov.config)
    val.decide("business_case_approval", "approve", "sound case")
    client, csrf = web.client("dana")
    answer = client.post(f"/projects/{PROJECT}/advance", data={"csrf_token": csrf})
    assert answer.status_code == 200
    assert "now in kickoff" in answer.text
    assert '<li class="current" aria-current="step">2. Kickoff</li>' in answer.text


def test_an_auditor_may_neither_advance_nor_submit(web: Web) -> None:
    assert 'id="advance"' in web.client("sam")[0].get(f"/projects/{PROJECT}").text
    client, csrf = web.client("audra")
    page = client.get(f"/projects/{PROJECT}").text
    assert 'id="advance"' not in page
    assert 'id="submit-document"' not in page
    answer = client.post(f"/projects/{PROJECT}/advance", data={"csrf_token": csrf})
    assert answer.status_code == 403
    assert "audra may not advance the project" in answer.text
    data = {"csrf_token": csrf, "filename": "case.yaml", "content": business_case()}
    answer = client.post(f"/projects/{PROJECT}/documents", data=data)
    assert answer.status_code == 403
    assert "audra may not submit documents" in answer.text


# -- the inbox --------------------------------------------------------------------------------


def test_pending_approvals_wait_for_the_role_but_never_for_the_author(web: Web) -> None:
    assert pending_approvals(web.gov.snapshot_now(), {"validator"}, "val") == []  # nothing yet
    web.submit_case("sam")
    snapshot = web.gov.snapshot_now()
    waiting = pending_approvals(snapshot, {"validator"}, "val")
    assert [(w.project, w.requirement, w.role) for w in waiting] == [
        (PROJECT, "business_case_approval", "validator")
    ]
    assert pending_approvals(snapshot, {"validator", "data_scientist"}, "sam") == []
    assert pending_approvals(snapshot, {"data_scientist"}, "dana") == []
    val = Governance(web.gov.workspace, "val", store=web.server.store, config=web.gov.config)
    val.decide("business_case_approval", "reject", "numbers missing")
    assert pending_approvals(web.gov.snapshot_now(), {"validator"}, "val") == []


def test_approving_from_the_inbox_records_it_and_meets_the_gate(web: Web) -> None:
    web.submit_case()
    client, csrf = web.client("val")
    inbox = client.get("/inbox").text
    assert "A validator approves the business case" in inbox
    answer = client.post(
        f"/projects/{PROJECT}/approvals/business_case_approval",
        data={"csrf_token": csrf, "decision": "approve", "comment": "benefit is credible"},
    )
    assert answer.status_code == 200
    assert "Approval recorded: business_case_approval in loans" in answer.text
    assert 'id="nothing-waiting"' in answer.text
    [event] = events(web.server, "approval.approve")
    assert (event.actor, event.payload["comment"]) == ("val", "benefit is credible")


def test_a_self_approval_is_refused_on_the_inbox_page(web: Web) -> None:
    web.submit_case("sam")
    client, csrf = web.client("sam")
    answer = client.post(
        f"/projects/{PROJECT}/approvals/business_case_approval",
        data={"csrf_token": csrf, "decision": "approve", "comment": "mine is fine"},
    )
    assert answer.status_code == 403
    assert "separation of duties needs another validator" in answer.text
    assert len(events(web.server, "approval.approve.refused")) == 1


def test_a_decision_without_a_comment_is_refused(web: Web) -> None:
    web.submit_case()
    client, csrf = web.client("val")
    answer = client.post(
        f"/projects/{PROJECT}/approvals/business_case_approval",
        data={"csrf_token": csrf, "decision": "approve", "comment": ""},
    )
    assert answer.status_code == 422
    assert "comment" in answer.text
    assert events(web.server, "approval.approve") == []


# -- evidence ---------------------------------------------------------------------------------


def test_evidence_page_shows_document_fields_escaped(web: Web) -> None:
    evidence = web.submit_case(title=f"Loans {HOSTILE} scoring")
    page = web.server.client.get(f"/projects/{PROJECT}/evidence/{evidence.id}").text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert HOSTILE not in page
    assert "<dt>Success metrics</dt>" in page
    assert "ROC AUC on held-out applications" in page


def test_evidence_page_draws_a_checks_figures_as_inline_svg(web: Web) -> None:
    figure = {
        "name": "rates",
        "title": "Approval rate per group",
        "kind": "bar",
        "x_label": "group",
        "y_label": "rate",
        "series": [{"name": "rate", "x": ["a", "b"], "y": [0.4, 0.7]}],
    }
    plain = _check_evidence(web.gov, {"auc": 0.81, "gap": 0.05}, [])
    drawn = _check_evidence(web.gov, {"auc": 0.81}, [figure])
    client, _ = web.client("audra")
    page = client.get(f"/projects/{PROJECT}/evidence/{drawn}").text
    assert page.count("<svg") == 1
    assert "Approval rate per group</title>" in page
    assert "<td>auc</td><td>0.8100</td>" in page
    page = client.get(f"/projects/{PROJECT}/evidence/{plain}").text
    assert "fairness: metrics</title>" in page  # a chart of the metrics when none is stored
    assert "http" not in page.split("<svg", 1)[1].split("</svg>")[0].replace(
        "http://www.w3.org", ""
    )


def _check_evidence(gov: Governance, metrics: dict, figures: list) -> int:
    with gov.transaction() as session:
        evidence = Evidence(
            project_id=gov.project(session).id,
            stage="initiation",
            requirement_id=None,
            kind="check",
            name="fairness",
            status="pass",
            summary="within limits",
            payload={"result": {"metrics": metrics, "figures": figures, "findings": []}},
            artifacts=[],
            actor="dana",
            created_at=datetime.now(UTC),
        )
        session.add(evidence)
        session.flush()
        return evidence.id


def test_evidence_of_another_project_or_a_bad_id_is_refused(web: Web) -> None:
    other = make_project(web.server.settings, web.server.store, "other", "dana")
    foreign = _check_evidence(other, {"auc": 0.8}, [])
    client, _ = web.client("dana")
    answer = client.get(f"/projects/{PROJECT}/evidence/{foreign}")
    assert answer.status_code == 404
    assert f"no evidence {foreign} in project &#39;loans&#39;" in answer.text
    answer = client.get(f"/projects/{PROJECT}/evidence/abc")
    assert answer.status_code == 422
    assert "evidence_id" in answer.text


# -- the audit trail and monitoring -----------------------------------------------------------


def test_audit_page_shows_events_and_verification(web: Web) -> None:
    make_project(web.server.settings, web.server.store, "vault", "root")
    client, _ = web.client("audra")
    page = client.get("/audit").text
    assert "Verification OK" in page
    assert "project:loans" in page
    assert "project:vault" not in page
    assert "user.created" not in page  # account events are for server admins
    client, _ = web.client("root")
    assert "user.created" in client.get("/audit").text
    page = client.get("/audit?project=vault").text
    assert "project:vault" in page
    assert "project:loans" not in page


def test_audit_filter_on_a_project_the_user_cannot_see_is_refused(web: Web) -> None:
    make_project(web.server.settings, web.server.store, "vault", "root")
    client, _ = web.client("val")
    answer = client.get("/audit?project=vault")
    assert answer.status_code == 403
    assert "val holds no role in project &#39;vault&#39;" in answer.text
    assert client.get("/audit?limit=0").status_code == 422


def test_audit_page_names_the_first_tampered_event(web: Web) -> None:
    with web.server.store.transaction() as session:
        session.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(actor="mallory"))
    client, _ = web.client("root")
    page = client.get("/audit").text
    assert "TAMPERED: first bad event 3" in page


def test_monitoring_page_without_runs_says_so_and_serves_the_dashboard_after(web: Web) -> None:
    client, _ = web.client("dana")
    page = client.get(f"/projects/{PROJECT}/monitoring").text
    assert "loans has no monitoring runs yet" in page
    now = datetime.now(UTC)
    with web.gov.transaction() as session:
        session.add(
            MonitorRun(
                project_id=web.gov.project(session).id,
                window="1d",
                window_start=now - timedelta(days=1),
                window_end=now,
                rows=10,
                status="ok",
                trigger="schedule",
                actor="emil",
                started_at=now,
            )
        )
    answer = client.get(f"/projects/{PROJECT}/monitoring")
    assert answer.status_code == 200
    assert "<title>" in answer.text
    assert "loans" in answer.text
    assert "no monitoring runs yet" not in answer.text
    assert re.search(r'(?:src|href)="(?:https?:)?//', answer.text) is None  # all offline
    assert answer.headers["content-security-policy"].startswith("default-src 'self'")


# -- escaping ---------------------------------------------------------------------------------


def test_a_hostile_project_name_is_shown_as_text_everywhere(web: Web) -> None:
    make_project(web.server.settings, web.server.store, HOSTILE, "dana")
    client, _ = web.client("dana")
    for path in ("/", f"/projects/{HOSTILE}", "/audit"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert HOSTILE not in page.text, path
        assert "&lt;img src=x onerror=alert(1)&gt;" in page.text, path
    assert 'href="/projects/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E"' in client.get("/").text


def test_the_flash_message_prints_only_known_codes_with_identifier_names(web: Web) -> None:
    client, _ = web.client("dana")
    url = f"/projects/{PROJECT}?done=submitted&kind=business_case&evidence="
    lure = client.get(url + "1+-+your+session+expired,+sign+in+at+evil.example").text
    script = client.get(url + "<script>x</script>").text
    unknown = client.get(f"/projects/{PROJECT}?done=you+won+a+prize").text
    assert "Document submitted" not in lure
    assert "evil.example" not in lure
    assert "Document submitted" not in script
    assert "<script>x</script>" not in script
    assert "you won a prize" not in unknown
