"""The monitoring reference: which dataset version, which features, which thresholds."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from mlgate.config import DataConfig, TrainingConfig, WorkspaceConfig
from mlgate.errors import NotFoundError, ValidationError
from mlgate.lifecycle.data import register_dataset
from mlgate.lifecycle.models import train_model
from mlgate.lifecycle.project import init_project
from mlgate.lifecycle.service import Governance
from mlgate.monitoring.reference import load_reference
from mlgate.monitoring.settings import MonitoringConfig
from mlgate.registry.models import DatasetVersion, ModelVersion
from tests.fixtures import synthetic_frame


def _config() -> WorkspaceConfig:
    return WorkspaceConfig(
        project="credit",
        tier="low",
        owner="alice",
        data=DataConfig(target="y", sensitive=["group"], exclude=["group"]),
        training=TrainingConfig(estimator="sklearn.linear_model.LogisticRegression"),
    )


@pytest.fixture(scope="module")
def trained_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("reference") / "ws"
    root.mkdir()
    synthetic_frame().to_csv(root / "train.csv", index=False)
    gov = init_project(root, _config())
    register_dataset(gov, root / "train.csv", "train")
    train_model(gov)
    return root


@pytest.fixture
def project(trained_base: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(trained_base, root)
    return root


def _gov(root: Path, **monitoring: object) -> Governance:
    gov = Governance.open(root, actor="alice")
    if monitoring:
        config = gov.config.model_copy(update={"monitoring": MonitoringConfig(**monitoring)})
        gov = Governance(gov.workspace, "alice", config=config)
    return gov


def _version(gov: Governance) -> ModelVersion:
    with gov.transaction() as session:
        return session.execute(select(ModelVersion)).scalar_one()


def test_reference_is_the_training_data_of_the_model_without_sensitive_columns(
    project: Path,
) -> None:
    gov = _gov(project)
    version = _version(gov)

    reference = load_reference(gov, version)

    with gov.transaction() as session:
        dataset = session.execute(select(DatasetVersion)).scalar_one()
    expected = synthetic_frame()
    assert reference.features == ["x1", "x2", "region"]
    assert reference.categorical == ["region"]
    assert reference.target == "y"
    assert list(reference.frame.columns) == ["x1", "x2", "region", "y"]
    assert np.allclose(reference.frame["x1"], expected["x1"])
    assert (reference.dataset_name, reference.dataset_sha256) == ("train", dataset.sha256)
    assert reference.model_version == 1
    # the policy's drift thresholds, with the check's defaults for what it leaves unset
    assert reference.thresholds["wasserstein_threshold"] == 0.1
    assert reference.thresholds["max_drift_share"] == 0.25


def test_new_training_data_does_not_move_the_reference_of_a_trained_model(
    project: Path,
) -> None:
    gov = _gov(project)
    newer = synthetic_frame(n=300, seed=5)
    newer.to_csv(project / "newer.csv", index=False)
    register_dataset(gov, project / "newer.csv", "train")

    reference = load_reference(gov, _version(gov))

    assert len(reference.frame) == 400
    assert np.allclose(reference.frame["x1"], synthetic_frame()["x1"])


def test_another_registered_dataset_can_be_the_reference_and_narrow_features(
    project: Path,
) -> None:
    synthetic_frame(n=120, seed=3).to_csv(project / "recent.csv", index=False)
    register_dataset(_gov(project), project / "recent.csv", "recent")
    gov = _gov(project, reference="recent", features=["x2", "region"])

    reference = load_reference(gov, _version(gov))

    assert (reference.dataset_name, len(reference.frame)) == ("recent", 120)
    assert reference.features == ["x2", "region"]


def test_a_missing_reference_dataset_or_feature_is_named(project: Path) -> None:
    synthetic_frame().drop(columns=["x2"]).to_csv(project / "partial.csv", index=False)
    register_dataset(_gov(project), project / "partial.csv", "partial")

    with pytest.raises(NotFoundError, match=r"reference dataset 'baseline' is not registered"):
        load_reference(_gov(project, reference="baseline"), _version(_gov(project)))
    with pytest.raises(ValidationError, match=r"'partial' .* lacks column\(s\) x2"):
        load_reference(_gov(project, reference="partial"), _version(_gov(project)))


def test_features_outside_the_model_or_sensitive_ones_are_refused(project: Path) -> None:
    gov = _gov(project)
    version = _version(gov)
    with_group = ModelVersion(
        version=2,
        signature=[
            *version.signature,
            {"name": "group", "dtype": "object", "kind": "categorical"},
        ],
        dataset_version_id=version.dataset_version_id,
        target="y",
    )

    assert load_reference(gov, with_group).features == ["x1", "x2", "region"]
    with pytest.raises(ValidationError, match=r"names age, which model version 1 does not take"):
        load_reference(_gov(project, features=["x1", "age"]), version)
    with pytest.raises(ValidationError, match=r"sensitive column\(s\) group"):
        load_reference(_gov(project, features=["group"]), with_group)
