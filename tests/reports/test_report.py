"""Tests for the governance report: the HTML page and the charts it inlines."""

from __future__ import annotations

import copy
import datetime
import re
import warnings
from collections import Counter
from html import escape
from pathlib import Path
from typing import Any

import pytest

from mlgate.checks.base import CheckResult, Figure, Finding, Series
from mlgate.errors import ValidationError
from mlgate.reports import draw_figure, figure_to_svg, format_value, render_report, write_report
from mlgate.reports.html import format_text

SHA_DATA = "d" * 64
SHA_MODEL = "a1" * 32
SHA_POLICY = "9f" * 32
INJECTED = "<script>alert(1)</script>"


def _cv_result() -> dict[str, Any]:
    groups = ["female", "male", "non-binary"]
    return CheckResult(
        check="cv_accuracy",
        status="pass",
        summary="5-fold accuracy 0.871 ± 0.012, above the 0.80 limit.",
        metrics={"cv.accuracy_mean": 0.871234, "cv.accuracy_std": None, "cv.n_folds": 5},
        findings=[Finding("warn", "fold 3 is markedly lower", subject="fold_3", value=0.81)],
        figures=[
            Figure(
                name="accuracy_by_group",
                title="Accuracy by group",
                kind="bar",
                x_label="group",
                y_label="accuracy",
                series=[
                    Series("train", groups, [0.90, 0.88, 0.84]),
                    Series("validation", groups, [0.87, None, 0.79]),
                ],
                threshold=0.8,
            ),
            Figure(
                name="learning_curve",
                title="Learning curve",
                kind="line",
                x_label="training rows",
                y_label="accuracy",
                series=[Series("validation", [1000, 2000, 4000, 8000], [0.80, 0.84, None, 0.87])],
            ),
        ],
        tables={"folds": [{"fold": i, "accuracy": 0.86 + i / 100} for i in range(1, 6)]},
    ).to_dict()


def _fairness_result() -> dict[str, Any]:
    rows = [
        {"group": f"region_{i:02d}", "selection_rate": i / 100, "n": 100 + i} for i in range(60)
    ]
    return CheckResult(
        check="fairness",
        status="fail",
        summary="Demographic parity difference 0.21 exceeds the 0.10 limit.",
        metrics={"fairness.demographic_parity_difference": 0.2134, "fairness.ratio": float("nan")},
        findings=[Finding("fail", "selection rate differs by region", subject="region")],
        figures=[
            Figure(
                name="score_hist",
                title="Score distribution",
                kind="hist",
                x_label="score",
                y_label="count",
                series=[Series("all", [0.0, 0.25, 0.5, 0.75, 1.0], [10, 40, 35, 15])],
            )
        ],
        tables={"by_region": rows},
    ).to_dict()


def _evidence(id_: int, kind: str, name: str, stage: str, status: str, **extra: Any) -> dict:
    base = {
        "id": id_,
        "kind": kind,
        "name": name,
        "requirement_id": name,
        "stage": stage,
        "status": status,
        "actor": "alice",
        "created_at": f"2026-11-{id_ + 10:02d}T09:00:00Z",
        "dataset_sha256": None,
        "model_sha256": None,
        "model_version": None,
        "summary": None,
        "result": None,
        "document": None,
    }
    return {**base, **extra}


