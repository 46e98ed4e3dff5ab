"""The REST server: the version deployed in mode ``rest``, behind MLflow and KServe V2 routes.

``POST /invocations`` takes MLflow scoring-server bodies (see :mod:`mlgate.serving.formats`)
and answers ``{"predictions": [...]}`` with the model's ``predict`` output, as MLflow's sklearn
flavour does, or with its ``predict_proba`` rows when served with ``predictions="proba"`` (as an
MLflow model logged with ``pyfunc_predict_fn="predict_proba"`` answers); ``?scores=true``
returns records with ``prediction`` and ``score`` instead. The
KServe V2 routes (``/v2/...``) serve the same model under the project's slug. Errors are JSON
naming the problem (MLflow's ``{"error_code", "message"}`` on ``/invocations``, V2's
``{"error"}`` on ``/v2``) with a 4xx status; the server keeps serving after each.

Every scored row is logged through :class:`~mlgate.serving.predictions.PredictionLog` without
waiting for the disk. A background task polls the store for the deployed rest version; a new
one (or a rollback) is loaded whole, then swapped in with one reference assignment, so a request
that already holds the old scorer finishes on it and no request fails during the switch.

Scoring runs on the event loop itself: one row takes well under a millisecond, and a hop to a
thread pool would cost more than it frees. Run several workers (``--workers``) to use more
cores.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from mlgate.errors import GovernanceError, NotFoundError, ValidationError
from mlgate.lifecycle.deploy import deployed_version, load_scorer
from mlgate.lifecycle.service import Governance
from mlgate.registry.models import ModelVersion
from mlgate.release.names import project_slug
from mlgate.serving.formats import Columns, parse_csv, parse_json, parse_v2
from mlgate.serving.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from mlgate.serving.metrics import Metrics
from mlgate.serving.model_calls import names_warning_silenced
from mlgate.serving.predictions import PredictionLog, prediction_log_folder
from mlgate.serving.scorer import Scored, Scorer

try:  # orjson writes the same JSON several times faster; the standard library is the fallback
    import orjson

    _dumps: Callable[[Any], bytes | str] = orjson.dumps
except ImportError:  # pragma: no cover - depends on the environment
    _dumps = partial(json.dumps, separators=(",", ":"))

logger = logging.getLogger(__name__)

MODE = "rest"
CHANNEL = "rest"
JSON = "application/json"
CSV = "text/csv"
MB = 1024 * 1024
DEFAULT_MAX_BODY_MB = 10.0
DEFAULT_POLL_SECONDS = 5.0
SCORING_PATH = "/invocations"
REQUEST_ID_HEADER = "x-request-id"
MAX_REQUEST_ID = 200  # characters; the longest request id a label can be stored under
VERSION_HEADER = "X-Model-Version"
ENVIRONMENT = {
    "root": "MLGATE_SERVE_ROOT",
    "actor": "MLGATE_SERVE_ACTOR",
    "poll": "MLGATE_SERVE_POLL_SECONDS",
    "max_body": "MLGATE_SERVE_MAX_BODY_MB",
    "predictions": "MLGATE_SERVE_PREDICTIONS",
}
PREDICTIONS = ("label", "proba")
SWITCH_INTERVAL_SECONDS = 0.001
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
CLIENT_CLOSED = 499  # the client went away before its answer (as nginx counts it)
QUERY_PARAMETERS = ("scores",)
TRUE_VALUES = ("true", "1", "yes")
FALSE_VALUES = ("false", "0", "no")
_V2_TYPES = {"i": "INT64", "u": "UINT64", "f": "FP64", "b": "BOOL"}


@dataclass(frozen=True)
class ServeSettings:
    """How the server polls for new deployments, how large a body may be, what it answers.

    ``predictions`` is what ``/invocations`` returns per row: ``label`` (``predict``, as
    MLflow's sklearn flavour does) or ``proba`` (``predict_proba``'s row, as an MLflow model
    logged with ``pyfunc_predict_fn="predict_proba"`` does).
    """

    poll_seconds: float = DEFAULT_POLL_SECONDS
    max_body_bytes: int = int(DEFAULT_MAX_BODY_MB * MB)
    predictions: str = PREDICTIONS[0]


class RequestError(Exception):
    """A request the server answers with a 4xx status and a message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _usable_id(given: str | None) -> bool:
    return bool(given) and len(given) <= MAX_REQUEST_ID and given.isprintable()


