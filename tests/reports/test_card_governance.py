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
from tests.fixtures import fill, headless_chromium, synthetic_frame

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


# -- layout, links, waivers and charts -------------------------------------------------------


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_card_pdf_shows_each_metric_with_its_value_status_and_evidence(
    done: dict[str, Any], tmp_path: Path
) -> None:
    from mlgate.reports.html import format_text

    card = build_card(done)
    text = _pdf_text(write_card(done, tmp_path)[-1])
    metrics = [c for c in _claims(card, "metrics") if not isinstance(c["value"], list)]

    assert metrics
    for claim in metrics:
        row = (
            f"{claim['label']}{format_text(claim['value'])}"
            f"{claim['status']}evidence#{claim['evidence_id']}"
            f"data{claim['dataset_sha256'][:12]}model{claim['model_sha256'][:12]}"
        )
        assert _compact(row) in text.replace("✓", "").replace("✗", "").replace("!", ""), row


def test_wide_tables_are_split_into_parts_that_repeat_the_row_names() -> None:
    from mlgate.reports.html import MAX_TABLE_COLUMNS, column_parts, key_columns

    rows = [["sex", "female", *range(17)], ["age", "under_25", *range(17)]]
    parts = column_parts(19, key_columns(rows, lambda v: isinstance(v, str)))

    assert parts == [[0, 1, *range(2, 9)], [0, 1, *range(9, 16)], [0, 1, 16, 17, 18]]
    assert all(len(part) <= MAX_TABLE_COLUMNS for part in parts)
    assert column_parts(5, 1) == [[0, 1, 2, 3, 4]]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Headless Chromium from the operating system, to measure the pages as a reader sees them."""
    with headless_chromium() as browser:
        yield browser


# Every table wider than the element holding it, and how wide the page scrolls.
MEASURE_TABLES = """() => {
  const wide = [];
  for (const table of document.querySelectorAll('table')) {
    const room = table.parentElement.clientWidth;
    if (table.scrollWidth > room + 1) {
      const head = table.querySelector('caption, th');
      wide.push(`${head ? head.textContent : table.className}: ${table.scrollWidth} > ${room}`);
    }
  }
  return {wide, page: document.documentElement.scrollWidth,
          view: document.documentElement.clientWidth};
}"""


def test_no_table_is_wider_than_its_container_at_1280_px(
    done: dict[str, Any], tmp_path: Path, chromium: Any
) -> None:
    data = _with_waived_failure(done)
    rows = [{f"metric_{i}_with_a_long_name": 0.123456 * i for i in range(20)}] * 3
    data["evidence"][-1]["result"] = {"tables": {"wide": rows}}
    write_card(data, tmp_path, pdf=False)
    write_governance(data, tmp_path / "report.html")
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    try:
        for name in ("model-card.html", "report.html"):
            page.goto((tmp_path / name).as_uri())
            measured = page.evaluate(MEASURE_TABLES)
            assert measured["wide"] == [], name
            assert measured["page"] <= measured["view"], name
    finally:
        page.close()


def _with_waived_failure(done: dict[str, Any]) -> dict[str, Any]:
    """``done`` with the evidence its training-data claim rests on failed, and a live waiver."""
    data = copy.deepcopy(done)
    train = data["model"]["dataset_sha256"]
    claim = next(c for c in _claims(build_card(done), "data") if c["dataset_sha256"] == train)
    evidence = next(e for e in data["evidence"] if e["id"] == claim["evidence_id"])
    evidence["status"] = "fail"
    data["waivers"] = [
        {
            "requirement_id": evidence["requirement_id"],
            "actor": "rita",
            "role": "risk_officer",
            "justification": "Accepted for a pilot with manual review of every decision.",
            "expires_at": "2027-03-05T23:59:59+00:00",
            "live": True,
        }
    ]
    return data


def test_a_waived_failure_shows_as_waived_with_its_waiver_one_link_away(
    done: dict[str, Any],
) -> None:
    data = _with_waived_failure(done)
    train = data["model"]["dataset_sha256"]
    dataset = lambda card: next(  # noqa: E731
        c for c in _claims(card, "data") if c["dataset_sha256"] == train
    )

    expired = copy.deepcopy(data)
    expired["waivers"][0]["live"] = False
    assert dataset(build_card(expired))["status"] == "fail"
    card = build_card(data)
    assert dataset(card)["status"] == "waived"

    html = render_card(card, data)
    requirement = data["waivers"][0]["requirement_id"]
    claim_row = rf'<tr class="claim" id="claim-data-\d+"><td id="card-dataset-{train}">.*?</tr>'
    row = re.search(claim_row, html, re.S)
    assert row is not None
    assert f'href="#card-waiver-{requirement}"' in row.group(0)
    waiver = re.search(rf'<tr id="card-waiver-{requirement}">.*?</tr>', html, re.S)
    assert waiver is not None
    assert "manual review of every decision" in waiver.group(0)
    shown = re.sub(r"<[^>]+>", "", waiver.group(0))
    assert "Granted by rita (risk_officer); expires 2027-03-05 (UTC)." in shown
    assert "23:59" not in shown


def test_a_waiver_expiry_shows_as_its_utc_day() -> None:
    from mlgate.reports.card import utc_day

    assert utc_day("2027-03-05T23:59:59+00:00") == "2027-03-05"
    assert utc_day("2027-03-05T23:30:00-05:00") == "2027-03-06"
    assert utc_day("2027-03-05T01:00:00+02:00") == "2027-03-04"
    assert utc_day("2027-03-05T23:59:59") == "2027-03-05"
    assert utc_day("until the pilot ends") == "until the pilot ends"
    assert utc_day(None) is None


def test_the_waivers_table_in_the_pdf_keeps_words_and_the_date_whole(
    done: dict[str, Any], tmp_path: Path
) -> None:
    data = _with_waived_failure(done)
    lines = [
        " ".join(line.split())
        for page in PdfReader(write_card(data, tmp_path)[-1]).pages
        for line in page.extract_text().splitlines()
    ]
    requirement = data["waivers"][0]["requirement_id"]

    assert "Granted by rita (risk_officer); expires 2027-03-05 (UTC)." in lines
    assert any(line.startswith(requirement) for line in lines), requirement
    assert not any("23:59:59" in line for line in lines)


def test_data_checks_are_the_registry_checks_of_data_alone() -> None:
    from mlgate.checks import REGISTRY
    from mlgate.reports.card import DATA_CHECKS

    of_data = {
        name for name, spec in REGISTRY.items() if not spec.needs_model and not spec.needs_source
    }
    assert set(DATA_CHECKS) == of_data
    assert {"fairness", "drift", "slices"} & set(DATA_CHECKS) == {"drift"}


def _dataset(data: dict[str, Any], name: str, sha: str) -> dict[str, Any]:
    """Register one more dataset version in ``data`` (a copy of what ``collect`` returned)."""
    train = data["datasets"][0]
    data["datasets"].append({**train, "name": name, "sha256": sha})
    return data["datasets"][-1]


def _check(data: dict[str, Any], name: str, status: str, dataset: str) -> dict[str, Any]:
    """Record a check named ``name`` with ``status`` on the dataset whose sha256 is ``dataset``."""
    evidence = {
        "id": max(e["id"] for e in data["evidence"]) + 1,
        "kind": "check",
        "name": name,
        "requirement_id": name,
        "status": status,
        "dataset_sha256": dataset,
        "model_sha256": data["model"]["sha256"],
        "result": {},
    }
    data["evidence"].append(evidence)
    return evidence


def _live(requirement: str) -> dict[str, Any]:
    return {"requirement_id": requirement, "actor": "rita", "role": "risk_officer",
            "justification": "Pilot.", "expires_at": "2027-03-05T23:59:59+00:00",
            "live": True}  # fmt: skip


def test_a_dataset_claim_never_rests_on_a_model_check(done: dict[str, Any]) -> None:
    from mlgate.reports.card import DATA_CHECKS

    data = copy.deepcopy(done)
    holdout = _dataset(data, "holdout", "a" * 64)["sha256"]
    fairness = _check(data, "fairness", "fail", holdout)
    _check(data, "robustness", "warn", data["model"]["dataset_sha256"])
    data["waivers"] = [_live("fairness"), _live("robustness")]
    card = build_card(data)
    by_id = {e["id"]: e for e in data["evidence"]}

    claims = _claims(card, "data")
    assert {c["label"] for c in claims} >= {"Dataset holdout"}
    for claim in claims:
        if claim["evidence_id"] is not None:
            assert by_id[claim["evidence_id"]]["name"] in DATA_CHECKS, claim["label"]
    claim = next(c for c in claims if c["dataset_sha256"] == holdout)
    assert (claim["status"], claim["evidence_id"]) == (None, None)
    html = render_card(card, data)
    row = re.search(rf'<tr class="claim" id="claim-data-\d+"><td id="card-dataset-{holdout}">'
                    r".*?</tr>", html, re.S)  # fmt: skip
    assert row is not None
    assert "registry" in row.group(0)
    assert "badge" not in row.group(0)
    assert f"evidence #{fairness['id']}" not in row.group(0)


def test_a_dataset_claim_rests_on_its_most_severe_data_check(done: dict[str, Any]) -> None:
    data = copy.deepcopy(done)
    sha = _dataset(data, "current", "c" * 64)["sha256"]
    _check(data, "drift", "pass", sha)
    drift = _check(data, "drift", "warn", sha)
    _check(data, "eda", "pass", sha)
    claim = lambda card: next(  # noqa: E731
        c for c in _claims(card, "data") if c["dataset_sha256"] == sha
    )

    assert (claim(build_card(data))["status"], claim(build_card(data))["evidence_id"]) == (
        "warn",
        drift["id"],
    )
    data["waivers"] = [_live("drift")]
    assert claim(build_card(data))["status"] == "waived"
    _check(data, "drift", "pass", sha)
    assert claim(build_card(data))["status"] == "pass"


def test_a_weak_slice_under_a_live_waiver_is_a_waived_limitation(done: dict[str, Any]) -> None:
    data = copy.deepcopy(done)
    message = "recall of savings=little is 0.61, below 0.90 (significant)"
    data["evidence"].append(
        {
            "id": 9999,
            "name": "slices",
            "requirement_id": "slices",
            "status": "fail",
            "model_sha256": data["model"]["sha256"],
            "result": {"findings": [{"severity": "fail", "message": message}]},
        }
    )
    data["waivers"] = [
        {"requirement_id": "slices", "actor": "rita", "role": "risk_officer", "live": True}
    ]
    weak = lambda card: next(  # noqa: E731
        c for c in _claims(card, "limitations") if c["label"] == "Known weak slice"
    )

    assert (weak(build_card(data))["status"], weak(build_card(data))["value"]) == (
        "waived",
        message,
    )
    data["waivers"][0]["live"] = False
    assert weak(build_card(data))["status"] == "fail"


def test_every_claim_links_to_its_evidence_dataset_and_model_inside_the_card(
    done: dict[str, Any],
) -> None:
    html = render_card(build_card(done), done)
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    rows = re.findall(r'<tr class="claim" id="claim-[^"]+">.*?</tr>', html, re.S)

    assert rows
    assert set(re.findall(r'href="#([^"]+)"', html)) <= ids
    for row in rows:
        links = re.findall(r'href="#([^"]+)"', row)
        if "registry" not in row:
            assert any(link.startswith("card-evidence-") for link in links), row
            assert "card-model" in links, row
    articles = re.findall(r'<article id="card-evidence-(\d+)">(.*?)</article>', html, re.S)
    assert articles
    for evidence_id, article in articles:
        item = next(e for e in done["evidence"] if str(e["id"]) == evidence_id)
        model = item["model_sha256"] or done["model"]["sha256"]
        for fact in (item["name"], item["status"], item["actor"], item["created_at"], model):
            assert fact in article, (evidence_id, fact)


def test_card_draws_the_charts_of_the_evidence_it_cites(done: dict[str, Any]) -> None:
    html = render_card(build_card(done), done)
    metrics = re.search(r'<section id="card-metrics">.*?</section>', html, re.S)

    assert metrics is not None
    cv = next(e for e in reversed(done["evidence"]) if e["name"] == "cv_accuracy")
    assert any(f["name"] == "cv_scores" for f in cv["result"]["figures"])
    figure = re.search(r"<figure>\s*<svg .*?</svg>.*?</figure>", metrics.group(0), re.S)
    assert figure is not None
    assert f'href="#card-evidence-{cv["id"]}"' in figure.group(0)


def test_card_beside_the_report_links_each_evidence_there_but_its_pdf_does_not(
    done: dict[str, Any], tmp_path: Path
) -> None:
    write_governance(done, tmp_path / "report.html")
    html_path, pdf_path = write_card(done, tmp_path)[1:]
    html, report = html_path.read_text(), (tmp_path / "report.html").read_text()
    targets = re.findall(r'href="report\.html#([^"]+)"', html)

    assert targets
    assert all(f'id="{target}"' in report for target in targets)
    uris = [
        str(annotation.get_object().get("/A", {}).get("/URI", ""))
        for page in PdfReader(pdf_path).pages
        for annotation in page.get("/Annots") or []
    ]
    assert not [uri for uri in uris if "report.html" in uri]


def test_completeness_expects_the_review_stage(
    fresh: dict[str, Any], done: dict[str, Any]
) -> None:
    def items(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {i["name"]: {**i, "section": s["id"]} for s in completeness(data)["sections"]
                for i in s["items"]}  # fmt: skip

    review = ("code_review", "documentation", "process")
    new, complete = items(fresh), items(done)
    assert {name: new[name]["section"] for name in review} == {
        "code_review": "validation",
        "documentation": "validation",
        "process": "governance",
    }
    assert not any(new[name]["present"] for name in review)
    row = r'<tr><td><a href="#gov-validation">.*?</tr>'
    missing = re.search(row, render_governance(fresh), re.S)
    assert missing is not None
    assert "code review" in missing.group(0)
    assert "documentation" in missing.group(0)

    process = next(r for s in done["stages"] for r in s["requirements"] if r["id"] == "process")
    assert complete["process"]["present"] is (process["state"] == "satisfied")
    assert f'id="{complete["process"]["anchor"]}"' in render_governance(done)


def test_only_long_words_of_the_text_are_made_breakable_for_print() -> None:
    from mlgate.reports.pdf import breakable_words

    digest = "a3f9" * 16
    html = (
        "<html><head><title>" + "t" * 30 + "</title><style>.x-very-long-selector-name{}</style>"
        f'</head><body><td>sha {digest} of <a href="#card-evidence-{digest}">evidence 12</a>'
        "</td><svg><text>" + "z" * 30 + "</text></svg><td>" + "y" * 300 + "</td></body></html>"
    )

    printed = breakable_words(html)

    assert printed.count('<span class="brk">') == 1
    assert (
        f'sha <span class="brk">{digest}</span> of <a href="#card-evidence-{digest}">' in printed
    )
    assert printed.replace(f'<span class="brk">{digest}</span>', digest) == html
