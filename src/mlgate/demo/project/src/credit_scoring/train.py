"""Fit the credit model: one-hot categories, scaled numbers, a regularised logistic regression."""

from __future__ import annotations

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from credit_scoring.features import CATEGORICAL, NUMERIC, TARGET, feature_frame

REGULARISATION = 0.1
MAX_ITERATIONS = 2000


def build_pipeline() -> Pipeline:
    """Return the untrained pipeline; unknown categories at scoring time are ignored."""
    columns = ColumnTransformer(
        [
            ("numbers", StandardScaler(), list(NUMERIC)),
            ("categories", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL)),
        ]
    )
    model = LogisticRegression(C=REGULARISATION, max_iter=MAX_ITERATIONS)
    return Pipeline([("columns", columns), ("model", model)])


def train(applications: pd.DataFrame) -> Pipeline:
    """Fit the pipeline on labelled ``applications`` and return it."""
    if applications[TARGET].nunique() < 2:
        raise ValueError(f"{TARGET} holds a single class; the model needs both")

    pipeline = build_pipeline()
    pipeline.fit(feature_frame(applications), applications[TARGET])
    return pipeline