def report_data() -> dict[str, Any]:
    """A realistic report input: a high-tier credit model half way through its gates."""
    business_case = {
        "title": "Credit limit recommendation",
        "problem": f"Set credit limits for existing customers {INJECTED}",
        "beneficiaries": ["retail customers", "credit risk team"],
        "current_solution": "manual review by analysts",
        "expected_benefit": {
            "description": "fewer defaults",
            "quantity": 1.2,
            "unit": "MEUR",
            "period": "year",
        },
        "improvement_over_current": "decisions in one day instead of three",
        "success_metrics": [
            {
                "name": "default rate",
                "unit": "%",
                "direction": "lower",
                "baseline": 4.2,
                "target": 3.5,
            },
            {
                "name": "approval time",
                "unit": "days",
                "direction": "lower",
                "baseline": 3,
                "target": 1,
            },
        ],
    }
    risk_assessment = {
        "privacy": {
            "personal_data": True,
            "sensitive_attributes": ["age"],
            "leak_prevention": "pseudonymised ids, isolated workspace",
        },
        "ethics": {
            "discrimination_risk": "medium",
            "affected_groups": ["applicants under 25"],
            "mitigation": "age is a protected feature and is not used",
        },
        "other_policy": {"regulations": ["EU AI Act", "GDPR"], "notes": "credit is high-risk"},
        "overall_risk": "high",
    }
    contact = {"name": "Oncall Team", "email": "oncall@example.org", "phone": "+44 20 0000 0000"}
    contacts = {
        "primary": contact,
        "secondary": {**contact, "name": "Bob", "email": "bob@example.org"},
        "escalation": {**contact, "name": "Carol", "email": "carol@example.org"},
        "confirmed": True,
        "confirmed_on": "2026-11-15",
    }
    evidence = [
        _evidence(1, "document", "business_case", "initiation", "pass", document=business_case),
        _evidence(
            2,
            "document",
            "risk_assessment",
            "initiation",
            "pass",
            document=risk_assessment,
        ),
        _evidence(
            3,
            "check",
            "cv_accuracy",
            "development",
            "pass",
            dataset_sha256=SHA_DATA,
            model_sha256=SHA_MODEL,
            model_version=2,
            summary="Cross-validated accuracy is above the limit.",
            result=_cv_result(),
        ),
        _evidence(
            4,
            "check",
            "fairness",
            "development",
            "fail",
            dataset_sha256=SHA_DATA,
            model_sha256=SHA_MODEL,
            model_version=2,
            summary="Selection rate differs by region.",
            result=_fairness_result(),
        ),
        _evidence(
            5,
            "record",
            "emergency_contacts",
            "kickoff",
            "pass",
            document=contacts,
        ),
    ]

    def req(id_: str, kind: str, state: str, evidence_id: int | None = None, detail: str = ""):
        actor, at = ("alice", "2026-11-12T09:00:00Z") if evidence_id else (None, None)
        return {
            "id": id_,
            "title": id_.replace("_", " ").title(),
            "kind": kind,
            "state": state,
            "detail": detail,
            "evidence_id": evidence_id,
            "actor": actor,
            "at": at,
        }

    stages = [
        {
            "id": "initiation",
            "title": "Initiation",
            "status": "passed",
            "requirements": [
                req("business_case", "document", "satisfied", 1),
                req("risk_assessment", "document", "satisfied", 2),
                req("sponsor_approval", "approval", "satisfied"),
            ],
        },
        {
            "id": "kickoff",
            "title": "Kickoff",
            "status": "passed",
            "requirements": [
                req("data_quality", "check", "waived", detail="waived by carol until 2027-01-31"),
                req("emergency_contacts", "record", "satisfied", 5),
            ],
        },
        {
            "id": "development",
            "title": "Development",
            "status": "current",
            "requirements": [
                req("cv_accuracy", "check", "satisfied", 3),
                req("fairness", "check", "failed", 4, detail="demographic parity 0.21 > 0.10"),
                req("model_review", "approval", "rejected", detail="rejected by dave"),
            ],
        },
        {
            "id": "testing",
            "title": "Testing",
            "status": "pending",
            "requirements": [
                req("holdout_accuracy", "check", "missing", detail="run: mlgate check holdout"),
                req("uat", "document", "expired", detail="user acceptance older than 90 days"),
            ],
        },
    ]
    events = [
        {
            "seq": i,
            "at": f"2026-11-{1 + i // 4:02d}T10:{i % 60:02d}:00Z",
            "actor": "alice",
            "action": "evidence.add",
            "subject": f"evidence/{i}",
        }
        for i in range(1, 61)
    ]
    return {
        "generated_at": "2026-12-04T16:30:00Z",
        "mlgate_version": "0.1.0",
        "project": {
            "name": "credit-limit",
            "owner": "alice",
            "tier": "high",
            "stage": "development",
            "policy_name": "default",
            "policy_version": 1,
            "policy_sha256": SHA_POLICY,
            "created_at": "2026-11-01T08:00:00Z",
            "members": [
                {"user": "alice", "role": "data_scientist"},
                {"user": "carol", "role": "validator"},
            ],
        },
        "model": {
            "version": 2,
            "sha256": SHA_MODEL,
            "flavour": "sklearn",
            "estimator": "sklearn.ensemble.GradientBoostingClassifier",
            "params": {"n_estimators": 200, "learning_rate": 0.05},
            "metrics": {"train.accuracy": 0.912345, "train.auc": None},
            "dataset_sha256": SHA_DATA,
            "code_version": "git:4f2a9c1",
            "created_by": "alice",
            "created_at": "2026-11-13T12:00:00Z",
            "signature": [{"name": "income", "dtype": "float64"}],
        },
        "datasets": [
            {
                "name": "train",
                "uri": "file:///data/credit/train.parquet",
                "sha256": SHA_DATA,
                "n_rows": 12000,
                "n_cols": 14,
                "created_by": "alice",
                "created_at": "2026-11-05T08:00:00Z",
            }
        ],
        "stages": stages,
        "evidence": evidence,
        "approvals": [
            {
                "requirement_id": "sponsor_approval",
                "actor": "carol",
                "role": "validator",
                "decision": "approve",
                "comment": "business case is sound",
                "created_at": "2026-11-12T15:00:00Z",
                "subject": "stage initiation",
            },
            {
                "requirement_id": "model_review",
                "actor": "dave",
                "role": "risk_officer",
                "decision": "reject",
                "comment": "fairness must be fixed first",
                "created_at": "2026-11-20T15:00:00Z",
                "subject": "model version 2",
            },
        ],
        "waivers": [
            {
                "requirement_id": "data_quality",
                "actor": "carol",
                "role": "validator",
                "justification": "legacy feed, replaced in Q1",
                "expires_at": "2027-01-31T00:00:00Z",
                "live": True,
            }
        ],
        "refusals": [
            {
                "at": "2026-11-14T10:00:00Z",
                "actor": "alice",
                "action": "approve model_review",
                "reason": "alice authored the evidence and cannot approve it",
            }
        ],
        "deployments": [
            {
                "model_version": 1,
                "mode": "rest",
                "endpoint": "/models/credit-limit/1",
                "actor": "erin",
                "created_at": "2026-10-01T00:00:00Z",
                "ended_at": None,
            }
        ],
        "audit": {
            "ok": True,
            "message": "chain verified",
            "n_events": 60,
            "head_hash": "e" * 64,
            "events": events,
        },
    }


