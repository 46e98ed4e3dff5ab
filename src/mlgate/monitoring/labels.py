"""Late labels: the true outcome of served predictions, joined to them by request id.

Outcomes arrive days or months after the prediction (a loan defaults, a claim is settled). They
are sent as a CSV or Parquet file, or a data frame, with the columns ``request_id`` and
``label`` and optionally ``observed_at`` (when the outcome became known; UTC when no zone is
given). The rules, and why:

**Who ingests.** A data scientist, an ML engineer, the business owner or an admin
(:data:`LABEL_ROLES`, those of them the policy declares): outcomes come from the business's
systems, which the owner and the operators have, and the data scientist often fetches them.
**Changing** a stored label (``replace=True``) is narrower (:data:`REPLACE_ROLES`): the ML
engineer, the business owner or an admin, but not the data scientist, since the person who
builds the model should not rewrite the outcomes it is judged by. Every replacement is audited.

**Validation.** Missing columns are named; an empty request id, an empty label, a label that
is not one of the model's classes (they are named), an unreadable ``observed_at`` and one
request id sent twice with two different labels refuse the whole input, so nothing is stored
half. Labels are compared as the text the prediction log writes (``str(class)``); a number
written differently (``1.0`` for class ``1``) is read as that class.

**Idempotence.** Sending a label already stored is a no-op; a different label for a stored
request id is refused unless ``replace`` is set.

**Unlogged ids.** A label whose request id is not in the prediction log is stored anyway (the
log folder may have been rotated, or the prediction made elsewhere) and counted in
:attr:`LabelIngest.unlogged`, so a wrong join key shows up at once.

Rows are inserted 10,000 per statement in one transaction with one ``labels.ingested`` audit
event holding the counts, never the labels themselves.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mlgate.errors import NotFoundError, ValidationError
from mlgate.lifecycle.service import Governance
from mlgate.registry.models import ModelVersion, PredictionLabel
from mlgate.serving.predictions import prediction_log_folder
from mlgate.tabular import readable

logger = logging.getLogger(__name__)

LABEL_ROLES: tuple[str, ...] = ("data_scientist", "ml_engineer", "business_owner", "admin")
REPLACE_ROLES: tuple[str, ...] = ("ml_engineer", "business_owner", "admin")
REQUIRED_COLUMNS: tuple[str, ...] = ("request_id", "label")
BATCH_ROWS = 10_000  # rows per INSERT statement
LOOKUP_IDS = 5_000  # request ids per IN (...) lookup of stored labels
READ_ROWS = 50_000  # stored labels fetched per round trip when reading them back
MAX_REQUEST_ID = 200
MAX_NAMED = 5  # offending values named in an error message


@dataclass(frozen=True)
class LabelIngest:
    """What one ingestion did: rows received, stored, already known, replaced, not logged."""

    received: int
    stored: int
    unchanged: int
    replaced: int
    unlogged: int
    source: str

    def summary(self) -> str:
        """Return the counts as one sentence for the command line and the log."""
        return (
            f"{self.received} label(s) from {self.source}: {self.stored} stored, "
            f"{self.unchanged} already known, {self.replaced} replaced; "
            f"{self.unlogged} for request ids not in the prediction log"
        )


@dataclass(frozen=True)
class DayLabels:
    """One UTC day of the prediction log: predictions logged, and how many have a label."""

    day: date
    logged: int
    labelled: int


# -- ingesting -------------------------------------------------------------------------------


def ingest_labels(
    gov: Governance, source: Path | pd.DataFrame, replace: bool = False
) -> LabelIngest:
    """Store the labels in ``source`` (a CSV or Parquet file, or a frame); return the counts."""
    started = time.perf_counter()
    name = source.name if isinstance(source, Path) else "a data frame"
    frame = read_label_source(source)
    roles = label_roles(gov, REPLACE_ROLES if replace else LABEL_ROLES)

    with gov.transaction() as session:
        doing = "replace stored labels" if replace else "ingest labels"
        gov.require_role(session, roles, "labels.ingest", "labels", doing)
        project = gov.project(session)
        classes = model_classes(session, project.id)
        frame = _validated(frame, classes)
        stored = _stored_labels(session, project.id, frame["request_id"])
        new, same, changed = _split(frame, stored)
        if len(changed) and not replace:
            _refuse_changes(changed)

        _insert(session, project.id, new, gov.actor)
        _replace(session, changed, gov.actor)
        unlogged = count_unlogged(prediction_log_folder(gov), frame["request_id"])
        result = LabelIngest(len(frame), len(new), len(same), len(changed), unlogged, name)
        gov.audit(
            session,
            "labels.ingested",
            "labels",
            {
                "source": name,
                "received": result.received,
                "stored": result.stored,
                "unchanged": result.unchanged,
                "replaced": result.replaced,
                "unlogged": result.unlogged,
            },
        )

    logger.info(
        "%s ingested labels for %s in %.1f s: %s",
        gov.actor,
        gov.config.project,
        time.perf_counter() - started,
        result.summary(),
    )
    return result


def read_label_source(source: Path | pd.DataFrame) -> pd.DataFrame:
    """Return the labels of ``source`` as a frame, request ids and labels read as text."""
    frame = source.copy() if isinstance(source, pd.DataFrame) else _read_file(Path(source))

    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"the labels lack the column(s) {', '.join(missing)}; expected request_id and "
            f"label (and optionally observed_at), got {', '.join(map(str, frame.columns))}"
        )
    columns = [c for c in (*REQUIRED_COLUMNS, "observed_at") if c in frame.columns]
    return frame[columns].reset_index(drop=True)


def _read_file(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise NotFoundError(f"the label file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        text = {"request_id": str, "label": str, "observed_at": str}
        with readable(path, "the label file"):
            return pd.read_csv(path, dtype=text, keep_default_na=False, na_values=[""])
    if suffix in (".parquet", ".pq"):
        with readable(path, "the label file"):
            return pq.read_table(path).to_pandas()
    raise ValidationError(
        f"the label file {path.name} is neither CSV nor Parquet; expected a name ending in "
        ".csv, .parquet or .pq"
    )


def _validated(frame: pd.DataFrame, classes: Sequence[Any]) -> pd.DataFrame:
    """Return the frame with text ids, class-text labels and UTC times; refuse bad rows."""
    if frame.empty:
        raise ValidationError("the labels hold no rows; expected at least one")
    ids = _required_text(frame["request_id"], "request_id")
    too_long = ids[ids.str.len() > MAX_REQUEST_ID]
    if len(too_long):
        raise ValidationError(
            f"{len(too_long)} request id(s) are longer than {MAX_REQUEST_ID} characters, "
            f"first in row {int(too_long.index[0]) + 1}"
        )
    labels = canonical_labels(_required_text(frame["label"], "label"), classes)

    checked = pd.DataFrame({"request_id": ids, "label": labels})
    checked["observed_at"] = _observed_at(frame)
    return _deduplicated(checked)


def _required_text(column: pd.Series, name: str) -> pd.Series:
    text = column.map(_as_text)
    empty = text.isna()
    if empty.any():
        rows = [str(i + 1) for i in np.flatnonzero(empty.to_numpy())[:MAX_NAMED]]
        raise ValidationError(
            f"{int(empty.sum())} row(s) have an empty {name}, in data row(s) "
            f"{', '.join(rows)}; every row needs a {name}"
        )
    return text.astype(object)


def _as_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def class_texts(classes: Sequence[Any]) -> list[str]:
    """Return the model's classes as the prediction log writes them."""
    return [str(c) for c in classes]


