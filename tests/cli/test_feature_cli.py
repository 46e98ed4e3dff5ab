"""``mlgate feature``: add, list and lineage as a user runs them, and the errors they meet."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgate.lifecycle.features import list_features
from mlgate.lifecycle.service import Governance
from tests.fixtures import Cli, CliResult


def _add(
    cli: Cli, root: Path, name: str, *sources: str, user: str = "alice", **options: str
) -> CliResult:
    args = ["feature", "add", name, "--definition", options.pop("definition", f"identity:{name}")]
    for source in sources:
        args += ["--source", source]
    for option, value in options.items():
        args += [f"--{option.replace('_', '-')}", value]
    return cli(*args, cwd=root, user=user)


def test_add_list_train_and_trace_a_feature(workspace: Path, cli: Cli) -> None:
    added = _add(cli, workspace, "x1", "x1", unit="cm", description="First measurement.")
    again = _add(cli, workspace, "x1", "x1")
    group = _add(cli, workspace, "group_a", "group", definition="group == 'a'")
    assert cli("train", cwd=workspace).code == 0

    listed = cli("feature", "list", cwd=workspace)
    traced = cli("feature", "lineage", "--model", "1", cwd=workspace)

    assert added.code == 0, added.text
    assert "Catalogued feature x1 version 1 from x1 of dataset 'train'" in added.out
    assert "(sensitivity none" in added.out
    assert again.code == 0
    assert "Feature 'x1' is unchanged since version 1; nothing catalogued" in again.out
    assert "(sensitivity other" in group.out
    assert listed.code == 0, listed.text
    rows = {line.split("│")[1].strip(): line for line in listed.out.splitlines() if "│" in line}
    assert "v1" in rows["x1"]
    assert "cm" in rows["x1"]
    assert "other" in rows["group_a"]
    assert rows["group_a"].rstrip(" │").endswith("-")
    assert "Uncatalogued inputs of the newest model version (2): x2, region" in listed.out
    assert traced.code == 0, traced.text
    lines = [line for line in traced.out.splitlines() if "train." in line]
    assert [line.split("│")[1].strip() for line in lines] == [
        "train.x1",
        "train.x2",
        "train.region",
    ]
    assert "x1 v1" in lines[0]
    assert lines[1].count("uncatalogued") == 1
    assert "group" not in traced.out  # excluded from training, so not on a path into v1


def test_second_definition_becomes_version_two(workspace: Path, cli: Cli) -> None:
    assert _add(cli, workspace, "ratio", "x1", "x2", definition="x1 / x2").code == 0
    result = _add(cli, workspace, "ratio", "x1", "x2", definition="x1 / (x2 + 1)")

    assert result.code == 0, result.text
    assert "Catalogued feature ratio version 2" in result.out
    versions = [e.feature.version for e in list_features(Governance.open(workspace))]
    assert versions == [1, 2]
    assert cli("audit", "verify", cwd=workspace).code == 0


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["ratio", "x1", {"dataset": "holdout"}], 3, "no dataset named 'holdout' is registered"),
        (
            ["ratio", "x1", "income"],
            2,
            "source column(s) income are not in the latest version of dataset 'train'",
        ),
        (["", "x1"], 2, "the feature name is empty"),
        (
            ["group_a", "group", {"sensitivity": "none"}],
            2,
            "cannot be declared sensitivity 'none'",
        ),
        (["ratio", "x1", {"sensitivity": "secret"}], 2, "unknown sensitivity secret"),
    ],
)
def test_bad_input_exits_with_its_code_and_a_message(
    workspace: Path, cli: Cli, args: list, code: int, message: str
) -> None:
    options = args.pop() if isinstance(args[-1], dict) else {}
    result = _add(cli, workspace, *args, **options)

    assert result.code == code, result.text
    assert message in " ".join(result.err.split())
    assert "Traceback" not in result.text


def test_downgrade_error_explains_why(workspace: Path, cli: Cli) -> None:
    result = _add(cli, workspace, "group_a", "group", sensitivity="none")

    text = " ".join(result.err.split())
    assert "group: other, per data.sensitive in mlgate.yaml" in text
    assert "leave out --sensitivity to inherit" in text


def test_user_without_a_role_is_refused(workspace: Path, cli: Cli) -> None:
    result = _add(cli, workspace, "ratio", "x1", user="bob")

    assert result.code == 5
    assert "bob may not catalogue features" in result.err
    assert "mlgate member add bob --role data_scientist" in " ".join(result.err.split())
    log = cli("audit", "log", cwd=workspace)
    assert "feature.add.refused" in log.out


def test_source_is_required(workspace: Path, cli: Cli) -> None:
    result = cli("feature", "add", "ratio", "--definition", "x1 / x2", cwd=workspace)
    assert result.code == 2
    assert "--source" in result.text


def test_lineage_of_a_missing_model_version(workspace: Path, cli: Cli) -> None:
    empty = cli("feature", "lineage", cwd=workspace)
    missing = cli("feature", "lineage", "--model", "3", cwd=workspace)

    assert empty.code == 0
    assert "No lineage yet" in empty.out
    assert missing.code == 3
    assert "has no model version 3; registered versions: none yet" in missing.err


def test_list_without_features_says_how_to_add_one(workspace: Path, cli: Cli) -> None:
    result = cli("feature", "list", cwd=workspace)
    assert result.code == 0
    assert "No feature is catalogued yet; add one with `mlgate feature add`." in result.out
