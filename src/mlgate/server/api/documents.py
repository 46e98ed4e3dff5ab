"""What people bring to a project: documents, dataset versions, and the models listed.

Documents travel as JSON with their YAML text, so that a browser form and the command line
send the same thing; data files travel as ``multipart/form-data`` and are capped in size. The
service layer validates and stores both exactly as ``mlgate doc submit`` and ``mlgate data add``
do, and its messages name the file as the client called it.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Request, Response, UploadFile
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select

from mlgate.documents import DOCUMENT_TYPES, parse_document_text, template
from mlgate.lifecycle.data import latest_or_none, register_dataset
from mlgate.lifecycle.evidence import submit_document
from mlgate.lifecycle.service import Governance
from mlgate.registry.models import DatasetVersion, Evidence, ModelVersion
from mlgate.server.api.evidence import require_acting
from mlgate.server.api.schemas import ERRORS, EvidenceOut
from mlgate.server.auth import Project, require_user
from mlgate.server.uploads import bare_name, save_upload, shown_as, staged

logger = logging.getLogger(__name__)

router = APIRouter(tags=["documents"], responses=ERRORS)

MAX_DOCUMENT_CHARS = 2**20
DOCUMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_. -]{0,194}\.(yaml|yml)", re.IGNORECASE)
DATASET_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
DATA_SUFFIXES = (".csv", ".parquet", ".pq")
CONTRACT_SUFFIXES = (".yaml", ".yml")
DOCUMENT_EVIDENCE = ("document", "record")


class DocumentKind(BaseModel):
    """A document type the policy can ask for."""

    kind: str
    description: str


class DocumentTemplate(BaseModel):
    """The commented YAML template of a document type, to fill in."""

    kind: str
    content: str


class NewDocument(BaseModel):
    """A filled document: the file's bare name and its YAML text."""

    filename: str = Field(
        min_length=1, max_length=200, description="a bare file name ending .yaml or .yml"
    )
    content: str = Field(
        min_length=1, max_length=MAX_DOCUMENT_CHARS, description="the document's YAML text"
    )

    @field_validator("filename")
    @classmethod
    def _bare(cls, value: str) -> str:
        if not DOCUMENT_NAME.fullmatch(value):
            raise ValueError(
                "expected a bare file name (letters, digits, '_', '-', '.', spaces; no folder) "
                f"ending .yaml or .yml; got '{value}'"
            )
        return value

    @field_validator("content")
    @classmethod
    def _text(cls, value: str) -> str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(
                "expected UTF-8 text; the content holds unpaired surrogates"
            ) from None
        return value


class DatasetOut(BaseModel):
    """A registered version of a named dataset."""

    id: int = Field(description="the version's id, which evidence and models refer to")
    name: str
    version: int = Field(description="1 for the first version of this name, then 2, 3...")
    file: str = Field(description="the name of the file it was registered from")
    sha256: str
    n_rows: int
    n_cols: int
    column_names: list[str]
    has_contract: bool
    created_by: str
    created_at: datetime


class DatasetRegistered(DatasetOut):
    """A dataset version after an upload; ``unchanged`` when it matched the latest one."""

    unchanged: bool = Field(
        description="the file and contract equal the latest version, which was kept"
    )


class ModelOut(BaseModel):
    """A registered model version."""

    id: int
    version: int
    artifact_sha256: str
    flavour: str
    estimator: str
    target: str | None
    classes: list[Any]
    features: list[str]
    metrics: dict[str, Any]
    dataset_version_id: int | None
    created_by: str
    created_at: datetime


KindName = Annotated[str, Path(min_length=1, max_length=64, description="A document type.")]


@router.get(
    "/document-kinds",
    response_model=list[DocumentKind],
    dependencies=[Depends(require_user)],
)
def document_kinds() -> list[DocumentKind]:
    """List the document types mlgate knows, each with what it is for."""
    return [
        DocumentKind(kind=kind, description=_first_line(schema.__doc__))
        for kind, schema in DOCUMENT_TYPES.items()
    ]


@router.get(
    "/document-kinds/{kind}/template",
    response_model=DocumentTemplate,
    dependencies=[Depends(require_user)],
)
def document_template(kind: KindName) -> DocumentTemplate:
    """Return the commented YAML template of a document type (404 naming the known ones)."""
    return DocumentTemplate(kind=kind, content=template(kind))


@router.post("/projects/{project}/documents", response_model=EvidenceOut, status_code=201)
def submit(gov: Project, body: NewDocument) -> EvidenceOut:
    """Validate a filled document field by field and store it as evidence.

    A document with mistakes is refused with 422 listing every bad field with its line. The
    document counts for the requirement of the policy that asks for its kind.
    """
    require_acting(gov, "document.submit", f"file:{body.filename}", "submit documents")
    parse_document_text(body.content, body.filename)
    with staged(gov, body.filename) as path, shown_as(path.parent):
        path.write_text(body.content, encoding="utf-8")
        evidence = submit_document(gov, path)
    return EvidenceOut.model_validate(evidence, from_attributes=True)


