"""Redis Streams as a :class:`~mlgate.serving.stream.Broker`: consumer groups, XACK, XAUTOCLAIM.

The input is read with XREADGROUP in a consumer group created on first use (MKSTREAM, from the
start of the stream). Results and dead letters are added and the inputs acknowledged in one
MULTI/EXEC transaction, one round trip per batch, so a result is never acknowledged without
being written. On start the consumer first reads its own pending entries (XREADGROUP from id 0:
messages it received before a crash and never acknowledged), then claims with XAUTOCLAIM the
entries other consumers left idle longer than ``claim_idle_ms``. Every recovered message
carries its delivery count (from XPENDING), so the loop can give up on one that keeps killing
the consumer. With ``max_len`` the output and dead-letter streams are trimmed to about that
many entries (``MAXLEN ~``), oldest first; without it they grow until a reader trims them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import replace
from urllib.parse import urlsplit, urlunsplit

import redis

from mlgate.errors import ConflictError, NotFoundError, ValidationError
from mlgate.serving.stream import Message

logger = logging.getLogger(__name__)

DEFAULT_URL = "redis://127.0.0.1:6379/0"
CLAIM_IDLE_MS = 60_000


def redacted(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``, fit for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class RedisBroker:
    """Reads ``input_stream`` in consumer group ``group`` and writes to two output streams."""

    def __init__(
        self,
        client: redis.Redis,
        input_stream: str,
        output_stream: str,
        dead_stream: str,
        group: str,
        consumer: str,
        claim_idle_ms: int = CLAIM_IDLE_MS,
        max_len: int | None = None,
    ) -> None:
        names = {"--input": input_stream, "--output": output_stream, "--dead-letter": dead_stream}
        if len(set(names.values())) < len(names):
            raise ValidationError(
                "--input, --output and --dead-letter must name three different streams; got "
                + ", ".join(f"{k} {v}" for k, v in names.items())
            )
        self.client = client
        self.input_name = input_stream
        self.output = output_stream
        self.dead = dead_stream
        self.group = group
        self.consumer = consumer
        self.claim_idle_ms = claim_idle_ms
        self.max_len = max_len

    @classmethod
    def connect(
        cls,
        url: str,
        input_stream: str,
        output_stream: str,
        dead_stream: str,
        group: str,
        consumer: str,
        claim_idle_ms: int = CLAIM_IDLE_MS,
        max_len: int | None = None,
    ) -> RedisBroker:
        """Connect to ``url``, check that Redis answers, and create the group if missing."""
        try:
            # A field that is not UTF-8 becomes U+FFFD instead of an error that would stop the
            # consumer on every restart; the message then fails parsing and is dead-lettered.
            client = redis.Redis.from_url(url, decode_responses=True, encoding_errors="replace")
        except ValueError as error:
            raise ValidationError(
                f"--redis-url {redacted(url)} is not a Redis URL ({error}); expected "
                f"e.g. {DEFAULT_URL}"
            ) from None
        broker = cls(
            client,
            input_stream,
            output_stream,
            dead_stream,
            group,
            consumer,
            claim_idle_ms,
            max_len,
        )
        try:
            client.ping()
            broker.ensure_group()
        except redis.ConnectionError as error:
            raise NotFoundError(
                f"no Redis server answers at {redacted(url)}: {error}",
                hint="start Redis, or point --redis-url (or MLGATE_REDIS_URL) at one",
            ) from None
        except redis.AuthenticationError as error:
            raise ValidationError(f"Redis at {redacted(url)} refused the login: {error}") from None
        logger.info("connected to Redis at %s", redacted(url))
        return broker

    def ensure_group(self) -> None:
        """Create the consumer group on the input stream (and the stream) unless it exists."""
        try:
            self.client.xgroup_create(self.input_name, self.group, id="0", mkstream=True)
            logger.info("created consumer group %s on stream %s", self.group, self.input_name)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise ConflictError(
                    f"cannot create consumer group {self.group} on {self.input_name}: {error}"
                ) from None

    def recover(self, count: int) -> Iterator[list[Message]]:
        """Yield this consumer's pending entries, then entries claimed from idle consumers."""
        cursor = "0"
        while True:
            reply = self.client.xreadgroup(
                self.group, self.consumer, {self.input_name: cursor}, count=count
            )
            entries = reply[0][1] if reply else []
            if not entries:
                break
            cursor = entries[-1][0]
            batch = self._with_deliveries(self._messages(entries))
            logger.info("re-reading %d pending message(s) of %s", len(entries), self.consumer)
            if batch:
                yield batch

        start = "0-0"
        while True:
            reply = self.client.xautoclaim(
                self.input_name,
                self.group,
                self.consumer,
                min_idle_time=self.claim_idle_ms,
                start_id=start,
                count=count,
            )
            start, entries = reply[0], reply[1]
            batch = self._with_deliveries(self._messages(entries))
            if batch:
                logger.info("claimed %d message(s) idle in other consumers", len(batch))
                yield batch
            if start == "0-0":
                break

    def read(self, count: int, block_ms: int) -> list[Message]:
        """Return up to ``count`` new messages for this consumer, waiting up to ``block_ms``."""
        try:
            reply = self.client.xreadgroup(
                self.group, self.consumer, {self.input_name: ">"}, count=count, block=block_ms
            )
        except (redis.ConnectionError, redis.TimeoutError) as error:
            raise self._lost(error) from None
        return self._messages(reply[0][1]) if reply else []

    def commit(
        self,
        results: Sequence[dict[str, str]],
        dead: Sequence[dict[str, str]],
        done: Sequence[Message],
    ) -> None:
        """Add the results and dead letters and acknowledge ``done`` in one transaction."""
        if not done:
            return
        pipe = self.client.pipeline(transaction=True)
        trim = {"maxlen": self.max_len, "approximate": True} if self.max_len else {}
        for fields in results:
            pipe.xadd(self.output, fields, **trim)
        for fields in dead:
            pipe.xadd(self.dead, fields, **trim)
        pipe.xack(self.input_name, self.group, *[m.id for m in done])
        try:
            pipe.execute()
        except (redis.ConnectionError, redis.TimeoutError) as error:
            raise self._lost(error) from None

    def pending(self) -> int:
        """Return how many messages of the group are delivered but not acknowledged."""
        return int(self.client.xpending(self.input_name, self.group)["pending"])

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    def _lost(self, error: Exception) -> ConflictError:
        return ConflictError(
            f"lost the connection to Redis while consuming {self.input_name}: {error}; "
            "no message is lost: unacknowledged ones are scored again on restart",
            hint="restart `mlgate stream` once Redis answers again",
        )

    def _with_deliveries(self, batch: list[Message]) -> list[Message]:
        """Return ``batch`` with each message's delivery count from the group's pending list."""
        if not batch:
            return batch
        pending = self.client.xpending_range(
            self.input_name, self.group, min=batch[0].id, max=batch[-1].id, count=len(batch) * 2
        )
        counts = {str(entry["message_id"]): int(entry["times_delivered"]) for entry in pending}
        return [replace(m, deliveries=counts.get(m.id, m.deliveries)) for m in batch]

    def _messages(self, entries: list) -> list[Message]:
        batch = []
        gone = []
        for message_id, fields in entries:
            if fields is None:  # trimmed or deleted after delivery: nothing left to score
                gone.append(message_id)
                continue
            batch.append(Message(message_id, fields))
        if gone:
            logger.warning(
                "%d pending message(s) of %s were deleted from the stream; acknowledging them",
                len(gone),
                self.input_name,
            )
            self.client.xack(self.input_name, self.group, *gone)
        return batch
