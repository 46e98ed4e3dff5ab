"""Publishing a reviewed model to a real local index, installing it, and scoring with it."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from tests.fixtures import Cli, synthetic_frame
from tests.release.conftest import Index, Installed, free_port

from mlgate.errors import ConflictError, PolicyViolation, ValidationError
from mlgate.lifecycle.deploy import predict_file
from mlgate.lifecycle.models import get_model_version, load_model_version
from mlgate.lifecycle.service import Governance
from mlgate.registry.models import AuditEvent
from mlgate.release.package import package_model
from mlgate.release.publish import publish_model


def events(root: Path, action: str) -> list[AuditEvent]:
    gov = Governance.open(root)
    with gov.transaction() as session:
        stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        return list(session.execute(stmt).scalars())


def run_python(installed: Installed, code: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in the package's virtual environment, with ``paths`` first on sys.path."""
    prefix = "".join(f"import sys; sys.path.insert(0, {str(p)!r})\n" for p in paths)
    return subprocess.run(
        [str(installed.python), "-c", prefix + code], capture_output=True, text=True
    )


def test_console_script_scores_like_the_registry(
    installed: Installed, reviewed: Path, tmp_path: Path
) -> None:
    new = synthetic_frame(60, seed=7)
    new.to_csv(tmp_path / "new.csv", index=False)

    result = subprocess.run(
        [str(installed.script), str(tmp_path / "new.csv"), "--output", str(tmp_path / "out.csv")],
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stderr
    assert "scored 60 rows" in result.stderr
    packaged = pd.read_csv(tmp_path / "out.csv")
    gov = Governance.open(reviewed)
    run = predict_file(gov, tmp_path / "new.csv", tmp_path / "registry.csv", version=1)
    assert run.rows == 60
    registry = pd.read_csv(tmp_path / "registry.csv")
    assert list(packaged.columns) == [*new.columns, "prediction", "score"]
    assert packaged["prediction"].tolist() == registry["prediction"].tolist()
    assert packaged["score"].to_numpy() == pytest.approx(registry["score"].to_numpy(), abs=1e-12)


def test_installed_module_api_matches_the_stored_model(
    installed: Installed, reviewed: Path
) -> None:
    records = synthetic_frame(5, seed=3).to_dict(orient="records")
    code = (
        f"import json, sys, {installed.module} as m\n"
        f"records = {json.dumps(records)}\n"
        "out = m.predict(records)\n"
        "proba = m.predict_proba(records)\n"
        "print(json.dumps({'prediction': out['prediction'].tolist(), "
        "'score': out['score'].tolist(), 'proba_columns': list(proba.columns), "
        "'inputs': [c['name'] for c in m.signature['inputs']], "
        "'card_model': m.model_card['model']['sha256'] if 'model' in m.model_card "
        "else m.model_card['artifact_sha256'], 'mlgate_loaded': 'mlgate' in sys.modules}))\n"
    )

    result = run_python(installed, code)

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    gov = Governance.open(reviewed)
    version = get_model_version(gov, 1)
    model = load_model_version(gov, version)
    frame = pd.DataFrame(records)[["x1", "x2", "region"]]
    assert answer["prediction"] == model.predict(frame).tolist()
    assert answer["score"] == pytest.approx(model.predict_proba(frame)[:, 1].tolist())
    assert answer["proba_columns"] == ["0", "1"]
    assert answer["inputs"] == ["x1", "x2", "region"]
    assert answer["card_model"] == version.artifact_sha256
    assert answer["mlgate_loaded"] is False


def test_missing_columns_are_named(installed: Installed, tmp_path: Path) -> None:
    synthetic_frame(5).drop(columns=["x2", "region"]).to_csv(tmp_path / "bad.csv", index=False)

    result = subprocess.run(
        [str(installed.script), str(tmp_path / "bad.csv")], capture_output=True, text=True
    )

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "lacks the column(s) x2, region that the model needs" in result.stderr
    assert not (tmp_path / "bad.scored.csv").exists()


def test_tampered_artifact_is_refused_at_load(installed: Installed, tmp_path: Path) -> None:
    copy = tmp_path / "site"
    shutil.copytree(installed.site_packages / installed.module, copy / installed.module)
    artifact = copy / installed.module / "model.skops"
    data = bytearray(artifact.read_bytes())
    data[-30] ^= 0xFF
    artifact.write_bytes(bytes(data))
    tampered = hashlib.sha256(bytes(data)).hexdigest()

    result = run_python(installed, f"import {installed.module} as m; m.load()", copy)

    assert result.returncode != 0
    assert "IntegrityError: hash mismatch: model.skops has sha256 " + tampered in result.stderr
    assert "but the reviewed model has sha256" in result.stderr


def test_installed_metadata_pins_the_recorded_versions(
    installed: Installed, reviewed: Path
) -> None:
    code = (
        "import json; from importlib import metadata\n"
        f"print(json.dumps(metadata.requires({installed.distribution!r})))"
    )

    result = run_python(installed, code)

    assert result.returncode == 0, result.stderr
    requires = json.loads(result.stdout)
    packages = get_model_version(Governance.open(reviewed), 1).packages
    for name in ("numpy", "pandas", "scikit-learn", "scipy", "skops"):
        assert f"{name}=={packages[name]}" in requires
    assert not any(r.startswith("mlgate") for r in requires)


def test_publish_is_audited_with_file_hash_and_url(
    installed: Installed, reviewed: Path, index: Index
) -> None:
    published = events(reviewed, "model.published")

    assert len(published) == 1
    payload = published[0].payload
    stored = index.folder / payload["wheel"]
    assert payload["wheel"] == "mlgate_model_churn_model-1-py3-none-any.whl"
    assert payload["wheel_sha256"] == hashlib.sha256(stored.read_bytes()).hexdigest()
    assert payload["repository_url"] == index.url
    assert payload["model_version"] == 1
    assert "correct-horse" not in json.dumps(payload)


def test_publishing_the_same_version_twice_is_a_conflict(
    installed: Installed, reviewed: Path, index: Index
) -> None:
    with pytest.raises(ConflictError) as raised:
        publish_model(Governance.open(reviewed, "alice"), 1, index.url, index.env())

    message = raised.value.message
    assert f"version 1 of mlgate-model-churn-model is already on {index.url}" in message
    assert "already exists" in message
    assert "alice published it there at" in message
    assert len(events(reviewed, "model.published")) == 1


def test_wrong_credentials_are_a_clear_error(
    installed: Installed, reviewed: Path, index: Index
) -> None:
    gov = Governance.open(reviewed, "alice")

    with pytest.raises(ValidationError) as raised:
        publish_model(gov, 1, index.url, index.env(password="wrong"))

    assert raised.value.message.startswith(
        f"{index.url} refused the credentials in TWINE_USERNAME and TWINE_PASSWORD: "
        "the server answered 403 Forbidden"
    )
    assert "wrong" not in raised.value.message


def test_connection_refused_names_the_url(reviewed: Path, index: Index) -> None:
    url = f"http://127.0.0.1:{free_port()}/"

    with pytest.raises(ValidationError, match="nothing answers at http://127.0.0.1:"):
        publish_model(Governance.open(reviewed, "alice"), 1, url, index.env())


def test_credentials_in_the_url_are_refused(reviewed: Path, index: Index) -> None:
    url = index.url.replace("http://", "http://uploader:secret@")

    with pytest.raises(ValidationError) as raised:
        publish_model(Governance.open(reviewed, "alice"), 1, url, index.env())

    assert "carries credentials" in raised.value.message
    assert "secret" not in raised.value.message


def test_wheel_is_byte_identical_when_built_twice(reviewed: Path, tmp_path: Path) -> None:
    gov = Governance.open(reviewed, "alice")

    first = package_model(gov, output_dir=tmp_path / "a")
    second = package_model(gov, output_dir=tmp_path / "b")

    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256 == hashlib.sha256(second.path.read_bytes()).hexdigest()
    with zipfile.ZipFile(first.path) as archive:
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    packaged = events(reviewed, "model.packaged")
    assert [e.payload["wheel_sha256"] for e in packaged[-2:]] == [first.sha256] * 2


def test_unreviewed_version_is_refused_and_audited(
    workspace: Path, cli: Cli, index: Index
) -> None:
    assert cli("train", cwd=workspace).code == 0
    gov = Governance.open(workspace, "alice")

    with pytest.raises(PolicyViolation) as raised:
        publish_model(gov, None, index.url, index.env())

    message = raised.value.message
    assert message.startswith("model version 1 has not passed the review gate")
    assert "the project is in stage 'initiation' and has not passed review" in message
    assert "business_case (missing)" in message
    refused = events(workspace, "model.publish.refused")
    assert [e.subject for e in refused] == ["model:v1"]
    assert refused[0].payload == {
        "reason": message,
        "model_version": 1,
        "repository_url": index.url,
    }
    assert not list(index.folder.glob("mlgate_model_demo_low-*"))


def test_publishing_without_the_role_is_refused_on_the_model_version(
    reviewed: Path, index: Index
) -> None:
    gov = Governance.open(reviewed, "bob")

    with pytest.raises(PolicyViolation) as raised:
        publish_model(gov, None, index.url, index.env())

    message = raised.value.message
    assert message == (
        "bob may not publish models: it needs the role admin or ml_engineer, and bob holds no "
        "role in project Churn Model"
    )
    refused = events(reviewed, "model.publish.refused")[-1]
    assert (refused.actor, refused.subject) == ("bob", "model:v1")
    assert refused.payload == {
        "reason": message,
        "model_version": 1,
        "repository_url": index.url,
    }


def test_cli_package_writes_the_wheel_and_refuses_an_old_version(
    reviewed: Path, cli: Cli, tmp_path: Path
) -> None:
    result = cli("package", "--output-dir", str(tmp_path / "dist"), cwd=reviewed)

    assert result.code == 0, result.text
    assert "Packaged model version 1 as mlgate_model_churn_model-1-py3-none-any.whl" in result.out
    assert (tmp_path / "dist" / "mlgate_model_churn_model-1-py3-none-any.whl").is_file()

    refused = cli("package", "--version", "7", cwd=reviewed)
    assert refused.code == 3
    assert "project Churn Model has no model version 7" in refused.err


def test_cli_package_of_an_unreviewed_version_is_refused(workspace: Path, cli: Cli) -> None:
    assert cli("train", cwd=workspace).code == 0

    result = cli("package", cwd=workspace)

    assert result.code == 5
    assert "error: model version 1 has not passed the review gate" in result.err
    assert "Traceback" not in result.text
    assert not (workspace / "dist").exists()
    refused = events(workspace, "model.package.refused")
    assert [e.subject for e in refused] == ["model:v1"]
    assert refused[0].payload["model_version"] == 1
    assert refused[0].payload["reason"].startswith("model version 1 has not passed the review")


def test_publish_needs_a_url_and_credentials_from_the_environment(
    reviewed: Path, index: Index
) -> None:
    gov = Governance.open(reviewed, "alice")
    bare = {k: v for k, v in index.env().items() if not k.startswith(("TWINE_", "MLGATE_"))}

    with pytest.raises(ValidationError, match="no repository URL to publish to"):
        publish_model(gov, 1, None, bare)
    with pytest.raises(
        ValidationError, match=f"TWINE_PASSWORD is not set; the credentials for {index.url}"
    ):
        publish_model(
            gov, 1, None, {**bare, "MLGATE_PUBLISH_URL": index.url, "TWINE_USERNAME": "u"}
        )


def test_an_index_that_never_answers_times_out_and_the_attempt_is_audited(
    reviewed: Path, index: Index
) -> None:
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never answers
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
    try:
        env = {**index.env(), "MLGATE_PUBLISH_TIMEOUT": "3"}
        with pytest.raises(ValidationError, match="did not finish within 3 s"):
            publish_model(Governance.open(reviewed, "alice"), 1, url, env)
    finally:
        silent.close()

    failed = events(reviewed, "model.publish.failed")[-1]
    assert failed.payload["repository_url"] == url
    assert "did not finish within 3 s" in failed.payload["reason"]
    assert len(failed.payload["wheel_sha256"]) == 64


def test_a_timeout_that_is_not_a_positive_number_is_refused(reviewed: Path, index: Index) -> None:
    env = {**index.env(), "MLGATE_PUBLISH_TIMEOUT": "soon"}
    with pytest.raises(ValidationError, match="MLGATE_PUBLISH_TIMEOUT must be a number"):
        publish_model(Governance.open(reviewed, "alice"), 1, index.url, env)


GOOD_ROWS = "x1,x2,region\n0.5,-1.0,n\n"
BAD_FILES = [
    pytest.param(
        "in.csv",
        b"\x89PNG\r\n\x1a\n\x00\xff\xfe" + bytes(range(256)),
        "input file {dir}/in.csv is not UTF-8 text (found the byte 0x89); expected a UTF-8",
        id="binary",
    ),
    pytest.param(
        "in.csv",
        b'x1,x2,region\n0.5,-1.0,"n\n0.1,0.2,s\n',
        "input file {dir}/in.csv is not well-formed CSV: Error tokenizing data. C error: EOF "
        "inside string",
        id="unterminated-quote",
    ),
    pytest.param(
        "in.csv", b"", "input file {dir}/in.csv is empty; expected a header row", id="empty"
    ),
    pytest.param(
        "in.csv",
        b"x1,x2,region\n",
        "input file {dir}/in.csv has no data rows to score",
        id="header-only",
    ),
    pytest.param(
        "in.xlsx",
        GOOD_ROWS.encode(),
        "input file {dir}/in.xlsx: expected a name ending in .csv, .parquet or .pq; got '.xlsx'",
        id="xlsx-input",
    ),
    pytest.param(
        "in.parquet",
        b"PAR1",
        "input file {dir}/in.parquet is a Parquet file, and Parquet needs pyarrow, which is not "
        "installed; expected it from pip install 'mlgate-model-churn-model[parquet]'",
        id="parquet-input-without-pyarrow",
    ),
    pytest.param(
        "in.csv",
        b"x1,x2,region\ninf,-1.0,n\n",
        "the model (Pipeline) could not score the 1 row(s) given: Input X contains infinity",
        id="model-refuses-values",
    ),
]


def run_script(installed: Installed, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(installed.script), *map(str, args)], capture_output=True, text=True)


