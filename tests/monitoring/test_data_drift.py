"""Drift of a window of the prediction log against the reference: statistics, cases, memory."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon
from sklearn.datasets import load_iris

from mlgate.monitoring.data_drift import as_floats, category_counts, window_drift
from mlgate.monitoring.reference import Reference
from mlgate.monitoring.store import Observation
from mlgate.monitoring.windows import Window
from mlgate.serving.predictions import PredictionLog

DAY = datetime(2026, 12, 1, tzinfo=UTC)
REL = 1e-9


def _reference(frame: pd.DataFrame, categorical: Sequence[str] = ()) -> Reference:
    features = list(frame.columns)
    return Reference(
        frame=frame.assign(label=0),
        features=features,
        categorical=list(categorical),
        target="label",
        dataset_sha256="0" * 64,
        dataset_name="train",
    )


def _log(folder: Path, features: pd.DataFrame, day: datetime = DAY, part: str = "1") -> None:
    """Write ``features`` as one file of the prediction log, spread over ``day``."""
    n = len(features)
    seconds = np.linspace(0, 86_399, n) if n else np.array([])
    frame = pd.DataFrame(
        {
            "ts": pd.to_datetime(day) + pd.to_timedelta(seconds.round(), unit="s"),
            "request_id": [f"{day:%m%d}-{part}-{i}" for i in range(n)],
            "channel": "rest",
            "model_version": 1,
            "latency_ms": 1.0,
            "prediction": "0",
            "score": 0.5,
        }
    )
    for name in features.columns:
        frame[f"f.{name}"] = features[name].to_numpy()
    folder = folder / f"date={day.date().isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, folder / f"part-{part}.parquet", coerce_timestamps="us")


def _window(folder: Path, day: datetime = DAY) -> Window:
    return Window(folder, day, day + timedelta(days=1), "1d")


def _by(observations: list[Observation]) -> dict[tuple[str, str], Observation]:
    return {(o.subject, o.metric.removeprefix("drift.")): o for o in observations}


def _drift(reference: pd.DataFrame, current: pd.DataFrame, folder: Path, **kw: Any):
    _log(folder, current)
    return _by(window_drift(_reference(reference, **kw), _window(folder)))


# --- statistics against SciPy, on files the prediction log itself wrote --------------------


def test_numeric_statistics_equal_scipy_on_a_window_written_by_the_prediction_log(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"x": rng.normal(0, 2, 700), "c": rng.choice(["a", "b", "c"], 700)})
    current = pd.DataFrame({"x": rng.normal(0.4, 2.5, 300), "c": rng.choice(["a", "b"], 300)})
    log = PredictionLog(tmp_path, sensitive=["secret"], flush_seconds=0.05)
    ids = [f"r{i}" for i in range(300)]
    log.record(ids, 1, current.assign(secret=1), np.zeros(300), None, 1.0, "rest")
    log.close()
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)

    ref = _reference(reference, categorical=["c"])
    found = _by(window_drift(ref, Window(tmp_path, start, start + timedelta(days=1), "1d")))

    x_ref, x_cur = reference["x"].to_numpy(), current["x"].to_numpy()
    ks = stats.ks_2samp(x_ref, x_cur)
    w1 = stats.wasserstein_distance(x_ref, x_cur)
    assert found["x", "ks_statistic"].value == pytest.approx(ks.statistic, rel=REL)
    assert found["x", "ks_statistic"].details["pvalue"] == pytest.approx(ks.pvalue, rel=1e-6)
    assert found["x", "wasserstein_scaled"].value == pytest.approx(w1 / np.std(x_ref), rel=REL)
    assert found["x", "wasserstein_scaled"].details["wasserstein"] == pytest.approx(w1, rel=REL)

    chart = found["x", "psi"].details["chart"]
    edges = np.array(chart["edges"])
    ref_share = np.bincount(np.searchsorted(edges, x_ref, side="right"), minlength=10) / 700
    cur_share = np.bincount(np.searchsorted(edges, x_cur, side="right"), minlength=10) / 300
    psi = float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))
    assert chart["reference_share"] == pytest.approx(ref_share.tolist(), rel=REL)
    assert chart["current_share"] == pytest.approx(cur_share.tolist(), rel=REL)
    assert found["x", "psi"].value == pytest.approx(psi, rel=REL)
    assert found["x", "js_distance"].value == pytest.approx(
        jensenshannon(ref_share, cur_share, base=2), rel=REL
    )
    assert found["x", "psi"].n == 300
    assert ("secret", "psi") not in found  # sensitive columns are never logged nor compared

    table = [[(reference["c"] == v).sum(), (current["c"] == v).sum()] for v in "abc"]
    chi2 = stats.chi2_contingency(np.array(table).T, correction=False)
    assert found["c", "chi2_pvalue"].value == pytest.approx(chi2.pvalue, rel=REL)
    assert found["c", "chi2_pvalue"].details["statistic"] == pytest.approx(chi2.statistic)
    assert found["c", "unseen_share"].value == 0.0


def test_observations_carry_the_window_bounds_and_the_metric_names_of_the_contract(
    tmp_path: Path,
) -> None:
    reference = pd.DataFrame({"x": np.arange(100.0), "c": ["a", "b"] * 50})

    found = _drift(reference, reference, tmp_path, categorical=["c"])

    assert sorted(m for s, m in found if s == "x") == [
        "drifted",
        "js_distance",
        "ks_statistic",
        "missing_share_change",
        "psi",
        "wasserstein_scaled",
    ]
    assert sorted(m for s, m in found if s == "c") == [
        "chi2_pvalue",
        "drifted",
        "js_distance",
        "missing_share_change",
        "psi",
        "unseen_share",
    ]
    assert {(o.window_start, o.window_end) for o in found.values()} == {
        (DAY, DAY + timedelta(days=1))
    }
    assert found["x", "drifted"].value == 0.0
    assert found["x", "drifted"].details["thresholds"]["wasserstein_threshold"] == 0.1
    assert found["c", "psi"].value == 0.0


# --- the shared drift cases ----------------------------------------------------------------


def test_bl01_empty_bins_give_the_hand_computed_psi(tmp_path: Path) -> None:
    reference = pd.DataFrame({"x": (np.arange(1000) + 0.5) / 1000})
    current = pd.DataFrame({"x": (np.arange(1000) + 0.5) / 2000})

    found = _drift(reference, current, tmp_path)

    assert found["x", "psi"].value == pytest.approx(3.796997, rel=1e-6)
    assert found["x", "psi"].details["chart"]["current_share"] == [0.2] * 5 + [0.0] * 5
    assert found["x", "drifted"].value == 1.0


def test_bl02_a_constant_single_category_column(tmp_path: Path) -> None:
    reference = pd.DataFrame({"flag": ["a"] * 50})

    found = _drift(reference, pd.DataFrame({"flag": ["a"] * 10}), tmp_path, categorical=["flag"])

    assert found["flag", "chi2_pvalue"].value == 1.0
    assert found["flag", "chi2_pvalue"].details["statistic"] == 0.0
    assert (found["flag", "psi"].value, found["flag", "js_distance"].value) == (0.0, 0.0)
    assert found["flag", "drifted"].value == 0.0


@pytest.mark.parametrize(
    ("reference", "current", "statistic", "pvalue", "unseen"),
    [
        ("a" * 5 + "b" * 5 + "c" * 5, "a" * 8 + "b" * 3, 5.712121, 0.057495, 0.0),
        ("a" * 5 + "b" * 5, "a" * 8 + "b" * 3 + "c" * 5, 5.078125, 0.078940, 5 / 16),
    ],
)
def test_bl04_a_category_on_one_side_only(
    tmp_path: Path, reference: str, current: str, statistic: float, pvalue: float, unseen: float
) -> None:
    found = _drift(
        pd.DataFrame({"c": list(reference)}),
        pd.DataFrame({"c": list(current)}),
        tmp_path,
        categorical=["c"],
    )

    assert found["c", "chi2_pvalue"].details["statistic"] == pytest.approx(statistic, rel=1e-6)
    assert found["c", "chi2_pvalue"].details["dof"] == 2
    assert found["c", "chi2_pvalue"].value == pytest.approx(pvalue, rel=1e-4)
    assert found["c", "unseen_share"].value == pytest.approx(unseen, rel=1e-12)


def test_bl06_disjoint_distributions_give_js_one_in_base_2(tmp_path: Path) -> None:
    # Decile bins put the whole current sample in the reference's top bin, which holds mass
    # from both sides; categories give the case's "no bin holds mass from both sides".
    reference = pd.DataFrame({"x": np.linspace(90, 110, 1000), "c": ["a", "b"] * 500})
    current = pd.DataFrame({"x": np.linspace(9990, 10010, 1000), "c": ["y", "z"] * 500})

    found = _drift(reference, current, tmp_path, categorical=["c"])

    assert found["c", "js_distance"].value == 1.0
    assert found["c", "unseen_share"].value == 1.0
    chart = found["x", "js_distance"].details["chart"]
    assert found["x", "js_distance"].value == pytest.approx(
        jensenshannon(chart["reference_share"], chart["current_share"], base=2), rel=REL
    )
    assert found["x", "ks_statistic"].value == 1.0
    assert found["x", "drifted"].details["decided_by"] == ["psi", "wasserstein_scaled"]


def test_bl07_bl08_all_missing_window_and_an_empty_window(tmp_path: Path) -> None:
    values = np.arange(1.0, 1001.0)
    reference = pd.DataFrame({"x": values, "y": values})
    _log(tmp_path, pd.DataFrame({"y": values}))  # x is not logged at all: null in every row
    ref = _reference(reference)

    found = _by(window_drift(ref, _window(tmp_path)))
    empty = _by(window_drift(ref, _window(tmp_path, DAY + timedelta(days=1))))

    assert found["x", "psi"].value is None
    assert found["x", "psi"].details["reason"] == "current has 0 finite values in 1000 rows"
    assert found["x", "missing_share_change"].value == 1.0
    assert found["x", "missing_share_change"].n == 1000
    assert found["x", "drifted"].value == 1.0
    assert found["x", "drifted"].details["decided_by"] == ["missing_share"]
    assert (found["y", "js_distance"].value, found["y", "ks_statistic"].value) == (0.0, 0.0)
    assert found["y", "ks_statistic"].details["pvalue"] == 1.0
    assert all(o.value is None for o in empty.values())
    assert empty["x", "drifted"].details["reason"] == "the window holds no logged rows"


def test_bl08_missing_values_are_left_out_and_an_all_missing_reference_is_named(
    tmp_path: Path,
) -> None:
    x = np.append(np.arange(1.0, 901.0), [np.nan] * 100)
    reference = pd.DataFrame({"x": x, "gone": np.nan, "z": np.arange(1000.0)})
    current = pd.DataFrame({"x": x, "gone": np.arange(1000.0), "z": np.arange(1000.0)})

    found = _drift(reference, current, tmp_path)

    assert (found["x", "js_distance"].value, found["x", "ks_statistic"].value) == (0.0, 0.0)
    assert found["x", "missing_share_change"].value == 0.0
    assert found["x", "missing_share_change"].details == {
        "kind": "numeric",
        "n_rows": 1000,
        "unparsable": 0,
        "infinite": 0,
        "reference": 0.1,
        "current": 0.1,
    }
    assert found["x", "psi"].n == 900
    assert found["gone", "psi"].details["reason"] == "reference has 0 finite values"
    assert found["gone", "drifted"].value == 1.0  # its missing share fell from 100 % to 0 %
    assert found["z", "psi"].value == 0.0


def test_bl10_ties_shifted_by_a_billionth_do_not_drift(tmp_path: Path) -> None:
    values = np.tile([0.1, 0.2, 0.3, 0.4, 0.5], 200)
    found = _drift(pd.DataFrame({"x": values}), pd.DataFrame({"x": values + 1e-9}), tmp_path)

    scale = np.std(values)
    assert found["x", "wasserstein_scaled"].value == pytest.approx(1e-9 / scale, rel=1e-6)
    assert found["x", "js_distance"].value == 0.0
    assert found["x", "ks_statistic"].value == pytest.approx(0.2, rel=1e-12)
    assert found["x", "drifted"].value == 0.0


def test_bl12_small_current_sample_keeps_the_exact_ks_p_value(tmp_path: Path) -> None:
    reference = pd.DataFrame({"petal_width": load_iris().data[:, 3]})
    current = pd.DataFrame({"petal_width": [1.4, 1.6] * 4})

    found = _drift(reference, current, tmp_path)

    assert found["petal_width", "ks_statistic"].value == pytest.approx(0.52, rel=1e-6)
    assert found["petal_width", "ks_statistic"].details["pvalue"] == pytest.approx(
        0.019983, rel=1e-4
    )
    assert found["petal_width", "ks_statistic"].details["method"] == "exact"
    assert found["petal_width", "ks_statistic"].n == 8


# --- awkward logged values -----------------------------------------------------------------


def test_a_constant_reference_has_no_scaled_wasserstein_but_other_statistics(
    tmp_path: Path,
) -> None:
    found = _drift(pd.DataFrame({"k": [3.0] * 200}), pd.DataFrame({"k": [3.0] * 150}), tmp_path)

    assert found["k", "wasserstein_scaled"].value is None
    assert "standard deviation 0" in found["k", "wasserstein_scaled"].details["reason"]
    assert (found["k", "psi"].value, found["k", "drifted"].value) == (0.0, 0.0)


def test_a_numeric_feature_logged_as_text_is_parsed_and_bad_values_count_as_missing(
    tmp_path: Path,
) -> None:
    reference = pd.DataFrame({"x": np.arange(10.0)})
    _log(tmp_path, pd.DataFrame({"x": np.arange(10.0)}), part="1")
    _log(tmp_path, pd.DataFrame({"x": ["2.5", " 4 ", "oops", None]}), part="2")

    found = _by(window_drift(_reference(reference), _window(tmp_path)))

    change = found["x", "missing_share_change"]
    assert change.details["unparsable"] == 1
    assert "1 logged value(s) were text that is not a number" in change.details["note"]
    assert change.value == pytest.approx(2 / 14, rel=1e-12)
    assert found["x", "psi"].n == 12
    values, unparsable = as_floats(pa.chunked_array([["1e3", "x", None]]))
    assert unparsable == 1
    assert values[0] == 1000.0
    assert np.isnan(values[1:]).all()


def test_unseen_categories_are_counted_and_named_and_labels_match_across_types(
    tmp_path: Path,
) -> None:
    reference = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 50, "flag": [True, False] * 50})
    current = pd.DataFrame(
        {"c": ["a"] * 40 + ["b"] * 30 + ["new"] * 20 + ["rare"] * 10, "flag": [False, True] * 50}
    )

    found = _drift(reference, current, tmp_path, categorical=["c", "flag"])

    unseen = found["c", "unseen_share"]
    assert unseen.value == pytest.approx(0.3, rel=1e-12)
    assert unseen.details["examples"] == ["new", "rare"]
    assert unseen.details["n_unseen_values"] == 30
    assert found["flag", "unseen_share"].value == 0.0
    assert found["flag", "js_distance"].value == 0.0
    assert category_counts(pa.chunked_array([[True, None, True]])) == ({"True": 2.0}, 1)


def test_a_high_cardinality_chart_keeps_the_largest_categories_and_sums_the_rest(
    tmp_path: Path,
) -> None:
    labels = [f"k{i:03d}" for i in range(100)]
    reference = pd.DataFrame({"c": labels * 3})

    found = _drift(reference, reference, tmp_path, categorical=["c"])

    chart = found["c", "js_distance"].details["chart"]
    assert len(chart["labels"]) == 31
    assert chart["labels"][-1] == "(other)"
    assert sum(chart["reference_share"]) == pytest.approx(1.0)
    assert chart["reference_share"][-1] == pytest.approx(0.7)


# --- effect sizes separate material from negligible shifts ---------------------------------

MATERIAL = ["cat_1", "cat_4", "num_03", "num_09", "num_15"]


def _frame(rows: int, seed: int, shifted: bool) -> tuple[pd.DataFrame, list[str]]:
    """25 columns: normal, log-normal and count columns, and categories of 5 to 50 levels.

    Shifted: num_00 by 0.05 standard deviations (negligible); num_03 by 0.5 standard
    deviations, num_09's log-spread by 30 %, num_15's Poisson mean by 15 %, cat_1 a fifth of
    its mass moved to the neighbouring level, cat_4 its first fifth of levels twice as likely.
    """
    rng = np.random.default_rng(seed)
    shape = np.random.default_rng(99)  # the same column parameters on both sides
    columns: dict[str, Any] = {}
    for i in range(8):
        mean, sd = shape.uniform(-5, 5), shape.uniform(0.5, 3.0)
        shift = {0: 0.05, 3: 0.5}.get(i, 0.0) if shifted else 0.0
        columns[f"num_{i:02d}"] = rng.normal(mean + shift * sd, sd, rows)
    for i in range(8, 14):
        mu, sigma = shape.uniform(0, 3), shape.uniform(0.3, 1.2)
        spread = sigma * (1.3 if shifted and i == 9 else 1.0)
        columns[f"num_{i:02d}"] = rng.lognormal(mu, spread, rows)
    for i in range(14, 20):
        lam = shape.uniform(0.5, 40.0) * (1.15 if shifted and i == 15 else 1.0)
        if i % 2 == 0:
            draw = rng.poisson(lam, rows)
        else:
            draw = rng.negative_binomial(2, 2 / (2 + lam), rows)
        columns[f"num_{i:02d}"] = draw.astype(float)
    for name in list(columns)[:17]:
        columns[name][rng.random(rows) < 0.01] = np.nan
    for j, levels in enumerate([5, 10, 20, 35, 50]):
        p = shape.dirichlet(np.ones(levels))
        if shifted and j == 1:
            p = 0.8 * p + 0.2 * np.roll(p, 1)
        if shifted and j == 4:
            p[: levels // 5] *= 2
            p /= p.sum()
        columns[f"cat_{j}"] = np.array([f"L{k:02d}" for k in range(levels)])[
            rng.choice(levels, rows, p=p)
        ]
    return pd.DataFrame(columns), [f"cat_{j}" for j in range(5)]


@pytest.mark.parametrize("rows", [10_000, 100_000])
def test_only_the_material_shifts_drift_at_any_size(tmp_path: Path, rows: int) -> None:
    reference, categorical = _frame(rows, 1, shifted=False)
    current, _ = _frame(rows, 2, shifted=True)
    _log(tmp_path, current)

    found = window_drift(_reference(reference, categorical), _window(tmp_path))

    drifted = sorted(o.subject for o in found if o.metric == "drift.drifted" and o.value == 1.0)
    assert drifted == MATERIAL
    by = _by(found)
    assert 0.02 < by["num_00", "wasserstein_scaled"].value < 0.1
    assert by["num_00", "ks_statistic"].details["pvalue"] < 0.05  # significant, yet negligible


# --- memory: one column of one window at a time, the reference summarised once -------------


@dataclass(frozen=True)
class _CountingWindow(Window):
    asked: list[list[str]] = field(default_factory=list, compare=False)

    def read(self, columns: Sequence[str]) -> pa.Table:
        self.asked.append(list(columns))
        return super().read(columns)


def test_a_window_reads_one_feature_at_a_time_from_its_own_days_only(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    reference = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    _log(tmp_path, reference, DAY)
    other_day = tmp_path / f"date={(DAY + timedelta(days=1)).date().isoformat()}"
    other_day.mkdir()
    (other_day / "part-1.parquet").write_bytes(b"not parquet: reading this file would fail")
    ref = _reference(reference)
    window = _CountingWindow(tmp_path, DAY, DAY + timedelta(days=1), "1d")

    first = window_drift(ref, window)
    cached = dict(ref.cache)
    second = window_drift(ref, window)

    assert window.asked == [["f.a"], ["f.b"], ["f.a"], ["f.b"]]
    assert sorted(cached) == ["numeric:a", "numeric:b"]
    assert all(ref.cache[key] is cached[key] for key in cached)  # summarised once
    assert [o.value for o in first] == [o.value for o in second]
    assert _by(first)["a", "psi"].value == 0.0
