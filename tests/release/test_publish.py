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
    assert refused[0].payload["reason"] == message
    assert not list(index.folder.glob("mlgate_model_demo_low-*"))


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
    assert [e.subject for e in events(workspace, "model.package.refused")] == ["model:v1"]


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