def _check_request_id(given: str | None) -> None:
    """Refuse a caller's request id that could not be logged, labelled or echoed back.

    Labels are joined to predictions by this id and stored with at most
    :data:`MAX_REQUEST_ID` characters, so a longer one would make the prediction unlabellable.
    """
    if not given or _usable_id(given):  # no id (or an empty one): the server makes one
        return
    if len(given) > MAX_REQUEST_ID:
        problem = f"has {len(given)} characters"
    else:
        problem = "holds control characters"
    raise RequestError(
        400,
        "BAD_REQUEST",
        f"the X-Request-ID header {problem}; expected 1 to {MAX_REQUEST_ID} printable "
        "characters, or no header for a generated id",
    )


class RequestIds:
    """Random version-4 UUIDs for requests that bring no id of their own.

    ``uuid.uuid4()`` reads the system's random source and builds a UUID object for every id;
    reading the random bytes for a thousand ids at a time and writing the hex directly gives
    the same ids for a fraction of the CPU. Used from the event loop only.
    """

    BLOCK = 1024

    def __init__(self) -> None:
        self._pool = b""
        self._offset = 0

    def new(self) -> str:
        """Return a new random id in the UUID text form."""
        if self._offset == len(self._pool):
            self._pool = os.urandom(16 * self.BLOCK)
            self._offset = 0
        digits = self._pool[self._offset : self._offset + 16].hex()
        self._offset += 16
        variant = "89ab"[int(digits[16], 16) & 3]
        return (
            f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:]}"
        )


class Served:
    """The scorer being served; replaced whole by the poller, read once per request."""

    def __init__(self, scorer: Scorer, version_id: int) -> None:
        self.scorer = scorer
        self.version_id = version_id


class ServingApp(FastAPI):
    """The FastAPI application, with ``POST /invocations`` answered ahead of everything else.

    The scoring route is the one called thousands of times a second; its handler (set as
    ``scoring``) answers every error itself, so it is called before the middleware, routing
    and exception layers, which cost as much CPU per request as parsing and checking the
    body. Any other request goes through the application as usual.
    """

    scoring: Callable[[Request], Awaitable[Response]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == SCORING_PATH
            and scope["method"] == "POST"
            and self.scoring is not None
        ):
            response = await self.scoring(Request(scope, receive))
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def serving_version(gov: Governance) -> ModelVersion:
    """Return the version deployed in mode rest, or explain how to deploy one."""
    version = deployed_version(gov, MODE)
    if version is None:
        raise NotFoundError(
            "no model version is deployed for REST serving",
            hint="deploy one with `mlgate deploy --mode rest`",
        )
    return version


def check_answers(scorer: Scorer, predictions: str) -> None:
    """Refuse an answer kind the server does not know, or probabilities from a model without."""
    if predictions not in PREDICTIONS:
        raise ValidationError(
            f"predictions must be one of {', '.join(PREDICTIONS)}; got '{predictions}'"
        )
    if predictions == "proba" and not hasattr(scorer.model, "predict_proba"):
        raise ValidationError(
            f"model version {scorer.version} ({type(scorer.model).__name__}) has no "
            "predict_proba; serve it with predictions 'label'"
        )


