"""Reading models trained elsewhere: skops files, pickles and MLflow model directories.

A model brought to mlgate is opened as safely as its format allows, then stored as skops:

- a ``.skops`` file is rebuilt with skops, trusting only the types it needs and only after the
  user accepted each of them with ``--trust``;
- a pickle (``.pkl``, ``.pickle``, ``.joblib``) runs code when it is opened, so it is opened only
  with ``--allow-pickle``;
- an MLflow model directory is read from its ``MLmodel`` file, parsed here as plain YAML so that
  mlflow need not be installed. The ``sklearn`` flavour in ``skops`` format follows the skops
  rules above (the file may not need types its ``MLmodel`` does not list); in ``cloudpickle`` or
  ``pickle`` format it follows the pickle rule. The ``lightgbm`` flavour holds a scikit-learn
  API estimator in one of those formats. The ``xgboost`` flavour holds a booster in XGBoost's
  own UBJSON or JSON, which XGBoost's parser reads into the class the ``MLmodel`` names, from
  a fixed list; no class named in a file is ever imported. A bare booster (``lightgbm.Booster``,
  ``xgboost.Booster``) has no classes and no ``predict_proba`` and is refused.

The ``MLmodel``'s flavour, MLflow version, model uuid, run id and signature inputs are kept, so
the registry records where the model came from; a signature is checked against the data.
"""

from __future__ import annotations

import io
import json
import logging
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio
import yaml
from sklearn.base import is_regressor
from sklearn.pipeline import Pipeline

from mlgate.artifacts.models import dump_model, main_types
from mlgate.errors import NotFoundError, ValidationError

logger = logging.getLogger(__name__)

MLMODEL = "MLmodel"
FLAVOURS = ("sklearn", "lightgbm", "xgboost")
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
PICKLE_FORMATS = ("cloudpickle", "pickle")
XGBOOST_CLASSES = {
    "xgboost.sklearn.XGBClassifier": "XGBClassifier",
    "xgboost.sklearn.XGBRegressor": "XGBRegressor",
    "xgboost.sklearn.XGBRFClassifier": "XGBRFClassifier",
    "xgboost.sklearn.XGBRFRegressor": "XGBRFRegressor",
}
XGBOOST_FORMATS = ("ubj", "json")
BOOSTERS = ("lightgbm.basic.Booster", "xgboost.core.Booster")
SAVE_WRAPPER_HINT = (
    "save the scikit-learn estimator (LGBMClassifier, XGBClassifier...) rather than its booster, "
    "e.g. mlflow.lightgbm.save_model(model, path) with the fitted LGBMClassifier"
)


@dataclass(frozen=True)
class ExternalModel:
    """A model read from outside mlgate, with where it came from.

    ``params`` holds the MLflow metadata under ``mlflow.*`` keys (empty for a plain file);
    ``signature`` the MLmodel's input columns, each with ``name``, ``type`` and ``required``,
    or ``None`` when the directory has no column signature.
    """

    model: Any
    source: str
    params: dict[str, Any] = field(default_factory=dict)
    signature: list[dict[str, Any]] | None = None


def read_external_model(path: Path, trust: Sequence[str], allow_pickle: bool) -> ExternalModel:
    """Open a model file or MLflow model directory at ``path`` as its format allows."""
    if path.is_dir():
        return read_mlflow_model(path, trust, allow_pickle)
    if not path.is_file():
        raise NotFoundError(f"model file {path} does not exist")

    if path.suffix == ".skops":
        return ExternalModel(read_skops(path, trust), path.name)
    if path.suffix in PICKLE_SUFFIXES:
        return ExternalModel(read_pickle(path, allow_pickle), path.name)
    raise ValidationError(
        f"{path.name}: unsupported model file '{path.suffix}'; expected .skops, .joblib or .pkl, "
        "or an MLflow model directory"
    )


