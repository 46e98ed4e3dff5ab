"""Which columns of a credit application the model reads, and which it must never read."""

from __future__ import annotations

import pandas as pd

TARGET = "good_credit"
SENSITIVE = ("sex", "age_group", "foreign_worker", "status_sex")
NUMERIC = (
    "duration",
    "credit_amount",
    "installment_rate",
    "present_residence_since",
    "age",
    "number_of_existing_credits",
    "number_of_people_liable_for",
)
CATEGORICAL = (
    "status",
    "credit_history",
    "purpose",
    "savings",
    "present_employment",
    "other_debtors",
    "property",
    "installment_plans",
    "housing",
    "job",
    "telephone",
)


def feature_frame(applications: pd.DataFrame) -> pd.DataFrame:
    """Return the model's input columns of ``applications``, in a fixed order.

    Raises ``ValueError`` naming every missing column, so a bad export fails loudly.
    """
    wanted = [*NUMERIC, *CATEGORICAL]
    missing = [column for column in wanted if column not in applications.columns]
    if missing:
        raise ValueError(f"missing columns: {', '.join(missing)}")
    return applications[wanted]
