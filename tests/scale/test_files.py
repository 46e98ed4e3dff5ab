"""profile_file and drift_files give the in-memory checks' results on files read in batches."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlgate.checks.base import CheckInput
from mlgate.checks.data_quality import check_data_quality
from mlgate.checks.drift import _merge_counts, _w1, check_drift
from mlgate.errors import NotFoundError, ValidationError
from mlgate.scale import drift_files, profile_file
from mlgate.scale._numeric_drift import merged_distances
from mlgate.scale._rows import count_duplicate_rows
from mlgate.scale._scan import scan_file
from mlgate.tabular import read_table

ROWS = 200_000
CHUNK = 30_011  # batches that do not line up with anything in the data
W1_RTOL = 1e-9  # the Wasserstein distance is summed block by block (see _numeric_drift)


def _frame(rows: int, seed: int, shifted: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    shift = 0.4 if shifted else 0.0
    frame = pd.DataFrame(
        {
            "normal": rng.normal(shift, 1.0, rows),
            "amount": rng.lognormal(3.0, 1.0 + shift, rows),
            "count": rng.poisson(4.0 + 4 * shift, rows),
            "flag": rng.random(rows) < 0.3,
            "tied": rng.integers(0, 4, rows).astype(np.float64),
            "level": np.array(["a", "b", "c", "d", "rare"], dtype=object)[
                rng.choice(5, rows, p=[0.4 - shift / 2, 0.3, 0.2 + shift / 2, 0.095, 0.005])
            ],
            "city": np.array(["Paris", "paris ", "Lyon", "Nice"], dtype=object)[
                rng.choice(4, rows, p=[0.5, 0.02, 0.3, 0.18])
            ],
            "constant": np.full(rows, 7),
            "ident": np.arange(rows) + (10**6 if shifted else 0),
        }
    )
    for name in ("normal", "amount", "level"):
        frame.loc[rng.random(rows) < 0.02 + shift / 4, name] = np.nan
    frame.loc[rng.random(rows) < 0.001, "normal"] = np.inf
    frame.loc[:4, "normal"] = [-0.0, 0.0, -0.0, np.nan, np.nan]
    frame["empty"] = np.nan
    frame.loc[rng.random(rows) < 0.0005, "amount"] = rng.lognormal(12.0, 1.0)  # outliers
    repeated = frame.iloc[rng.choice(rows, 300, replace=False)]
    return pd.concat([frame, repeated], ignore_index=True)


def _write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    return path


@pytest.fixture(scope="module", params=["csv", "parquet"])
def files(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp(f"scale-{request.param}")
    reference = _write(_frame(ROWS, 1, False), folder / f"reference.{request.param}")
    current = _write(_frame(ROWS, 2, True), folder / f"current.{request.param}")
    return reference, current


def _assert_same(streamed: Any, in_memory: Any, path: str = "result") -> None:
    """Assert equality, allowing W1_RTOL on Wasserstein distances only.

    A finding or figure about the Wasserstein distance (its message or name says so) carries the
    distance as a value, so its numbers get the same tolerance.
    """
    if isinstance(in_memory, dict):
        assert streamed.keys() == in_memory.keys(), path
        about = " ".join(str(in_memory.get(k, "")) for k in ("message", "name")).lower()
        path += "[wasserstein]" if "wasserstein" in about else ""
        for key in in_memory:
            _assert_same(streamed[key], in_memory[key], f"{path}.{key}")
    elif isinstance(in_memory, list):
        assert len(streamed) == len(in_memory), path
        for i, (a, b) in enumerate(zip(streamed, in_memory, strict=True)):
            _assert_same(a, b, f"{path}[{i}]")
    elif "wasserstein" in path and isinstance(in_memory, float):
        assert math.isclose(streamed, in_memory, rel_tol=W1_RTOL), path
    else:
        assert streamed == in_memory, path


def test_profile_file_equals_in_memory_check(files: tuple[Path, Path]) -> None:
    current = files[1]

    streamed = profile_file(current, chunk_rows=CHUNK).to_dict()
    in_memory = check_data_quality(CheckInput(data=read_table(current)), {}).to_dict()

    assert streamed == in_memory
    assert streamed["metrics"]["duplicate_rows"] >= 300
    assert streamed["metrics"]["multivariate_rows_scored"] is not None


def test_profile_file_with_features_target_and_thresholds_equals_in_memory(
    files: tuple[Path, Path],
) -> None:
    current = files[1]
    options: dict[str, Any] = {"features": ["amount", "level", "city"], "target": "flag"}
    thresholds = {"max_missing_share": 0.01, "rare_level_share": 0.05}

    streamed = profile_file(current, chunk_rows=CHUNK, thresholds=thresholds, seed=3, **options)
    inp = CheckInput(data=read_table(current), seed=3, **options)
    in_memory = check_data_quality(inp, thresholds)

    assert streamed.to_dict() == in_memory.to_dict()
    assert streamed.status == "fail"


def test_drift_files_equals_in_memory_check(files: tuple[Path, Path]) -> None:
    reference, current = files

    streamed = drift_files(reference, current, chunk_rows=CHUNK).to_dict()
    inp = CheckInput(data=read_table(current), reference=read_table(reference))
    in_memory = check_drift(inp, {}).to_dict()

    _assert_same(streamed, in_memory)
    assert {"normal", "count", "level"} <= {
        r["feature"] for r in streamed["tables"]["features"] if r["drifted"]
    }


def test_drift_files_with_features_and_thresholds_equals_in_memory(
    files: tuple[Path, Path],
) -> None:
    reference, current = files
    features = ["tied", "flag", "level", "empty", "constant"]

    streamed = drift_files(
        reference, current, features=features, thresholds={"psi_threshold": 0.001}
    )
    inp = CheckInput(data=read_table(current), reference=read_table(reference), features=features)
    in_memory = check_drift(inp, {"psi_threshold": 0.001})

    _assert_same(streamed.to_dict(), in_memory.to_dict())
    assert streamed.metrics["n_not_computed"] == 1  # "empty" has no value on either side


def test_feature_numeric_in_one_file_and_text_in_the_other_is_not_computed(
    tmp_path: Path,
) -> None:
    reference = _write(pd.DataFrame({"a": [1.0, 2.0, 3.0]}), tmp_path / "ref.parquet")
    current = _write(pd.DataFrame({"a": ["x", "y", "z"]}), tmp_path / "cur.parquet")

    streamed = drift_files(reference, current)
    inp = CheckInput(data=read_table(current), reference=read_table(reference))

    assert streamed.to_dict() == check_drift(inp, {}).to_dict()
    assert streamed.tables["features"][0]["reason"].startswith("dtype differs")


@pytest.mark.parametrize("block", [1, 7, 1000])
def test_merged_distances_in_blocks_equal_the_in_memory_merge(block: int) -> None:
    rng = np.random.default_rng(block)
    ref = np.sort(np.round(rng.normal(0.0, 1.0, 5_000), 2))
    cur = np.sort(np.round(rng.normal(0.3, 1.2, 3_000), 1))

    ks, w1, n_distinct = merged_distances(ref, cur, block=block)
    merged, ref_count, cur_count = _merge_counts(ref, cur)
    run_end = np.append(merged[1:] != merged[:-1], True)
    gap = ref_count[run_end] / ref.size - cur_count[run_end] / cur.size

    assert ks == float(np.max(np.abs(gap)))
    assert math.isclose(w1, _w1(merged, ref_count, cur_count), rel_tol=W1_RTOL)
    assert n_distinct == int(run_end.sum())


def test_duplicates_compared_in_partitions_count_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    base = pd.DataFrame({"x": rng.integers(0, 50, 5_000), "s": rng.choice(["u", "v"], 5_000)})
    base.loc[::7, "x"] = np.nan
    path = _write(base, tmp_path / "dups.parquet")

    scan = scan_file(path, ["x", "s"], tmp_path, chunk_rows=999, hash_rows=True)

    assert count_duplicate_rows(scan, max_rows=100) == int(base.duplicated().sum())


def test_csv_dtypes_settle_as_a_whole_file_read_does(tmp_path: Path) -> None:
    rows = 1_000
    frame = pd.DataFrame(
        {
            "late_nan": np.arange(rows, dtype=np.float64),
            "late_text": [None] * 600 + ["x", "y"] * 200,
            "late_bool_nan": [True, False] * 450 + [None] * 100,
            # object columns, so that the CSV holds "1", "2", "" rather than "1.0"
            "int_empty_batch": pd.Series([1, 2] * 250 + [None] * 250 + [3] * 250, dtype=object),
            "int_after_empty": pd.Series([None] * 250 + [4, 5] * 375, dtype=object),
        }
    )
    frame.loc[rows - 1, "late_nan"] = np.nan
    path = _write(frame, tmp_path / "late.csv")

    streamed = profile_file(path, chunk_rows=250)
    in_memory = check_data_quality(CheckInput(data=read_table(path)), {})

    assert streamed.to_dict() == in_memory.to_dict()
    dtypes = {p["column"]: p["dtype"] for p in streamed.tables["profile"]}
    assert dtypes["late_nan"] == "float64"
    assert dtypes["late_bool_nan"] == "object"
    assert dtypes["int_empty_batch"] == dtypes["int_after_empty"] == "float64"


def test_column_with_numbers_then_text_is_refused_with_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text("a\n" + "1\n" * 10 + "x\n" * 10)

    with pytest.raises(ValidationError, match=r"column a holds numbers from row 1 and text"):
        profile_file(path, chunk_rows=10)


def test_progress_reports_reading_and_each_column(files: tuple[Path, Path]) -> None:
    calls: list[tuple[str, int, int | None]] = []

    drift_files(*files, features=["count", "level"], progress=lambda *c: calls.append(c))

    reads = [c for c in calls if c[0].startswith("read current")]
    assert reads[-1][1] == reads[-1][2]
    assert [c[1] for c in reads] == sorted(c[1] for c in reads)
    assert calls[-1] == ("compare features", 2, 2)


def test_missing_file_raises_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"data file .*nope.csv does not exist"):
        profile_file(tmp_path / "nope.csv")


def test_unsupported_suffix_raises(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text("{}")

    with pytest.raises(ValidationError, match=r"unsupported file type '.json'"):
        drift_files(path, path)


def test_header_only_csv_raises(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("a,b\n")

    with pytest.raises(ValidationError, match=r"has a header but no data rows"):
        profile_file(path)


def test_feature_absent_from_reference_raises(tmp_path: Path) -> None:
    current = _write(pd.DataFrame({"a": [1.0], "b": [2.0]}), tmp_path / "cur.parquet")
    reference = _write(pd.DataFrame({"a": [1.0]}), tmp_path / "ref.parquet")

    with pytest.raises(ValidationError, match=r"the reference frame lacks column\(s\) b"):
        drift_files(reference, current)
