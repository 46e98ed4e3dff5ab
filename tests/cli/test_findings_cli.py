"""``mlgate finding``: add, list, update, close and reopen as users run them, and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fixtures import Cli, CliResult

DUE = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
RESOLUTION = "retrained without the proxy column"


@pytest.fixture
def trained(workspace: Path, cli: Cli) -> Path:
    """The low-risk workspace with model version 1 trained by alice and two validators."""
    assert cli("train", cwd=workspace).code == 0
    for user, role in (("bob", "validator"), ("carol", "validator"), ("dave", "data_scientist")):
        assert cli("member", "add", user, "--role", role, cwd=workspace).code == 0
    return workspace


def _add(cli: Cli, root: Path, user: str = "bob", **options: str) -> CliResult:
    values = {
        "severity": "high",
        "title": "Approval rate differs by group",
        "description": "Group b is approved less often at the same score.",
        "owner": "dave",
        "due": DUE,
        **options,
    }
    args = ["finding", "add"]
    for option, value in values.items():
        args += [f"--{option.replace('_', '-')}", value]
    return cli(*args, cwd=root, user=user)


def _rows(result: CliResult) -> dict[str, list[str]]:
    cells = [line.split("│") for line in result.out.splitlines() if line.count("│") > 2]
    return {row[1].strip(): [c.strip() for c in row[2:-1]] for row in cells}


def test_add_list_update_close_and_reopen(trained: Path, cli: Cli) -> None:
    added = _add(cli, trained)
    low = _add(cli, trained, "carol", severity="LOW", title="Typo in the model card")
    updated = cli(
        "finding", "update", "1", "--remediation", "Drop the column", cwd=trained, user="dave"
    )
    closed = cli("finding", "close", "1", "--resolution", RESOLUTION, cwd=trained, user="carol")
    listed = cli("finding", "list", cwd=trained)
    open_only = cli("finding", "list", "--status", "open", cwd=trained)
    reopened = cli(
        "finding", "reopen", "1", "--reason", "the gap is back", cwd=trained, user="bob"
    )

    assert added.code == 0, added.text
    assert "Recorded high finding 1 against model version 1, owned by dave, due " in added.out
    assert low.code == 0, low.text
    assert updated.code == 0, updated.text
    assert "remediation: Drop the column" in updated.out
    assert closed.code == 0, closed.text
    assert "Closed finding 1 by carol" in closed.out
    rows = _rows(listed)
    assert rows["1"][:5] == ["high", "closed", "v1", "Approval rate differs by group", "dave"]
    assert rows["1"][-1] == f"{RESOLUTION} (closed by carol)"
    assert rows["2"][:3] == ["low", "open", "v1"]
    assert list(_rows(open_only)) == ["2"]
    assert reopened.code == 0, reopened.text
    log = cli("audit", "log", cwd=trained).out
    for action in ("finding.added", "finding.updated", "finding.closed", "finding.reopened"):
        assert action in log
    assert cli("audit", "verify", cwd=trained).code == 0


def test_author_of_the_model_may_not_close(trained: Path, cli: Cli) -> None:
    assert _add(cli, trained).code == 0

    result = cli("finding", "close", "1", "--resolution", RESOLUTION, cwd=trained, user="alice")

    assert result.code == 5
    assert "alice authored the model version finding 1 concerns" in result.err
    assert "finding.close.refused" in cli("audit", "log", cwd=trained).out


def test_data_scientist_may_not_add(trained: Path, cli: Cli) -> None:
    result = _add(cli, trained, "dave")

    assert result.code == 5
    assert "dave may not record review findings" in result.err
    assert "No finding matches" in cli("finding", "list", cwd=trained).out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ({"severity": "urgent"}, 2, "unknown severity 'urgent'; expected one of low, medium"),
        ({"due": "31/12/2030"}, 2, "--due must be a date YYYY-MM-DD; got '31/12/2030'"),
        ({"due": "2020-01-01"}, 2, "the due date 2020-01-01 is in the past"),
        ({"model_version": "4"}, 3, "has no model version 4; its versions: 1"),
    ],
)
def test_bad_add_input_names_what_was_expected(
    trained: Path, cli: Cli, args: dict, code: int, message: str
) -> None:
    result = _add(cli, trained, **args)

    assert result.code == code, result.text
    assert message in result.err
    assert "Traceback" not in result.text


def test_unknown_id_and_bad_status_are_named(trained: Path, cli: Cli) -> None:
    assert _add(cli, trained).code == 0

    unknown = cli("finding", "close", "9", "--resolution", RESOLUTION, cwd=trained, user="bob")
    status = cli("finding", "list", "--status", "done", cwd=trained)
    not_a_number = cli("finding", "update", "one", "--owner", "bob", cwd=trained, user="bob")

    assert unknown.code == 3
    assert "unknown finding 9; the findings of project demo-low are: 1" in unknown.err
    assert status.code == 2
    assert "unknown status 'done'; expected one of open, closed" in status.err
    assert not_a_number.code == 2
    assert "a finding id is a positive whole number; got 'one'" in not_a_number.err