def read_skops(path: Path, trust: Sequence[str], declared: Sequence[str] | None = None) -> Any:
    """Rebuild a skops file, trusting only the types it needs, each accepted in ``trust``.

    ``declared`` is the list an MLmodel gives under ``skops_trusted_types``: a file that needs a
    type outside it is not the file the MLmodel was written for.
    """
    data = path.read_bytes()
    _require_zip(path, data)
    try:
        needed = sorted(set(sio.get_untrusted_types(data=data)))
    except Exception as exc:  # skops raises zipfile and format errors of several types
        raise ValidationError(f"{path.name} is not a readable skops file: {exc}") from exc

    if declared is not None:
        undeclared = [t for t in needed if t not in declared]
        if undeclared:
            raise ValidationError(
                f"{path.name} does not match its MLmodel: it needs type(s) "
                f"{', '.join(undeclared)} that skops_trusted_types does not list "
                f"({', '.join(declared) or 'none'}); the file was replaced or the MLmodel edited"
            )
    untrusted = [t for t in needed if t not in trust]
    if untrusted:
        raise ValidationError(
            f"{path.name} needs types that skops does not trust by default: "
            f"{', '.join(untrusted)}",
            hint="inspect them, then repeat with --trust TYPE for each one you accept",
        )

    try:
        return sio.loads(data, trusted=needed)
    except Exception as exc:  # a damaged member of the archive surfaces as any error type
        raise ValidationError(f"{path.name} could not be rebuilt with skops: {exc}") from exc


def _require_zip(path: Path, data: bytes) -> None:
    """Refuse a ``.skops`` file that is empty or not the zip archive skops writes."""
    expected = "expected a skops file, a zip archive written by skops.io.dump"
    if not data:
        raise ValidationError(
            f"{path.name} is not a readable skops file: it is empty (0 bytes); {expected}"
        )
    if zipfile.is_zipfile(io.BytesIO(data)):
        return
    pickled = data[:1] == b"\x80"
    if pickled:
        found = "a pickle"
    elif data[:4] == b"PK\x03\x04":
        found = f"a truncated or damaged zip archive ({len(data)} bytes)"
    else:
        found = f"{len(data)} bytes of another format"
    raise ValidationError(
        f"{path.name} is not a readable skops file: it is not a zip archive (found {found}); "
        f"{expected}",
        hint="a pickle is added from a .pkl, .pickle or .joblib file with --allow-pickle"
        if pickled
        else None,
    )


def read_pickle(path: Path, allow_pickle: bool) -> Any:
    """Unpickle ``path``, only when the user said they made it (``--allow-pickle``)."""
    if not allow_pickle:
        raise ValidationError(
            f"{path.name} is a pickle, and loading a pickle runs any code inside it",
            hint="if you made this file yourself, repeat with --allow-pickle; mlgate converts "
            "it to skops so it is never unpickled again",
        )
    import joblib

    try:
        return joblib.load(path)
    except Exception as exc:  # a truncated or foreign file fails with any error type
        raise ValidationError(
            f"{path.name} is not a readable pickle: {type(exc).__name__}: {_first_line(exc)}"
        ) from exc


def read_mlflow_model(directory: Path, trust: Sequence[str], allow_pickle: bool) -> ExternalModel:
    """Open an MLflow model directory through its ``MLmodel`` file, without mlflow."""
    mlmodel = read_mlmodel(directory)
    flavour, conf = supported_flavour(directory, mlmodel)
    reader = READERS[flavour]
    model = reader(directory, conf, trust, allow_pickle)

    _require_predict(model, directory, flavour)
    signature = signature_inputs(directory, mlmodel)
    params = mlflow_params(flavour, mlmodel, signature)
    logger.info(
        "read MLflow model %s (flavour %s, model uuid %s)",
        directory.name,
        flavour,
        params.get("mlflow.model_uuid"),
    )
    return ExternalModel(model, f"MLflow model {directory.name} ({flavour})", params, signature)


def read_mlmodel(directory: Path) -> dict[str, Any]:
    """Return the ``MLmodel`` file of ``directory`` as a mapping with a ``flavors`` mapping."""
    path = directory / MLMODEL
    if not path.is_file():
        raise ValidationError(
            f"{directory} is a directory without an {MLMODEL} file; expected an MLflow model "
            "directory (an MLmodel file beside the model file) or a .skops, .joblib or .pkl file"
        )
    try:
        mlmodel = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ValidationError(
            f"{path} is not valid YAML: {_first_line(exc)}; expected the MLmodel file MLflow "
            "writes"
        ) from exc

    if not isinstance(mlmodel, dict) or not isinstance(mlmodel.get("flavors"), dict):
        found = type(mlmodel).__name__ if not isinstance(mlmodel, dict) else "no flavors"
        raise ValidationError(
            f"{path} has no 'flavors' mapping (found {found}); expected the MLmodel file "
            "MLflow writes"
        )
    return mlmodel


