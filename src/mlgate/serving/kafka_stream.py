"""Kafka as a :class:`~mlgate.serving.stream.Broker`, with confluent-kafka.

A record's value is the JSON object of feature values (what the ``data`` field holds on Redis)
and its key, when present, is the request ``id``. Results and dead letters are JSON objects with
the same fields as on Redis, keyed by ``id``. Offsets are committed by hand, synchronously, and
only after every result of the batch was produced and the producer flushed without a delivery
error; a crash before the commit makes the group deliver the batch again (at-least-once).
Messages a dead consumer held are handed to the others by the group's rebalance, so
:meth:`KafkaBroker.recover` has nothing to do.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from mlgate.errors import ConflictError
from mlgate.serving.stream import DATA_FIELD, ID_FIELD, Message

logger = logging.getLogger(__name__)

FLUSH_TIMEOUT_S = 30.0


class KafkaBroker:
    """Reads ``input_topic`` in consumer group ``group``; writes results and dead letters.

    ``consumer`` and ``producer`` are confluent-kafka ``Consumer`` and ``Producer`` objects (or
    objects with the same methods); :meth:`connect` builds them for a bootstrap address.
    """

    def __init__(
        self,
        consumer: Any,
        producer: Any,
        input_topic: str,
        output_topic: str,
        dead_topic: str,
        name: str,
    ) -> None:
        self.kafka = consumer
        self.producer = producer
        self.input_name = input_topic
        self.output = output_topic
        self.dead = dead_topic
        self.consumer = name
        self.kafka.subscribe([input_topic])

    @classmethod
    def connect(
        cls,
        bootstrap: str,
        input_topic: str,
        output_topic: str,
        dead_topic: str,
        group: str,
        name: str,
    ) -> KafkaBroker:
        """Return a broker on the Kafka cluster at ``bootstrap`` (``HOST:PORT[,HOST:PORT]``)."""
        from confluent_kafka import Consumer, Producer

        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "client.id": name,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        producer = Producer(
            {"bootstrap.servers": bootstrap, "client.id": name, "enable.idempotence": True}
        )
        logger.info("connecting to Kafka at %s, group %s", bootstrap, group)
        return cls(consumer, producer, input_topic, output_topic, dead_topic, name)

    def recover(self, count: int) -> Iterator[list[Message]]:
        """Yield nothing: uncommitted records come back through ``read`` after a rebalance."""
        return iter(())

    def read(self, count: int, block_ms: int) -> list[Message]:
        """Return up to ``count`` records, waiting at most ``block_ms`` for them."""
        records = self.kafka.consume(num_messages=count, timeout=block_ms / 1000)
        batch = []
        for record in records:
            error = record.error()
            if error is not None:
                logger.warning("Kafka reports on %s: %s", self.input_name, error)
                continue
            batch.append(to_message(record))
        return batch

    def commit(
        self,
        results: Sequence[dict[str, str]],
        dead: Sequence[dict[str, str]],
        done: Sequence[Message],
    ) -> None:
        """Produce results and dead letters, flush, then commit the offsets after ``done``."""
        if not done:
            return
        failures: list[str] = []

        def delivered(error: Any, _record: Any) -> None:
            if error is not None:
                failures.append(str(error))

        for topic, records in ((self.output, results), (self.dead, dead)):
            for fields in records:
                self.producer.produce(
                    topic,
                    value=json.dumps(fields).encode(),
                    key=fields.get(ID_FIELD, fields.get("mlgate_message_id", "")).encode(),
                    on_delivery=delivered,
                )
        left = self.producer.flush(FLUSH_TIMEOUT_S)
        if left or failures:
            raise ConflictError(
                f"Kafka did not take {left + len(failures)} of {len(results) + len(dead)} "
                f"record(s) for {self.output}: {'; '.join(failures[:3]) or 'flush timed out'}; "
                "the input offsets were not committed, so the batch will be delivered again"
            )

        self.kafka.commit(offsets=next_offsets(done), asynchronous=False)

    def close(self) -> None:
        """Flush the producer and leave the group."""
        self.producer.flush(FLUSH_TIMEOUT_S)
        self.kafka.close()


def to_message(record: Any) -> Message:
    """Return a Kafka record as a message: the value is ``data``, the key the ``id``."""
    value = record.value()
    fields = {DATA_FIELD: value.decode("utf-8", errors="replace") if value is not None else ""}
    key = record.key()
    if key:
        fields[ID_FIELD] = key.decode("utf-8", errors="replace")
    message_id = f"{record.topic()}:{record.partition()}:{record.offset()}"
    return Message(message_id, fields, (record.topic(), record.partition(), record.offset()))


def next_offsets(done: Sequence[Message]) -> list[Any]:
    """Return, per partition, the offset after the highest one in ``done`` (what to commit)."""
    from confluent_kafka import TopicPartition

    highest: dict[tuple[str, int], int] = {}
    for message in done:
        topic, partition, offset = message.ref
        highest[(topic, partition)] = max(offset, highest.get((topic, partition), -1))
    return [TopicPartition(t, p, o + 1) for (t, p), o in sorted(highest.items())]
