"""Tests for the model card (JSON, HTML, PDF) and the governance report with its completeness."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from mlgate.cli.app import main
from mlgate.errors import ValidationError
from mlgate.lifecycle.service import Governance
from mlgate.registry.models import Evidence, ReviewFinding
from mlgate.reports.card import CARD_SECTIONS, build_card, render_card, write_card
from mlgate.reports.card_schema import CARD_SCHEMA, validate_card
from mlgate.reports.collect import collect
from mlgate.reports.governance import completeness, render_governance, write_governance
from mlgate.reports.regulatory import SECTIONS
from tests.fixtures import fill, synthetic_frame

INJECTED = "<script>alert('card')</script>"
RESOLUTION = "Threshold recalibrated on the 2026 hold-out; re-tested by the validator."


def _run(monkeypatch: pytest.MonkeyPatch, root: Path, *args: str, user: str = "alice") -> None:
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLGATE_USER", user)
    monkeypatch.setattr(sys, "argv", ["mlgate", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    assert not code, f"mlgate {' '.join(args)} exited with {code}"


def _init(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root.mkdir()
    synthetic_frame().to_csv(root / "train.csv", index=False)
    _run(monkeypatch, root, "init", "demo-low", "--tier", "low", "--target", "y",
         "--sensitive", "group", "--exclude", "group", "--data", "train.csv",
         "--estimator", "sklearn.linear_model.LogisticRegression")  # fmt: skip


def _add_findings(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One closed and one open validation finding, written straight to the store."""
    monkeypatch.chdir(root)
    gov = Governance.open(actor="victor")
    now = dt.datetime.now(dt.UTC)
    with gov.transaction() as session:
        project = gov.project(session)
        common = {
            "project_id": project.id,
            "model_version_id": None,
            "owner": "alice",
            "due_date": dt.date(2027, 1, 31),
            "created_by": "victor",
            "created_at": now,
        }
        session.add(
            ReviewFinding(
                severity="high",
                title="Threshold drifts",
                description="The cut-off was tuned on old data.",
                remediation="Recalibrate.",
                status="closed",
                closed_by="victor",
                closed_at=now,
                resolution=RESOLUTION,
                **common,
            )
        )
        session.add(ReviewFinding(severity="low", title="Sparse docstrings",
                                  description="Feature code lacks comments.", remediation="",
                                  status="open", **common))  # fmt: skip


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """A fresh project, and one taken to deployment with checks, findings and hostile text."""
    base = tmp_path_factory.mktemp("cards")
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name in ("MLGATE_DATABASE_URL", "MLGATE_ARTIFACT_URL", "MLGATE_WORKSPACE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("COLUMNS", "200")
        fresh, done = base / "fresh", base / "done"
        _init(fresh, monkeypatch)
        _init(done, monkeypatch)
        business = fill("business_case", done, problem=f"Churn {INJECTED} prediction")
        _run(monkeypatch, done, "doc", "submit", str(business))
        _run(monkeypatch, done, "doc", "submit", str(fill("emergency_contacts", done)))
        _run(monkeypatch, done, "train")
        _run(monkeypatch, done, "advance", "--to", "deployment")
        _add_findings(done, monkeypatch)
        yield {"fresh": fresh, "done": done}


def _collect(root: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.chdir(root)
    return collect(Governance.open(actor="alice"))


@pytest.fixture
def done(workspaces: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    return _collect(workspaces["done"], monkeypatch)


@pytest.fixture
def fresh(workspaces: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    return _collect(workspaces["fresh"], monkeypatch)


def _claims(card: dict[str, Any], section: str) -> list[dict[str, Any]]:
    return card["sections"][section]["claims"]


def _pdf_text(path: Path) -> str:
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in PdfReader(path).pages))


# -- model card ------------------------------------------------------------------------------


def test_card_json_validates_against_its_schema(done: dict[str, Any], tmp_path: Path) -> None:
    paths = write_card(done, tmp_path, pdf=False)
    card = json.loads(paths[0].read_text())

    validate_card(card)
    assert card["schema_version"] == CARD_SCHEMA["properties"]["schema_version"]["const"]
    assert list(card["sections"]) == [key for key, _ in CARD_SECTIONS]
    assert [p.name for p in paths] == ["model-card.json", "model-card.html"]


def test_card_schema_check_rejects_a_broken_card(done: dict[str, Any]) -> None:
    card = build_card(done)
    broken = copy.deepcopy(card)
    broken["sections"]["metrics"]["claims"][0]["model_sha256"] = "not-a-hash"
    with pytest.raises(ValidationError, match=r"model_sha256 is 'not-a-hash'"):
        validate_card(broken)

    del broken["sections"]["owners"]
    with pytest.raises(ValidationError, match=r"card.sections lacks owners"):
        validate_card(broken)


def test_card_metrics_equal_the_stored_evidence(
    done: dict[str, Any], workspaces: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    card = build_card(done)
    monkeypatch.chdir(workspaces["done"])
    gov = Governance.open(actor="alice")
    with gov.transaction() as session:
        stmt = select(Evidence).where(Evidence.name == "cv_accuracy").order_by(Evidence.id)
        stored = session.execute(stmt).scalars().all()[-1]
        expected = dict(stored.payload["result"]["metrics"])
        evidence_id = stored.id

    claims = {c["label"]: c for c in _claims(card, "metrics") if c["evidence_id"] == evidence_id}
    shown = {label.removeprefix("cv_accuracy."): c["value"] for label, c in claims.items()}
    assert set(shown) == {
        "folds",
        "validation_accuracy_mean",
        "validation_roc_auc_mean",
        "validation_roc_auc_std",
        "validation_f1_mean",
    }
    assert shown == {key: expected[key] for key in shown}
    assert {c["model_sha256"] for c in claims.values()} == {done["model"]["sha256"]}
    assert {c["dataset_sha256"] for c in claims.values()} == {done["model"]["dataset_sha256"]}


def test_every_claim_carries_evidence_and_hashes(done: dict[str, Any]) -> None:
    card = build_card(done)
    model_sha = done["model"]["sha256"]
    claims = [c for key, _ in CARD_SECTIONS for c in _claims(card, key)]

    assert all(c["model_sha256"] == model_sha for c in claims)
    assert all(re.fullmatch(r"[0-9a-f]{64}", c["dataset_sha256"] or "") for c in claims)
    use = _claims(card, "intended_use")
    business_id = next(e["id"] for e in done["evidence"] if e["name"] == "business_case")
    assert use
    assert {c["evidence_id"] for c in use} == {business_id}


def test_card_limitations_list_open_findings_only(done: dict[str, Any]) -> None:
    labels = [c["label"] for c in _claims(build_card(done), "limitations")]

    assert "Open finding: Sparse docstrings" in labels
    assert "Open finding: Threshold drifts" not in labels


def test_card_html_escapes_document_text(done: dict[str, Any]) -> None:
    html = render_card(build_card(done))

    assert INJECTED not in html
    assert "&lt;script&gt;alert(&#39;card&#39;)&lt;/script&gt;" in html


def test_card_pdf_holds_every_section_and_the_model_hash(
    done: dict[str, Any], tmp_path: Path
) -> None:
    paths = write_card(done, tmp_path)
    text = _pdf_text(paths[-1])

    assert paths[-1].name == "model-card.pdf"
    for _, title in CARD_SECTIONS:
        assert title.replace(" ", "") in text
    assert done["model"]["sha256"] in text


def test_card_of_a_fresh_project_has_no_model_and_validates(fresh: dict[str, Any]) -> None:
    card = build_card(fresh)

    assert card["model"] is None
    assert _claims(card, "metrics") == []
    assert _claims(card, "data")[0]["value"]["n_rows"] == 400


# -- governance report -----------------------------------------------------------------------


def test_completeness_names_the_sections_a_fresh_project_lacks(
    fresh: dict[str, Any], done: dict[str, Any]
) -> None:
    new, complete = completeness(fresh), completeness(done)

    assert "validation" in new["empty"]
    assert set(new["lacking"]) == {s.id for s in SECTIONS}
    present = [i["name"] for s in new["sections"] for i in s["items"] if i["present"]]
    assert present == ["dataset", "audit"]  # what init records, nothing more
    assert complete["score"] > new["score"]
    assert complete["present"] > new["present"]
    assert complete["expected"] == new["expected"] == sum(len(s.expected) for s in SECTIONS)


def test_completeness_counts_closed_findings_only_when_none_is_open(done: dict[str, Any]) -> None:
    def closed_item(data: dict[str, Any]) -> bool:
        section = next(s for s in completeness(data)["sections"] if s["id"] == "validation")
        return next(i for i in section["items"] if i["name"] == "findings_closed")["present"]

    assert closed_item(done) is False
    all_closed = copy.deepcopy(done)
    for finding in all_closed["review_findings"]:
        finding["status"] = "closed"
    assert closed_item(all_closed) is True


def test_governance_report_shows_findings_with_their_resolution(done: dict[str, Any]) -> None:
    html = render_governance(done)

    closed = re.search(r'<tr id="finding-\d+"><td><strong>Threshold drifts.*?</tr>', html, re.S)
    assert closed is not None
    assert RESOLUTION in closed.group(0)
    assert "closed by victor" in closed.group(0)
    assert INJECTED not in html


def test_governance_report_links_claims_to_evidence_with_hashes(done: dict[str, Any]) -> None:
    html = render_governance(done)
    links = set(re.findall(r'href="#(evidence-\d+)"', html))

    assert links
    for anchor in links:
        article = re.search(rf'<article class="evidence" id="{anchor}">.*?</article>', html, re.S)
        assert article is not None, anchor
        assert "Model sha256" in article.group(0)
        assert "Dataset sha256" in article.group(0)
    for section in SECTIONS:
        assert f'id="gov-{section.id}"' in html


def test_governance_pdf_is_written_beside_the_html(done: dict[str, Any], tmp_path: Path) -> None:
    html_path, pdf_path = write_governance(done, tmp_path / "gov.html", pdf=True)
    text = _pdf_text(pdf_path)

    assert pdf_path == tmp_path / "gov.pdf"
    assert html_path.read_text().startswith("<!DOCTYPE html>")
    assert "0.Completeness" in text
    assert "Validationfindings" in text
    assert done["model"]["sha256"] in text


def test_missing_weasyprint_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlgate.reports.pdf import write_pdf

    monkeypatch.setitem(sys.modules, "weasyprint", None)
    with pytest.raises(ValidationError, match="WeasyPrint") as info:
        write_pdf("<p>x</p>", Path("never.pdf"))
    assert "pip install 'mlgate[review]'" in (info.value.hint or "")


# -- command line ----------------------------------------------------------------------------


def test_cli_card_writes_json_html_and_pdf(workspace: Path, cli: Any) -> None:
    result = cli("card", "--output-dir", "cards", cwd=workspace)

    assert result.code == 0, result.text
    names = sorted(p.name for p in (workspace / "cards").iterdir())
    assert names == ["model-card.html", "model-card.json", "model-card.pdf"]
    card = json.loads((workspace / "cards" / "model-card.json").read_text())
    assert card["project"]["name"] == "demo-low"


def test_cli_report_pdf_writes_both_files(workspace: Path, cli: Any) -> None:
    result = cli("report", "--output", "out/gov.html", "--pdf", cwd=workspace)

    assert result.code == 0, result.text
    assert (workspace / "out" / "gov.html").is_file()
    assert "Validationandtesting" in _pdf_text(workspace / "out" / "gov.pdf")


def test_cli_report_refuses_a_pdf_output_name(workspace: Path, cli: Any) -> None:
    result = cli("report", "--output", "gov.pdf", cwd=workspace)

    assert result.code == 2
    assert "--output must be an .html file; got 'gov.pdf'" in result.text
    assert "--pdf" in result.text


def test_the_card_names_the_estimator_as_users_import_it() -> None:
    from mlgate.reports.card import public_name

    assert public_name("sklearn.linear_model._logistic.LogisticRegression") == (
        "sklearn.linear_model.LogisticRegression"
    )
    assert public_name("lightgbm.sklearn.LGBMClassifier") == "lightgbm.sklearn.LGBMClassifier"
    assert public_name(None) is None
