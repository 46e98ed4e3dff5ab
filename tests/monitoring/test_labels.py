"""Late labels: validation, idempotent re-sending, replacement rights, unlogged ids, audit."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from mlgate.errors import NotFoundError, PolicyViolation, ValidationError
from mlgate.lifecycle.service import Governance
from mlgate.monitoring.labels import BATCH_ROWS, ingest_labels, label_status, labels_table
from mlgate.registry.models import AuditEvent, PredictionLabel
from tests.monitoring.production import labels_for, log_traffic, monitored_project, traffic


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = monitored_project(tmp_path_factory.mktemp("labels") / "ws")
    gov = Governance.open(root, actor="alice")
    gov.add_member("dave", "data_scientist")
    gov.add_member("olga", "business_owner")
    gov.add_member("vera", "validator")
    log_traffic(gov, traffic(2, 300, seed=5))
    return root


@pytest.fixture
def project(base: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(base, root)
    return root


def _gov(root: Path, user: str = "alice") -> Governance:
    return Governance.open(root, actor=user)


def _stored(gov: Governance) -> dict[str, str]:
    with gov.transaction() as session:
        rows = session.execute(select(PredictionLabel.request_id, PredictionLabel.label))
        return dict(rows.all())


def _events(gov: Governance, action: str) -> list[AuditEvent]:
    with gov.transaction() as session:
        stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        return list(session.execute(stmt).scalars())


def test_labels_are_stored_by_request_id_and_resending_them_is_a_no_op(project: Path) -> None:
    gov = _gov(project)
    frame = traffic(2, 300, seed=5)
    labels = labels_for(frame, frame.index[:100])

    first = ingest_labels(gov, labels)
    again = ingest_labels(gov, labels)

    assert (first.received, first.stored, first.unchanged, first.unlogged) == (100, 100, 0, 0)
    assert (again.stored, again.unchanged, again.replaced) == (0, 100, 0)
    stored = _stored(gov)
    assert stored["r0"] == str(frame.loc[0, "y"])
    assert len(stored) == 100


def test_a_csv_file_keeps_request_ids_as_text_and_reads_numbers_as_the_classes(
    project: Path,
) -> None:
    gov = _gov(project)
    path = project / "labels.csv"
    path.write_text(
        "request_id,label,observed_at\n007,1.0,2026-11-30\n8,0,2026-11-30T10:00:00+01:00\n"
    )

    result = ingest_labels(gov, path)

    assert result.unlogged == 2  # neither id was ever served
    assert _stored(gov) == {"007": "1", "8": "0"}
    with gov.transaction() as session:
        stmt = select(PredictionLabel.request_id, PredictionLabel.observed_at)
        times = dict(session.execute(stmt).all())
    assert times["8"].hour == 9  # stored in UTC


def test_a_parquet_file_is_read_too(project: Path) -> None:
    path = project / "labels.parquet"
    pd.DataFrame({"request_id": ["r1", "r2"], "label": [1, 0]}).to_parquet(path)

    assert ingest_labels(_gov(project), path).stored == 2


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"id": ["r1"], "label": [1]}), "lack the column(s) request_id"),
        (
            pd.DataFrame({"request_id": ["r1", " "], "label": [1, 0]}),
            "empty request_id, in data row(s) 2",
        ),
        (pd.DataFrame({"request_id": ["r1", "r2"], "label": [1, None]}), "empty label"),
        (
            pd.DataFrame({"request_id": ["r1", "r2"], "label": ["yes", 1]}),
            "not classes of the model, such as 'yes'; expected one of 0, 1",
        ),
        (
            pd.DataFrame({"request_id": ["r1", "r1"], "label": [1, 0]}),
            "appear with two different labels in the input, such as 'r1'",
        ),
        (
            pd.DataFrame({"request_id": ["r1"], "label": [1], "observed_at": ["last tuesday"]}),
            "observed_at 'last tuesday' in data row 1 is not a date",
        ),
        (pd.DataFrame({"request_id": [], "label": []}), "hold no rows"),
    ],
)
def test_bad_labels_are_refused_with_the_reason_and_nothing_is_stored(
    project: Path, frame: pd.DataFrame, message: str
) -> None:
    gov = _gov(project)

    with pytest.raises(ValidationError, match=re.escape(message)):
        ingest_labels(gov, frame)

    assert _stored(gov) == {}


def test_a_file_that_is_neither_csv_nor_parquet_or_is_absent_is_refused(project: Path) -> None:
    (project / "labels.txt").write_text("request_id,label\nr1,1\n")

    with pytest.raises(ValidationError, match="neither CSV nor Parquet"):
        ingest_labels(_gov(project), project / "labels.txt")
    with pytest.raises(NotFoundError, match="does not exist"):
        ingest_labels(_gov(project), project / "nothere.csv")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "the label file empty.csv is empty; expected a header row"),
        ("quote.csv", b'request_id,label\n"r1,1\n', "cannot be read as CSV"),
        ("fake.parquet", b"PAR1 not really", "cannot be read as Parquet"),
        ("folder.csv", None, "is a folder; expected a CSV or Parquet file"),
    ],
)
def test_a_file_that_cannot_be_read_is_named_with_the_problem(
    project: Path, name: str, content: bytes | None, message: str
) -> None:
    path = project / name
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)

    with pytest.raises(ValidationError, match=message):
        ingest_labels(_gov(project), path)


def test_a_different_label_is_refused_unless_replaced_by_a_role_that_may(project: Path) -> None:
    gov = _gov(project)
    ingest_labels(gov, pd.DataFrame({"request_id": ["r1", "r2"], "label": [1, 0]}))
    changed = pd.DataFrame({"request_id": ["r1", "r2", "r3"], "label": [0, 0, 1]})

    with pytest.raises(ValidationError, match=r"'r1' \(stored 1, sent 0\)"):
        ingest_labels(gov, changed)
    assert _stored(gov) == {"r1": "1", "r2": "0"}  # r3 was not stored either

    with pytest.raises(PolicyViolation, match="dave may not replace stored labels"):
        ingest_labels(_gov(project, "dave"), changed, replace=True)

    result = ingest_labels(_gov(project, "eric"), changed, replace=True)
    assert (result.stored, result.unchanged, result.replaced) == (1, 1, 1)
    assert _stored(gov) == {"r1": "0", "r2": "0", "r3": "1"}


def test_who_may_ingest_labels(project: Path) -> None:
    labels = pd.DataFrame({"request_id": ["r1"], "label": [1]})
    for user in ("dave", "olga", "eric"):
        ingest_labels(_gov(project, user), labels)

    with pytest.raises(PolicyViolation, match="vera may not ingest labels"):
        ingest_labels(_gov(project, "vera"), labels)
    assert len(_events(_gov(project), "labels.ingest.refused")) == 1


def test_the_audit_event_counts_labels_but_never_holds_them(project: Path) -> None:
    gov = _gov(project)
    ingest_labels(gov, pd.DataFrame({"request_id": ["r1", "nowhere"], "label": [1, 0]}))

    (event,) = _events(gov, "labels.ingested")

    assert event.payload == {
        "source": "a data frame",
        "received": 2,
        "stored": 2,
        "unchanged": 0,
        "replaced": 0,
        "unlogged": 1,
    }


def test_many_labels_are_inserted_in_batches_within_one_transaction(project: Path) -> None:
    gov = _gov(project)
    n = BATCH_ROWS + 7
    labels = pd.DataFrame({"request_id": [f"x{i}" for i in range(n)], "label": [1] * n})

    result = ingest_labels(gov, labels)

    assert (result.stored, result.unlogged) == (n, n)
    with gov.transaction() as session:
        table = labels_table(session, gov.project(session).id)
    assert table.num_rows == n
    assert table.column("label").to_pylist()[:2] == ["1", "1"]


def test_status_counts_logged_and_labelled_predictions_per_day(project: Path) -> None:
    gov = _gov(project)
    frame = traffic(2, 300, seed=5)
    day_two = frame.index[frame["ts"].dt.day == 2]
    ingest_labels(gov, labels_for(frame, frame.index[:30]))
    ingest_labels(gov, labels_for(frame, day_two[:5]))
    ingest_labels(gov, pd.DataFrame({"request_id": ["elsewhere"], "label": [0]}))

    days, unlogged = label_status(gov)

    assert [(d.day.isoformat(), d.logged, d.labelled) for d in days] == [
        ("2026-10-01", 300, 30),
        ("2026-10-02", 300, 5),
    ]
    assert unlogged == 1


def test_ingesting_replacing_and_reading_labels_work_on_each_store(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLGATE_DATABASE_URL", store_url)
    root = monitored_project(tmp_path / "shared")
    gov = _gov(root, "eric")
    n = BATCH_ROWS + 3
    ids = [f"s{i}" for i in range(n)]
    ingest_labels(gov, pd.DataFrame({"request_id": ids, "label": [1] * n}))

    result = ingest_labels(
        gov, pd.DataFrame({"request_id": ids[:5], "label": [0] * 5}), replace=True
    )

    assert (result.replaced, result.unchanged) == (5, 0)
    with gov.transaction() as session:
        table = labels_table(session, gov.project(session).id)
    labels = dict(zip(*table.to_pydict().values(), strict=True))
    assert len(labels) == n
    assert [labels[i] for i in ids[:6]] == ["0"] * 5 + ["1"]