@pytest.fixture(scope="module")
def html() -> str:
    return render_report(report_data())


def _section(html: str, section_id: str) -> str:
    start = html.index(f'<section id="{section_id}">')
    return html[start : html.index("</section>", start)]


def test_render_report_inlines_one_svg_per_figure(html: str) -> None:
    n_figures = sum(
        len((item["result"] or {}).get("figures", [])) for item in report_data()["evidence"]
    )
    assert n_figures == 3
    assert html.count("<svg") == n_figures
    assert html.count("</svg>") == n_figures
    assert "<?xml" not in html


def test_render_report_loads_no_external_resource(html: str) -> None:
    assert "<link" not in html
    assert "<script" not in html
    assert "@import" not in html
    for attribute in re.findall(r'\b(?:src|href)\s*=\s*["\']([^"\']*)', html):
        assert not attribute.lower().startswith(("http://", "https://", "//")), attribute


def test_render_report_ids_are_unique(html: str) -> None:
    duplicates = {k: n for k, n in Counter(re.findall(r'\bid="([^"]+)"', html)).items() if n > 1}
    assert duplicates == {}


def test_render_report_anchors_every_evidence_and_links_requirements(html: str) -> None:
    data = report_data()
    for item in data["evidence"]:
        assert html.count(f'id="evidence-{item["id"]}"') == 1

    lifecycle = _section(html, "lifecycle")
    linked = [r["evidence_id"] for s in data["stages"] for r in s["requirements"]]
    for evidence_id in filter(None, linked):
        assert f'href="#evidence-{evidence_id}"' in lifecycle


def test_render_report_shows_states_as_text(html: str) -> None:
    lifecycle = _section(html, "lifecycle")
    for state in ("satisfied", "waived", "failed", "rejected", "missing", "expired"):
        assert re.search(
            rf'class="badge b-{state}"><span aria-hidden="true">.</span> {state}<', lifecycle
        ), state
    for status in ("passed", "current", "pending"):
        assert f"</span> {status}</span>" in lifecycle
    assert "run: mlgate check holdout" in lifecycle


def test_render_report_escapes_document_text(html: str) -> None:
    assert INJECTED not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_render_report_formats_metrics(html: str) -> None:
    assert '<td class="num">0.8712</td>' in html
    assert '<td class="num">0.2134</td>' in html
    assert '<td class="num">12,000</td>' in html
    assert re.search(r"<code>cv\.accuracy_std</code></td><td class=\"num\">n/a</td>", html)
    assert re.search(r"<code>fairness\.ratio</code></td><td class=\"num\">n/a</td>", html)
    assert re.search(r"<code>train\.auc</code></td><td class=\"num\">n/a</td>", html)
    assert not re.search(r">\s*(None|nan|NaN)\s*<", html)