def create_app(gov: Governance, settings: ServeSettings | None = None) -> ServingApp:
    """Return the FastAPI application serving ``gov``'s deployed rest version.

    The model is loaded, and the prediction log and the poller started, when the application
    starts (its lifespan); with no rest deployment it refuses to start.
    """
    settings = settings or ServeSettings()
    metrics = Metrics()
    ids = RequestIds()
    state: dict[str, Any] = {}
    name = project_slug(gov.config.project)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        version = serving_version(gov)
        scorer = await asyncio.to_thread(load_scorer, gov, version)
        check_answers(scorer, settings.predictions)
        state["served"] = Served(scorer, int(version.id))
        state["log"] = PredictionLog(prediction_log_folder(gov), gov.sensitive)
        poller = asyncio.create_task(_poll(gov, state, metrics, settings))
        switch_interval = _tune_interpreter()
        logger.info("serving %s model version %d", name, scorer.version)
        try:
            with names_warning_silenced():
                yield
        finally:
            poller.cancel()
            state["log"].close()
            sys.setswitchinterval(switch_interval)
            gc.unfreeze()

    app = ServingApp(title=f"mlgate: {gov.config.project}", lifespan=lifespan, docs_url=None)
    app.state.mlgate = state

    @app.post(SCORING_PATH)
    async def invocations(request: Request) -> Response:
        started = time.perf_counter()
        served: Served = state["served"]
        given = request.headers.get(REQUEST_ID_HEADER)
        request_id = given if _usable_id(given) else ids.new()
        headers = {"X-Request-ID": request_id, VERSION_HEADER: str(served.scorer.version)}
        try:
            _check_request_id(given)
            body = await _read_body(request, settings.max_body_bytes)
            predictions, rows = _invoke(
                served.scorer, request, body, state["log"], request_id, settings.predictions
            )
        except ClientDisconnect:
            return _client_gone(metrics, "invocations", started, request_id)
        except RequestError as error:
            metrics.observe("invocations", error.status, time.perf_counter() - started)
            content = {"error_code": error.code, "message": error.message}
            return _json(content, error.status, headers)

        metrics.observe("invocations", 200, time.perf_counter() - started, rows)
        return _json({"predictions": predictions}, 200, headers)

    app.scoring = invocations

    @app.post("/v2/models/{model}/infer")
    async def infer(model: str, request: Request) -> Response:
        started = time.perf_counter()
        served: Served = state["served"]
        given = request.headers.get(REQUEST_ID_HEADER)
        request_id = given if _usable_id(given) else ids.new()
        headers = {"X-Request-ID": request_id, VERSION_HEADER: str(served.scorer.version)}
        try:
            _check_request_id(given)
            _check_model_name(model, name, gov.config.project)
            body = await _read_body(request, settings.max_body_bytes)
            outputs, rows = _infer(served.scorer, body, state["log"], request_id)
        except ClientDisconnect:
            return _client_gone(metrics, "v2_infer", started, request_id)
        except RequestError as error:
            metrics.observe("v2_infer", error.status, time.perf_counter() - started)
            return _json({"error": error.message}, error.status, headers)

        metrics.observe("v2_infer", 200, time.perf_counter() - started, rows)
        content = {
            "model_name": name,
            "model_version": str(served.scorer.version),
            "id": request_id,
            "outputs": outputs,
        }
        return _json(content, 200, headers)

    @app.get("/v2/models/{model}")
    async def model_metadata(model: str) -> Response:
        scorer: Scorer = state["served"].scorer
        try:
            _check_model_name(model, name, gov.config.project)
        except RequestError as error:
            return _json({"error": error.message}, error.status)
        return _json(_metadata(name, scorer))

    @app.get("/ping")
    @app.get("/health")
    @app.get("/v2/health/live")
    async def live() -> Response:
        return _json({"status": "ok"})

    @app.get("/ready")
    @app.get("/v2/health/ready")
    async def ready() -> Response:
        served = state.get("served")
        if served is None:
            return _json({"ready": False}, 503)
        return _json({"ready": True, "model": name, "version": served.scorer.version})

    @app.get("/metrics")
    async def metrics_text() -> Response:
        scorer: Scorer = state["served"].scorer
        text = metrics.render(scorer.version, scorer.sha256, state["log"].dropped)
        return Response(text, media_type=METRICS_CONTENT_TYPE)

    return app


def app_from_environment() -> FastAPI:
    """Build the application from ``MLGATE_SERVE_*`` variables (one per uvicorn worker)."""
    root = os.environ.get(ENVIRONMENT["root"])
    gov = Governance.open(Path(root) if root else None, os.environ.get(ENVIRONMENT["actor"]))
    settings = ServeSettings(
        poll_seconds=float(os.environ.get(ENVIRONMENT["poll"], DEFAULT_POLL_SECONDS)),
        max_body_bytes=int(
            float(os.environ.get(ENVIRONMENT["max_body"], DEFAULT_MAX_BODY_MB)) * MB
        ),
        predictions=os.environ.get(ENVIRONMENT["predictions"], PREDICTIONS[0]),
    )
    return create_app(gov, settings)


def _tune_interpreter() -> float:
    """Shorten the interpreter's pauses for the event loop; return the old switch interval.

    Two settings, both for the tail of the latency, both undone when the server stops:

    - The objects loaded at start-up (libraries, the model) are frozen out of the garbage
      collector. A busy server allocates constantly, and every full collection would walk the
      hundreds of thousands of objects pandas and scikit-learn consist of, stalling the event
      loop for tens of milliseconds. Frozen objects are still freed when their last reference
      goes; only cycles among them are no longer collected.
    - The thread switch interval drops from 5 ms to 1 ms, so the event loop waits at most that
      long for the lock the prediction log's sender thread holds while it joins a flush
      into arrays for the writer process.
    """
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    previous = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    logger.info(
        "froze %d start-up objects for the garbage collector in %.0f ms",
        gc.get_freeze_count(),
        (time.perf_counter() - started) * 1000,
    )
    return previous


