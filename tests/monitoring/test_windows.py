from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mlgate.monitoring.windows import Window, align, complete_windows, log_span


def _log_day(folder: Path, day: str, values: list, name: str = "part-1.parquet") -> None:
    ts = pd.date_range(f"{day} 00:00", periods=len(values), freq="1h", tz="UTC")
    frame = pd.DataFrame(
        {
            "ts": ts,
            "request_id": [f"{day}-{i}" for i in range(len(values))],
            "score": np.linspace(0, 1, len(values)),
            "f.a": values,
        }
    )
    (folder / f"date={day}").mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.Table.from_pandas(frame, preserve_index=False), folder / f"date={day}" / name
    )


def _at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, tzinfo=UTC)


def test_a_window_reads_only_its_rows_and_the_columns_asked_for(tmp_path: Path) -> None:
    _log_day(tmp_path, "2026-12-01", [float(i) for i in range(24)])
    _log_day(tmp_path, "2026-12-02", [float(i) for i in range(24)])

    table = Window(tmp_path, _at(1, 12), _at(2, 6), "1d").read(["f.a"])

    assert table.column_names == ["ts", "f.a"]
    assert table.num_rows == 12 + 6
    assert table.column("f.a").to_pylist()[:2] == [12.0, 13.0]


def test_a_window_opens_only_the_day_folders_it_overlaps(tmp_path: Path) -> None:
    for day in ("2026-12-01", "2026-12-02", "2026-12-03"):
        _log_day(tmp_path, day, [1.0, 2.0])

    files = Window(tmp_path, _at(2), _at(3), "1d").files()

    assert [f.parent.name for f in files] == ["date=2026-12-02"]


def test_a_column_typed_differently_across_files_is_read_as_text(tmp_path: Path) -> None:
    _log_day(tmp_path, "2026-12-01", [1.5, 2.5])
    _log_day(tmp_path, "2026-12-01", ["x", "3"], name="part-2.parquet")

    column = Window(tmp_path, _at(1), _at(2), "1d").feature("a")

    assert column.type == pa.string()
    assert sorted(column.to_pylist()) == ["1.5", "2.5", "3", "x"]


def test_a_column_missing_from_a_file_is_null_in_its_rows(tmp_path: Path) -> None:
    _log_day(tmp_path, "2026-12-01", [1.0, 2.0])

    table = Window(tmp_path, _at(1), _at(2), "1d").read(["f.a", "f.new"])

    assert table.column("f.new").null_count == 2


def test_an_empty_or_absent_log_gives_empty_windows_and_no_span(tmp_path: Path) -> None:
    window = Window(tmp_path / "absent", _at(1), _at(2), "1d")

    assert (window.rows(), log_span(tmp_path / "absent")) == (0, None)
    assert complete_windows(tmp_path, "1d", timedelta(days=1), None, _at(5)) == []


def test_windows_are_aligned_to_the_epoch_and_only_complete_ones_are_returned(
    tmp_path: Path,
) -> None:
    _log_day(tmp_path, "2026-12-01", [1.0] * 24)
    _log_day(tmp_path, "2026-12-03", [1.0] * 3)

    windows = complete_windows(tmp_path, "1d", timedelta(days=1), None, _at(3, 12))

    assert [(w.start, w.end) for w in windows] == [(_at(1), _at(2)), (_at(2), _at(3))]
    assert [w.rows() for w in windows] == [24, 0]
    assert align(_at(3, 17), timedelta(hours=6)) == _at(3, 12)
    assert log_span(tmp_path) == (_at(1), _at(3, 2))


def test_an_unreadable_file_does_not_hide_the_span_of_the_log(tmp_path: Path) -> None:
    _log_day(tmp_path, "2026-12-01", [1.0, 2.0])
    _log_day(tmp_path, "2026-12-02", [1.0, 2.0])
    (tmp_path / "date=2026-12-02" / "part-0.parquet").write_bytes(b"not parquet")

    assert log_span(tmp_path) == (_at(1), _at(2, 1))


def test_an_unreadable_file_is_named_when_its_window_is_read(tmp_path: Path) -> None:
    import pytest

    from mlgate.errors import ValidationError

    _log_day(tmp_path, "2026-12-01", [1.0, 2.0])
    (tmp_path / "date=2026-12-01" / "part-0.parquet").write_bytes(b"truncated")

    with pytest.raises(ValidationError, match="date=2026-12-01/part-0.parquet cannot be read"):
        Window(tmp_path, _at(1), _at(2), "1d").read(["f.a"])