def test_render_report_caps_long_tables_and_audit_events(html: str) -> None:
    assert "Showing the first 50 of 60 rows." in html
    audit = _section(html, "audit")
    assert "Last 50 of 60 events" in audit
    assert "evidence/60" in audit
    assert "evidence/10<" not in audit


def test_render_report_model_card_draws_on_documents_and_checks(html: str) -> None:
    card = _section(html, "model-card")
    assert "Set credit limits for existing customers" in card
    assert "credit risk team" in card
    assert "default rate" in card
    assert "decisions in one day instead of three" in card
    assert "<dt>Quantity</dt><dd>1.2</dd>" in card
    assert "age is a protected feature" in card
    assert "selection rate differs by region" in card
    assert "Oncall Team" in card
    assert "<svg" not in card


def test_render_report_shows_decisions_and_deployments(html: str) -> None:
    decisions = _section(html, "decisions")
    assert "</span> approve</span>" in decisions
    assert "</span> reject</span>" in decisions
    assert "</span> live</span>" in decisions
    assert "alice authored the evidence and cannot approve it" in decisions
    assert "</span> active</span>" in _section(html, "deployments")
    assert "</span> verified</span>" in _section(html, "audit")


def test_render_report_is_deterministic(html: str) -> None:
    assert render_report(copy.deepcopy(report_data())) == html


def test_render_report_empty_project_renders() -> None:
    data = report_data()
    data.update(
        model=None, datasets=[], evidence=[], approvals=[], waivers=[], refusals=[], deployments=[]
    )
    data["stages"] = []
    data["audit"] = {
        "ok": False,
        "message": "event 7 was altered",
        "n_events": 9,
        "head_hash": "f" * 64,
        "events": [],
    }

    page = render_report(data)

    assert "No model version has been registered yet." in page
    assert "No evidence has been recorded yet." in page
    assert "</span> failed</span> event 7 was altered" in page


def test_write_report_creates_the_file(tmp_path: Path) -> None:
    target = write_report(report_data(), tmp_path / "out" / "report.html")

    assert target == tmp_path / "out" / "report.html"
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]


def test_write_report_is_readable_by_others_under_a_normal_umask(tmp_path: Path) -> None:
    import os

    old = os.umask(0o022)
    try:
        target = write_report(report_data(), tmp_path / "report.html")
    finally:
        os.umask(old)
    assert target.stat().st_mode & 0o777 == 0o644


def test_format_text_writes_datetimes_as_iso() -> None:
    moment = datetime.datetime(2026, 12, 4, 16, 30, 0, 123, tzinfo=datetime.UTC)
    assert format_text(moment) == "2026-12-04T16:30:00+00:00"
    assert format_text(None) == "—"


def test_format_value_reads_missing_as_na() -> None:
    assert [format_value(v) for v in (None, float("nan"), float("inf"), "nan")] == ["n/a"] * 4
    assert format_value(0.871234) == "0.8712"
    assert format_value(12000) == "12,000"
    assert format_value(True) == "yes"


def _bar(values: list[float | None], threshold: float | None = None) -> Figure:
    return Figure(
        name="by_group",
        title="By group",
        kind="bar",
        x_label="group",
        y_label="rate",
        series=[Series("rate", ["a", "b", "c"], values)],
        threshold=threshold,
    )


def test_draw_figure_bar_three_categories_draws_three_bars() -> None:
    figure = _bar([0.2, 0.5, 0.3])

    (ax,) = draw_figure(figure).axes
    svg = figure_to_svg(figure, id_prefix="t")

    assert len(ax.patches) == 3
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert len(re.findall(r'id="t-bar_\d+_\d+"', svg)) == 3


def test_draw_figure_skips_none_values() -> None:
    (ax,) = draw_figure(_bar([0.2, None, 0.3])).axes
    assert len(ax.patches) == 2


def test_figure_to_svg_draws_threshold_as_dashed_red_line() -> None:
    svg = figure_to_svg(_bar([0.2, 0.5, 0.3], threshold=0.4), id_prefix="t")

    threshold = svg[svg.index('id="t-threshold"') :]
    threshold = threshold[: threshold.index("</g>")]
    assert "stroke-dasharray" in threshold
    assert "#b2182b" in threshold


