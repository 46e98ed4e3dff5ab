"""Data contracts from the command line: draft, register with, grade, and gate on."""

from __future__ import annotations

from pathlib import Path

import yaml

from mlgate.lifecycle.service import Governance
from tests.fixtures import Cli, synthetic_frame


def test_infer_register_and_check_a_contract(workspace: Path, cli: Cli) -> None:
    result = cli("data", "infer", "train.csv", "--output", "contract.yaml", cwd=workspace)
    assert result.code == 0, result.text
    contract = yaml.safe_load((workspace / "contract.yaml").read_text())
    columns = {c["name"]: c for c in contract["columns"]}
    assert columns["y"]["label"] is True
    assert columns["region"]["allowed"] == ["n", "s"]

    assert cli("data", "add", "train.csv", "--contract", "contract.yaml", cwd=workspace).code == 0
    result = cli("check", "contract", cwd=workspace)
    assert result.code == 0, result.text
    assert "meets the contract" in result.out

    bad = synthetic_frame(seed=5)
    bad.loc[:9, "region"] = "east"
    bad.to_csv(workspace / "bad.csv", index=False)
    assert cli("data", "add", "bad.csv", "--contract", "contract.yaml", cwd=workspace).code == 0
    result = cli("check", "contract", cwd=workspace)
    assert result.code == 1
    assert "region" in result.out
    evidence = Governance.open(workspace).snapshot_now().evidence[-1]
    violation = evidence.payload["result"]["tables"]["violations"][0]
    assert (violation["column"], violation["rule"], violation["count"]) == (
        "region",
        "allowed",
        10,
    )


def test_infer_prints_to_stdout_without_output(workspace: Path, cli: Cli) -> None:
    result = cli("data", "infer", "train.csv", cwd=workspace)
    assert result.code == 0
    assert yaml.safe_load(result.out)["dataset"] == "train"


def test_check_without_contract_says_how_to_get_one(workspace: Path, cli: Cli) -> None:
    result = cli("check", "contract", cwd=workspace)
    assert result.code == 2
    assert "registered without a data contract" in result.err
    assert "mlgate data infer" in result.err


def test_bad_contract_file_names_line_and_field(workspace: Path, cli: Cli) -> None:
    assert cli("data", "infer", "train.csv", "--output", "c.yaml", cwd=workspace).code == 0
    text = (workspace / "c.yaml").read_text().replace("nullable: false", "nullable: maybe", 1)
    (workspace / "c.yaml").write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "nullable: maybe" in t)

    result = cli("data", "add", "train.csv", "--contract", "c.yaml", cwd=workspace)

    assert result.code == 2
    assert f"c.yaml line {line}" in result.err
    assert "nullable" in result.err