def supported_flavour(directory: Path, mlmodel: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Return the first flavour mlgate reads (sklearn, lightgbm, xgboost) and its settings."""
    flavours = mlmodel["flavors"]
    for name in FLAVOURS:
        if isinstance(flavours.get(name), dict):
            return name, flavours[name]

    found = ", ".join(str(f) for f in flavours) or "none"
    hint = None
    if set(flavours) <= {"python_function"}:
        hint = (
            "a python_function-only model wraps custom code that mlgate cannot inspect; log "
            "the estimator itself with mlflow.sklearn, mlflow.lightgbm or mlflow.xgboost"
        )
    raise ValidationError(
        f"{directory / MLMODEL} declares flavour(s) {found}; expected one of "
        f"{', '.join(FLAVOURS)}",
        hint=hint,
    )


def model_file(directory: Path, flavour: str, conf: dict[str, Any], key: str) -> Path:
    """Return the model file the flavour names under ``key``, which must lie in ``directory``."""
    name = conf.get(key)
    where = f"flavors.{flavour}.{key}"
    if not isinstance(name, str) or not name:
        raise ValidationError(
            f"{directory / MLMODEL}: {where} should name the model file; found {name!r}"
        )
    root = directory.resolve()
    path = (directory / name).resolve()
    if not path.is_relative_to(root):
        raise ValidationError(
            f"{directory / MLMODEL}: {where} '{name}' points outside the model directory; "
            "expected a file inside it"
        )
    if not path.is_file():
        raise ValidationError(
            f"{directory / MLMODEL} names the model file '{name}' ({where}), but {directory} "
            "has no such file"
        )
    return path


def _read_sklearn(
    directory: Path, conf: dict[str, Any], trust: Sequence[str], allow_pickle: bool
) -> Any:
    path = model_file(directory, "sklearn", conf, "pickled_model")
    return _read_serialised(path, "sklearn", conf, trust, allow_pickle)


def _read_lightgbm(
    directory: Path, conf: dict[str, Any], trust: Sequence[str], allow_pickle: bool
) -> Any:
    path = model_file(directory, "lightgbm", conf, "data")
    model_class = conf.get("model_class")
    if model_class in BOOSTERS or path.suffix == ".lgb":
        raise ValidationError(
            f"{directory.name} holds a bare LightGBM booster ({path.name}, model_class "
            f"{model_class}); expected a scikit-learn API estimator such as "
            "lightgbm.sklearn.LGBMClassifier, which has classes and predict_proba",
            hint=SAVE_WRAPPER_HINT,
        )

    model = _read_serialised(path, "lightgbm", conf, trust, allow_pickle)
    if model_class is not None and _class_name(model) != model_class:
        raise ValidationError(
            f"{path.name} does not match its MLmodel: flavors.lightgbm.model_class is "
            f"{model_class}, but the file holds a {_class_name(model)}"
        )
    return model


def _read_serialised(
    path: Path, flavour: str, conf: dict[str, Any], trust: Sequence[str], allow_pickle: bool
) -> Any:
    """Read a scikit-learn API model saved by MLflow with skops, cloudpickle or pickle."""
    fmt = conf.get("serialization_format") or "cloudpickle"
    if fmt == "skops":
        return read_skops(path, trust, declared=list(conf.get("skops_trusted_types") or []))
    if fmt in PICKLE_FORMATS:
        return read_pickle(path, allow_pickle)
    raise ValidationError(
        f"{path.parent / MLMODEL}: flavors.{flavour}.serialization_format is '{fmt}'; "
        f"expected skops, {' or '.join(PICKLE_FORMATS)}"
    )


def _read_xgboost(
    directory: Path, conf: dict[str, Any], trust: Sequence[str], allow_pickle: bool
) -> Any:
    path = model_file(directory, "xgboost", conf, "data")
    model_class = conf.get("model_class", "xgboost.core.Booster")
    if model_class not in XGBOOST_CLASSES:
        hint = SAVE_WRAPPER_HINT if model_class in BOOSTERS else None
        raise ValidationError(
            f"{directory / MLMODEL}: flavors.xgboost.model_class is {model_class}; expected one "
            f"of {', '.join(XGBOOST_CLASSES)}",
            hint=hint,
        )
    fmt = conf.get("model_format") or path.suffix.lstrip(".")
    if fmt not in XGBOOST_FORMATS:
        raise ValidationError(
            f"{directory / MLMODEL}: flavors.xgboost.model_format is '{fmt}'; expected "
            f"{' or '.join(XGBOOST_FORMATS)}",
            hint="save it again with mlflow.xgboost.save_model(model, path, model_format='ubj')",
        )

    data = path.read_bytes()
    _require_xgboost_format(path, data, fmt)
    return _load_xgboost(path, data, XGBOOST_CLASSES[model_class])


def _require_xgboost_format(path: Path, data: bytes, fmt: str) -> None:
    """Refuse a file whose content is not the format the MLmodel says it is."""
    is_json = True
    try:
        json.loads(data)
    except ValueError:
        is_json = False
    if fmt == "json" and not is_json:
        raise ValidationError(
            f"{path.name} does not match its MLmodel: model_format is json, but the file is not "
            "valid JSON (truncated, damaged or another format)"
        )
    if fmt == "ubj" and is_json:
        raise ValidationError(
            f"{path.name} does not match its MLmodel: model_format is ubj, but the file is JSON "
            "text"
        )


def _load_xgboost(path: Path, data: bytes, class_name: str) -> Any:
    try:
        import xgboost
    except ImportError as exc:
        raise ValidationError(
            f"{path.name} is an XGBoost model, and the xgboost package is not installed",
            hint="install it (pip install xgboost-cpu) and add the model again",
        ) from exc

    model = getattr(xgboost, class_name)()
    try:
        model.load_model(bytearray(data))
    except (xgboost.core.XGBoostError, ValueError) as exc:  # its message may not even decode
        raise ValidationError(
            f"{path.name} is not a readable XGBoost model (truncated or damaged): "
            f"{type(exc).__name__}: {_first_line(exc)}"
        ) from exc
    return model


READERS: dict[str, Callable[[Path, dict[str, Any], Sequence[str], bool], Any]] = {
    "sklearn": _read_sklearn,
    "lightgbm": _read_lightgbm,
    "xgboost": _read_xgboost,
}


def _require_predict(model: Any, directory: Path, flavour: str) -> None:
    if not callable(getattr(model, "predict", None)):
        raise ValidationError(
            f"the {flavour} model in {directory.name} is a {_class_name(model)} without a "
            "predict method; expected a fitted scikit-learn compatible estimator or pipeline"
        )


def signature_inputs(directory: Path, mlmodel: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Return the MLmodel signature's input columns, or ``None`` without a column signature.

    MLflow writes ``signature.inputs`` as a JSON string of column specs; a tensor signature has
    no column names and is recorded but not checked against the data.
    """
    signature = mlmodel.get("signature")
    raw = signature.get("inputs") if isinstance(signature, dict) else None
    if raw is None:
        return None
    try:
        inputs = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise ValidationError(
            f"{directory / MLMODEL}: signature.inputs is not valid JSON: {exc}"
        ) from exc
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise ValidationError(
            f"{directory / MLMODEL}: signature.inputs should be a list of column specs; found "
            f"{type(inputs).__name__}"
        )

    if not all(isinstance(i.get("name"), str) for i in inputs):
        return None
    return [
        {"name": i["name"], "type": str(i.get("type")), "required": i.get("required", True)}
        for i in inputs
    ]


def mlflow_params(
    flavour: str, mlmodel: dict[str, Any], signature: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """Return the MLflow metadata to keep with the model version, under ``mlflow.*`` keys."""
    params: dict[str, Any] = {
        "mlflow.flavour": flavour,
        "mlflow.mlflow_version": _text(mlmodel.get("mlflow_version")),
        "mlflow.model_uuid": _text(mlmodel.get("model_uuid")),
    }
    if mlmodel.get("run_id"):
        params["mlflow.run_id"] = _text(mlmodel["run_id"])
    if signature is not None:
        params["mlflow.signature_inputs"] = [f"{c['name']}:{c['type']}" for c in signature]
    return params


def model_features(
    external: ExternalModel, columns: Sequence[str], default: Callable[[], list[str]]
) -> list[str]:
    """Return the columns the model scores, after checking its MLmodel signature against them.

    The columns the model was fitted on come first; then the signature's; then ``default``.
    A required signature column that ``columns`` lacks, or a signature that names other columns
    than the model was fitted on, is refused.
    """
    fitted = getattr(external.model, "feature_names_in_", None)
    fitted = [str(c) for c in fitted] if fitted is not None else None
    if external.signature is None:
        return fitted if fitted is not None else default()

    named = [c["name"] for c in external.signature]
    absent = [c["name"] for c in external.signature if c["required"] and c["name"] not in columns]
    if absent:
        raise ValidationError(
            f"{external.source}: the MLmodel signature expects column(s) {', '.join(absent)} "
            "that dataset 'train' lacks"
        )
    if fitted is not None and set(fitted) != set(named):
        only_model = sorted(set(fitted) - set(named))
        only_signature = sorted(set(named) - set(fitted))
        raise ValidationError(
            f"{external.source}: the MLmodel signature and the model disagree: the model was "
            f"fitted on {', '.join(only_model) or 'no other column'} beyond the signature, which "
            f"lists {', '.join(only_signature) or 'no other column'} beyond the model"
        )
    return fitted if fitted is not None else [c for c in named if c in columns]


def require_classifier(external: ExternalModel) -> None:
    """Refuse a model that is not a fitted classifier: mlgate governs classification models.

    A classifier has ``classes_`` once fitted (a pipeline takes them from its last step); a
    regressor such as ``LinearRegression`` has none, and its outputs are no labels to check.
    """
    model = external.model
    step = model.steps[-1][1] if isinstance(model, Pipeline) else model
    try:
        classes = getattr(model, "classes_", None)
    except Exception:  # a broken property is as good as none
        classes = None
    try:
        regressor = is_regressor(model)
    except Exception:  # an object outside scikit-learn's estimator API has no tags
        regressor = False
    if classes is None or regressor:
        found = "a regressor" if regressor else "no classes_ after fitting"
        raise ValidationError(
            f"{external.source} holds a {_class_name(step)}, which is not a classifier ({found}); "
            "expected a fitted classifier with classes_ and predict_proba, such as "
            "LogisticRegression or LGBMClassifier"
        )


def require_inputs(external: ExternalModel, features: Sequence[str], target: str) -> None:
    """Refuse a model whose input columns include the target it is meant to predict."""
    if target in features:
        raise ValidationError(
            f"{external.source} takes the target column '{target}' among its input columns "
            f"({', '.join(features)}); expected the features only, since new data to score "
            "has no label",
            hint=f"fit the model again without '{target}' in its inputs",
        )


def require_round_trip(external: ExternalModel, rows: Any) -> None:
    """Store the model as skops, load that copy back and check it predicts ``rows`` the same.

    A model that cannot come back from its stored form (a lambda, a function defined in the
    training script's ``__main__``) would be registered and then fail every later load.
    """
    model = external.model
    content, trusted = dump_model(model)
    stuck = main_types(trusted)
    if stuck:
        raise ValidationError(
            f"{external.source} cannot be stored: it holds {', '.join(stuck)}, a lambda or a "
            "function defined in the script that trained it (__main__); skops stores functions "
            "by module and name, and no other program can import those. Expected only "
            "functions from importable modules",
            hint="replace it with a function from an importable module or a scikit-learn "
            "transformer, fit and save the model again, then add it",
        )
    try:
        copy = sio.loads(content, trusted=trusted)
        reloaded = np.asarray(copy.predict(rows))
    except Exception as exc:  # whatever fails to come back fails with any error type
        raise ValidationError(
            f"{external.source} cannot be loaded back from the skops copy mlgate would store "
            f"({type(exc).__name__}: {_first_line(exc)}); expected a model that skops can save "
            "and rebuild, so nothing was registered"
        ) from exc
    if not np.array_equal(reloaded, np.asarray(model.predict(rows))):
        raise ValidationError(
            f"{external.source}: the skops copy mlgate would store predicts other labels than "
            f"the model on {len(rows)} training row(s); expected identical predictions, so "
            "nothing was registered"
        )


def _class_name(model: Any) -> str:
    return f"{type(model).__module__}.{type(model).__qualname__}"


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


_LIBRARY_PREFIX = re.compile(r"^\[[0-9:]+\] [^:]+:\d+: ")


def _first_line(exc: BaseException) -> str:
    """Return the first line of an error, without a native library's time and source prefix."""
    lines = str(exc).strip().splitlines()
    return _LIBRARY_PREFIX.sub("", lines[0]) if lines else type(exc).__name__
