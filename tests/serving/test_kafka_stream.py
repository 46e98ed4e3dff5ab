"""The Kafka broker's mapping and commit order, with fakes standing in for a Kafka cluster.

No Kafka broker can run here, so ``FakeConsumer`` and ``FakeProducer`` stand in for
confluent-kafka's ``Consumer`` and ``Producer``: they hold records in memory and write down the
order of produce, flush and commit calls. The model is a small scikit-learn pipeline.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from mlgate.errors import ConflictError
from mlgate.serving.kafka_stream import KafkaBroker
from mlgate.serving.scorer import Scorer
from mlgate.serving.stream import ConsumerOptions, consume

SIGNATURE = (
    {"name": "x1", "kind": "numeric"},
    {"name": "region", "kind": "categorical"},
)


class FakeRecord:
    """A record as confluent-kafka's ``Message`` shows it."""

    def __init__(self, topic: str, partition: int, offset: int, value: bytes, key: bytes | None):
        self._where = (topic, partition, offset)
        self._value, self._key = value, key

    def error(self) -> None:
        return None

    def value(self) -> bytes:
        return self._value

    def key(self) -> bytes | None:
        return self._key

    def topic(self) -> str:
        return self._where[0]

    def partition(self) -> int:
        return self._where[1]

    def offset(self) -> int:
        return self._where[2]


class FakeConsumer:
    """Hands out the records given to it, and keeps what was committed."""

    def __init__(self, records: list[FakeRecord], calls: list[str]) -> None:
        self.records = records
        self.calls = calls
        self.committed: list[tuple[str, int, int]] = []
        self.subscribed: list[str] = []

    def subscribe(self, topics: list[str]) -> None:
        self.subscribed = topics

    def consume(self, num_messages: int, timeout: float) -> list[FakeRecord]:
        taken, self.records = self.records[:num_messages], self.records[num_messages:]
        return taken

    def commit(self, offsets: list[Any], asynchronous: bool) -> None:
        assert asynchronous is False
        self.calls.append("commit")
        self.committed += [(o.topic, o.partition, o.offset) for o in offsets]

    def close(self) -> None:
        self.calls.append("close")


class FakeProducer:
    """Keeps produced records; ``fail`` makes every delivery report an error."""

    def __init__(self, calls: list[str], fail: bool = False) -> None:
        self.calls = calls
        self.fail = fail
        self.topics: dict[str, list[tuple[bytes, dict]]] = {}
        self._reports: list[Any] = []

    def produce(self, topic: str, value: bytes, key: bytes, on_delivery: Any) -> None:
        self.calls.append("produce")
        self.topics.setdefault(topic, []).append((key, json.loads(value)))
        self._reports.append(on_delivery)

    def flush(self, timeout: float) -> int:
        self.calls.append("flush")
        for report in self._reports:
            report("broker unreachable" if self.fail else None, None)
        self._reports = []
        return 0


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=200), "region": rng.choice(["n", "s"], 200)})
    y = (frame["x1"] + (frame["region"] == "n") > 0.5).astype(int)
    encode = ColumnTransformer([("region", OneHotEncoder(), ["region"])], remainder="passthrough")
    model = make_pipeline(encode, LogisticRegression()).fit(frame, y)
    return Scorer(model, 3, "0" * 64, SIGNATURE, (0, 1), 1)


def _records(n: int) -> tuple[list[FakeRecord], pd.DataFrame]:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x1": rng.normal(size=n), "region": rng.choice(["n", "s"], n)})
    records = []
    for i, row in enumerate(frame.to_dict("records")):
        value = json.dumps(row).encode() if i != 5 else b"not json"
        records.append(FakeRecord("in", i % 2, 100 + i // 2, value, f"k{i}".encode()))
    return records, frame


def _broker(records: list[FakeRecord], calls: list[str], fail: bool = False) -> KafkaBroker:
    consumer, producer = FakeConsumer(records, calls), FakeProducer(calls, fail)
    return KafkaBroker(consumer, producer, "in", "out", "in.dead", "worker-1")


def test_kafka_results_match_scorer_and_offsets_committed_after_flush(scorer: Scorer) -> None:
    calls: list[str] = []
    records, frame = _records(12)
    broker = _broker(records, calls)

    totals = consume(broker, scorer, ConsumerOptions(batch=12, max_messages=12))

    out = broker.producer.topics["out"]
    dead = broker.producer.topics["in.dead"]
    good = frame.drop(index=5)
    expected = scorer.score(good, "reference")
    assert broker.kafka.subscribed == ["in"]
    assert [key for key, _ in out] == [f"k{i}".encode() for i in good.index]
    assert [v["prediction"] for _, v in out] == [str(p) for p in expected.prediction]
    np.testing.assert_allclose([float(v["score"]) for _, v in out], expected.score)
    assert dead[0][1]["id"] == "k5"
    assert dead[0][1]["data"] == "not json"
    assert dead[0][1]["mlgate_message_id"] == "in:1:102"
    assert "not valid JSON" in dead[0][1]["mlgate_reason"]
    assert sorted(broker.kafka.committed) == [("in", 0, 106), ("in", 1, 106)]
    assert calls == ["produce"] * 12 + ["flush", "commit"]
    assert (totals.scored, totals.dead) == (11, 1)


def test_kafka_delivery_failure_leaves_offsets_uncommitted(scorer: Scorer) -> None:
    calls: list[str] = []
    records, _ = _records(4)
    broker = _broker(records, calls, fail=True)

    with pytest.raises(ConflictError, match="the input offsets were not committed"):
        consume(broker, scorer, ConsumerOptions(batch=4, max_messages=4))

    assert broker.kafka.committed == []
    assert "commit" not in calls
