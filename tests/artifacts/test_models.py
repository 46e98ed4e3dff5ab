"""Persisting LightGBM and XGBoost models with skops: exact types trusted, identical scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from lightgbm import LGBMClassifier
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from xgboost import XGBClassifier

from mlgate.artifacts.models import (
    FLAVOUR_SKOPS,
    LOADER,
    artifact_loader,
    dump_model,
    load_artifact,
    load_model,
)
from mlgate.demo.data import load_german_credit
from mlgate.errors import IntegrityError, ValidationError

LGBM_TYPES = [
    "collections.OrderedDict",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
]
XGB_TYPES = ["xgboost.core.Booster", "xgboost.sklearn.XGBClassifier"]


@pytest.fixture(scope="module")
def german() -> tuple[pd.DataFrame, pd.Series]:
    frame = load_german_credit()
    return frame.drop(columns=["good_credit", "sex", "age_group"]), frame["good_credit"]


def _pipeline(x: pd.DataFrame, estimator: object) -> Pipeline:
    numeric = x.select_dtypes("number").columns.tolist()
    categorical = [c for c in x.columns if c not in numeric]
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


def _lgbm() -> LGBMClassifier:
    return LGBMClassifier(n_estimators=30, num_leaves=15, n_jobs=1, verbose=-1, random_state=0)


def _xgb() -> XGBClassifier:
    return XGBClassifier(n_estimators=30, max_depth=3, n_jobs=1, random_state=0)


@pytest.mark.parametrize(
    ("make", "types"),
    [(_lgbm, [*LGBM_TYPES, "numpy.dtype"]), (_xgb, ["numpy.dtype", *XGB_TYPES])],
    ids=["lightgbm", "xgboost"],
)
def test_boosted_pipeline_round_trips_with_identical_probabilities(german, make, types):
    x, y = german
    model = _pipeline(x, make()).fit(x, y)

    data, trusted = dump_model(model)
    loaded = load_model(data, trusted)

    assert trusted == sorted(types)
    assert trusted == sorted(sio.get_untrusted_types(data=data))
    assert np.array_equal(loaded.predict_proba(x), model.predict_proba(x))
    assert np.array_equal(loaded.predict(x), model.predict(x))


@pytest.mark.parametrize(
    ("make", "types"), [(_lgbm, LGBM_TYPES), (_xgb, XGB_TYPES)], ids=["lightgbm", "xgboost"]
)
def test_bare_booster_estimator_round_trips_and_records_its_types(german, make, types):
    x, y = german
    numeric = x.select_dtypes("number")
    model = make().fit(numeric, y)

    data, trusted = dump_model(model)
    loaded = load_artifact(data, FLAVOUR_SKOPS, trusted)

    assert trusted == sorted(types)
    assert type(loaded) is type(model)
    assert np.array_equal(loaded.predict_proba(numeric), model.predict_proba(numeric))
    assert list(loaded.feature_names_in_) == list(numeric.columns)


def test_booster_is_refused_when_a_recorded_type_is_missing(german):
    x, y = german
    numeric = x.select_dtypes("number")
    data, trusted = dump_model(_xgb().fit(numeric, y))

    with pytest.raises(IntegrityError, match="not recorded at registration: xgboost.core.Booster"):
        load_model(data, [t for t in trusted if t != "xgboost.core.Booster"])


def test_unknown_flavour_is_refused_by_name():
    with pytest.raises(IntegrityError, match="flavour 'lightgbm-text', which this mlgate cannot"):
        load_artifact(b"tree", "lightgbm-text", [])


def test_loader_names_the_function_and_the_exact_types():
    loader = artifact_loader(FLAVOUR_SKOPS, ["xgboost.core.Booster"])

    assert loader.function == LOADER == "mlgate.artifacts.models:load_artifact"
    assert dict(loader.options) == {
        "flavour": "sklearn-skops",
        "trusted_types": ["xgboost.core.Booster"],
    }


def test_object_skops_cannot_save_is_a_validation_error():
    with pytest.raises(ValidationError, match="cannot save a generator with skops"):
        dump_model(i for i in range(3))
