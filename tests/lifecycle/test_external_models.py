"""Models trained elsewhere: MLflow model directories (sklearn, LightGBM, XGBoost) and bad input.

Each directory is written by MLflow itself, added with ``mlgate model add`` and must then
predict exactly what the original model predicts on the German credit rows.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import joblib
import mlflow
import mlflow.lightgbm
import mlflow.sklearn
import mlflow.xgboost
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import yaml
from lightgbm import LGBMClassifier
from mlflow.models import infer_signature
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from xgboost import XGBClassifier

from mlgate.config import parse_config
from mlgate.demo.data import load_german_credit
from mlgate.errors import ValidationError
from mlgate.lifecycle.models import add_model, get_model_version, load_model_version
from mlgate.lifecycle.project import init_project
from mlgate.lifecycle.service import Governance

LGBM_TYPES = [
    "collections.OrderedDict",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
]
XGB_TYPES = ["xgboost.core.Booster", "xgboost.sklearn.XGBClassifier"]
REQUIREMENTS = {"pip_requirements": ["scikit-learn"]}  # skips MLflow's slow requirement probe

pytestmark = pytest.mark.filterwarnings("ignore:Hint. Inferred schema contains integer")


@pytest.fixture(scope="module")
def german() -> pd.DataFrame:
    return load_german_credit()


@pytest.fixture(scope="module")
def features(german: pd.DataFrame) -> pd.DataFrame:
    return german.drop(columns=["good_credit", "sex", "age_group"])


@pytest.fixture(scope="module")
def numeric(features: pd.DataFrame) -> pd.DataFrame:
    return features.select_dtypes("number")


@pytest.fixture(scope="module")
def models(german: pd.DataFrame, features: pd.DataFrame, numeric: pd.DataFrame) -> dict:
    """The originals: a scikit-learn pipeline on every feature, LightGBM and XGBoost on numbers."""
    y = german["good_credit"]
    categorical = [c for c in features.columns if c not in numeric.columns]
    encode = ColumnTransformer(
        [
            ("numeric", StandardScaler(), list(numeric.columns)),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )
    pipeline = Pipeline([("encode", encode), ("model", LogisticRegression(max_iter=1000))])
    return {
        "sklearn": pipeline.fit(features, y),
        "lightgbm": LGBMClassifier(n_estimators=30, n_jobs=1, verbose=-1).fit(numeric, y),
        "xgboost": XGBClassifier(n_estimators=30, max_depth=3, n_jobs=1).fit(numeric, y),
    }


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, models: dict, features, numeric) -> dict:
    """MLflow model directories, written once for the module; tests copy what they alter."""
    root = tmp_path_factory.mktemp("mlflow")
    signature = infer_signature(features, models["sklearn"].predict(features))
    paths = {name: root / name for name in ("sk_skops", "sk_pickle", "lgb_skops", "lgb_pickle")}
    mlflow.sklearn.save_model(
        models["sklearn"],
        paths["sk_skops"],
        serialization_format="skops",
        signature=signature,
        **REQUIREMENTS,
    )
    mlflow.sklearn.save_model(
        models["sklearn"], paths["sk_pickle"], serialization_format="cloudpickle", **REQUIREMENTS
    )
    mlflow.lightgbm.save_model(models["lightgbm"], paths["lgb_skops"], **REQUIREMENTS)
    mlflow.lightgbm.save_model(
        models["lightgbm"], paths["lgb_pickle"], serialization_format="cloudpickle", **REQUIREMENTS
    )
    for fmt in ("ubj", "json"):
        paths[f"xgb_{fmt}"] = root / f"xgb_{fmt}"
        mlflow.xgboost.save_model(
            models["xgboost"], paths[f"xgb_{fmt}"], model_format=fmt, **REQUIREMENTS
        )
    paths["lgb_booster"] = root / "lgb_booster"
    mlflow.lightgbm.save_model(models["lightgbm"].booster_, paths["lgb_booster"], **REQUIREMENTS)
    return paths


def _credit_workspace(root: Path, german: pd.DataFrame) -> Path:
    """Create a low-risk workspace whose dataset 'train' is the German credit data."""
    root.mkdir()
    german.to_csv(root / "train.csv", index=False)
    config = parse_config(
        {
            "project": "credit",
            "tier": "low",
            "owner": "alice",
            "data": {
                "target": "good_credit",
                "sensitive": ["sex", "age_group"],
                "exclude": ["sex", "age_group"],
            },
        },
        "the test",
    )
    init_project(root, config, None, root / "train.csv")
    return root


@pytest.fixture
def credit(tmp_path: Path, german: pd.DataFrame) -> Path:
    """A fresh German credit workspace, for tests that register a model."""
    return _credit_workspace(tmp_path / "credit", german)


@pytest.fixture(scope="module")
def refusing(tmp_path_factory: pytest.TempPathFactory, german: pd.DataFrame) -> Path:
    """One German credit workspace shared by the tests of refused input (none registers)."""
    return _credit_workspace(tmp_path_factory.mktemp("refusing") / "credit", german)


def _copy(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / source.name
    shutil.copytree(source, target)
    return target


def _edit_mlmodel(directory: Path, change: Any) -> None:
    path = directory / "MLmodel"
    content = yaml.safe_load(path.read_text())
    change(content)
    path.write_text(yaml.safe_dump(content))


def _registered(root: Path) -> tuple[Any, Any]:
    gov = Governance.open(root, actor="alice")
    version = get_model_version(gov)
    return version, load_model_version(gov, version)


def _add(root: Path, directory: Path, trust: list[str] | None = None, pickle: bool = False):
    return add_model(Governance.open(root, actor="alice"), directory, trust, pickle)


# --- directories MLflow wrote ---------------------------------------------------------------


def test_sklearn_skops_directory_predicts_like_the_original(cli, credit, saved, models, german):
    directory = saved["sk_skops"]
    mlmodel = yaml.safe_load((directory / "MLmodel").read_text())

    result = cli("model", "add", str(directory), cwd=credit)
    version, model = _registered(credit)

    assert result.code == 0, result.text
    assert "Registered model version 1 from MLflow sklearn model" in result.out
    assert version.flavour == "sklearn-skops"
    assert version.estimator == "sklearn.linear_model._logistic.LogisticRegression"
    assert version.params["mlflow.flavour"] == "sklearn"
    assert version.params["mlflow.mlflow_version"] == mlflow.__version__
    assert version.params["mlflow.model_uuid"] == mlmodel["model_uuid"]
    assert "mlflow.run_id" not in version.params
    assert version.params["mlflow.signature_inputs"][:2] == ["status:string", "duration:long"]
    assert [c["name"] for c in version.signature] == list(models["sklearn"].feature_names_in_)
    original = models["sklearn"]
    assert np.array_equal(model.predict_proba(german), original.predict_proba(german))
    assert np.array_equal(model.predict(german), original.predict(german))


@pytest.mark.parametrize(
    ("name", "original"), [("sk_pickle", "sklearn"), ("lgb_pickle", "lightgbm")]
)
def test_pickled_directory_needs_allow_pickle_and_is_stored_as_skops(
    cli, credit, saved, models, german, name, original
):
    refused = cli("model", "add", str(saved[name]), cwd=credit)
    added = cli("model", "add", str(saved[name]), "--allow-pickle", cwd=credit)
    version, model = _registered(credit)
    gov = Governance.open(credit, actor="alice")
    stored = gov.artifacts.get_bytes(version.artifact_sha256)

    assert refused.code == 2
    assert "model.pkl is a pickle, and loading a pickle runs any code inside it" in refused.err
    assert "Traceback" not in refused.text
    assert added.code == 0, added.text
    assert version.flavour == "sklearn-skops"
    assert version.trusted_types == sorted(sio.get_untrusted_types(data=stored))
    x = german[list(models[original].feature_names_in_)]
    assert np.array_equal(model.predict_proba(x), models[original].predict_proba(x))


def test_lightgbm_skops_directory_needs_each_type_trusted(cli, credit, saved, models, numeric):
    directory = str(saved["lgb_skops"])

    refused = cli("model", "add", directory, cwd=credit)
    trust = [arg for t in LGBM_TYPES for arg in ("--trust", t)]
    added = cli("model", "add", directory, *trust, cwd=credit)
    version, model = _registered(credit)

    assert refused.code == 2
    assert f"needs types that skops does not trust by default: {', '.join(LGBM_TYPES)}" in (
        refused.err
    )
    assert "--trust TYPE" in refused.err
    assert added.code == 0, added.text
    assert version.estimator == "lightgbm.sklearn.LGBMClassifier"
    assert version.trusted_types == LGBM_TYPES
    assert version.params["mlflow.flavour"] == "lightgbm"
    assert "lightgbm" in version.packages
    assert np.array_equal(model.predict_proba(numeric), models["lightgbm"].predict_proba(numeric))


@pytest.mark.parametrize("fmt", ["ubj", "json"])
def test_xgboost_directory_predicts_like_the_original(cli, credit, saved, models, numeric, fmt):
    result = cli("model", "add", str(saved[f"xgb_{fmt}"]), cwd=credit)
    version, model = _registered(credit)

    assert result.code == 0, result.text
    assert version.estimator == "xgboost.sklearn.XGBClassifier"
    assert version.trusted_types == XGB_TYPES
    assert version.params["mlflow.flavour"] == "xgboost"
    assert [c["name"] for c in version.signature] == list(numeric.columns)
    assert np.array_equal(model.predict_proba(numeric), models["xgboost"].predict_proba(numeric))
    assert np.array_equal(model.predict(numeric), models["xgboost"].predict(numeric))


def test_logged_model_keeps_its_run_id(tmp_path, monkeypatch, credit, models, numeric):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "runs").as_uri())
    model = LogisticRegression().fit(numeric / numeric.max(), load_german_credit()["good_credit"])
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            model, name="model", serialization_format="skops", **REQUIREMENTS
        )
    directory = Path(mlflow.artifacts.download_artifacts(info.model_uri, dst_path=tmp_path))

    version = _add(credit, directory)

    assert version.params["mlflow.run_id"] == run.info.run_id
    assert version.params["mlflow.model_uuid"] == info.model_uuid


# --- bad input ------------------------------------------------------------------------------


def _mlmodel_only(directory: Path, flavours: dict) -> Path:
    directory.mkdir()
    (directory / "MLmodel").write_text(yaml.safe_dump({"flavors": flavours}))
    return directory


def test_pyfunc_only_directory_is_refused_with_a_hint(refusing, tmp_path):
    directory = _mlmodel_only(
        tmp_path / "custom", {"python_function": {"loader_module": "my_package.loader"}}
    )

    with pytest.raises(
        ValidationError,
        match=r"declares flavour\(s\) python_function; expected one of sklearn, lightgbm, xgboost",
    ) as refused:
        _add(refusing, directory)
    assert "python_function-only model wraps custom code" in refused.value.hint


def test_unknown_flavour_is_refused_by_name(refusing, tmp_path):
    directory = _mlmodel_only(tmp_path / "net", {"keras": {"data": "model.keras"}})

    with pytest.raises(ValidationError, match=r"declares flavour\(s\) keras; expected one of"):
        _add(refusing, directory)


def test_directory_without_mlmodel_is_refused(cli, refusing, tmp_path):
    (tmp_path / "empty").mkdir()

    result = cli("model", "add", str(tmp_path / "empty"), cwd=refusing)

    assert result.code == 2
    assert "is a directory without an MLmodel file; expected an MLflow model directory" in (
        result.err
    )


def test_missing_model_file_is_named(refusing, saved, tmp_path):
    directory = _copy(saved["sk_skops"], tmp_path)
    (directory / "model.skops").unlink()

    with pytest.raises(
        ValidationError,
        match=r"names the model file 'model.skops' \(flavors.sklearn.pickled_model\), but .* "
        "has no such file",
    ):
        _add(refusing, directory)


def test_lightgbm_flavour_holding_another_model_is_refused(refusing, saved, tmp_path, numeric):
    directory = _copy(saved["lgb_skops"], tmp_path)
    other = LogisticRegression().fit(numeric / numeric.max(), np.arange(len(numeric)) % 2)
    sio.dump(other, directory / "model.skops")

    with pytest.raises(
        ValidationError,
        match="does not match its MLmodel: flavors.lightgbm.model_class is "
        "lightgbm.sklearn.LGBMClassifier, but the file holds a "
        "sklearn.linear_model._logistic.LogisticRegression",
    ):
        _add(refusing, directory, trust=LGBM_TYPES)


def test_skops_flavour_holding_a_pickle_is_refused(refusing, saved, tmp_path, models):
    directory = _copy(saved["sk_skops"], tmp_path)
    joblib.dump(models["sklearn"], directory / "model.skops")

    with pytest.raises(ValidationError, match="model.skops is not a readable skops file"):
        _add(refusing, directory)


def test_skops_file_needing_types_its_mlmodel_does_not_list_is_refused(
    refusing, saved, tmp_path, numeric
):
    directory = _copy(saved["sk_skops"], tmp_path)
    swapped = HistGradientBoostingClassifier(max_iter=3).fit(numeric, np.arange(1000) % 2)
    sio.dump(swapped, directory / "model.skops")
    needed = sio.get_untrusted_types(file=directory / "model.skops")

    with pytest.raises(
        ValidationError,
        match=r"model.skops does not match its MLmodel: it needs type\(s\) "
        rf"{needed[0]} that skops_trusted_types does not list \(none\)",
    ):
        _add(refusing, directory, trust=needed)


def test_xgboost_json_flavour_holding_ubjson_is_refused(refusing, saved, tmp_path):
    directory = _copy(saved["xgb_json"], tmp_path)
    shutil.copy(saved["xgb_ubj"] / "model.ubj", directory / "model.json")

    with pytest.raises(
        ValidationError, match="model.json does not match its MLmodel: model_format is json"
    ):
        _add(refusing, directory)


def test_truncated_xgboost_file_gives_a_clear_error_not_a_traceback(
    cli, refusing, saved, tmp_path
):
    directory = _copy(saved["xgb_ubj"], tmp_path)
    content = (directory / "model.ubj").read_bytes()
    (directory / "model.ubj").write_bytes(content[: len(content) // 2])

    result = cli("model", "add", str(directory), cwd=refusing)

    assert result.code == 2
    assert "model.ubj is not a readable XGBoost model (truncated or damaged)" in result.err
    assert "Traceback" not in result.text
    assert "Stack trace" not in result.text


def test_truncated_skops_file_is_refused(refusing, saved, tmp_path):
    directory = _copy(saved["lgb_skops"], tmp_path)
    content = (directory / "model.skops").read_bytes()
    (directory / "model.skops").write_bytes(content[: len(content) // 2])

    with pytest.raises(ValidationError, match="model.skops is not a readable skops file"):
        _add(refusing, directory, trust=LGBM_TYPES)


def test_garbled_pickle_is_refused_even_when_allowed(refusing, saved, tmp_path):
    directory = _copy(saved["sk_pickle"], tmp_path)
    (directory / "model.pkl").write_bytes(b"\x80\x05garbled")

    with pytest.raises(ValidationError, match="model.pkl is not a readable pickle: "):
        _add(refusing, directory, pickle=True)


def test_garbled_mlmodel_is_refused(cli, refusing, saved, tmp_path):
    directory = _copy(saved["sk_skops"], tmp_path)
    (directory / "MLmodel").write_text("flavors: [sklearn\n  pickled_model: model.skops\n")

    result = cli("model", "add", str(directory), cwd=refusing)

    assert result.code == 2
    assert "MLmodel is not valid YAML" in result.err
    assert "Traceback" not in result.text


def test_signature_column_missing_from_the_data_is_named(refusing, tmp_path, numeric):
    x = numeric.assign(branch_code=np.arange(len(numeric)) % 7)
    model = LogisticRegression().fit(x / x.max(), np.arange(len(x)) % 2)
    directory = tmp_path / "branch"
    mlflow.sklearn.save_model(
        model,
        directory,
        serialization_format="skops",
        signature=infer_signature(x, model.predict(x)),
        **REQUIREMENTS,
    )

    with pytest.raises(
        ValidationError,
        match=r"the MLmodel signature expects column\(s\) branch_code that dataset 'train' lacks",
    ):
        _add(refusing, directory)


def test_signature_that_disagrees_with_the_model_is_refused(refusing, saved, tmp_path, numeric):
    directory = _copy(saved["xgb_ubj"], tmp_path)
    signature = infer_signature(numeric.drop(columns=["age"]))
    _edit_mlmodel(directory, lambda c: c.update(signature=signature.to_dict()))

    with pytest.raises(
        ValidationError,
        match="the MLmodel signature and the model disagree: the model was fitted on age beyond",
    ):
        _add(refusing, directory)


def test_bare_lightgbm_booster_is_refused_with_a_hint(refusing, saved):
    with pytest.raises(
        ValidationError,
        match=r"holds a bare LightGBM booster \(model.lgb, model_class lightgbm.basic.Booster\)",
    ) as refused:
        _add(refusing, saved["lgb_booster"])
    assert "save the scikit-learn estimator" in refused.value.hint


def test_model_file_outside_the_directory_is_refused(refusing, saved, tmp_path):
    directory = _copy(saved["xgb_ubj"], tmp_path)
    shutil.copy(directory / "model.ubj", tmp_path / "outside.ubj")
    _edit_mlmodel(directory, lambda c: c["flavors"]["xgboost"].update(data="../outside.ubj"))

    with pytest.raises(ValidationError, match="'../outside.ubj' points outside the model"):
        _add(refusing, directory)


def test_xgboost_class_outside_the_allowed_list_is_never_imported(refusing, saved, tmp_path):
    directory = _copy(saved["xgb_ubj"], tmp_path)
    _edit_mlmodel(directory, lambda c: c["flavors"]["xgboost"].update(model_class="os.system"))

    with pytest.raises(
        ValidationError,
        match="flavors.xgboost.model_class is os.system; expected one of "
        "xgboost.sklearn.XGBClassifier",
    ):
        _add(refusing, directory)
