"""Simulated production for monitoring tests: a trained project and backdated prediction logs.

The logs are written in the prediction log's own file format (the columns and types that
:class:`~mlgate.serving.predictions.PredictionLog` writes, one Parquet file per UTC day), with
scores from the project's stored model, so drift, score drift and performance are computed on
what a real server would have logged.
"""

from __future__ import annotations

import http.server
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from mlgate.config import DataConfig, TrainingConfig, WorkspaceConfig
from mlgate.lifecycle.data import register_dataset
from mlgate.lifecycle.evidence import submit_document
from mlgate.lifecycle.models import get_model_version, load_model_version, train_model
from mlgate.lifecycle.project import init_project
from mlgate.lifecycle.service import Governance
from mlgate.monitoring.settings import MonitoringConfig
from mlgate.serving.predictions import FEATURE_PREFIX, prediction_log_folder
from tests.fixtures import fill, synthetic_frame

FEATURES = ("x1", "x2", "region")
# Day 0 of the simulated traffic: a Thursday, so weekly windows (aligned to the epoch, which
# was a Thursday) start with it.
DAY0 = datetime(2026, 10, 1, tzinfo=UTC)
EPOCH = pd.Timestamp(0, tz="UTC")


def monitored_project(root: Path, monitoring: dict[str, Any] | None = None) -> Path:
    """Create a low-risk project at ``root`` with a trained model and an accepted business case.

    The reference is 4,000 rows of :func:`tests.fixtures.synthetic_frame`; the business case's
    ROC AUC target is 0.75 (the model reaches about 0.84). eric is its ML engineer.
    """
    root.mkdir()
    synthetic_frame(4000, seed=1).to_csv(root / "train.csv", index=False)
    config = WorkspaceConfig(
        project="watched",
        tier="low",
        owner="alice",
        data=DataConfig(target="y", sensitive=["group"], exclude=["group"]),
        training=TrainingConfig(estimator="sklearn.linear_model.LogisticRegression"),
        monitoring=MonitoringConfig(**(monitoring or {})),
    )
    gov = init_project(root, config)
    gov.add_member("eric", "ml_engineer")
    register_dataset(gov, root / "train.csv", "train")
    submit_document(gov, fill("business_case", root))
    train_model(gov)
    return root


def set_monitoring(root: Path, monitoring: dict[str, Any]) -> None:
    """Replace the ``monitoring:`` section of the project's mlgate.yaml."""
    path = root / "mlgate.yaml"
    content = yaml.safe_load(path.read_text())
    content["monitoring"] = monitoring
    path.write_text(yaml.safe_dump(content, sort_keys=False))


def traffic(
    days: int, per_day: int, seed: int, shift: float = 0.0, start: datetime = DAY0
) -> pd.DataFrame:
    """Return ``days`` days of applications from ``start``, like the reference, with outcomes.

    ``shift`` moves the mean of ``x2`` linearly from 0 on day 0 to ``shift`` standard
    deviations on the last day (the outcome keeps its relation to the inputs).
    """
    rng = np.random.default_rng(seed)
    n = days * per_day
    day = np.repeat(np.arange(days), per_day)
    x1 = rng.normal(size=n)
    drift = shift * day / max(days - 1, 1)
    x2 = rng.normal(size=n) + drift
    logit = 1.5 * x1 - 1.0 * x2
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    seconds = rng.integers(0, 86_400, size=n)
    ts = start + pd.to_timedelta(day, unit="D") + pd.to_timedelta(seconds, unit="s")
    return pd.DataFrame(
        {
            "ts": ts,
            "x1": x1,
            "x2": x2,
            "region": rng.choice(["n", "s"], size=n),
            "group": rng.choice(["a", "b"], size=n),
            "y": y,
        }
    )


def log_traffic(
    gov: Governance, frame: pd.DataFrame, version: int = 1, prefix: str = "r"
) -> pd.Series:
    """Score ``frame`` with model ``version``, log it as the server would; return the scores.

    One file per UTC day, with the columns and types the serving log writes; the sensitive
    ``group`` and the outcome ``y`` are not logged. Request ids are ``<prefix><row number>``.
    """
    model = load_model_version(gov, get_model_version(gov, version))
    inputs = frame[list(FEATURES)]
    score = pd.Series(model.predict_proba(inputs)[:, 1], index=frame.index)
    prediction = pd.Series(np.where(score >= 0.5, "1", "0"), index=frame.index)
    folder = prediction_log_folder(gov)
    days = frame["ts"].dt.floor("D")
    for day, rows in frame.groupby(days).groups.items():
        picked = frame.loc[rows]
        at = np.asarray(rows)  # the frame's index labels
        logged = pd.DataFrame(
            {
                "ts": pd.to_datetime(
                    (picked["ts"] - EPOCH) // pd.Timedelta(microseconds=1),
                    unit="us",
                    utc=True,
                ),
                "request_id": np.char.add(prefix, at.astype(str)),
                "channel": np.full(len(at), "rest"),
                "model_version": np.full(len(at), version, dtype=np.int64),
                "latency_ms": np.full(len(at), 2.5),
                "prediction": prediction.loc[rows].to_numpy(),
                "score": score.loc[rows].to_numpy(),
                **{f"{FEATURE_PREFIX}{name}": picked[name].to_numpy() for name in FEATURES},
            }
        )
        target = folder / f"date={day:%Y-%m-%d}"
        target.mkdir(parents=True, exist_ok=True)
        existing = len(list(target.glob("part-*.parquet")))
        table = pa.Table.from_pandas(logged, preserve_index=False)
        pq.write_table(table, target / f"part-{existing:06d}.parquet")
    return score


def labels_for(
    frame: pd.DataFrame, rows: Any, flip: bool = False, prefix: str = "r"
) -> pd.DataFrame:
    """Return the outcomes of ``rows`` of ``frame`` as a label file would bring them."""
    picked = frame.loc[rows]
    label = 1 - picked["y"] if flip else picked["y"]
    return pd.DataFrame(
        {
            "request_id": [f"{prefix}{i}" for i in picked.index],
            "label": label.astype(int).to_numpy(),
        }
    )


def until_day(days: int) -> datetime:
    """Return the moment ``days`` days after day 0 of the traffic."""
    return DAY0 + timedelta(days=days)


class Receiver:
    """A local HTTP server that keeps the JSON body of every POST it receives."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
                length = int(self.headers.get("Content-Length", "0"))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self.received = received
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        """Return the URL that posts reach this receiver."""
        return f"http://127.0.0.1:{self.server.server_port}/alerts"

    def close(self) -> None:
        """Stop serving and release the port."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
