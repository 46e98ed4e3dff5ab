#!/usr/bin/env python3
"""Measure stream scoring throughput through Redis, end to end, for several batch sizes.

For each batch size the script fills a fresh input stream with ``--messages`` JSON messages
built from the workspace's training file, then times the consumer loop (read, validate, score,
write results, acknowledge, log predictions) until every message is handled, and prints a
Markdown table of messages per second. Streams are named at random and deleted afterwards.

Needs a workspace with a version deployed for streaming (``mlgate deploy --mode stream``) and
a Redis server.

Usage:
    python benchmarks/stream_rate.py --workspace WS [--messages 20000] [--batches 1,10,100]
        [--redis-url redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd
import redis

from mlgate.lifecycle.deploy import deployed_version, load_scorer
from mlgate.lifecycle.service import Governance
from mlgate.serving.predictions import PredictionLog
from mlgate.serving.redis_stream import RedisBroker
from mlgate.serving.scorer import Scorer
from mlgate.serving.stream import ConsumerOptions, consume


def feed(client: redis.Redis, stream: str, frame: pd.DataFrame, messages: int) -> None:
    """Add ``messages`` messages cycling through the rows of ``frame``."""
    rows = frame.to_dict("records")
    pipe = client.pipeline(transaction=False)
    for i in range(messages):
        pipe.xadd(stream, {"id": f"r{i}", "data": json.dumps(rows[i % len(rows)])})
        if i % 5_000 == 4_999:
            pipe.execute()
    pipe.execute()


def measure(
    client: redis.Redis, scorer: Scorer, frame: pd.DataFrame, batch: int, messages: int
) -> float:
    """Return messages per second for one batch size."""
    prefix = f"mlgate-bench:{uuid.uuid4().hex[:8]}"
    names = (f"{prefix}:in", f"{prefix}:out", f"{prefix}:dead")
    try:
        feed(client, names[0], frame, messages)
        broker = RedisBroker(client, *names, "bench", "bench-1")
        broker.ensure_group()
        with tempfile.TemporaryDirectory() as folder:
            log = PredictionLog(Path(folder))
            started = time.perf_counter()
            totals = consume(broker, scorer, ConsumerOptions(batch, 100, 3600, messages), log)
            elapsed = time.perf_counter() - started
            log.close()
        assert totals.handled == messages, totals
        return messages / elapsed
    finally:
        client.delete(*names)


def main() -> None:
    """Parse arguments, run each batch size, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batches", default="1,10,100")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()

    gov = Governance.open(args.workspace)
    version = deployed_version(gov, "stream")
    if version is None:
        raise SystemExit("no version is deployed for streaming; run mlgate deploy --mode stream")
    scorer = load_scorer(gov, version)
    frame = pd.read_csv(args.workspace / "train.csv")[scorer.features].head(1_000)
    client = redis.Redis.from_url(args.redis_url, decode_responses=True)

    sys.stdout.write("| batch size | messages | messages/s |\n| ---: | ---: | ---: |\n")
    for batch in (int(b) for b in args.batches.split(",")):
        messages = args.messages if batch > 1 else min(args.messages, 1_000)
        rate = measure(client, scorer, frame, batch, messages)
        sys.stdout.write(f"| {batch} | {messages} | {rate:,.0f} |\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