# -- one request ------------------------------------------------------------------------------


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)

    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _invoke(
    scorer: Scorer,
    request: Request,
    body: bytes,
    log: PredictionLog,
    request_id: str,
    answer: str,
) -> tuple[list[Any], int]:
    mime = _content_type(request.headers.get("content-type"))
    with_scores = _scores_wanted(request)
    if mime == JSON:
        parse = partial(parse_json, body, scorer.feature_names)
    else:
        parse = partial(_csv_columns, body)
    scored, rows = _score_and_log(
        scorer, parse, log, request_id, answer == "proba", strict=mime == JSON
    )

    if with_scores:
        scores = scored.score.tolist() if scored.score is not None else [None] * rows
        labels = scored.prediction.tolist()
        return [{"prediction": p, "score": s} for p, s in zip(labels, scores, strict=True)], rows
    if answer == "proba" and scored.proba is not None:
        return scored.proba.tolist(), rows
    return scored.prediction.tolist(), rows


def _infer(
    scorer: Scorer, body: bytes, log: PredictionLog, request_id: str
) -> tuple[list[dict[str, Any]], int]:
    parse = partial(parse_v2, body, scorer.feature_names)
    scored, rows = _score_and_log(scorer, parse, log, request_id)

    outputs = [_tensor("prediction", scored.prediction)]
    if scored.score is not None:
        outputs.append(_tensor("score", scored.score))
    return outputs, rows


def _score_and_log(
    scorer: Scorer,
    parse: Callable[[], Columns],
    log: PredictionLog,
    request_id: str,
    proba: bool = False,
    strict: bool = True,
) -> tuple[Scored, int]:
    """Parse, check and score a request body, then queue its rows for the prediction log.

    ``strict`` refuses strings and booleans in numeric columns (JSON bodies); a CSV body's
    values are typed by pandas, as a batch file's are.
    """
    started = time.perf_counter()
    try:
        features = scorer.inputs(parse().values, "request", strict)
        scored = scorer.predict(features, proba)
    except ValidationError as error:
        raise RequestError(400, "BAD_REQUEST", error.message) from None
    except (ValueError, TypeError) as error:  # the model refused values the signature allowed
        logger.warning("model version %d could not score a request: %s", scorer.version, error)
        message = f"the model could not score the input: {error}"
        raise RequestError(400, "BAD_REQUEST", message) from None
    except Exception as error:  # a fault of the model or the server: answer, log, go on
        logger.exception("model version %d failed on a request", scorer.version)
        message = f"the server failed to score the request: {type(error).__name__}; see its log"
        raise RequestError(500, "INTERNAL_ERROR", message) from None

    rows = len(features)
    latency_ms = (time.perf_counter() - started) * 1000
    ids = _row_ids(request_id, rows)
    log.record(ids, scorer.version, features, scored.prediction, scored.score, latency_ms, CHANNEL)
    return scored, rows


def _content_type(header: str | None) -> str:
    if not header:
        raise RequestError(
            415, UNSUPPORTED_MEDIA_TYPE, f"send a Content-Type header: {JSON} or {CSV}"
        )
    mime, _, rest = header.partition(";")
    mime = mime.strip().lower()
    charset = "utf-8"
    for part in rest.split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    if mime not in (JSON, CSV):
        raise RequestError(
            415, UNSUPPORTED_MEDIA_TYPE, f"Content-Type must be {JSON} or {CSV}; got '{header}'"
        )
    if charset not in ("utf-8", "utf8"):
        raise RequestError(
            415, UNSUPPORTED_MEDIA_TYPE, f"only UTF-8 bodies are read; got charset '{charset}'"
        )
    return mime


