#!/usr/bin/env python3
"""Measure what ``mlgate predict`` costs on top of calling the model by hand.

Builds a throw-away low-risk workspace whose logistic-regression model on 20 numeric features is
deployed for batch scoring (through the real gates, with the ``mlgate`` command), writes a
Parquet file of ``--rows`` rows, then times three ways of scoring it:

- the baseline: read the file with pandas, call the model's own ``predict_proba``, add the
  score column, write Parquet with pyarrow;
- ``predict_file`` (what ``mlgate predict`` runs) with one worker, and with two.

Each is run ``--repeats`` times and the median wall time is reported, with the overhead ratio
``mlgate / baseline - 1``, as a Markdown table. mlgate's time includes what the baseline skips:
the input and output SHA-256, the signature check of every chunk, the class prediction next to
the score, the audit event and the run-log record.

Usage:
    python benchmarks/batch_overhead.py --rows 1000000 --repeats 3
    python benchmarks/batch_overhead.py --estimator sklearn.ensemble.RandomForestClassifier \\
        --params '{"n_estimators": 300, "max_depth": 4}'
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

FEATURES = 20
TRAIN_ROWS = 5_000
LOGISTIC = "sklearn.linear_model.LogisticRegression"
BIN = Path(sys.executable).parent


def synthetic(rows: int, seed: int) -> pd.DataFrame:
    """Return ``rows`` rows of 20 normal features and a label that depends on five of them."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(rows, FEATURES))
    frame = pd.DataFrame(values, columns=[f"f{i:02d}" for i in range(FEATURES)])
    logit = values[:, :5] @ np.array([1.2, -0.8, 0.5, 0.3, -0.4])
    frame["group"] = rng.choice(["a", "b"], size=rows)
    frame["y"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def mlgate(*args: str, cwd: Path) -> None:
    """Run one ``mlgate`` command as the workspace owner; stop on failure."""
    env = {**os.environ, "MLGATE_USER": "alice"}
    result = subprocess.run(
        [str(BIN / "mlgate"), *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"mlgate {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


def deployed_workspace(root: Path, estimator: str = LOGISTIC, params: str = "{}") -> None:
    """Create a low-risk project at ``root`` and deploy its model for batch scoring.

    ``params`` (JSON) go into the project's training settings before the model is trained.
    """
    from mlgate.documents import example

    synthetic(TRAIN_ROWS, seed=0).to_csv(root / "train.csv", index=False)
    mlgate(
        "init", "batch-bench", "--tier", "low", "--target", "y", "--sensitive", "group",
        "--exclude", "group", "--data", "train.csv",
        "--estimator", estimator, cwd=root,
    )  # fmt: skip
    config = yaml.safe_load((root / "mlgate.yaml").read_text())
    config["training"]["params"] = json.loads(params)
    (root / "mlgate.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    for kind in ("business_case", "emergency_contacts"):
        content = example(kind, dt.date.today())
        (root / "docs" / f"{kind}.yaml").write_text(yaml.safe_dump(content, sort_keys=False))
    for step in (("doc", "submit", "docs"), ("train",), ("advance", "--to", "deployment")):
        mlgate(*step, cwd=root)
    mlgate("deploy", "--mode", "batch", cwd=root)


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    """Return the median wall time of ``repeats`` calls of ``run``."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    """Build the workspace and data, time the three ways, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument(
        "--estimator", default=LOGISTIC, help="Class the workspace trains (a slower model "
        "shows what workers gain), e.g. sklearn.ensemble.RandomForestClassifier."
    )  # fmt: skip
    parser.add_argument("--params", default="{}", help="JSON parameters of the estimator.")
    args = parser.parse_args()

    from mlgate.lifecycle.deploy import deployed_version, load_scorer, predict_file
    from mlgate.lifecycle.service import Governance

    with tempfile.TemporaryDirectory(prefix="mlgate-batch-") as folder:
        root = Path(folder) / "ws"
        root.mkdir()
        deployed_workspace(root, args.estimator, args.params)
        source = root / "input.parquet"
        synthetic(args.rows, seed=1).drop(columns="y").to_parquet(source, index=False)
        gov = Governance.open(root, "alice")
        version = deployed_version(gov, "batch")
        assert version is not None
        scorer = load_scorer(gov, version)
        features = scorer.features

        def baseline() -> None:
            frame = pd.read_parquet(source)
            frame["score"] = scorer.model.predict_proba(frame[features])[:, 1]
            frame.to_parquet(root / "baseline.parquet", index=False)

        def with_mlgate(workers: int) -> Callable[[], object]:
            output = root / f"mlgate-{workers}.parquet"
            return lambda: predict_file(
                gov, source, output, chunk_rows=args.chunk_rows, workers=workers
            )

        base = median_seconds(baseline, args.repeats)
        rows = [("model's predict_proba (pandas + pyarrow)", 1, base)]
        for workers in (1, 2):
            rows.append(
                ("mlgate predict", workers, median_seconds(with_mlgate(workers), args.repeats))
            )

    lines = [
        f"Scoring {args.rows:,} rows x {FEATURES} features, median of {args.repeats} runs, "
        f"{os.cpu_count()} CPUs, chunks of {args.chunk_rows:,} rows, "
        f"model {args.estimator.rsplit('.', 1)[-1]}.",
        "",
        "| way | workers | seconds | overhead vs baseline |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, workers, seconds in rows:
        overhead = "—" if seconds is base else f"{100 * (seconds / base - 1):+.1f} %"
        lines.append(f"| {name} | {workers} | {seconds:.2f} | {overhead} |")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
