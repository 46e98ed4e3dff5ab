"""Training, adding and loading model versions.

A model version is registered with its skops artifact and sha256, the types skops must trust to
load it, its input signature, parameters, metrics, the dataset version it learnt from, the code
version of the workspace and the versions of the packages it was built with.
"""

from __future__ import annotations

import importlib
import logging
import platform
import subprocess
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sqlalchemy import select

from mlgate.artifacts.models import FLAVOUR_SKOPS, dump_model, load_model
from mlgate.errors import NotFoundError, ValidationError
from mlgate.lifecycle.data import latest_dataset, load_dataset
from mlgate.lifecycle.service import Governance
from mlgate.registry.models import DatasetVersion, ModelVersion
from mlgate.tabular import column_kind

logger = logging.getLogger(__name__)

PACKAGES = ("mlgate", "scikit-learn", "numpy", "pandas", "scipy", "skops")


def feature_columns(gov: Governance, frame: pd.DataFrame) -> list[str]:
    """Return the columns the model learns from: all but the target and the excluded ones."""
    data = gov.config.data
    unknown = [c for c in data.exclude if c not in frame.columns]
    if unknown:
        raise ValidationError(
            f"mlgate.yaml excludes column(s) {', '.join(unknown)} that the data does not have"
        )
    dropped = {data.target, *data.exclude}
    features = [c for c in frame.columns if c not in dropped]
    unusable = [
        c
        for c in features
        if column_kind(frame[c]) == "datetime"
        or frame[c].map(lambda v: isinstance(v, list | dict | np.ndarray)).any()
    ]
    if unusable:
        raise ValidationError(
            f"column(s) {', '.join(unusable)} hold dates or nested values, which the training "
            "pipeline cannot use as features",
            hint="derive plain features from them, or list them under data.exclude in mlgate.yaml",
        )
    return features


def estimator_factory(gov: Governance, frame: pd.DataFrame, features: list[str]) -> Any:
    """Return a function that builds the configured, unfitted pipeline for ``features``."""
    training = gov.config.training
    module_name, _, class_name = training.estimator.rpartition(".")
    try:
        estimator_class = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ValidationError(
            f"mlgate.yaml training.estimator '{training.estimator}' cannot be imported: {exc}",
            hint="use a dotted class path such as sklearn.linear_model.LogisticRegression",
        ) from exc

    if not isinstance(estimator_class, type):
        raise ValidationError(
            f"mlgate.yaml training.estimator '{training.estimator}' is not a class; "
            "expected an estimator class such as sklearn.linear_model.LogisticRegression"
        )
    categorical = [c for c in features if column_kind(frame[c]) != "numeric"]
    numeric = [c for c in features if c not in categorical]

    def build() -> Pipeline:
        params = dict(training.params)
        if "random_state" in estimator_class().get_params():
            params.setdefault("random_state", training.seed)
        try:
            estimator = estimator_class(**params)
        except TypeError as exc:
            raise ValidationError(
                f"mlgate.yaml training.params do not fit {training.estimator}: {exc}"
            ) from exc
        encode = ColumnTransformer(
            [
                (
                    "numeric",
                    make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                    numeric,
                ),
                (
                    "categorical",
                    make_pipeline(
                        SimpleImputer(strategy="most_frequent"),
                        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                    ),
                    categorical,
                ),
            ]
        )
        return Pipeline([("encode", encode), ("model", estimator)])

    return build


def signature_of(frame: pd.DataFrame, features: list[str]) -> list[dict[str, Any]]:
    """Return the input signature: each feature's name, dtype and kind, in order."""
    return [
        {"name": c, "dtype": str(frame[c].dtype), "kind": column_kind(frame[c])} for c in features
    ]


def train_model(gov: Governance) -> ModelVersion:
    """Fit the configured estimator on the latest training dataset and register it."""
    dataset = latest_dataset(gov, "train")
    frame = load_dataset(gov, dataset)
    features = feature_columns(gov, frame)
    target = gov.config.data.target

    _check_target(frame[target], gov.config.data.positive_label, target)
    model = estimator_factory(gov, frame, features)()
    started = time.perf_counter()
    try:
        model.fit(frame[features], frame[target])
    except ValueError as exc:
        raise ValidationError(f"training on dataset 'train' failed: {exc}") from exc
    seconds = time.perf_counter() - started

    metrics = {"training_seconds": round(seconds, 4), **_fit_metrics(gov, model, frame, features)}
    logger.info(
        "trained %s on %d rows in %.2f s", gov.config.training.estimator, len(frame), seconds
    )
    return register_model(gov, model, dataset, frame, features, metrics, "trained")


def _check_target(target: pd.Series, positive: Any, name: str) -> None:
    """Refuse a target without labels, or whose values do not include the favourable one."""
    if target.isna().any():
        raise ValidationError(
            f"the target '{name}' has {int(target.isna().sum())} missing value(s); every "
            "training row needs its label"
        )
    values = sorted(map(str, target.unique()))[:10]
    if positive not in set(target.unique()):
        raise ValidationError(
            f"positive_label {positive!r} is not a value of the target '{name}'; found "
            f"{', '.join(values)}",
            hint="set data.positive_label in mlgate.yaml (or --positive-label at init)",
        )


