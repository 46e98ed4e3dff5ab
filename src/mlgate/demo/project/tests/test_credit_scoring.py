"""The credit model trains on labelled applications and scores new ones with a decision."""

import numpy as np
import pandas as pd
import pytest

from credit_scoring.features import CATEGORICAL, NUMERIC, SENSITIVE, feature_frame
from credit_scoring.predict import REFER_BELOW, score
from credit_scoring.train import train


def applications(rows: int = 60) -> pd.DataFrame:
    """Return synthetic applications whose label follows the credit amount."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({column: rng.integers(1, 10, rows) for column in NUMERIC})
    for column in CATEGORICAL:
        frame[column] = rng.choice(["a", "b"], rows)
    for column in SENSITIVE:
        frame[column] = rng.choice(["x", "y"], rows)
    frame["good_credit"] = (frame["credit_amount"] < 5).astype(int)
    return frame


def test_feature_frame_drops_sensitive_columns() -> None:
    features = feature_frame(applications())
    assert not set(SENSITIVE) & set(features.columns)
    assert list(features.columns) == [*NUMERIC, *CATEGORICAL]


def test_feature_frame_names_missing_columns() -> None:
    with pytest.raises(ValueError, match="missing columns: duration"):
        feature_frame(applications().drop(columns=["duration"]))


def test_training_needs_both_classes() -> None:
    frame = applications().assign(good_credit=1)
    with pytest.raises(ValueError, match="single class"):
        train(frame)


def test_scores_follow_the_signal_and_decide_by_the_threshold() -> None:
    frame = applications()
    scored = score(train(frame), frame)
    low, high = scored[frame["credit_amount"] < 5], scored[frame["credit_amount"] >= 5]
    assert low["score"].mean() > high["score"].mean()
    assert (scored["decision"] == "approve").eq(scored["score"] >= REFER_BELOW).all()
