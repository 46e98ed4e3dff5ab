"""Score credit applications with a trained model and decide which to refer to an officer."""

from __future__ import annotations

import pandas as pd

from credit_scoring.features import feature_frame

# Applications whose probability of good credit is below this are referred, not approved.
REFER_BELOW = 0.5


def score(model, applications: pd.DataFrame) -> pd.DataFrame:
    """Return ``applications`` with the probability of good credit and the decision added."""
    probability = model.predict_proba(feature_frame(applications))[:, -1]

    scored = applications.copy()
    scored["score"] = probability
    scored["decision"] = ["approve" if p >= REFER_BELOW else "refer" for p in probability]
    return scored
