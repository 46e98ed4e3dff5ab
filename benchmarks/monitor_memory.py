#!/usr/bin/env python3
"""Peak memory of monitoring one window of ten million logged predictions.

Builds a governed low-tier workspace whose model reads 20 numeric features, writes N synthetic
predictions as real prediction-log files (the columns and types the serving log writes,
``--file-rows`` rows per Parquet file, all in one UTC day), ingests labels for a share of them
through ``ingest_labels``, then measures, each in a fresh process, the model side
(``window_model_metrics``: score drift, performance on the labelled rows, estimates) and the
data side (``window_drift``, when the module is present) over the whole one-day window. One
JSON line per step: wall time, peak RSS of the process (including the
interpreter and libraries: the high-water mark ``VmHWM``) and the RSS before the step.

Usage:
    nice -n 10 python benchmarks/monitor_memory.py --rows 10000000 --dir /tmp/mlgate-monitor
    nice -n 10 python benchmarks/monitor_memory.py --rows 200000 --dir /tmp/m --keep
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
FEATURES = [f"x{i}" for i in range(20)]
DAY = datetime(2026, 10, 1, tzinfo=UTC)
TRAIN_ROWS = 20_000
COEFFICIENTS = [0.8 if i % 2 else -0.6 for i in range(len(FEATURES))]


def _frame(n: int, seed: int):  # type: ignore[no-untyped-def]
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURES)))
    logit = x @ np.array(COEFFICIENTS) / 3
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(x, columns=FEATURES)
    frame["y"] = y
    return frame


def build_workspace(root: Path) -> None:
    """Create the project, register its training data and train the model."""
    from mlgate.config import DataConfig, TrainingConfig, WorkspaceConfig
    from mlgate.lifecycle.data import register_dataset
    from mlgate.lifecycle.models import train_model
    from mlgate.lifecycle.project import init_project

    root.mkdir(parents=True)
    _frame(TRAIN_ROWS, seed=0).to_csv(root / "train.csv", index=False)
    config = WorkspaceConfig(
        project="monitor-memory",
        tier="low",
        owner="bench",
        data=DataConfig(target="y"),
        training=TrainingConfig(estimator="sklearn.linear_model.LogisticRegression"),
    )
    gov = init_project(root, config)
    register_dataset(gov, root / "train.csv", "train")
    train_model(gov)


def write_log(root: Path, rows: int, file_rows: int, label_share: float) -> Path:
    """Write ``rows`` scored predictions as log files; return a label file for a share."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlgate.lifecycle.models import get_model_version, load_model_version
    from mlgate.lifecycle.service import Governance
    from mlgate.serving.predictions import FEATURE_PREFIX, prediction_log_folder

    gov = Governance.open(root, actor="bench")
    model = load_model_version(gov, get_model_version(gov))
    folder = prediction_log_folder(gov) / f"date={DAY.date().isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    labels = []
    start_us = int(DAY.timestamp() * 1_000_000)
    step_us = 86_400 * 1_000_000 // rows
    for piece, first in enumerate(range(0, rows, file_rows)):
        n = min(file_rows, rows - first)
        frame = _frame(n, seed=100 + piece)
        # the second half of the day drifts: three features shift by half a deviation
        index = np.arange(first, first + n)
        late = index >= rows // 2
        for name in FEATURES[:3]:
            frame.loc[late, name] += 0.5
        score = model.predict_proba(frame[FEATURES])[:, 1]
        ids = np.char.add("req-", index.astype(str))
        table = {
            "ts": pd.to_datetime(start_us + index * step_us, unit="us", utc=True),
            "request_id": ids,
            "channel": np.full(n, "rest"),
            "model_version": np.full(n, 1, dtype=np.int64),
            "latency_ms": np.full(n, 1.5),
            "prediction": np.where(score >= 0.5, "1", "0"),
            "score": score,
            **{f"{FEATURE_PREFIX}{name}": frame[name].to_numpy() for name in FEATURES},
        }
        pq.write_table(
            pa.Table.from_pandas(pd.DataFrame(table), preserve_index=False),
            folder / f"part-{piece:06d}.parquet",
        )
        keep = np.random.default_rng(piece).random(n) < label_share
        labels.append(pd.DataFrame({"request_id": ids[keep], "label": frame["y"][keep]}))
    path = root / "labels.parquet"
    pd.concat(labels).to_parquet(path, index=False)
    return path


