"""The pipeline mlgate trains: preprocessing in front of the configured estimator.

By default numeric columns are imputed with the median and standardised, the others imputed
with the most frequent value and one-hot encoded; ``training.preprocessing`` in mlgate.yaml
chooses other imputers, scalers and encoders (:func:`numeric_steps`, :func:`encoder_step`).
The estimator is named by a dotted class path, so any scikit-learn compatible class works,
LightGBM's ``LGBMClassifier`` and XGBoost's ``XGBClassifier`` included. A
:class:`PipelineSpec` holds only plain data, so it can be handed to another process, which
builds the same pipeline from it.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sklearn.base import is_classifier
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)

from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

# Parameters that silence a library's own console output, set only when the user did not.
# LightGBM takes ``verbose`` through its keyword arguments, so get_params does not list it.
QUIET_PARAMS: dict[str, dict[str, Any]] = {
    "lightgbm": {"verbose": -1},
    "xgboost": {"verbosity": 0},
}


def import_estimator(path: str, field_name: str) -> type:
    """Return the estimator class at dotted ``path``; ``field_name`` names the setting."""
    module_name, _, class_name = path.rpartition(".")
    if not module_name or path.startswith(".") or not class_name:
        raise ValidationError(
            f"mlgate.yaml {field_name} '{path}' is not a dotted absolute class path; expected "
            "one such as sklearn.linear_model.LogisticRegression"
        )
    try:
        estimator_class = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError, TypeError) as exc:
        raise ValidationError(
            f"mlgate.yaml {field_name} '{path}' cannot be imported: {exc}",
            hint="use a dotted class path such as sklearn.linear_model.LogisticRegression",
        ) from exc

    if not isinstance(estimator_class, type):
        raise ValidationError(
            f"mlgate.yaml {field_name} '{path}' is not a class; "
            "expected an estimator class such as sklearn.linear_model.LogisticRegression"
        )
    return estimator_class


def require_classifier(estimator_class: type, field_name: str) -> None:
    """Refuse an estimator that is not a classifier: mlgate governs classification models."""
    try:
        classifier = is_classifier(estimator_class())
    except Exception as exc:  # a class that cannot be built without arguments is no estimator
        raise ValidationError(
            f"mlgate.yaml {field_name} '{_class_path(estimator_class)}' cannot be built with "
            f"its defaults ({exc}); expected a scikit-learn compatible classifier"
        ) from exc
    if not classifier:
        raise ValidationError(
            f"mlgate.yaml {field_name} '{_class_path(estimator_class)}' is not a classifier; "
            "mlgate trains classifiers, such as sklearn.linear_model.LogisticRegression"
        )


def _class_path(estimator_class: type) -> str:
    return f"{estimator_class.__module__}.{estimator_class.__name__}"


def estimator_params(estimator_class: type) -> dict[str, Any]:
    """Return the parameters ``estimator_class`` takes, with their defaults."""
    try:
        return dict(estimator_class().get_params())
    except Exception as exc:  # a class that is no estimator fails in its own way
        raise ValidationError(
            f"{estimator_class.__module__}.{estimator_class.__name__} is not a scikit-learn "
            f"compatible estimator (its get_params failed: {exc})"
        ) from exc


def default_params(estimator_class: type, seed: int) -> dict[str, Any]:
    """Return the parameters mlgate sets unless the user did: the seed, and quietness."""
    known = estimator_params(estimator_class)
    defaults: dict[str, Any] = {}
    if "random_state" in known:
        defaults["random_state"] = seed
    library = estimator_class.__module__.partition(".")[0]
    defaults.update(QUIET_PARAMS.get(library, {}))
    return defaults


NUMERIC_SCALERS: dict[str, type | None] = {
    "standard": StandardScaler,
    "robust": RobustScaler,
    "minmax": MinMaxScaler,
    "none": None,
}


def numeric_steps(preprocessing: Mapping[str, Any]) -> Pipeline:
    """Return the imputer and scaler for numeric columns that ``preprocessing`` names."""
    impute = preprocessing.get("numeric_impute", "median")
    scaler = NUMERIC_SCALERS[preprocessing.get("numeric_scale", "standard")]
    steps: list[Any] = [SimpleImputer(strategy=impute)]
    if scaler is not None:
        steps.append(scaler())
    return make_pipeline(*steps)


def encoder_step(preprocessing: Mapping[str, Any]) -> Pipeline:
    """Return the imputer and encoder for the other columns that ``preprocessing`` names.

    A level seen in training below ``min_category_share`` of the rows, or never seen, is
    grouped as infrequent (one-hot) or coded -1 (ordinal), so scoring never fails on it.
    """
    impute = preprocessing.get("categorical_impute", "most_frequent")
    imputer = (
        SimpleImputer(strategy="constant", fill_value="missing")
        if impute == "constant"
        else SimpleImputer(strategy="most_frequent")
    )
    share = preprocessing.get("min_category_share")
    if preprocessing.get("categorical_encode", "onehot") == "ordinal":
        encoder: Any = OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=-1, min_frequency=share
        )
    else:
        encoder = OneHotEncoder(
            handle_unknown="infrequent_if_exist" if share else "ignore",
            min_frequency=share,
            sparse_output=False,
        )
    return make_pipeline(imputer, encoder)


@dataclass(frozen=True)
class PipelineSpec:
    """What is needed to build one unfitted training pipeline.

    ``where`` is the mlgate.yaml section the estimator comes from (``training`` or
    ``training.candidates[1]``), so that errors name the setting to fix.
    """

    estimator: str
    params: Mapping[str, Any]
    seed: int
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    where: str = "training"
    preprocessing: Mapping[str, Any] = field(default_factory=dict)

    @property
    def estimator_class(self) -> type:
        """The estimator class, imported; it must be a classifier."""
        field_name = f"{self.where}.estimator"
        estimator_class = import_estimator(self.estimator, field_name)
        require_classifier(estimator_class, field_name)
        return estimator_class

    def build(self, overrides: Mapping[str, Any] | None = None) -> Pipeline:
        """Return the unfitted pipeline, with ``overrides`` (searched values) over the params."""
        estimator_class = self.estimator_class
        params = {**default_params(estimator_class, self.seed), **self.params, **(overrides or {})}
        try:
            estimator = estimator_class(**params)
        except TypeError as exc:
            what = "the searched parameters" if overrides else f"mlgate.yaml {self.where}.params"
            raise ValidationError(f"{what} do not fit {self.estimator}: {exc}") from exc

        logger.debug("built %s with %s", self.estimator, params)
        return Pipeline([("encode", self._encoder()), ("model", estimator)])

    def _encoder(self) -> ColumnTransformer:
        return ColumnTransformer(
            [
                ("numeric", numeric_steps(self.preprocessing), list(self.numeric)),
                ("categorical", encoder_step(self.preprocessing), list(self.categorical)),
            ]
        )
