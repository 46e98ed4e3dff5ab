"""The stream consumer against the real Redis on 127.0.0.1:6379, in a deployed workspace.

Streams get random names and are deleted afterwards. The crash test runs ``mlgate stream`` as a
subprocess, kills it with SIGKILL part-way, restarts it and checks that every message was
answered and none is left pending.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import redis

from mlgate.errors import ValidationError
from mlgate.lifecycle.deploy import deployed_version, load_scorer
from mlgate.lifecycle.service import Governance
from mlgate.serving.predictions import prediction_log_folder, read_predictions
from mlgate.serving.redis_stream import RedisBroker, redacted
from mlgate.serving.stream import ConsumerOptions, consume, parse_features
from mlgate.serving.stream_service import serve_stream
from tests.fixtures import Cli
from tests.release.conftest import mlgate, reviewed_workspace

REDIS_URL = "redis://127.0.0.1:6379/0"
BIN = Path(sys.executable).parent
SIGNATURE = [
    {"name": "x1", "kind": "numeric"},
    {"name": "flag", "kind": "boolean"},
    {"name": "region", "kind": "categorical"},
]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A low-risk workspace whose model version 1 is deployed for streaming."""
    root = reviewed_workspace(tmp_path_factory.mktemp("stream") / "ws")
    mlgate("deploy", "--mode", "stream", cwd=root)
    return root


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    """A client of the test Redis; the test fails when it does not answer."""
    connection = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    connection.ping()
    yield connection
    connection.close()


@pytest.fixture
def names(client: redis.Redis) -> Iterator[dict[str, str]]:
    """Random stream names for one test, deleted afterwards."""
    prefix = f"mlgate-test:{uuid.uuid4().hex[:10]}"
    streams = {"input": f"{prefix}:in", "output": f"{prefix}:out", "dead": f"{prefix}:dead"}
    yield streams
    client.delete(*streams.values())


def _rows(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"x1": rng.normal(size=n), "x2": rng.normal(size=n), "region": rng.choice(["n", "s"], n)}
    )


def _feed(client: redis.Redis, stream: str, frame: pd.DataFrame, bad_every: int = 0) -> list[str]:
    """Add one message per row (JSON for even rows, flat fields for odd); return the ids."""
    ids = []
    pipe = client.pipeline(transaction=False)
    for i, row in enumerate(frame.to_dict("records")):
        request = f"req-{i}"
        ids.append(request)
        if bad_every and i % bad_every == bad_every - 1:
            pipe.xadd(stream, {"id": request, "data": "{not json"})
        elif i % 2 == 0:
            pipe.xadd(stream, {"id": request, "data": json.dumps(row)})
        else:
            pipe.xadd(stream, {"id": request, **{k: str(v) for k, v in row.items()}})
    pipe.execute()
    return ids


def _broker(client: redis.Redis, names: dict[str, str], consumer: str = "c1") -> RedisBroker:
    broker = RedisBroker(
        client, names["input"], names["output"], names["dead"], "g", consumer, claim_idle_ms=1
    )
    broker.ensure_group()
    return broker


def test_parse_features_flat_fields_converted_by_kind() -> None:
    fields = {"x1": "2.5", "flag": "True", "region": "n", "id": "r1"}

    assert parse_features(fields, SIGNATURE) == {"x1": 2.5, "flag": True, "region": "n"}


