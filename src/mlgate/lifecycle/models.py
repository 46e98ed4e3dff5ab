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
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sqlalchemy import select

from mlgate.artifacts.models import (
    FLAVOUR_SKOPS,
    artifact_loader,
    dump_model,
    load_artifact,
    load_model,
)
from mlgate.checks.base import ModelLoader
from mlgate.errors import NotFoundError, ValidationError
from mlgate.lifecycle.data import latest_dataset, load_dataset
from mlgate.lifecycle.external import (
    model_features,
    read_external_model,
    require_classifier,
    require_inputs,
    require_round_trip,
)
from mlgate.lifecycle.features import link_model_features
from mlgate.lifecycle.service import Governance
from mlgate.registry.models import DatasetVersion, ModelVersion
from mlgate.runlog import record_training
from mlgate.tabular import column_kind
from mlgate.training import (
    Choice,
    SearchProgress,
    choose,
    pipeline_spec,
    plan_training,
    refit,
    split_columns,
)

logger = logging.getLogger(__name__)

PACKAGES = ("mlgate", "scikit-learn", "numpy", "pandas", "scipy", "skops")
ESTIMATOR_LIBRARIES = ("lightgbm", "xgboost")


def feature_columns(
    gov: Governance, frame: pd.DataFrame, split_by: Collection[str] = ()
) -> list[str]:
    """Return the columns the model learns from.

    That is every column but the target, the excluded ones and ``split_by``: the group or time
    column cross-validation splits by, which must not become a feature.
    """
    data = gov.config.data
    unknown = [c for c in data.exclude if c not in frame.columns]
    if unknown:
        raise ValidationError(
            f"mlgate.yaml excludes column(s) {', '.join(unknown)} that the data does not have"
        )
    dropped = {data.target, *data.exclude, *split_by}
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


def estimator_factory(
    gov: Governance, frame: pd.DataFrame, features: list[str]
) -> Callable[[], Pipeline]:
    """Return a function that builds the configured, unfitted pipeline for ``features``."""
    training = gov.config.training
    spec = pipeline_spec(
        training.estimator,
        training.params,
        training.seed,
        frame,
        features,
        preprocessing=training.preprocessing.model_dump(),
    )
    return spec.build


def signature_of(frame: pd.DataFrame, features: list[str]) -> list[dict[str, Any]]:
    """Return the input signature: each feature's name, dtype and kind, in order."""
    return [
        {"name": c, "dtype": str(frame[c].dtype), "kind": column_kind(frame[c])} for c in features
    ]


def train_model(
    gov: Governance,
    search: bool | None = None,
    trials: int | None = None,
    workers: int = 1,
    progress: SearchProgress | None = None,
) -> ModelVersion:
    """Fit the configured model on the latest training dataset and register it.

    With a search space or candidates in mlgate.yaml the model is chosen first (see
    :mod:`mlgate.training`): every candidate is cross-validated on the same folds, its space
    searched by an Optuna study kept in the store, and the winner is refitted on all rows; the
    folds, the search and the selection are recorded in the version's params. ``search``,
    ``trials`` and ``workers`` are the ``--search/--no-search``, ``--trials`` and ``--workers``
    options; ``progress`` hears how the search goes.
    """
    if workers < 1:
        raise ValidationError(f"--workers must be at least 1; got {workers}")
    dataset = latest_dataset(gov, "train")
    frame = load_dataset(gov, dataset)
    training = gov.config.training
    split_by = split_columns(training.cv, dataset.contract)
    features = feature_columns(gov, frame, split_by.values())
    data = gov.config.data

    _check_target(frame[data.target], data.positive_label, data.target)
    plan = plan_training(
        training,
        frame,
        features,
        data.target,
        data.positive_label,
        split_by,
        dataset.sha256,
        gov.config.project,
        search,
        trials,
    )
    if workers > 1 and (plan is None or not plan.searching):
        raise ValidationError(
            f"--workers {workers} runs search trials in parallel, and this training has no search",
            hint="add a search space to mlgate.yaml (docs/training.md), or drop --workers",
        )
    if plan is None:
        return _train_fixed(gov, dataset, frame, features)

    choice = choose(plan, gov.store.url, workers, progress)
    registered = _already_registered(gov, dataset, choice)
    if registered is not None:
        return registered

    model, seconds = refit(plan, choice)
    metrics = {
        "training_seconds": round(seconds, 4),
        **choice.metrics,
        **_fit_metrics(gov, model, frame, features),
    }
    return register_model(
        gov, model, dataset, frame, features, metrics, _origin(choice), choice.record
    )


def _train_fixed(
    gov: Governance, dataset: DatasetVersion, frame: pd.DataFrame, features: list[str]
) -> ModelVersion:
    """Fit the one configured estimator with its fixed params, without cross-validation."""
    target = gov.config.data.target
    model = estimator_factory(gov, frame, features)()
    started = time.perf_counter()
    try:
        model.fit(frame[features], frame[target])
    except Exception as exc:  # any library's error (LightGBMError...); not Ctrl-C
        training = gov.config.training
        raise ValidationError(
            f"training {training.estimator} with parameters {training.params} on dataset "
            f"'train' failed: {type(exc).__name__}: {exc}"
        ) from exc
    seconds = time.perf_counter() - started

    metrics = {"training_seconds": round(seconds, 4), **_fit_metrics(gov, model, frame, features)}
    logger.info(
        "trained %s on %d rows in %.2f s", gov.config.training.estimator, len(frame), seconds
    )
    return register_model(gov, model, dataset, frame, features, metrics, "trained")