def _scores_wanted(request: Request) -> bool:
    """Return whether ``?scores=true`` asks for records; refuse unknown parameters and values."""
    if not request.scope.get("query_string"):
        return False
    wanted = False
    for name, value in request.query_params.multi_items():
        if name not in QUERY_PARAMETERS:
            raise RequestError(
                400,
                "BAD_REQUEST",
                f"unknown query parameter '{name}'; /invocations takes "
                f"{', '.join(QUERY_PARAMETERS)}",
            )
        flag = value.lower()
        if flag not in TRUE_VALUES + FALSE_VALUES:
            raise RequestError(
                400,
                "BAD_REQUEST",
                f"query parameter {name} must be one of "
                f"{', '.join(TRUE_VALUES + FALSE_VALUES)}; got '{value}'",
            )
        wanted = flag in TRUE_VALUES
    return wanted


def _csv_columns(body: bytes) -> Columns:
    frame = parse_csv(body)
    return Columns({str(name): frame[name].tolist() for name in frame.columns}, len(frame))


def _row_ids(request_id: str, rows: int) -> list[str]:
    if rows == 1:
        return [request_id]
    return [f"{request_id}#{i}" for i in range(rows)]


def _check_model_name(model: str, slug: str, project: str) -> None:
    if model not in (slug, project):
        raise RequestError(
            404, "RESOURCE_DOES_NOT_EXIST", f"no model '{model}'; this server serves '{slug}'"
        )


def _metadata(name: str, scorer: Scorer) -> dict[str, Any]:
    inputs = [
        {
            "name": column["name"],
            "datatype": "FP64" if column["kind"] == "numeric" else "BYTES",
            "shape": [-1],
        }
        for column in scorer.signature
    ]
    outputs = [{"name": "prediction", "datatype": "BYTES", "shape": [-1]}]
    if scorer.positive_column is not None:
        outputs.append({"name": "score", "datatype": "FP64", "shape": [-1]})
    return {
        "name": name,
        "versions": [str(scorer.version)],
        "platform": "mlgate_sklearn",
        "inputs": inputs,
        "outputs": outputs,
    }


def _tensor(name: str, values: np.ndarray) -> dict[str, Any]:
    datatype = _V2_TYPES.get(values.dtype.kind, "BYTES")
    data = values.tolist() if datatype != "BYTES" else [str(v) for v in values]
    return {"name": name, "shape": [len(values)], "datatype": datatype, "data": data}


def _client_gone(metrics: Metrics, route: str, started: float, request_id: str) -> Response:
    """Count a request whose client left before sending its whole body; nothing is answered."""
    seconds = time.perf_counter() - started
    metrics.observe(route, CLIENT_CLOSED, seconds)
    logger.info(
        "the client of request %s closed the connection after %.0f ms, before its body was "
        "read; nothing was scored",
        request_id,
        seconds * 1000,
    )
    return Response(status_code=CLIENT_CLOSED)


def _too_large(size: int, limit: int) -> RequestError:
    return RequestError(
        413,
        "REQUEST_LIMIT_EXCEEDED",
        f"the request body is larger than the limit of {limit / MB:g} MB (at least {size} "
        "bytes); send fewer rows per request or raise --max-body-mb",
    )


def _json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_dumps(content), status_code=status, headers=headers, media_type=JSON)


# -- the hot switch ---------------------------------------------------------------------------


async def _poll(
    gov: Governance, state: dict[str, Any], metrics: Metrics, settings: ServeSettings
) -> None:
    while True:
        await asyncio.sleep(settings.poll_seconds)
        try:
            await _switch_if_redeployed(gov, state, metrics, settings.predictions)
        except asyncio.CancelledError:
            raise
        except GovernanceError as error:
            logger.warning("could not switch to the newly deployed version: %s", error)
        except Exception:  # the store may be briefly unreachable; keep serving what is loaded
            logger.warning("polling the store for the deployed version failed", exc_info=True)


async def _switch_if_redeployed(
    gov: Governance, state: dict[str, Any], metrics: Metrics, predictions: str
) -> None:
    version = await asyncio.to_thread(deployed_version, gov, MODE)
    served: Served = state["served"]
    if version is None:
        logger.warning(
            "no version is deployed for rest any more; still serving version %d",
            served.scorer.version,
        )
        return
    if int(version.id) == served.version_id:
        return

    started = time.perf_counter()
    scorer = await asyncio.to_thread(load_scorer, gov, version)
    check_answers(scorer, predictions)
    state["served"] = Served(scorer, int(version.id))
    metrics.switches += 1
    logger.info(
        "switched from model version %d to %d (loaded in %.2f s)",
        served.scorer.version,
        scorer.version,
        time.perf_counter() - started,
    )
