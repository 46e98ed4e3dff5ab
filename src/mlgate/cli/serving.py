"""The ``mlgate serve`` command: the version deployed for REST behind an HTTP server.

The command is added to the main application by :func:`register`, which receives the helper
that opens the project as the acting user, so this module does not import the application.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Annotated, Any

import typer

from mlgate.cli.render import console
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

MAX_PORT = 65_535


def register(app: typer.Typer, open_governance: Callable[[], Any]) -> None:
    """Add ``mlgate serve`` to ``app``."""

    @app.command("serve")
    def serve(
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
        workers: Annotated[int, typer.Option(help="Server processes (one core each).")] = 1,
        poll_seconds: Annotated[
            float, typer.Option(help="How often to look for a newly deployed version.")
        ] = 5.0,
        max_body_mb: Annotated[
            float, typer.Option(help="Largest request body accepted, in MB.")
        ] = 10.0,
        access_log: Annotated[
            bool, typer.Option(help="Log every request (slows the server down).")
        ] = False,
        predictions: Annotated[
            str,
            typer.Option(help="What /invocations answers per row: label or proba."),
        ] = "label",
    ) -> None:
        """Serve the model version deployed with `mlgate deploy --mode rest` over HTTP."""
        import uvicorn

        from mlgate.lifecycle.deploy import load_scorer
        from mlgate.serving.rest import (
            ENVIRONMENT,
            PREDICTIONS,
            ServeSettings,
            check_answers,
            create_app,
            serving_version,
        )

        _check_options(port, workers, poll_seconds, max_body_mb)
        if predictions not in PREDICTIONS:
            raise ValidationError(
                f"--predictions must be one of {', '.join(PREDICTIONS)}; got '{predictions}'"
            )
        gov = open_governance()
        version = serving_version(gov)
        if predictions != PREDICTIONS[0]:  # refuse here, not with a traceback from the server
            check_answers(load_scorer(gov, version), predictions)
        console.print(
            f"Serving model version [bold]{version.version}[/bold] on http://{host}:{port} "
            f"({workers} worker(s)); POST /invocations or /v2/models/<name>/infer"
        )
        logger.info("starting the REST server on %s:%d with %d worker(s)", host, port, workers)

        options = {"host": host, "port": port, "access_log": access_log, "log_level": "warning"}
        if workers == 1:
            settings = ServeSettings(poll_seconds, int(max_body_mb * 1024 * 1024), predictions)
            uvicorn.run(create_app(gov, settings), **options)
            return
        os.environ[ENVIRONMENT["root"]] = str(gov.workspace.root)
        os.environ[ENVIRONMENT["actor"]] = gov.actor
        os.environ[ENVIRONMENT["poll"]] = str(poll_seconds)
        os.environ[ENVIRONMENT["max_body"]] = str(max_body_mb)
        os.environ[ENVIRONMENT["predictions"]] = predictions
        uvicorn.run(
            "mlgate.serving.rest:app_from_environment", factory=True, workers=workers, **options
        )


def _check_options(port: int, workers: int, poll_seconds: float, max_body_mb: float) -> None:
    if not 1 <= port <= MAX_PORT:
        raise ValidationError(f"--port must be between 1 and {MAX_PORT}; got {port}")
    if workers < 1:
        raise ValidationError(f"--workers must be at least 1; got {workers}")
    if poll_seconds <= 0:
        raise ValidationError(f"--poll-seconds must be positive; got {poll_seconds}")
    if max_body_mb <= 0:
        raise ValidationError(f"--max-body-mb must be positive; got {max_body_mb}")