def _already_registered(
    gov: Governance, dataset: DatasetVersion, choice: Choice
) -> ModelVersion | None:
    """Return the newest version when it already holds this search's result on this data.

    Running a finished search again (in a second shell, or to be sure) then neither refits nor
    adds a version that would make the evidence on the first one stale.
    """
    search = choice.record.get("search")
    winner = choice.selection.winner.name if choice.selection else None
    with gov.transaction() as session:
        versions = gov.project_rows(session, ModelVersion)
    newest = versions[-1] if versions else None
    if (
        search is None
        or newest is None
        or newest.dataset_version_id != dataset.id
        or newest.params.get("search") != search
        or (newest.params.get("selection") or {}).get("winner") != winner
    ):
        return None
    logger.info("model version %d already holds search %s", newest.version, search["study"])
    return newest


def _origin(choice: Choice) -> str:
    if choice.selection is not None:
        count = len(choice.selection.results)
        return f"selected {choice.candidate.name} of {count} candidates"
    return f"searched in {choice.record['search']['trials']} trials"


def _check_target(target: pd.Series, positive: Any, name: str) -> None:
    """Refuse a target without labels, or whose values do not include the favourable one."""
    if target.isna().any():
        raise ValidationError(
            f"the target '{name}' has {int(target.isna().sum())} missing value(s); every "
            "training row needs its label"
        )
    values = sorted(map(str, target.unique()))[:10]
    if target.nunique() < 2:
        raise ValidationError(
            f"the target '{name}' has {target.nunique()} class ({', '.join(values)}) in "
            "dataset 'train'; a classifier needs at least 2"
        )
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
    """Register a model trained elsewhere: a skops file, a pickle, or an MLflow model directory.

    A pickle executes code when loaded, so it is opened only with ``allow_pickle`` and converted
    to skops at once; every later load goes through the hash-checked skops path. An MLflow
    directory is read through its MLmodel file (see :mod:`mlgate.lifecycle.external`); its
    metadata is kept in the version's params and its signature is checked against the data.
    """
    external = read_external_model(path, trust or [], allow_pickle)
    model = external.model
    require_classifier(external)
    _require_positive_class(external.source, model, gov.config.data.positive_label)

    dataset = latest_dataset(gov, "train")
    frame = load_dataset(gov, dataset)
    features = model_features(external, list(frame.columns), lambda: feature_columns(gov, frame))
    require_inputs(external, features, gov.config.data.target)
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"{external.source} expects column(s) {', '.join(missing)} that dataset 'train' lacks"
        )
    try:
        model.predict(frame[features].head(5))
    except Exception as exc:  # any estimator error means the model does not fit this data
        raise ValidationError(
            f"{external.source} cannot score the training data's features "
            f"({', '.join(features)}): {exc}"
        ) from exc
    require_round_trip(external, frame[features].head(5))

    origin = f"added from {external.source}"
    return register_model(gov, model, dataset, frame, features, {}, origin, external.params)


def register_model(
    gov: Governance,
    model: Any,
    dataset: DatasetVersion,
    frame: pd.DataFrame,
    features: list[str],
    metrics: dict[str, Any],
    origin: str,
    params: dict[str, Any] | None = None,
) -> ModelVersion:
    """Store ``model`` with skops and register it as the project's next version.

    ``params`` (such as an MLflow model's metadata) are kept beside the estimator's own.
    """
    content, trusted = dump_model(model)
    sha = gov.artifacts.put_bytes(content)
    step = model.steps[-1][1] if isinstance(model, Pipeline) else model
    classes = [_plain(c) for c in getattr(model, "classes_", [])]

    # The lock makes the version number read by next_model_version this transaction's alone.
    with gov.transaction(lock=True) as session:
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
            params={**_json_params(step), **(params or {})},
            metrics=metrics,
            dataset_version_id=dataset.id,
            code_version=_code_version(gov.workspace.root),
            packages=_packages(step),
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
        link_model_features(gov, session, version)
    logger.info("registered model version %d (sha256 %s, %s)", version.version, sha[:12], origin)
    record_training(gov, version, dataset, len(frame), origin)
    return version


def _require_positive_class(source: str, model: Any, positive_label: Any) -> None:
    """Refuse a model that never predicts the project's positive label.

    Its probability column for that label does not exist, so every score and every check
    reading the positive-class probability would silently read another class.
    """
    classes = list(getattr(model, "classes_", []))
    if classes and positive_label not in classes:
        raise ValidationError(
            f"{source} predicts the classes {classes}, which do not include the project's "
            f"positive label {positive_label!r}",
            hint="set data.positive_label in mlgate.yaml to the label of the favourable class",
        )


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


def load_stored_model(gov: Governance, version: ModelVersion) -> tuple[Any, bytes, ModelLoader]:
    """Return the model, its hash-checked artifact bytes and how another process loads them.

    The bytes and loader let a check score the stored model in a fresh Python process.
    """
    data = gov.artifacts.get_bytes(version.artifact_sha256)
    model = load_artifact(data, version.flavour, version.trusted_types)
    return model, data, artifact_loader(version.flavour, version.trusted_types)


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


def _packages(estimator: Any = None) -> dict[str, str]:
    """Return the versions of Python, mlgate's libraries and the estimator's own library."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"

    library = type(estimator).__module__.split(".")[0]
    if library in ESTIMATOR_LIBRARIES:
        module = importlib.import_module(library)
        versions[library] = str(getattr(module, "__version__", "unknown"))
    return versions
