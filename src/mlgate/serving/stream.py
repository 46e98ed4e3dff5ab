"""Scoring a message stream: the broker-neutral consumer loop and the :class:`Broker` contract.

A consumer reads micro-batches from an input stream, scores each batch with one call to the
:class:`~mlgate.serving.scorer.Scorer`, writes one result per message to the output stream and
acknowledges the input messages only once their results (or dead letters) are written. Delivery
is at-least-once: a consumer killed between writing and acknowledging scores those messages
again after a restart, so the output can hold a result twice but never misses one.

A message carries its features either as one field ``data`` holding a JSON object, or as flat
fields, one per feature, whose text is converted by the signature's column kinds. A message
that cannot be scored (bad JSON, a missing feature, text where a number belongs) goes to the
dead-letter stream with its original fields, the reason and the consumer's name, is
acknowledged, and the consumer goes on: one bad message never holds back the others.

Redis Streams and Kafka implement :class:`Broker` (``redis_stream`` and ``kafka_stream``).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from mlgate.errors import ValidationError
from mlgate.serving.scorer import Scorer
from mlgate.tabular import conform

logger = logging.getLogger(__name__)

DATA_FIELD = "data"
ID_FIELD = "id"
CHANNEL = "stream"
REASON_FIELD = "mlgate_reason"
CONSUMER_FIELD = "mlgate_consumer"
MESSAGE_ID_FIELD = "mlgate_message_id"
INPUT_FIELD = "mlgate_input_stream"
# What a model or the input checks raise on a bad row; anything else is a fault of the consumer.
SCORING_ERRORS = (ValidationError, ValueError, TypeError, ArithmeticError)
MAX_DELIVERIES = 5  # hand-outs of one message before it goes to the dead letters
TRUE_TEXT = {"true", "1", "yes", "t", "y"}
FALSE_TEXT = {"false", "0", "no", "f", "n"}


@dataclass(frozen=True)
class Message:
    """One input message: the broker's id for it, its fields as text, and a broker handle.

    ``ref`` is whatever the broker needs to acknowledge the message (Kafka's partition and
    offset); Redis needs only ``id``.
    """

    id: str
    fields: Mapping[str, str]
    ref: Any = None
    deliveries: int = 1  # how often the broker has handed this message out, this time included


class Broker(Protocol):
    """What the consumer loop needs from a message broker.

    ``recover`` yields batches of messages that were delivered earlier but never acknowledged
    (this consumer's own, then those of consumers that died); ``read`` waits up to
    ``block_ms`` for new messages; ``commit`` writes the results and dead letters and then
    acknowledges ``done``, so a crash in between leaves the messages to be delivered again.
    """

    consumer: str
    input_name: str

    def recover(self, count: int) -> Iterator[list[Message]]:
        """Yield batches of at most ``count`` unacknowledged messages to score again."""
        ...

    def read(self, count: int, block_ms: int) -> list[Message]:
        """Return up to ``count`` new messages, waiting at most ``block_ms`` for the first."""
        ...

    def commit(
        self,
        results: Sequence[dict[str, str]],
        dead: Sequence[dict[str, str]],
        done: Sequence[Message],
    ) -> None:
        """Write ``results`` and dead letters, then acknowledge ``done``."""
        ...

    def close(self) -> None:
        """Release the connections."""
        ...


@dataclass
class Totals:
    """What a consumer has done so far."""

    scored: int = 0
    dead: int = 0
    batches: int = 0
    recovered: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def handled(self) -> int:
        """Return the messages scored or dead-lettered."""
        return self.scored + self.dead

    def rate(self) -> float:
        """Return the messages handled per second since the start."""
        elapsed = time.monotonic() - self.started
        return self.handled / elapsed if elapsed > 0 else 0.0


@dataclass(frozen=True)
class BatchOutcome:
    """The results and dead letters for one batch, and what the prediction log needs."""

    results: list[dict[str, str]]
    dead: list[dict[str, str]]
    request_ids: list[str]
    features: pd.DataFrame
    prediction: np.ndarray
    score: np.ndarray | None
    latency_ms: float


@dataclass(frozen=True)
class ConsumerOptions:
    """How the loop reads: batch size, wait, progress interval and an optional message limit."""

    batch: int = 100
    block_ms: int = 1000
    progress_seconds: float = 10.0
    max_messages: int | None = None
    claim_every_seconds: float = 60.0
    max_deliveries: int = MAX_DELIVERIES

    def __post_init__(self) -> None:
        if self.max_deliveries < 1:
            raise ValidationError(
                f"--max-deliveries must be at least 1; got {self.max_deliveries}"
            )
        if self.batch < 1:
            raise ValidationError(f"--batch must be at least 1; got {self.batch}")
        if self.block_ms < 1:
            raise ValidationError(f"--block-ms must be at least 1; got {self.block_ms}")
        if self.max_messages is not None and self.max_messages < 1:
            raise ValidationError(f"--max-messages must be at least 1; got {self.max_messages}")


JSON_KINDS = {
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def parse_features(fields: Mapping[str, str], signature: Sequence[dict[str, Any]]) -> dict:
    """Return a message's feature values, or raise a ValidationError saying what is wrong.

    A ``data`` field is read as a JSON object; otherwise every field is a feature whose text is
    converted by the signature's kind of that column. Fields the model does not read (an
    ``id``, a sensitive column kept for monitoring) are ignored.
    """
    if DATA_FIELD in fields:
        values = _json_object(fields[DATA_FIELD])
    else:
        values = {name: _from_text(fields, column) for name, column in _columns(signature, fields)}

    missing = [c["name"] for c in signature if c["name"] not in values]
    if missing:
        raise ValidationError(
            f"missing feature(s) {', '.join(missing)}; expected "
            f"{', '.join(c['name'] for c in signature)}"
        )
    return {c["name"]: values[c["name"]] for c in signature}


def _json_object(text: str) -> dict:
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValidationError(
            f"field '{DATA_FIELD}' is not valid JSON ({error.msg} at position {error.pos}); "
            "expected a JSON object of feature values"
        ) from error
    except RecursionError:
        raise ValidationError(
            f"field '{DATA_FIELD}' is nested too deeply; expected a flat JSON object of "
            "feature values"
        ) from None
    if not isinstance(values, dict):
        kind = JSON_KINDS.get(type(values), type(values).__name__)
        raise ValidationError(
            f"field '{DATA_FIELD}' holds a JSON {kind}; expected a JSON object of feature values"
        )
    return values


def _columns(
    signature: Sequence[dict[str, Any]], fields: Mapping[str, str]
) -> Iterator[tuple[str, dict[str, Any]]]:
    for column in signature:
        if column["name"] in fields:
            yield column["name"], column


def _from_text(fields: Mapping[str, str], column: dict[str, Any]) -> Any:
    name, kind, text = column["name"], column["kind"], fields[column["name"]]
    if text == "":
        return None
    if kind == "numeric":
        try:
            value = float(text)
        except ValueError:
            raise ValidationError(f"feature {name} must be numeric; got '{text[:40]}'") from None
        if math.isinf(value):
            raise ValidationError(f"feature {name} must be finite; got '{text[:40]}'")
        return value
    if kind == "boolean":
        lowered = text.strip().lower()
        if lowered not in TRUE_TEXT | FALSE_TEXT:
            raise ValidationError(f"feature {name} must be true or false; got '{text[:40]}'")
        return lowered in TRUE_TEXT
    if kind == "datetime":
        try:
            return pd.Timestamp(text)
        except ValueError:
            raise ValidationError(
                f"feature {name} must be a date or time; got '{text[:40]}'"
            ) from None
    return text


def score_batch(scorer: Scorer, messages: Sequence[Message], broker: Broker) -> BatchOutcome:
    """Score ``messages`` in one call, moving the ones that cannot be scored to dead letters.

    When the batch as a whole fails validation, each row is validated alone so only the bad
    ones are split out; should the model still fail on the rest, they are scored one by one.
    """
    started = time.perf_counter()
    rows: list[dict] = []
    good: list[Message] = []
    dead: list[dict[str, str]] = []
    for message in messages:
        try:
            rows.append(parse_features(message.fields, scorer.signature))
            good.append(message)
        except ValidationError as error:
            dead.append(dead_letter(message, error.message, broker))

    frame = pd.DataFrame.from_records(rows, columns=scorer.features)
    prediction, score, good, frame, more_dead = _score_rows(scorer, frame, good, broker)
    dead += more_dead

    results = [
        result_fields(m, scorer.version, p, None if score is None else score[i], broker)
        for i, (m, p) in enumerate(zip(good, prediction, strict=True))
    ]
    return BatchOutcome(
        results,
        dead,
        [r[ID_FIELD] for r in results],
        frame,
        prediction,
        score,
        (time.perf_counter() - started) * 1000,
    )


def _score_rows(
    scorer: Scorer, frame: pd.DataFrame, good: list[Message], broker: Broker
) -> tuple[np.ndarray, np.ndarray | None, list[Message], pd.DataFrame, list[dict[str, str]]]:
    source = f"stream {broker.input_name}"
    if not good:
        return np.array([]), None, [], frame, []
    try:
        scored = scorer.score(frame, source)
        return scored.prediction, scored.score, good, frame, []
    except SCORING_ERRORS as error:
        logger.info("batch of %d failed to score (%s); checking each message", len(good), error)

    dead: list[dict[str, str]] = []
    keep: list[int] = []
    for i, message in enumerate(good):
        try:
            conform(frame.iloc[[i]], scorer.signature, f"message {message.id}")
            keep.append(i)
        except ValidationError as error:
            dead.append(dead_letter(message, error.message, broker))
        except SCORING_ERRORS as error:
            dead.append(dead_letter(message, f"{type(error).__name__}: {error}", broker))
    kept = frame.iloc[keep].reset_index(drop=True)
    messages = [good[i] for i in keep]
    if not messages:
        return np.array([]), None, [], kept, dead

    try:
        scored = scorer.score(kept, source)
        return scored.prediction, scored.score, messages, kept, dead
    except SCORING_ERRORS:
        return _score_one_by_one(scorer, kept, messages, broker, dead)


def _score_one_by_one(
    scorer: Scorer,
    frame: pd.DataFrame,
    messages: list[Message],
    broker: Broker,
    dead: list[dict[str, str]],
) -> tuple[np.ndarray, np.ndarray | None, list[Message], pd.DataFrame, list[dict[str, str]]]:
    predictions, scores, keep = [], [], []
    for i, message in enumerate(messages):
        try:
            scored = scorer.score(frame.iloc[[i]], f"message {message.id}")
        except SCORING_ERRORS as error:
            reason = error.message if isinstance(error, ValidationError) else str(error)
            dead.append(dead_letter(message, f"the model could not score it: {reason}", broker))
            continue
        predictions.append(scored.prediction[0])
        scores.append(None if scored.score is None else scored.score[0])
        keep.append(i)

    score = None if scorer.positive_column is None else np.asarray(scores, dtype=float)
    kept = frame.iloc[keep].reset_index(drop=True)
    return np.asarray(predictions), score, [messages[i] for i in keep], kept, dead


def result_fields(
    message: Message, version: int, prediction: Any, score: Any, broker: Broker
) -> dict[str, str]:
    """Return the output fields for one scored message.

    ``id`` is the message's own ``id`` field when it has one (the caller's request id), else
    the broker's message id; ``score`` is empty for a model that gives no probability.
    """
    return {
        ID_FIELD: str(message.fields.get(ID_FIELD) or message.id),
        "model_version": str(version),
        "prediction": _text(prediction),
        "score": "" if score is None else repr(float(score)),
        "input_stream": broker.input_name,
        "message_id": message.id,
    }


def _text(value: Any) -> str:
    return str(value.item() if isinstance(value, np.generic) else value)


def dead_letter(message: Message, reason: str, broker: Broker) -> dict[str, str]:
    """Return the dead-letter fields: the original fields plus why, who and from where."""
    logger.info("message %s goes to the dead letters: %s", message.id, reason)
    return {
        **message.fields,
        REASON_FIELD: reason,
        CONSUMER_FIELD: broker.consumer,
        MESSAGE_ID_FIELD: message.id,
        INPUT_FIELD: broker.input_name,
    }


class PredictionSink(Protocol):
    """Where scored rows are logged for monitoring (a :class:`PredictionLog`)."""

    def record(
        self,
        request_ids: Sequence[str],
        version: int,
        features: pd.DataFrame,
        prediction: np.ndarray,
        score: np.ndarray | None,
        latency_ms: float,
        channel: str,
    ) -> None:
        """Queue one scored batch."""
        ...


def consume(
    broker: Broker,
    scorer: Scorer,
    options: ConsumerOptions,
    log: PredictionSink | None = None,
    stop: threading.Event | None = None,
    progress: Callable[[Totals], None] | None = None,
) -> Totals:
    """Score messages until ``stop`` is set or ``options.max_messages`` are handled.

    First the unacknowledged messages are scored again (see :meth:`Broker.recover`), then new
    ones are read in batches. A stop request ends the loop after the current batch has been
    written and acknowledged.
    """
    stop = stop or threading.Event()
    totals = Totals()
    last_report = last_claim = time.monotonic()
    logger.info(
        "consuming %s as %s with model version %d",
        broker.input_name,
        broker.consumer,
        scorer.version,
    )

    for batch in broker.recover(options.batch):
        totals.recovered += len(batch)
        _handle(broker, scorer, _give_up_on_repeats(broker, batch, options, totals), log, totals)
        if stop.is_set() or _reached(options, totals):
            return _finish(broker, totals)

    while not stop.is_set() and not _reached(options, totals):
        count = options.batch
        if options.max_messages is not None:
            count = min(count, options.max_messages - totals.handled)
        batch = broker.read(count, options.block_ms)
        if batch:
            _handle(broker, scorer, batch, log, totals)

        now = time.monotonic()
        if now - last_claim >= options.claim_every_seconds:
            last_claim = now
            for claimed in broker.recover(options.batch):
                totals.recovered += len(claimed)
                kept = _give_up_on_repeats(broker, claimed, options, totals)
                _handle(broker, scorer, kept, log, totals)
        if now - last_report >= options.progress_seconds:
            last_report = now
            _report(broker, totals, progress)

    return _finish(broker, totals)


def _give_up_on_repeats(
    broker: Broker, batch: list[Message], options: ConsumerOptions, totals: Totals
) -> list[Message]:
    """Dead-letter the messages handed out ``max_deliveries`` times; return the others.

    A message that kills the consumer before its batch is acknowledged (a row that exhausts
    memory in the model, say) comes back after every restart; without a limit it would stop
    the stream for good.
    """
    worn = [m for m in batch if m.deliveries > options.max_deliveries]
    if not worn:
        return batch
    reason = (
        f"delivered more than {options.max_deliveries} times without a result; the consumer "
        "probably stopped while scoring it"
    )
    broker.commit([], [dead_letter(m, reason, broker) for m in worn], worn)
    totals.dead += len(worn)
    return [m for m in batch if m.deliveries <= options.max_deliveries]


def _handle(
    broker: Broker,
    scorer: Scorer,
    batch: list[Message],
    log: PredictionSink | None,
    totals: Totals,
) -> None:
    if not batch:
        return
    outcome = score_batch(scorer, batch, broker)
    broker.commit(outcome.results, outcome.dead, batch)

    totals.scored += len(outcome.results)
    totals.dead += len(outcome.dead)
    totals.batches += 1
    if log is not None and outcome.results:
        log.record(
            outcome.request_ids,
            scorer.version,
            outcome.features,
            outcome.prediction,
            outcome.score,
            outcome.latency_ms,
            CHANNEL,
        )


def _reached(options: ConsumerOptions, totals: Totals) -> bool:
    return options.max_messages is not None and totals.handled >= options.max_messages


def _report(broker: Broker, totals: Totals, progress: Callable[[Totals], None] | None) -> None:
    logger.info(
        "%s: %d scored, %d dead-lettered, %.0f messages/s",
        broker.input_name,
        totals.scored,
        totals.dead,
        totals.rate(),
    )
    if progress is not None:
        progress(totals)


def _finish(broker: Broker, totals: Totals) -> Totals:
    logger.info(
        "stopped consuming %s: %d scored, %d dead-lettered (%d recovered) in %d batches",
        broker.input_name,
        totals.scored,
        totals.dead,
        totals.recovered,
        totals.batches,
    )
    return totals
