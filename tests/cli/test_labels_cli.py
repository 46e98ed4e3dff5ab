"""``mlgate labels`` and ``mlgate kpi`` as a user runs them: outcomes, counts and errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlgate.lifecycle.service import Governance
from tests.fixtures import Cli
from tests.monitoring.production import labels_for, log_traffic, monitored_project, traffic

KPIS = {"kpis": [{"name": "loss_eur", "unit": "EUR", "direction": "lower", "target": 50000}]}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = monitored_project(tmp_path_factory.mktemp("labels-cli") / "ws", KPIS)
    gov = Governance.open(root, actor="alice")
    gov.add_member("olga", "business_owner")
    log_traffic(gov, traffic(2, 200, seed=7))
    return root


@pytest.fixture
def project(base: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(base, root)
    return root


def test_labels_add_then_status_shows_the_labelled_share_per_day(project: Path, cli: Cli) -> None:
    frame = traffic(2, 200, seed=7)
    labels = labels_for(frame, frame.index[:50])
    labels.loc[len(labels)] = ["not-served", 1]
    labels.to_csv(project / "labels.csv", index=False)

    added = cli("labels", "add", "labels.csv", cwd=project)
    status = cli("labels", "status", cwd=project)

    assert added.code == 0, added.text
    assert "51 label(s) stored, 0 already known, 0 replaced, of 51 in labels.csv" in added.out
    assert "1 label(s) are for request ids not in the prediction log" in added.out
    assert status.code == 0, status.text
    rows = {
        line.split()[1]: line.split()[2:] for line in status.out.splitlines() if "2026-" in line
    }
    assert rows["2026-10-01"] == ["│", "200", "│", "50", "│", "25.0%", "│"]
    assert rows["2026-10-02"] == ["│", "200", "│", "0", "│", "0.0%", "│"]
    assert "1 stored label(s) match no logged prediction" in status.out


def test_a_changed_label_is_refused_without_replace_and_names_the_option(
    project: Path, cli: Cli
) -> None:
    (project / "first.csv").write_text("request_id,label\nr1,1\n")
    (project / "second.csv").write_text("request_id,label\nr1,0\n")
    assert cli("labels", "add", "first.csv", cwd=project).code == 0

    refused = cli("labels", "add", "second.csv", cwd=project)
    replaced = cli("labels", "add", "second.csv", "--replace", cwd=project, user="eric")

    assert refused.code == 2
    assert "'r1' (stored 1, sent 0)" in refused.err
    assert "--replace" in refused.err
    assert "Traceback" not in refused.text
    assert replaced.code == 0, replaced.text
    assert "1 replaced" in replaced.out


def test_a_label_file_with_a_missing_column_names_it(project: Path, cli: Cli) -> None:
    (project / "bad.csv").write_text("id,label\nr1,1\n")

    result = cli("labels", "add", "bad.csv", cwd=project)

    assert result.code == 2
    assert "lack the column(s) request_id" in result.err


def test_kpi_add_import_and_list(project: Path, cli: Cli) -> None:
    (project / "kpis.csv").write_text(
        "name,period_start,period_end,value\nloss_eur,2026-10-01,2026-10-31,52000\n"
    )

    added = cli(
        "kpi",
        "add",
        "loss_eur",
        "48000",
        "--period-start",
        "2026-11-01",
        "--period-end",
        "2026-11-30",
        cwd=project,
        user="olga",
    )
    imported = cli("kpi", "import", "kpis.csv", cwd=project, user="olga")
    listed = cli("kpi", "list", cwd=project)

    assert added.code == 0, added.text
    assert "KPI loss_eur = 48000 for 2026-11-01..2026-11-30" in added.out
    assert imported.code == 0, imported.text
    assert "1 KPI value(s) stored, 0 already known, from kpis.csv" in imported.out
    assert listed.code == 0, listed.text
    assert "2026-10-01..2026-10-31" in listed.out
    assert "50000, lower is better" in listed.out
    assert "pending" in listed.out


def test_kpi_add_of_an_undeclared_kpi_names_the_declared_ones(project: Path, cli: Cli) -> None:
    result = cli(
        "kpi",
        "add",
        "churn",
        "3",
        "--period-start",
        "2026-11-01",
        "--period-end",
        "2026-11-30",
        cwd=project,
        user="olga",
    )

    assert result.code == 2
    assert "unknown KPI 'churn'; the project declares loss_eur" in result.err
    assert "monitoring.kpis" in result.err