def canonical_labels(labels: pd.Series, classes: Sequence[Any]) -> pd.Series:
    """Return ``labels`` as class texts; refuse a label that is none of ``classes``.

    ``1.0`` or ``"1.0"`` is class ``1`` when the classes are numbers.
    """
    texts = class_texts(classes)
    known = {t: t for t in texts}
    for cls, text in zip(classes, texts, strict=True):
        number = _number(cls)
        if number is not None:
            known.setdefault(repr(number), text)
    mapped = labels.map(lambda v: known.get(str(v).strip(), _numeric_match(v, known)))

    unknown = labels[mapped.isna()]
    if len(unknown):
        distinct = list(dict.fromkeys(unknown.astype(str)))
        shown = ", ".join(f"'{v}'" for v in distinct[:MAX_NAMED])
        raise ValidationError(
            f"{len(unknown)} label(s) are not classes of the model, such as {shown}; "
            f"expected one of {', '.join(texts)}"
        )
    return mapped


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _numeric_match(value: Any, known: dict[str, str]) -> str | None:
    number = _number(value)
    return None if number is None else known.get(repr(number))


def _observed_at(frame: pd.DataFrame) -> pd.Series:
    if "observed_at" not in frame.columns:
        return pd.Series([None] * len(frame), dtype=object)
    raw = frame["observed_at"]
    parsed = pd.to_datetime(raw, errors="coerce", utc=True, format="mixed")
    bad = parsed.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValidationError(
            f"observed_at '{raw.iloc[row]}' in data row {row + 1} is not a date or time; "
            "expected ISO 8601, e.g. 2026-11-30 or 2026-11-30T14:00:00Z"
        )
    return pd.Series([None if pd.isna(t) else t.to_pydatetime() for t in parsed], dtype=object)