@router.get("/projects/{project}/documents", response_model=list[EvidenceOut])
def list_documents(gov: Project) -> list[EvidenceOut]:
    """List the newest submission of each document type, in the order the types are known."""
    with gov.transaction() as session:
        stmt = (
            select(Evidence)
            .where(
                Evidence.project_id == gov.project(session).id,
                Evidence.kind.in_(DOCUMENT_EVIDENCE),
            )
            .order_by(Evidence.id)
        )
        newest = {e.name: e for e in session.execute(stmt).scalars()}
    order = list(DOCUMENT_TYPES)
    ranked = sorted(newest.values(), key=lambda e: (order.index(e.name), e.id))
    return [EvidenceOut.model_validate(e, from_attributes=True) for e in ranked]


@router.post(
    "/projects/{project}/datasets",
    response_model=DatasetRegistered,
    status_code=201,
    responses={413: ERRORS[422] | {"description": "a file above the upload limit"}},
)
def add_dataset(
    request: Request,
    response: Response,
    gov: Project,
    file: Annotated[UploadFile, File(description="A CSV or Parquet file.")],
    name: Annotated[
        str, Form(pattern=DATASET_NAME, description="train, holdout, current, or your own name")
    ] = "train",
    contract: Annotated[
        UploadFile | None, File(description="A data contract (YAML) to keep with it.")
    ] = None,
) -> DatasetRegistered:
    """Register a data file as a new version of a named dataset (201).

    The same file and contract as the latest version register nothing and answer 200 with
    that version, so existing evidence stays valid. A file above ``MLGATE_MAX_UPLOAD_MB`` is
    refused with 413.
    """
    require_acting(gov, "dataset.register", f"dataset:{name}", "register datasets")
    limit = request.app.state.settings.max_upload_bytes
    filename = bare_name(file.filename, DATA_SUFFIXES, "dataset file")
    before = latest_or_none(gov, name)
    with staged(gov, filename) as path, shown_as(path.parent):
        save_upload(file, path, limit, "dataset file")
        contract_path = None
        if _given(contract):
            assert contract is not None
            shown = bare_name(contract.filename or "contract.yaml", CONTRACT_SUFFIXES, "contract")
            contract_path = path.with_name(shown)
            save_upload(contract, contract_path, limit, "data contract")
        dataset = register_dataset(gov, path, name, contract_path)
    unchanged = before is not None and before.id == dataset.id
    if unchanged:
        response.status_code = 200
    registered = next(d for d in datasets_of(gov) if d.id == dataset.id)
    return DatasetRegistered(**registered.model_dump(), unchanged=unchanged)


@router.get("/projects/{project}/datasets", response_model=list[DatasetOut])
def list_datasets(gov: Project) -> list[DatasetOut]:
    """List every registered dataset version, oldest first."""
    return datasets_of(gov)


@router.get("/projects/{project}/models", response_model=list[ModelOut])
def list_models(gov: Project) -> list[ModelOut]:
    """List the registered model versions, oldest first, with their training metrics."""
    with gov.transaction() as session:
        rows = gov.project_rows(session, ModelVersion)
    return [
        ModelOut(
            id=m.id,
            version=m.version,
            artifact_sha256=m.artifact_sha256,
            flavour=m.flavour,
            estimator=m.estimator,
            target=m.target,
            classes=list(m.classes),
            features=[c["name"] for c in m.signature],
            metrics=dict(m.metrics),
            dataset_version_id=m.dataset_version_id,
            created_by=m.created_by,
            created_at=m.created_at,
        )
        for m in rows
    ]


def datasets_of(gov: Governance) -> list[DatasetOut]:
    """Return the project's dataset versions, oldest first, numbered per dataset name."""
    with gov.transaction() as session:
        rows = gov.project_rows(session, DatasetVersion)
    counts: dict[str, int] = {}
    listed = []
    for d in sorted(rows, key=lambda row: row.id):
        counts[d.name] = counts.get(d.name, 0) + 1
        listed.append(
            DatasetOut(
                id=d.id,
                name=d.name,
                version=counts[d.name],
                file=PurePath(d.uri).name,
                sha256=d.sha256,
                n_rows=d.n_rows,
                n_cols=d.n_cols,
                column_names=[c["name"] for c in d.schema],
                has_contract=d.contract is not None,
                created_by=d.created_by,
                created_at=d.created_at,
            )
        )
    return listed


def _given(upload: UploadFile | None) -> bool:
    """Return whether an optional file part holds a file (a form may send an empty part)."""
    return upload is not None and bool(upload.filename or upload.size)


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""
