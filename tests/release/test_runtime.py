"""The packaged scoring code's failures, in-process: each one line, never a half-written file.

The scoring code runs here from mlgate's copy of it, with the package's JSON files replaced by
small ones in a temporary folder; the tests through an installed wheel are in test_publish.py.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlgate.release import runtime


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding a package's model.json and signature.json; the runtime reads it."""
    folder = tmp_path / "package"
    folder.mkdir()
    artifact = b"not a skops file"
    model_json = {
        "file": "model.skops",
        "sha256": hashlib.sha256(artifact).hexdigest(),
        "trusted_types": [],
        "distribution": "mlgate-model-demo",
        "version": "1",
        "project": "demo",
    }
    signature = {
        "inputs": [{"name": "x1", "dtype": "float64", "kind": "numeric"}],
        "classes": [0, 1],
        "positive_label": 1,
    }
    (folder / "model.skops").write_bytes(artifact)
    (folder / "model.json").write_text(json.dumps(model_json))
    (folder / "signature.json").write_text(json.dumps(signature))
    monkeypatch.setattr(runtime, "HERE", folder)
    monkeypatch.setattr(runtime, "_CACHE", {})
    return folder


class Refusing:
    """An estimator that refuses every input, as one given values it cannot handle does."""

    def predict(self, frame: pd.DataFrame) -> Any:
        raise ValueError("Input X contains NaN.\nSee the documentation")


def test_write_failure_leaves_the_earlier_output_and_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = tmp_path / "out.csv"
    output.write_text("earlier output\n")

    def full_disk(self: pd.DataFrame, path: Path, **_: Any) -> None:
        Path(path).write_text("x1,prediction\n0.5,")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full_disk)

    with pytest.raises(runtime.DataFileError) as raised:
        runtime.write_table(pd.DataFrame({"x1": [0.5]}), output)

    assert str(raised.value) == f"output file {output} cannot be written: No space left on device"
    assert output.read_text() == "earlier output\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_interrupted_write_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(self: pd.DataFrame, path: Path, **_: Any) -> None:
        Path(path).write_text("x1")
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", interrupted)

    with pytest.raises(KeyboardInterrupt):
        runtime.write_table(pd.DataFrame({"x1": [0.5]}), tmp_path / "out.csv")

    assert list(tmp_path.iterdir()) == []


def test_estimator_failure_is_a_scoring_error_naming_its_message(package: Path) -> None:
    runtime._CACHE["model"] = Refusing()

    with pytest.raises(runtime.ScoringError) as raised:
        runtime.predict([{"x1": None}, {"x1": 2.0}])

    assert str(raised.value) == (
        "the model (Refusing) could not score the 2 row(s) given: Input X contains NaN. See the "
        "documentation; expected values like those it was trained on in the columns x1"
    )
    assert isinstance(raised.value.__cause__, ValueError)


def test_artifact_skops_cannot_read_is_a_scoring_error(package: Path) -> None:
    with pytest.raises(
        runtime.ScoringError,
        match=r"model\.skops could not be loaded with the "
        r"installed scikit-learn \d",
    ):
        runtime.load()


def test_missing_package_file_is_an_integrity_error(package: Path) -> None:
    (package / "signature.json").unlink()

    with pytest.raises(runtime.IntegrityError) as raised:
        runtime.features([{"x1": 1.0}])

    assert str(raised.value).startswith("signature.json of this package cannot be read (")
    assert str(raised.value).endswith("reinstall the package")


def test_unreadable_parquet_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    path.write_bytes(b"PAR1 but not really")

    with pytest.raises(
        runtime.DataFileError, match=f"input file {path} cannot be read as Parquet: "
    ):
        runtime.read_table(path)


def test_main_reports_an_unforeseen_failure_in_one_line(
    package: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def broken(source: Path, output: Path) -> int:
        raise KeyError("columns")

    monkeypatch.setattr(runtime, "score_file", broken)

    code = runtime.main([str(tmp_path / "in.csv"), "--output", str(tmp_path / "o.csv")])

    err = capsys.readouterr().err
    assert code == runtime.EXIT_UNEXPECTED == 1
    assert err == (
        f"error: unexpected KeyError while scoring {tmp_path / 'in.csv'}: 'columns'; "
        f"{tmp_path / 'o.csv'} was not written (please report this failure)\n"
    )


def test_main_reports_ctrl_c_with_code_130(
    package: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def interrupted(source: Path, output: Path) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(runtime, "score_file", interrupted)

    code = runtime.main([str(tmp_path / "in.csv")])

    assert code == 130
    assert (
        capsys.readouterr().err
        == f"error: interrupted; {tmp_path / 'in.scored.csv'} was not written\n"
    )
