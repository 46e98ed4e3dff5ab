"""The training.preprocessing section: which imputers, scalers and encoders the pipeline uses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, RobustScaler

from mlgate.config import PreprocessingConfig, TrainingConfig, parse_config
from mlgate.errors import ValidationError
from mlgate.training.run import pipeline_spec


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    amount = rng.lognormal(3, 1, 200)
    amount[::17] = np.nan
    city = rng.choice(["Lyon", "Paris", "Nice", "Brest"], 200, p=[0.5, 0.3, 0.18, 0.02])
    return pd.DataFrame({"amount": amount, "city": city})


def test_default_recipe_is_median_standard_most_frequent_onehot(frame: pd.DataFrame) -> None:
    spec = pipeline_spec("sklearn.linear_model.LogisticRegression", {}, 0, frame, ["amount"])
    numeric = spec.build().named_steps["encode"].transformers[0][1]

    assert [type(s).__name__ for s in numeric] == ["SimpleImputer", "StandardScaler"]
    assert numeric[0].strategy == "median"
    assert TrainingConfig().preprocessing == PreprocessingConfig()
    assert "preprocessing" not in TrainingConfig().model_dump()  # a default stays unwritten


def test_chosen_recipe_transforms_as_sklearn_does(frame: pd.DataFrame) -> None:
    recipe = PreprocessingConfig(
        numeric_impute="mean",
        numeric_scale="robust",
        categorical_encode="ordinal",
        min_category_share=0.05,
    ).model_dump()
    spec = pipeline_spec(
        "sklearn.linear_model.LogisticRegression",
        {},
        0,
        frame,
        ["amount", "city"],
        preprocessing=recipe,
    )
    encode = spec.build().named_steps["encode"]
    ours = encode.fit_transform(frame)

    reference = ColumnTransformer(
        [
            ("n", make_pipeline(SimpleImputer(strategy="mean"), RobustScaler()), ["amount"]),
            (
                "c",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OrdinalEncoder(
                        handle_unknown="use_encoded_value", unknown_value=-1, min_frequency=0.05
                    ),
                ),
                ["city"],
            ),
        ]
    ).fit_transform(frame)
    np.testing.assert_allclose(ours, reference)
    # Brest (about 2 % of rows) falls below the share and gets the infrequent code.
    ordinal = encode.named_transformers_["categorical"][-1]
    assert [list(c) for c in ordinal.infrequent_categories_] == [["Brest"]]


def test_rare_level_is_grouped_in_one_hot_and_unseen_levels_score(frame: pd.DataFrame) -> None:
    recipe = PreprocessingConfig(min_category_share=0.05).model_dump()
    spec = pipeline_spec(
        "sklearn.linear_model.LogisticRegression", {}, 0, frame, ["city"], preprocessing=recipe
    )
    encode = spec.build().named_steps["encode"].fit(frame)
    expected = OneHotEncoder(
        handle_unknown="infrequent_if_exist", min_frequency=0.05, sparse_output=False
    ).fit(frame[["city"]])

    assert encode.transform(frame).shape[1] == len(expected.get_feature_names_out())
    unseen = encode.transform(pd.DataFrame({"city": ["Oslo"], "amount": [1.0]}))
    assert unseen.sum() == 1.0  # counted as infrequent, not an error


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"numeric_scale": "zscore"}, "numeric_scale"),
        ({"min_category_share": 1.5}, "min_category_share"),
        ({"encoder": "onehot"}, "unknown key"),
    ],
)
def test_bad_recipe_is_named(section: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_config(
            {
                "project": "p",
                "tier": "low",
                "owner": "o",
                "data": {"target": "y"},
                "training": {"preprocessing": section},
            },
            "mlgate.yaml",
        )
