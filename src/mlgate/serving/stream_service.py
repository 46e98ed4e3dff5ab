"""Running a stream consumer for a workspace: the deployed version, the broker, the audit trail.

:func:`serve_stream` loads the version deployed in mode ``stream`` (refusing when there is
none), records ``stream.started`` and ``stream.stopped`` in the audit trail with the streams and
the totals, logs every prediction to the workspace's prediction log, and runs the broker-neutral
loop of :mod:`mlgate.serving.stream` until it is asked to stop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from mlgate.errors import NotFoundError, ValidationError
from mlgate.lifecycle.deploy import deployed_version, load_scorer
from mlgate.serving.predictions import PredictionLog, prediction_log_folder
from mlgate.serving.redis_stream import DEFAULT_URL, RedisBroker, redacted
from mlgate.serving.stream import Broker, ConsumerOptions, Totals, consume

logger = logging.getLogger(__name__)

MODE = "stream"


def open_broker(
    input_stream: str,
    output_stream: str,
    dead_stream: str,
    group: str,
    consumer: str,
    claim_idle_ms: int,
    redis_url: str | None = None,
    kafka_bootstrap: str | None = None,
    max_len: int | None = None,
) -> Broker:
    """Return a Kafka broker when ``kafka_bootstrap`` is given, else a Redis one.

    ``max_len`` caps the Redis output and dead-letter streams at about that many entries; a
    Kafka topic's retention is set on the broker instead, so it is refused with Kafka.
    """
    if kafka_bootstrap and redis_url:
        raise ValidationError(
            f"give either --kafka-bootstrap ({kafka_bootstrap}) or a Redis URL "
            f"({redacted(redis_url)}), not both"
        )
    if claim_idle_ms < 1:
        raise ValidationError(f"--claim-idle-ms must be at least 1; got {claim_idle_ms}")
    if max_len is not None and max_len < 1:
        raise ValidationError(f"--max-len must be at least 1; got {max_len}")
    if kafka_bootstrap and max_len is not None:
        raise ValidationError(
            "--max-len applies to Redis streams; set a Kafka topic's retention on the broker "
            "(retention.ms or retention.bytes) instead"
        )
    if kafka_bootstrap:
        from mlgate.serving.kafka_stream import KafkaBroker

        return KafkaBroker.connect(
            kafka_bootstrap, input_stream, output_stream, dead_stream, group, consumer
        )
    return RedisBroker.connect(
        redis_url or DEFAULT_URL,
        input_stream,
        output_stream,
        dead_stream,
        group,
        consumer,
        claim_idle_ms,
        max_len,
    )


def serve_stream(
    gov: Any,
    broker: Broker,
    options: ConsumerOptions,
    stop: threading.Event | None = None,
    progress: Callable[[Totals], None] | None = None,
) -> tuple[Totals, int]:
    """Score ``broker``'s messages with the version deployed for streams until stopped.

    Returns the totals and the model version served. The broker is closed on the way out.
    """
    try:
        version = deployed_version(gov, MODE)
        if version is None:
            raise NotFoundError(
                "no model version is deployed for streaming",
                hint="deploy one with `mlgate deploy --mode stream`",
            )
        scorer = load_scorer(gov, version)
        _audit(gov, "stream.started", version.version, broker, {})

        log = PredictionLog(prediction_log_folder(gov), gov.sensitive)
        try:
            totals = consume(broker, scorer, options, log, stop, progress)
        finally:
            log.close()
    finally:
        broker.close()

    counts = {"scored": totals.scored, "dead_lettered": totals.dead}
    _audit(
        gov, "stream.stopped", version.version, broker, {**counts, "recovered": totals.recovered}
    )
    return totals, version.version


def _audit(gov: Any, action: str, version: int, broker: Broker, extra: dict) -> None:
    payload = {"input": broker.input_name, "consumer": broker.consumer, **extra}
    with gov.transaction() as session:
        gov.audit(session, action, f"model:v{version}", payload)
    logger.info("%s: model version %d on %s", action, version, broker.input_name)