def _deduplicated(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop repeated rows of one request id; refuse one id sent with two labels."""
    labels_per_id = frame.groupby("request_id", sort=False)["label"].nunique()
    clashing = labels_per_id[labels_per_id > 1]
    if len(clashing):
        named = ", ".join(f"'{i}'" for i in clashing.index[:MAX_NAMED])
        raise ValidationError(
            f"{len(clashing)} request id(s) appear with two different labels in the input, "
            f"such as {named}; send one label per request id"
        )
    return frame.drop_duplicates("request_id", keep="first").reset_index(drop=True)


def model_classes(session: Session, project_id: int) -> list[Any]:
    """Return the classes of the project's model versions, the newest version's first."""
    stmt = (
        select(ModelVersion.classes)
        .where(ModelVersion.project_id == project_id)
        .order_by(ModelVersion.version.desc())
    )
    classes: list[Any] = []
    for listed in session.execute(stmt).scalars():
        classes.extend(c for c in listed or [] if str(c) not in map(str, classes))
    if not classes:
        raise NotFoundError(
            "labels need a model with classes, and the project has no classifier version yet",
            hint="register one with mlgate train or mlgate model add",
        )
    return classes


def _stored_labels(session: Session, project_id: int, ids: pd.Series) -> dict[str, tuple]:
    """Return ``{request_id: (row id, label)}`` of the stored labels among ``ids``."""
    stored: dict[str, tuple] = {}
    values = ids.tolist()
    for start in range(0, len(values), LOOKUP_IDS):
        chunk = values[start : start + LOOKUP_IDS]
        rows = session.execute(
            select(PredictionLabel.request_id, PredictionLabel.id, PredictionLabel.label).where(
                PredictionLabel.project_id == project_id, PredictionLabel.request_id.in_(chunk)
            )
        )
        stored.update((rid, (row_id, label)) for rid, row_id, label in rows)
    return stored


def _split(
    frame: pd.DataFrame, stored: dict[str, tuple]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return the new rows, the rows already stored alike, and the rows that change a label."""
    known = frame["request_id"].map(lambda rid: rid in stored)
    old_label = frame["request_id"].map(lambda rid: stored.get(rid, (None, None))[1])
    same = known & (old_label == frame["label"])
    changed = frame[known & ~same].copy()
    changed["row_id"] = changed["request_id"].map(lambda rid: stored[rid][0])
    changed["old_label"] = old_label[changed.index]
    return frame[~known], frame[same], changed


def _refuse_changes(changed: pd.DataFrame) -> None:
    shown = ", ".join(
        f"'{r.request_id}' (stored {r.old_label}, sent {r.label})"
        for r in changed.head(MAX_NAMED).itertuples()
    )
    raise ValidationError(
        f"{len(changed)} request id(s) already have a different label, such as {shown}; "
        "nothing was stored",
        hint="to correct stored labels, send them again with --replace (audited)",
    )


def _insert(session: Session, project_id: int, rows: pd.DataFrame, actor: str) -> None:
    now = datetime.now(UTC)
    for start in range(0, len(rows), BATCH_ROWS):
        chunk = rows.iloc[start : start + BATCH_ROWS]
        session.execute(
            PredictionLabel.__table__.insert(),  # a plain executemany: no ORM bookkeeping
            [
                {
                    "project_id": project_id,
                    "request_id": rid,
                    "label": label,
                    "observed_at": observed,
                    "ingested_at": now,
                    "actor": actor,
                }
                for rid, label, observed in zip(
                    chunk["request_id"], chunk["label"], chunk["observed_at"], strict=True
                )
            ],
        )


def _replace(session: Session, changed: pd.DataFrame, actor: str) -> None:
    now = datetime.now(UTC)
    for start in range(0, len(changed), BATCH_ROWS):
        chunk = changed.iloc[start : start + BATCH_ROWS]
        session.execute(
            update(PredictionLabel),
            [
                {
                    "id": int(row_id),
                    "label": label,
                    "observed_at": observed,
                    "ingested_at": now,
                    "actor": actor,
                }
                for row_id, label, observed in zip(
                    chunk["row_id"], chunk["label"], chunk["observed_at"], strict=True
                )
            ],
        )


def label_roles(gov: Governance, wanted: Sequence[str] = LABEL_ROLES) -> set[str]:
    """Return the roles of ``wanted`` that the project's policy declares (all if none is)."""
    declared = {role for role in wanted if role in gov.policy.roles}
    return declared or set(wanted)


# -- reading the log and the stored labels ----------------------------------------------------


def log_request_ids(folder: Path) -> Iterator[tuple[str, pa.ChunkedArray]]:
    """Yield ``(day, request ids)`` of each prediction log file, one file at a time."""
    for path in sorted(Path(folder).glob("date=*/part-*.parquet")):
        if "request_id" not in pq.read_schema(path).names:
            continue
        day = path.parent.name.removeprefix("date=")
        yield day, pq.read_table(path, columns=["request_id"]).column("request_id")


def count_unlogged(folder: Path, ids: pd.Series) -> int:
    """Return how many of ``ids`` appear in no file of the prediction log under ``folder``."""
    wanted = pa.array(ids.tolist(), pa.string())
    found = np.zeros(len(wanted), dtype=bool)
    for _, logged in log_request_ids(folder):
        hit = pc.is_in(wanted, value_set=logged.cast(pa.string()).combine_chunks())
        found |= hit.to_numpy(zero_copy_only=False)
        if found.all():
            break
    return int((~found).sum())


def labels_table(session: Session, project_id: int) -> pa.Table:
    """Return the project's stored labels as an Arrow table (``request_id``, ``label``).

    The rows are fetched a block at a time and kept as Arrow columns, never as one Python
    list, so a project with millions of labels costs a few bytes per label. The table is kept
    until a label is added or replaced, since every window of a run joins against it.
    """
    key = _labels_version(session, project_id)
    cached = _LABELS_CACHE.get(project_id)
    if cached is not None and cached[0] == key:
        return cached[1]

    columns = PredictionLabel.__table__.c
    stmt = (
        select(columns.request_id, columns.label)
        .where(columns.project_id == project_id)
        .execution_options(stream_results=True)
    )
    result = session.connection().execute(stmt)
    batches = []
    for part in result.partitions(READ_ROWS):
        ids, labels = zip(*part, strict=True) if part else ((), ())
        batches.append(
            pa.record_batch(
                [pa.array(ids, pa.string()), pa.array(labels, pa.string())],
                names=["request_id", "label"],
            )
        )
    schema = pa.schema([("request_id", pa.string()), ("label", pa.string())])
    table = pa.Table.from_batches(batches, schema=schema)
    _LABELS_CACHE.clear()  # one project's labels at a time: memory stays bounded
    _LABELS_CACHE[project_id] = (key, table)
    return table


_LABELS_CACHE: dict[int, tuple[tuple[Any, ...], pa.Table]] = {}


def _labels_version(session: Session, project_id: int) -> tuple[Any, ...]:
    """Return what changes whenever the project's labels do: count, newest id, newest time."""
    row = session.execute(
        select(
            func.count(PredictionLabel.id),
            func.max(PredictionLabel.id),
            func.max(PredictionLabel.ingested_at),
        ).where(PredictionLabel.project_id == project_id)
    ).one()
    url = session.get_bind().engine.url.render_as_string(hide_password=True)
    return (url, *row)


def label_status(gov: Governance) -> tuple[list[DayLabels], int]:
    """Return per UTC day the predictions logged and labelled, and the labels never logged."""
    with gov.transaction() as session:
        stored = labels_table(session, gov.project(session).id)
    known = stored.column("request_id").combine_chunks()

    days: dict[str, list[int]] = {}
    found = np.zeros(len(known), dtype=bool)
    for day, ids in log_request_ids(prediction_log_folder(gov)):
        logged = ids.cast(pa.string()).combine_chunks()
        hits = int(pc.sum(pc.is_in(logged, value_set=known)).as_py() or 0)
        counts = days.setdefault(day, [0, 0])
        counts[0] += len(logged)
        counts[1] += hits
        found |= pc.is_in(known, value_set=logged).to_numpy(zero_copy_only=False)
    rows = [DayLabels(date.fromisoformat(d), c[0], c[1]) for d, c in sorted(days.items())]
    return rows, int((~found).sum())