def assert_one_error_line(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"error: {expected}"), result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(("name", "content", "expected"), BAD_FILES)
def test_console_script_reports_a_bad_input_file_in_one_line(
    installed: Installed, tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    (tmp_path / name).write_bytes(content)
    (tmp_path / "out.csv").write_text("earlier output\n")

    result = run_script(installed, tmp_path / name, "--output", tmp_path / "out.csv")

    assert_one_error_line(result, expected.format(dir=tmp_path))
    assert (tmp_path / "out.csv").read_text() == "earlier output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "out.csv"])


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (
            "missing/out.csv",
            "output file {dir}/missing/out.csv: its folder {dir}/missing does not exist; "
            "expected an existing folder",
        ),
        (
            "in.csv/out.csv",
            "output file {dir}/in.csv/out.csv: its folder {dir}/in.csv is not a folder",
        ),
        ("out.xlsx", "output file {dir}/out.xlsx: expected a name ending in .csv, .parquet or"),
        ("sub", "output file {dir}/sub: expected a name ending in .csv, .parquet or .pq; got '("),
        ("sub.csv", "output file {dir}/sub.csv is a folder; expected a file name"),
        (
            "out.parquet",
            "output file {dir}/out.parquet is a Parquet file, and Parquet needs pyarrow, which is "
            "not installed; expected it from pip install 'mlgate-model-churn-model[parquet]' "
            "(or pip install pyarrow), or a .csv file",
        ),
        ("in.csv", "output file {dir}/in.csv is the input file"),
    ],
)
def test_console_script_refuses_an_output_it_cannot_write(
    installed: Installed, tmp_path: Path, output: str, expected: str
) -> None:
    (tmp_path / "in.csv").write_text(GOOD_ROWS)
    (tmp_path / "sub.csv").mkdir()

    result = run_script(installed, tmp_path / "in.csv", "--output", tmp_path / output)

    assert_one_error_line(result, expected.format(dir=tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "sub.csv"]
    assert (tmp_path / "in.csv").read_text() == GOOD_ROWS


def test_module_api_raises_its_own_exceptions(installed: Installed) -> None:
    code = (
        f"import {installed.module} as m\n"
        "cases = [[{'x1': float('inf'), 'x2': 1.0, 'region': 'n'}], 5, "
        "{'x1': [1.0, 2.0], 'x2': [1.0]}, [{'x1': 'high', 'x2': 1.0, 'region': 'n'}]]\n"
        "for case in cases:\n"
        "    try:\n"
        "        m.predict(case)\n"
        "    except (m.ScoringError, m.SignatureError, m.DataFileError) as exc:\n"
        "        print(type(exc).__name__, '|', exc)\n"
    )

    result = run_python(installed, code)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(" | ")[0] for line in lines] == [
        "ScoringError",
        "SignatureError",
        "SignatureError",
        "SignatureError",
    ]
    assert "Input X contains infinity" in lines[0]
    assert lines[1].endswith(
        "expected a pandas DataFrame, a list of records or one record (a dict); got int"
    )
    assert (
        "the input cannot be made into a table: All arrays must be of the same length"
        in (lines[2])
    )
    assert "column x1 must be numeric but has 1 non-numeric value(s)" in lines[3]
