"""A month of simulated production for the demo: applications, their scores, later outcomes.

The demo cannot wait a month for customers, so it replays one: German credit applications
resampled day by day, scored by the deployed model and written to the prediction log in the
very files the scoring service writes (one Parquet file per UTC day, sensitive columns left
out), with timestamps in the past. In the last days applicants ask for markedly larger loans,
the kind of change a marketing campaign or a competitor's move brings. The true outcomes of
the first weeks are known by now; those of the recent days are not yet.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mlgate.serving.predictions import FEATURE_PREFIX
from mlgate.serving.scorer import Scorer

logger = logging.getLogger(__name__)

SHIFTED_FEATURE = "credit_amount"
SHIFT_FACTOR = 1.8  # requested amounts in the last days, against before
EPOCH = pd.Timestamp(0, tz="UTC")


@dataclass(frozen=True)
class Month:
    """The replayed traffic: every application with its time, request id, score and outcome."""

    frame: pd.DataFrame  # the applications, plus ts, request_id, prediction, score
    first_day: datetime
    days: int
    shifted_from: datetime  # the first day of larger loans
    target: str

    def labels(self, before: datetime) -> pd.DataFrame:
        """Return the outcomes known by now: those of applications made before ``before``."""
        known = self.frame[self.frame["ts"] < before]
        return pd.DataFrame({"request_id": known["request_id"], "label": known[self.target]})


def replay_month(
    applications: pd.DataFrame,
    scorer: Scorer,
    target: str,
    end: datetime,
    days: int = 30,
    per_day: int = 600,
    shifted_days: int = 10,
    seed: int = 2026,
) -> Month:
    """Return ``days`` days of applications ending at midnight ``end``, scored by ``scorer``."""
    rng = np.random.default_rng(seed)
    first_day = end - timedelta(days=days)
    picks = rng.integers(0, len(applications), size=days * per_day)
    frame = applications.iloc[picks].reset_index(drop=True)
    day = np.repeat(np.arange(days), per_day)
    shifted = day >= days - shifted_days
    amounts = frame[SHIFTED_FEATURE].astype(float)
    frame[SHIFTED_FEATURE] = np.where(shifted, (amounts * SHIFT_FACTOR).round(), amounts)
    frame[SHIFTED_FEATURE] = frame[SHIFTED_FEATURE].astype(applications[SHIFTED_FEATURE].dtype)

    seconds = rng.integers(0, 86_400, size=len(frame))
    frame["ts"] = (
        pd.Timestamp(first_day)
        + pd.to_timedelta(day, unit="D")
        + pd.to_timedelta(seconds, unit="s")
    )
    frame["request_id"] = [f"app-{i:06d}" for i in range(len(frame))]
    scored = scorer.score(frame[scorer.features], "the replayed applications")
    frame["prediction"] = [str(p) for p in np.asarray(scored.prediction).tolist()]
    frame["score"] = scored.score if scored.score is not None else np.nan
    logger.info(
        "replayed %d applications over %d days from %s; %s x%.1f in the last %d days",
        len(frame),
        days,
        first_day.date(),
        SHIFTED_FEATURE,
        SHIFT_FACTOR,
        shifted_days,
    )
    return Month(frame, first_day, days, end - timedelta(days=shifted_days), target)


def write_log(
    folder: Path,
    month: Month,
    features: Sequence[str],
    sensitive: Sequence[str],
    version: int,
    channel: str = "rest",
) -> int:
    """Write the month to the prediction log in ``folder`` as the server writes it; return rows."""
    logged = [name for name in features if name not in set(sensitive)]
    frame = month.frame
    microseconds = (frame["ts"] - EPOCH) // pd.Timedelta(microseconds=1)
    for day, rows in frame.groupby(frame["ts"].dt.floor("D")).groups.items():
        part = frame.loc[rows]
        columns = {
            "ts": pd.to_datetime(microseconds.loc[rows], unit="us", utc=True),
            "request_id": part["request_id"].to_numpy(),
            "channel": np.full(len(part), channel),
            "model_version": np.full(len(part), version, dtype=np.int64),
            "latency_ms": np.full(len(part), 3.0),
            "prediction": part["prediction"].to_numpy(),
            "score": part["score"].to_numpy(dtype=float),
            **{f"{FEATURE_PREFIX}{name}": part[name].to_numpy() for name in logged},
        }
        target = Path(folder) / f"date={day:%Y-%m-%d}"
        target.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(pd.DataFrame(columns), preserve_index=False)
        pq.write_table(table, target / f"part-replay-{day:%Y%m%d}.parquet")
    return len(frame)


def share_approved(month: Month, start: datetime, end: datetime, threshold: float) -> float:
    """Return the percentage of applications in ``[start, end)`` scored at ``threshold`` or more.

    These are the applications approved without a credit officer's review.
    """
    ts = month.frame["ts"]
    scores = month.frame.loc[(ts >= start) & (ts < end), "score"]
    return round(float((scores >= threshold).mean() * 100), 1)


def midnight(moment: datetime) -> datetime:
    """Return the UTC midnight that starts ``moment``'s day."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
