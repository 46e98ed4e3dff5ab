"""An estimator slow enough that a test can catch a search in the middle of a trial."""

from __future__ import annotations

import time

from sklearn.linear_model import LogisticRegression

FIT_SECONDS = 0.2


class SlowLogisticRegression(LogisticRegression):
    """A logistic regression whose every fit takes at least :data:`FIT_SECONDS` longer."""

    def fit(self, X, y, sample_weight=None):  # type: ignore[no-untyped-def]  # noqa: N803
        time.sleep(FIT_SECONDS)
        return super().fit(X, y, sample_weight=sample_weight)
