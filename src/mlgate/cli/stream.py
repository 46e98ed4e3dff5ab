"""The ``mlgate stream`` command: score a Redis stream (or Kafka topic) with the deployed model.

The command is added to the main application by :func:`register`, which receives the helper
that opens the project as the acting user, so this module does not import the application.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from mlgate.cli.render import console, err_console

REDIS_URL_ENV = "MLGATE_REDIS_URL"


def register(app: typer.Typer, open_governance: Callable[[], Any]) -> None:
    """Add ``mlgate stream`` to ``app``."""

    @app.command("stream")
    def stream(
        input_stream: Annotated[
            str, typer.Option("--input", help="Stream (or Kafka topic) to read messages from.")
        ],
        output_stream: Annotated[
            str, typer.Option("--output", help="Stream (or topic) to write results to.")
        ],
        dead_letter: Annotated[
            str | None,
            typer.Option(help="Stream for messages that cannot be scored (default: INPUT.dead)."),
        ] = None,
        group: Annotated[str, typer.Option(help="Consumer group.")] = "mlgate",
        consumer: Annotated[
            str | None,
            typer.Option(help="This consumer's name, stable across restarts (default: host)."),
        ] = None,
        batch: Annotated[int, typer.Option(help="Messages read and scored at once.")] = 100,
        block_ms: Annotated[int, typer.Option(help="Longest wait for new messages.")] = 1000,
        claim_idle_ms: Annotated[
            int, typer.Option(help="Claim others' messages unacknowledged this long (Redis).")
        ] = 60_000,
        redis_url: Annotated[
            str | None,
            typer.Option(help=f"Redis URL (default: ${REDIS_URL_ENV} or local Redis, db 0)."),
        ] = None,
        kafka_bootstrap: Annotated[
            str | None, typer.Option(help="Use Kafka at HOST:PORT instead of Redis.")
        ] = None,
        max_messages: Annotated[
            int | None, typer.Option(help="Stop after this many messages (for tests).")
        ] = None,
        progress_seconds: Annotated[
            float, typer.Option(help="Seconds between progress lines.")
        ] = 10.0,
        max_deliveries: Annotated[
            int | None,
            typer.Option(help="Dead-letter a message handed out more often (default 5)."),
        ] = None,
        max_len: Annotated[
            int | None,
            typer.Option(help="Trim output and dead-letter streams to about this many (Redis)."),
        ] = None,
    ) -> None:
        """Score messages with the version deployed for streams; write results, ack inputs."""
        from mlgate.serving.stream import ConsumerOptions, Totals
        from mlgate.serving.stream_service import open_broker, serve_stream

        limits = {} if max_deliveries is None else {"max_deliveries": max_deliveries}
        options = ConsumerOptions(batch, block_ms, progress_seconds, max_messages, **limits)
        gov = open_governance()
        broker = open_broker(
            input_stream=input_stream,
            output_stream=output_stream,
            dead_stream=dead_letter or f"{input_stream}.dead",
            group=group,
            consumer=consumer or socket.gethostname(),
            claim_idle_ms=claim_idle_ms,
            redis_url=redis_url or os.environ.get(REDIS_URL_ENV),
            kafka_bootstrap=kafka_bootstrap,
            max_len=max_len,
        )

        def show(totals: Totals) -> None:
            err_console.print(
                f"{totals.scored} scored, {totals.dead} dead-lettered, "
                f"{totals.rate():.0f} messages/s"
            )

        stop = threading.Event()
        with _stop_on_signals(stop):
            totals, version = serve_stream(gov, broker, options, stop, show)
        console.print(
            f"Stopped: {totals.scored} message(s) scored with model version {version}, "
            f"{totals.dead} dead-lettered ({totals.recovered} re-read after an interruption)"
        )


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on SIGINT or SIGTERM, so the current batch is finished and acknowledged."""

    def request_stop(signum: int, _frame: Any) -> None:
        err_console.print(f"{signal.Signals(signum).name}: stopping after this batch")
        stop.set()

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