def ingest(root: Path) -> dict:
    """Ingest the label file written beside the log; return time and memory."""
    from mlgate.lifecycle.service import Governance
    from mlgate.monitoring.labels import ingest_labels

    started = time.perf_counter()
    result = ingest_labels(Governance.open(root, actor="bench"), root / "labels.parquet")
    return {
        "step": "ingest_labels",
        "labels": result.received,
        "wall_s": round(time.perf_counter() - started, 1),
        "peak_rss_mib": _peak_mib(),
    }


def measure(root: Path, step: str) -> dict:
    """Run one monitoring step over the whole day in this process; return time and memory."""
    from mlgate.lifecycle.models import get_model_version
    from mlgate.lifecycle.service import Governance
    from mlgate.monitoring.performance import reference_scores, window_model_metrics
    from mlgate.monitoring.reference import load_reference
    from mlgate.monitoring.windows import Window
    from mlgate.serving.predictions import prediction_log_folder

    gov = Governance.open(root, actor="bench")
    version = get_model_version(gov)
    reference = load_reference(gov, version)
    scores = reference_scores(gov, version, reference)
    window = Window(prediction_log_folder(gov), DAY, DAY + timedelta(days=1), "1d")
    before = _rss_mib()
    started = time.perf_counter()
    if step == "window_model_metrics":
        with gov.transaction() as session:
            found = window_model_metrics(gov, session, reference, scores, window)
    else:
        from mlgate.monitoring.data_drift import window_drift

        found = window_drift(reference, window)
    values = {f"{o.metric}:{o.subject}": o.value for o in found}
    picked = {k: v for k, v in values.items() if k.endswith(":model") or k.endswith(":score")}
    drifted = sorted(k for k, v in values.items() if k.startswith("drift.drifted") and v)
    return {
        "step": step,
        "rows": max((o.n for o in found), default=0),
        "wall_s": round(time.perf_counter() - started, 1),
        "peak_rss_mib": _peak_mib(),
        "rss_before_mib": round(before, 1),
        "observations": len(found),
        "values": {k: None if v is None else round(v, 4) for k, v in picked.items()},
        "drifted": drifted,
    }


def _peak_mib() -> float:
    # VmHWM, not ru_maxrss: the latter survives exec, so a child would inherit the peak of
    # the parent that wrote the log.
    return round(_status_mib("VmHWM:"), 1)


def _rss_mib() -> float:
    return _status_mib("VmRSS:")


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return float("nan")


def _emit(result: dict) -> None:
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--file-rows", type=int, default=500_000)
    parser.add_argument("--label-share", type=float, default=0.10)
    default_dir = Path(tempfile.gettempdir()) / "mlgate-monitor"
    parser.add_argument("--dir", type=Path, default=default_dir)
    parser.add_argument("--keep", action="store_true", help="keep the workspace afterwards")
    parser.add_argument("--step", help=argparse.SUPPRESS)  # one measured step, in a child
    args = parser.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ["MLGATE_USER"] = "bench"
    root = args.dir / f"ws-{args.rows}"

    if args.step == "ingest":
        _emit(ingest(root))
        return
    if args.step:
        _emit(measure(root, args.step))
        return

    try:
        steps = ["window_model_metrics"]
        if not root.exists():
            started = time.perf_counter()
            build_workspace(root)
            write_log(root, args.rows, args.file_rows, args.label_share)
            written = {"step": "write_log", "rows": args.rows}
            _emit({**written, "wall_s": round(time.perf_counter() - started, 1)})
            steps.insert(0, "ingest")
        if (HERE.parent / "src" / "mlgate" / "monitoring" / "data_drift.py").exists():
            steps.append("window_drift")
        for step in steps:
            command = [sys.executable, __file__, "--rows", str(args.rows)]
            command += ["--dir", str(args.dir), "--step", step]
            out = subprocess.run(command, check=True, capture_output=True, text=True)
            _emit(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
