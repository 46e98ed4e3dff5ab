"""A project's page: its stages, the current gate's checklist, members, evidence and actions.

Submitting a document and advancing are forms on the page. A refused action (a document that
does not validate, a gate with gaps, a missing role) shows its message on the page itself,
with what was typed kept in the form; success redirects back with a short message.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from mlgate.documents.parse import parse_document_text
from mlgate.errors import GovernanceError, ValidationError
from mlgate.lifecycle.evidence import submit_document
from mlgate.lifecycle.service import READ_ONLY_ROLES, Governance
from mlgate.registry.models import Evidence
from mlgate.server.accounts import Principal
from mlgate.server.api.documents import MAX_DOCUMENT_CHARS
from mlgate.server.api.evidence import require_acting
from mlgate.server.errors import status_of
from mlgate.server.uploads import bare_name, shown_as, staged, too_large
from mlgate.server.web.common import done, flash
from mlgate.server.web.deps import FormUser, PageProjectName, WebUser, open_for_page
from mlgate.server.web.rendering import path_segment, render

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

MAX_DOCUMENT_BYTES = MAX_DOCUMENT_CHARS
DOCUMENT_SUFFIXES = (".yaml", ".yml")


def project_url(name: str) -> str:
    """Return the path of project ``name``'s page."""
    return f"/projects/{path_segment(name)}"


def project_page(
    request: Request,
    user: Principal,
    gov: Governance,
    roles: set[str],
    status: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    """Render the project page; ``error`` is a refusal's message, ``form`` what was typed."""
    project, stages = gov.status()
    with gov.transaction() as session:
        evidence = gov.project_rows(session, Evidence)
    current = next((s for s in stages if s.status == "current"), stages[0])
    return render(
        request,
        "project.html",
        user,
        status=status,
        project=project,
        stages=stages,
        current=current,
        roles=sorted(roles),
        # Forms for those who can change the project; readers (auditors) see the state only.
        acting=bool(set(roles) - READ_ONLY_ROLES),
        members=gov.members(),
        evidence=list(reversed(evidence)),
        url=project_url(project.name),
        flash=flash(request),
        error=error,
        form=form or {},
    )


@router.get("/projects/{name}")
def show_project(request: Request, user: WebUser, name: PageProjectName) -> Response:
    """Show a project's stages, gate checklist, members and evidence."""
    gov, roles = open_for_page(request, user, name)
    return project_page(request, user, gov, roles)


def upload_text(upload: UploadFile | None) -> str:
    """Return an uploaded document's text; refuse one over the size limit (413) or not UTF-8."""
    if upload is None or not upload.filename:
        return ""
    data = upload.file.read(MAX_DOCUMENT_BYTES + 1)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise too_large("document", len(data), MAX_DOCUMENT_BYTES)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValidationError(
            f"the uploaded file '{upload.filename[:100]}' is not UTF-8 text (byte {error.start}); "
            "expected a YAML document"
        ) from None


def store_document(gov: Governance, filename: str, text: str) -> Evidence:
    """Validate the document's text and store it as evidence, as the API does.

    The file is staged under a generated folder of the project's uploads and named by the
    bare name the user gave; messages never name the server's paths.
    """
    if not text.strip():
        raise ValidationError(
            "expected the document's YAML in the text box or an uploaded file; got neither",
            hint="start from the template: mlgate doc new <type>",
        )
    if len(text.encode("utf-8")) > MAX_DOCUMENT_BYTES:
        raise too_large("document", len(text.encode("utf-8")), MAX_DOCUMENT_BYTES)
    name = bare_name(filename, DOCUMENT_SUFFIXES, "document")
    require_acting(gov, "document.submit", f"file:{name}", "submit documents")
    parse_document_text(text, name)
    with staged(gov, name) as path, shown_as(path.parent):
        path.write_text(text, encoding="utf-8")
        return submit_document(gov, path)


@router.post("/projects/{name}/documents")
def submit(
    request: Request,
    user: FormUser,
    name: PageProjectName,
    filename: Annotated[str, Form(max_length=200)] = "",
    content: Annotated[str, Form()] = "",
    upload: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Submit a document typed in the text box or uploaded as a file."""
    gov, roles = open_for_page(request, user, name)
    text = upload_text(upload) or content
    given = upload.filename if upload is not None and upload.filename else "document.yaml"
    shown = filename.strip() or given
    try:
        evidence = store_document(gov, shown[:200], text)
    except GovernanceError as refusal:
        form = {"filename": filename, "content": content}
        return project_page(request, user, gov, roles, status_of(refusal), _message(refusal), form)
    return done(project_url(name), "submitted", kind=evidence.name, evidence=evidence.id)


@router.post("/projects/{name}/advance")
def advance(request: Request, user: FormUser, name: PageProjectName) -> Response:
    """Move the project to its next stage; a closed gate shows its gaps on the page."""
    gov, roles = open_for_page(request, user, name)
    try:
        stage = gov.advance()
    except GovernanceError as refusal:
        return project_page(request, user, gov, roles, status_of(refusal), _message(refusal))
    return done(project_url(name), "advanced", stage=stage)


def _message(error: GovernanceError) -> str:
    return f"{error.message}\nNext: {error.hint}" if error.hint else error.message