def test_parse_features_data_field_read_as_json() -> None:
    fields = {"data": json.dumps({"x1": 1, "flag": False, "region": "s", "extra": 3})}

    assert parse_features(fields, SIGNATURE) == {"x1": 1, "flag": False, "region": "s"}


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"data": "{x1: 1"}, "field 'data' is not valid JSON"),
        ({"data": "[1, 2]"}, "field 'data' holds a JSON array; expected a JSON object"),
        ({"x1": "1", "flag": "true"}, "missing feature(s) region"),
        ({"x1": "one", "flag": "true", "region": "n"}, "feature x1 must be numeric; got 'one'"),
        ({"x1": "1", "flag": "maybe", "region": "n"}, "feature flag must be true or false"),
    ],
)
def test_parse_features_malformed_raises_with_reason(fields: dict, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_features(fields, SIGNATURE)

    assert reason in caught.value.message


def test_redacted_url_hides_password() -> None:
    assert redacted("redis://user:s3cret@10.0.0.1:6380/2") == "redis://user:***@10.0.0.1:6380/2"
    assert redacted(REDIS_URL) == REDIS_URL


def test_consume_scores_equal_scorer_on_same_rows(
    deployed: Path, client: redis.Redis, names: dict[str, str]
) -> None:
    gov = Governance.open(deployed, "alice")
    scorer = load_scorer(gov, deployed_version(gov, "stream"))
    frame = _rows(250)
    ids = _feed(client, names["input"], frame)

    totals = consume(_broker(client, names), scorer, ConsumerOptions(batch=64, max_messages=250))

    out = [fields for _, fields in client.xrange(names["output"])]
    assert totals.scored == 250
    assert totals.dead == 0
    assert [o["id"] for o in out] == ids
    expected = scorer.score(frame, "reference")
    assert [o["prediction"] for o in out] == [str(p) for p in expected.prediction]
    np.testing.assert_allclose([float(o["score"]) for o in out], expected.score, rtol=1e-12)
    assert {o["model_version"] for o in out} == {"1"}
    assert client.xpending(names["input"], "g")["pending"] == 0


def test_malformed_message_dead_lettered_and_consumer_goes_on(
    deployed: Path, client: redis.Redis, names: dict[str, str]
) -> None:
    gov = Governance.open(deployed, "alice")
    scorer = load_scorer(gov, deployed_version(gov, "stream"))
    frame = _rows(30)
    frame["x1"] = frame["x1"].astype(object)
    frame.loc[4, "x1"] = "abc"  # JSON row: only the whole-batch check can find it
    _feed(client, names["input"], frame, bad_every=10)
    client.xadd(names["input"], {"id": "last", "x1": "0.1", "x2": "0.2", "region": "n"})

    totals = consume(_broker(client, names), scorer, ConsumerOptions(batch=100, max_messages=31))

    dead = {f["id"]: f for _, f in client.xrange(names["dead"])}
    out = [f["id"] for _, f in client.xrange(names["output"])]
    assert sorted(dead) == ["req-19", "req-29", "req-4", "req-9"]
    assert "not valid JSON" in dead["req-9"]["mlgate_reason"]
    assert dead["req-9"]["data"] == "{not json"
    assert "column x1 must be numeric" in dead["req-4"]["mlgate_reason"]
    assert dead["req-4"]["mlgate_consumer"] == "c1"
    assert len(out) == 27
    assert out[-1] == "last"
    assert "req-4" not in out
    assert (totals.scored, totals.dead) == (27, 4)
    assert client.xpending(names["input"], "g")["pending"] == 0


def test_pending_entries_of_dead_consumer_claimed_and_scored(
    deployed: Path, client: redis.Redis, names: dict[str, str]
) -> None:
    gov = Governance.open(deployed, "alice")
    scorer = load_scorer(gov, deployed_version(gov, "stream"))
    ids = _feed(client, names["input"], _rows(40))
    _broker(client, names, "gone").read(25, 10)  # delivered to a consumer that never acks

    totals = consume(_broker(client, names, "c2"), scorer, ConsumerOptions(max_messages=40))

    out = [f["id"] for _, f in client.xrange(names["output"])]
    assert sorted(out) == sorted(ids)
    assert totals.recovered == 25
    assert client.xpending(names["input"], "g")["pending"] == 0


def test_serve_stream_logs_predictions_and_audits(
    deployed: Path, client: redis.Redis, names: dict[str, str]
) -> None:
    gov = Governance.open(deployed, "alice")
    _feed(client, names["input"], _rows(20))
    before = sum(len(f) for f in read_predictions(prediction_log_folder(gov)))

    totals, version = serve_stream(gov, _broker(client, names), ConsumerOptions(max_messages=20))

    logged = pd.concat(list(read_predictions(prediction_log_folder(gov))))
    streamed = logged[logged["request_id"].str.startswith("req-")]
    assert (totals.scored, version) == (20, 1)
    assert len(logged) - before == 20
    assert set(streamed["channel"]) == {"stream"}
    assert "f.group" not in logged.columns  # the sensitive column is never logged
    actions = mlgate("audit", "log", cwd=deployed).stdout
    assert "stream.started" in actions
    assert "stream.stopped" in actions


def test_stream_command_without_stream_deployment_refused(
    workspace: Path, cli: Cli, names: dict[str, str]
) -> None:
    result = cli("stream", "--input", names["input"], "--output", names["output"], cwd=workspace)

    assert result.code == 3
    assert "no model version is deployed for streaming" in result.text
    assert "mlgate deploy --mode stream" in result.text


def _start(deployed: Path, names: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "MLGATE_USER": "alice", "OPENBLAS_NUM_THREADS": "1"}
    command = [str(BIN / "mlgate"), "stream", "--input", names["input"], "--output"]
    command += [names["output"], "--dead-letter", names["dead"], "--group", "crash"]
    command += ["--consumer", "worker-1", "--batch", "50", "--block-ms", "200", *extra]
    return subprocess.Popen(
        command, cwd=deployed, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _wait(
    condition: Callable[[], bool], process: subprocess.Popen[str], seconds: float = 120.0
) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"mlgate stream exited early: {process.stdout.read()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached in {seconds} s")
        time.sleep(0.05)


def test_kill_9_mid_run_every_message_answered_after_restart(
    deployed: Path, client: redis.Redis, names: dict[str, str]
) -> None:
    ids = _feed(client, names["input"], _rows(5000, seed=3), bad_every=500)
    malformed = {i for n, i in enumerate(ids) if n % 500 == 499}

    first = _start(deployed, names)
    _wait(lambda: client.xlen(names["output"]) >= 600, first)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    answered_before = client.xlen(names["output"]) + client.xlen(names["dead"])

    second = _start(deployed, names)
    _wait(
        lambda: (
            client.xpending(names["input"], "crash")["pending"] == 0
            and _answered(client, names) >= set(ids)
        ),
        second,
    )
    second.send_signal(signal.SIGTERM)
    output, _ = second.communicate(timeout=30)

    out = [f["id"] for _, f in client.xrange(names["output"])]
    dead = [f["id"] for _, f in client.xrange(names["dead"])]
    assert first.returncode == -signal.SIGKILL
    assert 0 < answered_before < len(ids)
    assert second.returncode == 0, output
    assert "Stopped:" in output
    assert set(out) == set(ids) - malformed
    assert set(dead) == malformed
    assert client.xpending(names["input"], "crash")["pending"] == 0
    assert len(client.xinfo_groups(names["input"])) == 1


def _answered(client: redis.Redis, names: dict[str, str]) -> set[str]:
    out = {f["id"] for _, f in client.xrange(names["output"])}
    return out | {f["id"] for _, f in client.xrange(names["dead"])}


def test_a_message_that_is_not_utf8_or_nested_too_deeply_is_dead_lettered(
    deployed: Path, client: redis.Redis, names: dict[str, str]
) -> None:
    gov = Governance.open(deployed, "alice")
    scorer = load_scorer(gov, deployed_version(gov, "stream"))
    raw = redis.Redis.from_url(REDIS_URL)
    raw.xadd(names["input"], {"id": "binary", "data": b"\xff\xfe"})
    raw.xadd(names["input"], {"id": "deep", "data": "[" * 100_000 + "]" * 100_000})
    _feed(client, names["input"], _rows(3))
    broker = RedisBroker.connect(
        REDIS_URL, names["input"], names["output"], names["dead"], "g", "c1"
    )

    totals = consume(broker, scorer, ConsumerOptions(batch=10, max_messages=5))

    dead = {f["id"]: f["mlgate_reason"] for _, f in client.xrange(names["dead"])}
    assert "is not valid JSON" in dead["binary"]
    assert "nested too deeply" in dead["deep"]
    assert (totals.scored, totals.dead) == (3, 2)
    assert client.xpending(names["input"], "g")["pending"] == 0


def test_a_message_handed_out_too_often_is_dead_lettered_not_retried_forever(
    deployed: Path, client: redis.Redis, names: dict[str, str]
) -> None:
    gov = Governance.open(deployed, "alice")
    scorer = load_scorer(gov, deployed_version(gov, "stream"))
    ids = _feed(client, names["input"], _rows(6))
    crashing = _broker(client, names, "c1")
    crashing.read(2, 10)  # the first two messages: a consumer that dies before acknowledging
    for _ in range(2):
        list(crashing.recover(10))  # each restart hands them out again

    totals = consume(
        _broker(client, names, "c1"), scorer, ConsumerOptions(max_deliveries=2, max_messages=6)
    )

    dead = client.xrange(names["dead"])
    assert sorted(f["id"] for _, f in dead) == sorted(ids[:2])
    assert "delivered more than 2 times without a result" in dead[0][1]["mlgate_reason"]
    assert sorted(f["id"] for _, f in client.xrange(names["output"])) == sorted(ids[2:])
    assert (totals.dead, client.xpending(names["input"], "g")["pending"]) == (2, 0)


def test_max_len_trims_the_output_stream_to_about_that_many_entries(
    deployed: Path, client: redis.Redis, names: dict[str, str]
) -> None:
    gov = Governance.open(deployed, "alice")
    scorer = load_scorer(gov, deployed_version(gov, "stream"))
    _feed(client, names["input"], _rows(600))
    broker = RedisBroker(
        client, names["input"], names["output"], names["dead"], "g", "c1", max_len=100
    )

    broker.ensure_group()

    consume(broker, scorer, ConsumerOptions(batch=50, max_messages=600))

    kept = client.xlen(names["output"])
    assert 100 <= kept < 600  # approximate trimming keeps whole radix-tree nodes


def test_max_len_is_refused_with_kafka_whose_retention_lives_on_the_broker() -> None:
    from mlgate.serving.stream_service import open_broker

    with pytest.raises(ValidationError, match="set a Kafka topic's retention on the broker"):
        open_broker(
            "in", "out", "in.dead", "g", "c", 1000, kafka_bootstrap="127.0.0.1:1", max_len=10
        )


def test_a_number_beyond_any_float_goes_alone_to_the_dead_letters(
    deployed: Path, client: redis.Redis, names: dict[str, str]
) -> None:
    gov = Governance.open(deployed, "alice")
    scorer = load_scorer(gov, deployed_version(gov, "stream"))
    ids = _feed(client, names["input"], _rows(4))
    huge = '{"x1": ' + "9" * 400 + ', "x2": 0.5, "region": "n"}'
    client.xadd(names["input"], {"id": "huge", "data": huge})

    totals = consume(_broker(client, names), scorer, ConsumerOptions(max_messages=5))

    dead = client.xrange(names["dead"])
    assert [f["id"] for _, f in dead] == ["huge"]
    assert "column x1 has 1 integer(s) too large for a 64-bit float" in dead[0][1]["mlgate_reason"]
    assert sorted(f["id"] for _, f in client.xrange(names["output"])) == sorted(ids)
    assert (totals.scored, totals.dead) == (4, 1)