def test_figure_to_svg_accepts_dict_form_and_is_deterministic() -> None:
    figure = _bar([0.2, 0.5, 0.3])
    stored = CheckResult("c", "pass", "s", figures=[figure]).to_dict()["figures"][0]

    assert figure_to_svg(stored, id_prefix="x") == figure_to_svg(figure, id_prefix="x")


def test_figure_to_svg_prefixes_every_id_and_reference() -> None:
    svg = figure_to_svg(_bar([0.2, 0.5, 0.3], threshold=0.4), id_prefix="c1")

    ids = re.findall(r'\bid="([^"]+)"', svg)
    refs = re.findall(r'(?:href="#|url\(#)([^")]+)', svg)
    assert ids
    assert all(i == "c1" or i.startswith("c1-") for i in ids)
    assert refs
    assert set(refs) <= set(ids)
    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")


@pytest.mark.parametrize(
    ("x", "y"),
    [([0.0, 1.0, 2.0, 3.0], [5, 3, 1]), ([0.5, 1.5, 2.5], [5, 3, 1])],
    ids=["edges", "centres"],
)
def test_draw_figure_hist_accepts_edges_or_centres(x: list[float], y: list[float]) -> None:
    figure = Figure("h", "Histogram", "hist", "x", "count", [Series("s", x, y)])

    (ax,) = draw_figure(figure).axes

    lefts = sorted(round(p.get_x(), 6) for p in ax.patches)
    assert lefts == [0.0, 1.0, 2.0]


def test_draw_figure_scatter_and_line_skip_none_points() -> None:
    scatter = Figure(
        "s", "S", "scatter", "x", "y", [Series("s", [1, 2, None, 4], [1, None, 3, 4])]
    )
    line = Figure("l", "L", "line", "x", "y", [Series("l", [1, 2, 3], [1.0, None, 3.0])])

    (scatter_ax,) = draw_figure(scatter).axes
    (line_ax,) = draw_figure(line).axes

    assert len(scatter_ax.collections[0].get_offsets()) == 2
    assert line_ax.lines[0].get_ydata()[1] != line_ax.lines[0].get_ydata()[1]  # NaN: a gap


def test_figure_to_svg_unknown_kind_raises() -> None:
    stored = {**CheckResult("c", "pass", "s", figures=[_bar([1, 2, 3])]).to_dict()["figures"][0]}
    stored["kind"] = "pie"

    with pytest.raises(ValidationError, match="has kind 'pie'; expected one of bar, line"):
        figure_to_svg(stored)


def test_long_category_labels_are_shortened_and_leave_room_for_the_bars() -> None:
    labels = [
        f"status = ... < 0 DM & savings level number {i} of the applicant" for i in range(20)
    ]
    figure = Figure(
        "slice_accuracy",
        "Worst slices",
        "bar",
        "slice",
        "accuracy",
        [Series("accuracy", labels, [0.5 + i / 100 for i in range(20)])],
    )

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns when the axes collapse to nothing
        svg = figure_to_svg(figure)

    shortened = escape(labels[0][:31] + "\u2026", quote=False)
    assert shortened in svg
    assert labels[0] not in svg


def test_model_selection_and_search_are_shown_as_tables_not_raw_parameters() -> None:
    data = report_data()
    data["model"]["params"] = {
        "n_estimators": 200,
        "search": {
            "study": "mlgate:p:abc:def",
            "metric": "roc_auc",
            "trials": 6,
            "best_value": 0.7718,
            "best_params": {"C": 0.4},
        },
        "selection": {
            "metric": "roc_auc",
            "winner": "logistic",
            "reason": "within one standard error; the simpler model",
            "candidates": [
                {"candidate": "logistic", "estimator": "a.b.LogisticRegression", "mean": 0.7718},
                {"candidate": "boosting", "estimator": "a.b.LGBMClassifier", "mean": 0.7724},
            ],
        },
    }

    page = render_report(data)

    assert "Model selection on mean roc_auc" in page
    assert "logistic (chosen)" in page
    assert "Chose logistic: within one standard error; the simpler model" in page
    assert "study <code>mlgate:p:abc:def</code>, 6 complete trials" in page
    assert "<code>selection</code>" not in page  # not dumped in the parameter table
    assert "<code>n_estimators</code>" in page
