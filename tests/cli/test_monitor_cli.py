"""``mlgate monitor`` as people use it: run once, look at the history, write the dashboard."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from mlgate.lifecycle.service import Governance
from tests.fixtures import Cli
from tests.monitoring.production import (
    labels_for,
    log_traffic,
    monitored_project,
    set_monitoring,
    traffic,
)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = monitored_project(tmp_path_factory.mktemp("monitor-cli") / "ws")
    log_traffic(Governance.open(root, actor="eric"), traffic(days=3, per_day=600, seed=21))
    return root


@pytest.fixture
def project(base: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(base, tmp_path / "ws"))


def test_monitor_runs_the_complete_windows_and_prints_each(cli: Cli, project: Path) -> None:
    result = cli("monitor", "--until", "2026-10-03T12:00", cwd=project, user="eric")

    assert result.code == 0, result.text
    assert "Monitored 2 window(s)" in result.out
    assert "2026-10-01 00:00" in result.out
    assert "2026-10-02 00:00" in result.out
    assert "2026-10-03 00:00" not in result.out  # that day had not ended by --until
    assert "600" in result.out

    again = cli("monitor", "--until", "2026-10-03T12:00", cwd=project, user="eric")
    assert "Nothing to monitor" in again.out

    history = cli("monitor", "history", cwd=project, user="eric")
    assert history.code == 0, history.text
    assert history.out.count("succeeded") == 2
    assert "manual" in history.out


def test_monitor_report_writes_the_dashboard(cli: Cli, project: Path) -> None:
    assert cli("monitor", "--until", "2026-10-04", cwd=project, user="eric").code == 0

    result = cli("monitor", "report", "--output", "watch.html", cwd=project, user="eric")

    assert result.code == 0, result.text
    html = (project / "watch.html").read_text()
    assert "<svg" in html
    assert "x2" in html


def test_labels_and_kpi_values_brought_in_are_evaluated_by_the_next_run(
    cli: Cli, project: Path, tmp_path: Path
) -> None:
    set_monitoring(project, {"kpis": [{"name": "approval_rate", "unit": "%", "target": 50}]})
    frame = traffic(days=3, per_day=600, seed=21)
    labels_for(frame, frame.index[:100]).to_csv(tmp_path / "labels.csv", index=False)

    labels = cli("labels", "add", str(tmp_path / "labels.csv"), cwd=project, user="eric")
    kpi = cli(
        "kpi", "add", "approval_rate", "61.5", "--period-start", "2026-10-01", "--period-end",
        "2026-10-31", cwd=project, user="alice",
    )  # fmt: skip

    assert labels.code == 0, labels.text
    assert kpi.code == 0, kpi.text
    run = cli("monitor", "--until", "2026-10-04", cwd=project, user="eric")
    assert run.code == 0, run.text
    assert "1 KPI value(s) evaluated" in run.out


def test_bad_input_and_missing_roles_end_in_one_message(cli: Cli, project: Path) -> None:
    bad = cli("monitor", "--until", "next tuesday", cwd=project, user="eric")
    assert bad.code == 2
    assert "--until must be an ISO date" in bad.err
    assert "Traceback" not in bad.text

    refused = cli("monitor", cwd=project, user="mallory")
    assert refused.code != 0
    assert "mallory may not run monitoring" in refused.err
    assert "Traceback" not in refused.text


def test_a_failed_window_is_named_with_its_reason_and_exit_code_1(cli: Cli, project: Path) -> None:
    day = project / ".mlgate" / "predictions" / "date=2026-10-02"
    path = next(day.glob("part-*.parquet"))
    broken = pd.read_parquet(path)
    broken["score"] = "high"
    broken.to_parquet(path, index=False)

    result = cli("monitor", "--until", "2026-10-04", cwd=project, user="eric")

    assert result.code == 1
    assert "window 1d 2026-10-02 00:00 failed" in result.err
    assert "'high'" in result.err
    assert "Traceback" not in result.text
    assert "1 window(s) failed" in result.out


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (".mlgate/mlgate.db", "must be an .html file; got 'mlgate.db'"),
        (".mlgate/x.html", "would overwrite the workspace's own .mlgate"),
        ("watch.html/x.html", "watch.html is a file, not a folder"),
        ("folder.html", "is a folder; expected a file to write"),
        ("device.html", "is not a regular file; expected a file to write"),
    ],
)
def test_the_dashboard_never_replaces_the_store_a_folder_or_a_device(
    cli: Cli, project: Path, output: str, message: str
) -> None:
    (project / "folder.html").mkdir()
    (project / "watch.html").write_text("an earlier page")
    (project / "device.html").symlink_to("/dev/null")
    store = (project / ".mlgate" / "mlgate.db").read_bytes()

    result = cli("monitor", "report", "--output", output, cwd=project, user="eric")

    assert result.code != 0
    assert message in result.text
    assert "Traceback" not in result.text
    assert (project / ".mlgate" / "mlgate.db").read_bytes() == store


def test_monitor_with_an_empty_log_says_what_fills_it(cli: Cli, project: Path) -> None:
    shutil.rmtree(project / ".mlgate" / "predictions")

    result = cli("monitor", cwd=project, user="eric")

    assert result.code == 0, result.text
    assert "no prediction is logged yet" in result.out
    assert "`mlgate serve` and `mlgate stream` log what they score" in result.out
