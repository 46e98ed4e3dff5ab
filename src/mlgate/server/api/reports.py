"""Reports: the governance report, the model card and the monitoring dashboard, as files.

Each request renders the document afresh from the project's evidence with the writers the
command line uses (``mlgate report``, ``mlgate card``, ``mlgate monitor report``), into the
project's working folder on the server (``reports/``), and answers with the file. Rendering
happens in a folder of its own per request and the result is moved into place, so two people
asking at once never read or print over each other's half-written file.

The HTML is self-contained (inline styles and SVG charts, no scripts) and is served with a
content security policy that lets it load nothing and run nothing.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from mlgate.errors import ValidationError
from mlgate.lifecycle.service import Governance
from mlgate.monitoring.dashboard import write_dashboard
from mlgate.reports.card import write_card
from mlgate.reports.collect import collect
from mlgate.reports.governance import write_governance
from mlgate.server.api.schemas import ERRORS
from mlgate.server.auth import Project
from mlgate.server.errors import ApiError

logger = logging.getLogger(__name__)

router = APIRouter(tags=["reports"], responses=ERRORS)

REPORTS_FOLDER = "reports"
MEDIA = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "json": "application/json",
}
HTML_HEADERS = {
    # The reports need nothing but their inline styles and data: images; they run no script.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "frame-ancestors 'self'; form-action 'none'; base-uri 'none'"
    ),
}
COMMON_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
HTML_RESPONSE = {"content": {"text/html": {}}, "description": "the HTML page"}


@router.get(
    "/projects/{project}/reports/governance",
    response_class=FileResponse,
    responses={200: {"content": {"text/html": {}, "application/pdf": {}}}},
)
def governance_report(
    gov: Project,
    fmt: Literal["html", "pdf"] = Query(
        "html", alias="format", description="html, or pdf (printed)"
    ),
) -> FileResponse:
    """Download the governance report (EU AI Act Annex IV and SR 11-7 layout)."""
    pdf = fmt == "pdf"
    if pdf:
        _require_pdf_engine()
    name = "governance.pdf" if pdf else "governance.html"

    def write(folder: Path) -> list[Path]:
        return write_governance(collect(gov), folder / "governance.html", pdf=pdf)

    path = _render(gov, write, name)
    return _answer(path, fmt, f"governance-{_file_stem(gov)}.{fmt}", attachment=True)


@router.get(
    "/projects/{project}/reports/card",
    response_class=FileResponse,
    responses={200: {"content": {"text/html": {}, "application/json": {}, "application/pdf": {}}}},
)
def model_card(
    gov: Project,
    fmt: Literal["html", "json", "pdf"] = Query(
        "html", alias="format", description="html (the page), json (stable schema) or pdf"
    ),
) -> FileResponse:
    """Return the model card: each claim with the evidence and hashes it rests on."""
    pdf = fmt == "pdf"
    if pdf:
        _require_pdf_engine()

    def write(folder: Path) -> list[Path]:
        return write_card(collect(gov), folder, pdf=pdf)

    path = _render(gov, write, f"model-card.{fmt}")
    download = f"model-card-{_file_stem(gov)}.{fmt}"
    return _answer(path, fmt, download, attachment=pdf)


@router.get(
    "/projects/{project}/reports/monitoring",
    response_class=FileResponse,
    responses={200: HTML_RESPONSE},
)
def monitoring_dashboard(gov: Project) -> FileResponse:
    """Return the monitoring dashboard: drift, performance, KPIs and alerts over time."""

    def write(folder: Path) -> list[Path]:
        return [write_dashboard(gov, folder / "monitoring.html")]

    path = _render(gov, write, "monitoring.html")
    return _answer(path, "html", f"monitoring-{_file_stem(gov)}.html", attachment=False)


# -- rendering -------------------------------------------------------------------------------


def _render(gov: Governance, write: Callable[[Path], list[Path]], wanted: str) -> Path:
    """Run ``write`` in a fresh folder, move its files into ``reports/``; return ``wanted``."""
    reports = gov.workspace.root / REPORTS_FOLDER
    with _scratch(reports) as scratch:
        written = write(scratch)
        for path in written:
            os.replace(path, reports / path.name)
    names = sorted(p.name for p in written)
    logger.info("%s rendered %s of %s", gov.actor, ", ".join(names), gov.config.project)
    return reports / wanted


@contextmanager
def _scratch(reports: Path) -> Iterator[Path]:
    """Yield a new folder inside ``reports`` for one rendering, and remove it afterwards."""
    folder = reports / f".render-{secrets.token_hex(8)}"
    folder.mkdir(parents=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _require_pdf_engine() -> None:
    """Refuse (501) a PDF before the slow rendering when the server cannot print PDFs."""
    from mlgate.reports.pdf import load_weasyprint

    try:
        load_weasyprint()
    except ValidationError as exc:
        raise ApiError(
            501, f"this server cannot print PDFs: {exc.message}", hint="ask for format=html"
        ) from None


def _answer(path: Path, fmt: str, download: str, *, attachment: bool) -> FileResponse:
    """Return the file with its media type, its download name and the security headers."""
    headers: dict[str, Any] = dict(COMMON_HEADERS)
    if fmt == "html":
        headers.update(HTML_HEADERS)
    return FileResponse(
        path,
        media_type=MEDIA[fmt],
        filename=download,
        content_disposition_type="attachment" if attachment else "inline",
        headers=headers,
    )


def _file_stem(gov: Governance) -> str:
    """Return the project's name made safe for a download's file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", gov.config.project).strip(".-")[:80] or "project"