def _fit_metrics(gov: Governance, model: Any, frame: pd.DataFrame, features: list[str]) -> dict:
    y = frame[gov.config.data.target]
    metrics: dict[str, float] = {
        "train_accuracy": float(accuracy_score(y, model.predict(frame[features])))
    }
    if hasattr(model, "predict_proba") and len(model.classes_) == 2:
        positive = list(model.classes_).index(gov.config.data.positive_label)
        score = model.predict_proba(frame[features])[:, positive]
        metrics["train_roc_auc"] = float(roc_auc_score(y == gov.config.data.positive_label, score))
    return {k: round(v, 6) for k, v in metrics.items()}


def add_model(
    gov: Governance, path: Path, trust: list[str] | None = None, allow_pickle: bool = False
) -> ModelVersion:
    """Register a model trained elsewhere: a skops file, or a pickle the user vouches for.

    A pickle executes code when loaded, so it is opened only with ``allow_pickle`` and converted
    to skops at once; every later load goes through the hash-checked skops path.
    """
    if not path.is_file():
        raise NotFoundError(f"model file {path} does not exist")
    model = _read_user_model(path, trust or [], allow_pickle)

    dataset = latest_dataset(gov, "train")
    frame = load_dataset(gov, dataset)
    features = list(getattr(model, "feature_names_in_", feature_columns(gov, frame)))
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"{path.name} expects column(s) {', '.join(missing)} that dataset 'train' lacks"
        )
    try:
        model.predict(frame[features].head(5))
    except Exception as exc:  # any estimator error means the model does not fit this data
        raise ValidationError(
            f"{path.name} cannot score the training data's features ({', '.join(features)}): {exc}"
        ) from exc

    return register_model(gov, model, dataset, frame, features, {}, f"added from {path.name}")


def _read_user_model(path: Path, trust: list[str], allow_pickle: bool) -> Any:
    if path.suffix == ".skops":
        data = path.read_bytes()
        try:
            untrusted = sorted(set(sio.get_untrusted_types(data=data)) - set(trust))
        except Exception as exc:  # skops raises zipfile and format errors of several types
            raise ValidationError(f"{path.name} is not a readable skops file: {exc}") from exc
        if untrusted:
            raise ValidationError(
                f"{path.name} needs types that skops does not trust by default: "
                f"{', '.join(untrusted)}",
                hint="inspect them, then repeat with --trust TYPE for each one you accept",
            )
        return sio.loads(data, trusted=trust)
    if path.suffix in (".pkl", ".pickle", ".joblib"):
        if not allow_pickle:
            raise ValidationError(
                f"{path.name} is a pickle, and loading a pickle runs any code inside it",
                hint="if you made this file yourself, repeat with --allow-pickle; mlgate converts "
                "it to skops so it is never unpickled again",
            )
        import joblib

        return joblib.load(path)
    raise ValidationError(
        f"{path.name}: unsupported model file '{path.suffix}'; expected .skops, .joblib or .pkl"
    )


def register_model(
    gov: Governance,
    model: Any,
    dataset: DatasetVersion,
    frame: pd.DataFrame,
    features: list[str],
    metrics: dict[str, Any],
    origin: str,
) -> ModelVersion:
    """Store ``model`` with skops and register it as the project's next version."""
    content, trusted = dump_model(model)
    sha = gov.artifacts.put_bytes(content)
    step = model.steps[-1][1] if isinstance(model, Pipeline) else model
    classes = [_plain(c) for c in getattr(model, "classes_", [])]

    with gov.transaction() as session:
        project = gov.project(session)
        version = ModelVersion(
            project_id=project.id,
            version=gov.next_model_version(session),
            artifact_sha256=sha,
            flavour=FLAVOUR_SKOPS,
            estimator=f"{type(step).__module__}.{type(step).__name__}",
            trusted_types=trusted,
            signature=signature_of(frame, features),
            target=gov.config.data.target,
            classes=classes,
            params=_json_params(step),
            metrics=metrics,
            dataset_version_id=dataset.id,
            code_version=_code_version(gov.workspace.root),
            packages=_packages(),
            created_by=gov.actor,
            created_at=datetime.now(UTC),
        )
        session.add(version)
        session.flush()
        gov.audit(
            session,
            "model.registered",
            f"model:v{version.version}",
            {
                "sha256": sha,
                "estimator": version.estimator,
                "dataset_sha256": dataset.sha256,
                "origin": origin,
                "metrics": metrics,
            },
        )
    logger.info("registered model version %d (sha256 %s, %s)", version.version, sha[:12], origin)
    return version


def get_model_version(gov: Governance, version: int | None = None) -> ModelVersion:
    """Return model version ``version``, or the newest one."""
    with gov.transaction() as session:
        project = gov.project(session)
        stmt = select(ModelVersion).where(ModelVersion.project_id == project.id)
        if version is not None:
            stmt = stmt.where(ModelVersion.version == version)
        found = session.execute(stmt.order_by(ModelVersion.version.desc())).scalars().first()
    if found is None:
        what = f"model version {version}" if version is not None else "model version yet"
        raise NotFoundError(
            f"project {gov.config.project} has no {what}",
            hint="run `mlgate model list`, or register one with mlgate train / mlgate model add",
        )
    return found


def load_model_version(gov: Governance, version: ModelVersion) -> Any:
    """Load a model after the artifact store has checked its hash against the registry."""
    return load_model(gov.artifacts.get_bytes(version.artifact_sha256), version.trusted_types)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _json_params(estimator: Any) -> dict[str, Any]:
    params = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
    return {
        k: _plain(v)
        if isinstance(v, int | float | str | bool | np.generic) or v is None
        else repr(v)
        for k, v in params.items()
    }


def _code_version(root: Path) -> str:
    try:
        result = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unversioned"
    return result.stdout.strip() if result.returncode == 0 else "unversioned"


def _packages() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
