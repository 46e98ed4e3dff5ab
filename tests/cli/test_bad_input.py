"""Bad input gets a one-paragraph error naming the problem, a non-zero exit, and no change."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import create_engine, text

from tests.fixtures import Cli, fill, synthetic_frame

TABLES = (
    "projects",
    "members",
    "evidence",
    "approvals",
    "waivers",
    "dataset_versions",
    "model_versions",
    "deployments",
    "audit_events",
)


def fingerprint(root: Path) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Row counts of every table and the list of stored artifacts: equal means unchanged."""
    engine = create_engine(f"sqlite:///{root / '.mlgate' / 'mlgate.db'}")
    with engine.connect() as connection:
        counts = tuple(
            connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
            for table in TABLES
        )
    engine.dispose()
    files = tuple(
        sorted(
            str(p.relative_to(root))
            for p in (root / ".mlgate").rglob("*")
            if p.is_file() and p.name != "mlgate.db"
        )
    )
    return counts, files


def assert_clean_error(result, code: int, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert result.code == code, result.text
    assert "Traceback" not in result.text
    assert "error:" in result.err
    for needle in needles:
        assert needle in result.err, result.err


def test_document_with_missing_field_is_refused_field_by_field(workspace: Path, cli: Cli) -> None:
    path = fill("business_case", workspace)
    lines = [line for line in path.read_text().splitlines() if not line.startswith("problem:")]
    path.write_text("\n".join(lines) + "\n")
    before = fingerprint(workspace)

    result = cli("doc", "submit", str(path), cwd=workspace)

    assert_clean_error(result, 2, "business_case.yaml", "problem", "required")
    assert fingerprint(workspace) == before


def test_unfilled_template_cannot_be_submitted(workspace: Path, cli: Cli) -> None:
    assert (workspace / "docs" / "business_case.yaml").exists()  # written by init
    before = fingerprint(workspace)

    result = cli("doc", "submit", "docs/business_case.yaml", cwd=workspace)

    assert_clean_error(result, 2, "business_case.yaml line")
    assert fingerprint(workspace) == before


def _deployed(workspace: Path, cli: Cli) -> None:
    fill("business_case", workspace)
    fill("emergency_contacts", workspace)
    for step in [
        ("doc", "submit", "docs"),
        ("train",),
        ("advance", "--to", "deployment"),
        ("deploy",),
    ]:
        assert cli(*step, cwd=workspace).code == 0


def test_csv_lacking_a_signature_column_is_refused(workspace: Path, cli: Cli) -> None:
    _deployed(workspace, cli)
    synthetic_frame(50, seed=3).drop(columns=["x2"]).to_csv(workspace / "new.csv", index=False)
    before = fingerprint(workspace)

    result = cli("predict", "new.csv", "--output", "out.csv", cwd=workspace)

    assert_clean_error(result, 2, "new.csv", "missing column(s) x2")
    assert not (workspace / "out.csv").exists()
    assert not list(workspace.glob(".*partial"))
    assert fingerprint(workspace) == before


def test_text_in_numeric_column_is_refused_with_count(workspace: Path, cli: Cli) -> None:
    _deployed(workspace, cli)
    frame = synthetic_frame(20, seed=4).astype({"x1": object})
    frame.loc[[2, 5], "x1"] = "twelve"
    frame.to_csv(workspace / "new.csv", index=False)

    result = cli("predict", "new.csv", cwd=workspace)

    assert_clean_error(result, 2, "column x1 must be numeric but has 2 non-numeric value(s)")


def test_tampered_model_artifact_is_never_loaded(workspace: Path, cli: Cli) -> None:
    _deployed(workspace, cli)
    from mlgate.lifecycle.service import Governance

    sha = Governance.open(workspace).snapshot_now().model.artifact_sha256
    artifact = workspace / ".mlgate" / "artifacts" / sha[:2] / sha
    artifact.write_bytes(artifact.read_bytes()[:-10] + b"0123456789")

    result = cli("predict", "train.csv", "--output", "out.csv", cwd=workspace)

    assert_clean_error(result, 6, f"artifact {sha} was tampered with")
    assert not (workspace / "out.csv").exists()


def test_bad_workspace_config_names_the_field(workspace: Path, cli: Cli) -> None:
    config = workspace / "mlgate.yaml"
    config.write_text(config.read_text().replace("tier: low", "tier: extreme"))

    result = cli("status", cwd=workspace)

    assert_clean_error(result, 2, "mlgate.yaml", "tier")


def test_unknown_check_lists_the_known_ones(workspace: Path, cli: Cli) -> None:
    result = cli("check", "accuracy_please", cwd=workspace)
    assert_clean_error(result, 3, "'accuracy_please'", "cv_accuracy")


def test_missing_data_file_and_wrong_type(workspace: Path, cli: Cli) -> None:
    assert_clean_error(cli("data", "add", "nope.csv", cwd=workspace), 3, "nope.csv does not exist")
    (workspace / "data.xlsx").write_bytes(b"PK")
    assert_clean_error(
        cli("data", "add", "data.xlsx", cwd=workspace), 2, "unsupported file type '.xlsx'"
    )


def test_training_data_without_target_is_refused(workspace: Path, cli: Cli) -> None:
    synthetic_frame(30).drop(columns=["y"]).to_csv(workspace / "no_target.csv", index=False)
    before = fingerprint(workspace)

    result = cli("data", "add", "no_target.csv", cwd=workspace)

    assert_clean_error(result, 2, "lacks column(s) y")
    assert fingerprint(workspace) == before


def test_outside_a_workspace_says_how_to_start(tmp_path: Path, cli: Cli) -> None:
    result = cli("status", cwd=tmp_path)
    assert_clean_error(result, 3, "no mlgate.yaml found")
    assert "mlgate init" in result.err


def test_usage_error_is_not_a_traceback(workspace: Path, cli: Cli) -> None:
    result = cli("approve", cwd=workspace)
    assert result.code == 2
    assert "Traceback" not in result.text
    assert "Missing argument 'requirement'" in result.err
    assert result.err.startswith("Usage: mlgate approve")


def test_scored_output_matches_model_predictions(workspace: Path, cli: Cli) -> None:
    _deployed(workspace, cli)
    assert (
        cli(
            "predict", "train.csv", "--output", "out.parquet", "--chunk-rows", "64", cwd=workspace
        ).code
        == 0
    )
    from mlgate.lifecycle.models import get_model_version, load_model_version
    from mlgate.lifecycle.service import Governance

    gov = Governance.open(workspace)
    model = load_model_version(gov, get_model_version(gov))
    frame = pd.read_csv(workspace / "train.csv")
    expected = model.predict_proba(frame[["x1", "x2", "region"]])[:, 1]
    scored = pd.read_parquet(workspace / "out.parquet")
    assert len(scored) == len(frame)
    assert scored["score"].to_numpy() == __import__("pytest").approx(expected)
