"""The wheel format, the names and the pinned requirements of a packaged model."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mlgate import __version__
from mlgate.errors import ValidationError
from mlgate.registry.models import ModelVersion
from mlgate.release.names import normalise, package_names, project_slug
from mlgate.release.requirements import model_requirements
from mlgate.release.runtime import output_names
from mlgate.release.wheel import metadata_text, record_hash, wheel_bytes
from mlgate.serving.scorer import output_columns

DIST_INFO = "demo-1.dist-info"
FILES = {
    "demo/__init__.py": b"",
    "demo/model.skops": bytes(range(256)) * 4,
    f"{DIST_INFO}/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 1\n",
    f"{DIST_INFO}/WHEEL": b"Wheel-Version: 1.0\n",
    f"{DIST_INFO}/entry_points.txt": b"[console_scripts]\ndemo-predict = demo:main\n",
}


def version_record(**changes: object) -> ModelVersion:
    fields: dict[str, object] = {
        "version": 4,
        "artifact_sha256": "0" * 64,
        "flavour": "sklearn-skops",
        "estimator": "sklearn.linear_model._logistic.LogisticRegression",
        "trusted_types": ["numpy.dtype"],
        "signature": [{"name": "x1", "dtype": "float64", "kind": "numeric"}],
        "classes": [0, 1],
        "packages": {
            "python": "3.11.7",
            "numpy": "2.0.1",
            "pandas": "2.2.2",
            "scikit-learn": "1.5.1",
            "scipy": "1.14.0",
            "skops": "0.10.0",
        },
        "created_at": datetime(2026, 1, 2, tzinfo=UTC),
    }
    return ModelVersion(**{**fields, **changes})


@pytest.mark.parametrize(
    ("project", "distribution", "module", "script"),
    [
        ("churn", "mlgate-model-churn", "mlgate_model_churn", "churn-predict"),
        ("German Credit_Risk", "mlgate-model-german-credit-risk", None, None),
        (
            "  2024..Fraud--Model ",
            "mlgate-model-2024-fraud-model",
            "mlgate_model_2024_fraud_model",
            None,
        ),
    ],
)
def test_package_names_follow_index_normalisation(
    project: str, distribution: str, module: str | None, script: str | None
) -> None:
    names = package_names(project, 3)

    assert names.distribution == distribution
    assert normalise(names.distribution) == names.distribution
    assert names.module.isidentifier()
    assert module is None or names.module == module
    assert script is None or names.script == script
    assert names.wheel_filename == f"{distribution.replace('-', '_')}-3-py3-none-any.whl"


def test_project_without_letters_cannot_name_a_package() -> None:
    with pytest.raises(ValidationError, match="project name '--' has no letters or digits"):
        project_slug("--")


def test_record_hash_is_urlsafe_base64_sha256_without_padding() -> None:
    data = b"\xfb\xff" * 1000
    digest = hashlib.sha256(data).digest()
    expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")

    assert record_hash(data) == f"sha256={expected}"
    assert "=" not in record_hash(data).removeprefix("sha256=")


def test_wheel_record_lists_every_file_with_its_hash_and_size() -> None:
    archive = zipfile.ZipFile(io.BytesIO(wheel_bytes(FILES, DIST_INFO)))

    names = archive.namelist()
    record = list(csv.reader(io.StringIO(archive.read(f"{DIST_INFO}/RECORD").decode())))

    assert names[-1] == f"{DIST_INFO}/RECORD"
    assert names[:2] == ["demo/__init__.py", "demo/model.skops"]
    assert [row[0] for row in record] == names
    assert record[-1] == [f"{DIST_INFO}/RECORD", "", ""]
    for path, hashed, size in record[:-1]:
        data = archive.read(path)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert hashed == f"sha256={digest}"
        assert int(size) == len(data) == len(FILES[path])


def test_wheel_bytes_do_not_depend_on_order_or_time() -> None:
    first = wheel_bytes(FILES, DIST_INFO)
    second = wheel_bytes(dict(reversed(list(FILES.items()))), DIST_INFO)

    assert first == second
    infos = zipfile.ZipFile(io.BytesIO(first)).infolist()
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}


def test_metadata_refuses_a_field_spanning_lines() -> None:
    with pytest.raises(ValidationError, match="metadata field Summary must be one line"):
        metadata_text([("Summary", "one\nInjected: yes")], "")


def test_requirements_pin_the_recorded_versions() -> None:
    needs = model_requirements(version_record())

    assert needs.pins == [
        "numpy==2.0.1",
        "pandas==2.2.2",
        "scikit-learn==1.5.1",
        "scipy==1.14.0",
        "skops==0.10.0",
    ]
    assert needs.python == ">=3.11"
    assert needs.needs_mlgate is False
    assert needs.lines[-1].startswith("pyarrow==")
    assert needs.lines[-1].endswith('; extra == "parquet"')


def test_requirements_add_the_flavour_library_and_mlgate_when_the_model_uses_them() -> None:
    record = version_record(
        estimator="mlgate.fairness_models.GroupThresholdClassifier",
        trusted_types=[
            "collections.OrderedDict",
            "lightgbm.basic.Booster",
            "lightgbm.sklearn.LGBMClassifier",
            "mlgate.fairness_models.GroupThresholdClassifier",
        ],
        packages={"lightgbm": "4.3.0", "mlgate": "0.0.9", "numpy": "not installed"},
    )

    needs = model_requirements(record)

    assert "lightgbm==4.3.0" in needs.pins
    assert "mlgate==0.0.9" in needs.pins
    assert needs.needs_mlgate is True
    installed_numpy = __import__("numpy").__version__
    assert f"numpy=={installed_numpy}" in needs.pins  # not recorded: the installed version
    assert not any(p.startswith("collections") for p in needs.pins)


def test_requirements_fall_back_to_this_mlgate_when_unrecorded() -> None:
    record = version_record(trusted_types=["mlgate.fairness_models.GroupThresholdClassifier"])

    assert f"mlgate=={__version__}" in model_requirements(record).pins


def test_requirements_refuse_types_from_a_training_script() -> None:
    record = version_record(trusted_types=["__main__.scale"])

    with pytest.raises(ValidationError, match=r"model version 4 uses __main__\.scale"):
        model_requirements(record)


@pytest.mark.parametrize(
    "columns",
    [["x1"], ["score", "x1"], ["prediction", "mlgate_score"], ["mlgate_prediction", "score"]],
)
def test_packaged_output_names_match_mlgate_predict(columns: list[str]) -> None:
    assert output_names(columns) == output_columns(columns, Path("in.csv"))
