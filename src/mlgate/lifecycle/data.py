"""Registering datasets and reading them back, verified by hash."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from mlgate.artifacts import sha256_file
from mlgate.contracts import Contract, load_contract
from mlgate.errors import NotFoundError, ValidationError
from mlgate.lifecycle.access import require_grant
from mlgate.lifecycle.service import Governance
from mlgate.registry.models import DatasetVersion
from mlgate.tabular import (
    check_columns,
    count_data_rows,
    read_sample,
    read_table,
    schema_of,
    table_format,
)

logger = logging.getLogger(__name__)

LABELLED = ("train", "holdout")
LARGE_FILE_BYTES = 256 * 2**20
SAMPLE_ROWS = 100_000


def is_large(path: Path) -> bool:
    """Return whether a file is too large to load whole: it is then read in batches.

    Registration takes its schema from the first rows and counts the rest in a stream, and the
    data-quality and drift checks run out of core.
    """
    return path.stat().st_size > LARGE_FILE_BYTES


def register_dataset(
    gov: Governance, path: Path, name: str = "train", contract_path: Path | None = None
) -> DatasetVersion:
    """Store a data file under its hash and register it as a version of dataset ``name``.

    Training and hold-out data must carry the target column; every dataset must carry the
    sensitive attributes the project declares, so that group checks can run on it. With a data
    contract, the contract is kept with the version (the ``contract`` check grades the data
    against it) and the columns it marks sensitive count as sensitive for access grants.
    """
    large = path.is_file() and is_large(path)
    frame = read_sample(path, SAMPLE_ROWS) if large else read_table(path)
    _check_expected_columns(gov, frame, path, name)
    contract = load_contract(contract_path) if contract_path is not None else None
    marked = contract_sensitive(contract) + detected_identifiers(gov, frame)
    require_grant(gov, "dataset.register", f"dataset '{name}'", frame.columns, marked)
    digest = sha256_file(path)
    stored_contract = contract.model_dump(mode="json") if contract else None
    unchanged = _unchanged_version(gov, name, digest, stored_contract)
    if unchanged is not None:
        logger.info(
            "dataset %s is unchanged (sha256 %s); kept version %d", name, digest[:12], unchanged.id
        )
        return unchanged
    artifact = gov.artifacts.put_file(path)
    n_rows = count_data_rows(path) if large else len(frame)
    with gov.transaction(lock=True) as session:
        project = gov.project(session)
        # Asked again under the project's lock: the same file registered twice at once
        # gives one version, as it does one after the other.
        unchanged = _latest_if_same(session, project.id, name, digest, stored_contract)
        if unchanged is not None:
            logger.info("dataset %s was just registered with the same content", name)
            return unchanged
        dataset = DatasetVersion(
            project_id=project.id,
            name=name,
            uri=str(path.resolve()),
            sha256=digest,
            artifact_sha256=artifact,
            n_rows=n_rows,
            n_cols=frame.shape[1],
            schema=schema_of(frame),
            contract=stored_contract,
            created_by=gov.actor,
            created_at=datetime.now(UTC),
        )
        session.add(dataset)
        session.flush()
        gov.audit(
            session,
            "dataset.registered",
            f"dataset:{name}",
            {"sha256": digest, "rows": n_rows, "columns": frame.shape[1], "file": path.name},
        )
    logger.info("registered dataset %s (%d rows, sha256 %s)", name, n_rows, digest[:12])
    return dataset


def _unchanged_version(
    gov: Governance, name: str, digest: str, contract: dict | None
) -> DatasetVersion | None:
    """Return the latest version of ``name`` when it has the same content and contract.

    Registering the same file again must not make existing evidence stale.
    """
    with gov.transaction() as session:
        return _latest_if_same(session, gov.project(session).id, name, digest, contract)


def _latest_if_same(
    session: Session, project_id: int, name: str, digest: str, contract: dict | None
) -> DatasetVersion | None:
    """Return the latest version of ``name`` when its content and contract are these."""
    stmt = (
        select(DatasetVersion)
        .where(DatasetVersion.project_id == project_id, DatasetVersion.name == name)
        .order_by(DatasetVersion.id.desc())
    )
    latest = session.execute(stmt).scalars().first()
    if latest is not None and latest.sha256 == digest and latest.contract == contract:
        return latest
    return None


def _check_expected_columns(gov: Governance, frame: pd.DataFrame, path: Path, name: str) -> None:
    data = gov.config.data
    expected = list(data.sensitive) + ([data.target] if name in LABELLED else [])
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"{path} lacks column(s) {', '.join(missing)} that mlgate.yaml declares "
            f"(target '{data.target}', sensitive {data.sensitive}); "
            f"found columns: {', '.join(map(str, frame.columns))}"
        )


def latest_or_none(gov: Governance, name: str) -> DatasetVersion | None:
    """Return the newest version of dataset ``name``, or ``None`` when there is none."""
    try:
        return latest_dataset(gov, name)
    except NotFoundError:
        return None


def latest_dataset(gov: Governance, name: str) -> DatasetVersion:
    """Return the newest version of dataset ``name``."""
    with gov.transaction() as session:
        project = gov.project(session)
        stmt = (
            select(DatasetVersion)
            .where(DatasetVersion.project_id == project.id, DatasetVersion.name == name)
            .order_by(DatasetVersion.id.desc())
        )
        dataset = session.execute(stmt).scalars().first()
    if dataset is None:
        raise NotFoundError(
            f"no dataset named '{name}' is registered",
            hint=f"run: mlgate data add FILE --name {name}",
        )
    return dataset


def load_dataset(gov: Governance, dataset: DatasetVersion) -> pd.DataFrame:
    """Read a registered dataset back from the artifact store, refusing altered content."""
    content = gov.artifacts.get_bytes(dataset.artifact_sha256)
    buffer = io.BytesIO(content)
    if table_format(Path(dataset.uri)) == "csv":
        frame = pd.read_csv(buffer)
    else:
        frame = pd.read_parquet(buffer)
    check_columns(frame, dataset.uri)
    return frame


def contract_sensitive(contract: Contract | dict | None) -> list[str]:
    """Return the columns a data contract marks sensitive."""
    if contract is None:
        return []
    if isinstance(contract, dict):
        contract = Contract.model_validate(contract)
    return [c.name for c in contract.columns if c.sensitivity != "none"]


def detected_identifiers(gov: Governance, frame: pd.DataFrame) -> list[str]:
    """Return columns whose values are personal identifiers (e-mails, ID or card numbers...).

    Only content matches count: they are checked by pattern and checksum and rarely wrong, so a
    column nobody declared still needs a grant when it holds identifiers. Scanning is skipped
    when the policy asks this tier for no grants.
    """
    from mlgate.checks.sensitive import IDENTIFIER, scan_frame
    from mlgate.lifecycle.access import grants_required

    if not grants_required(gov):
        return []
    return [
        d.column for d in scan_frame(frame) if d.category == IDENTIFIER and "content" in d.source
    ]
