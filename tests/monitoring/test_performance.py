"""Score drift, performance with late labels, and estimates without them, against references."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from scipy.stats import wasserstein_distance
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from mlgate.checks.business import metric_interval
from mlgate.checks.drift import histogram, psi
from mlgate.lifecycle.models import get_model_version, load_model_version
from mlgate.lifecycle.service import Governance
from mlgate.monitoring import performance as performance_module
from mlgate.monitoring.labels import ingest_labels
from mlgate.monitoring.performance import (
    Calibrator,
    ModelClasses,
    WindowRows,
    catch_up_performance,
    confusion_bootstrap,
    delong_interval,
    expected_auc,
    performance,
    reference_scores,
    score_observations,
    scored_rows,
    window_model_metrics,
)
from mlgate.monitoring.reference import load_reference
from mlgate.monitoring.store import record_observations
from mlgate.monitoring.windows import Window
from mlgate.registry.models import MonitorRun
from mlgate.serving.predictions import prediction_log_folder
from tests.monitoring.production import (
    DAY0,
    FEATURES,
    labels_for,
    log_traffic,
    monitored_project,
    traffic,
)

PER_DAY = 1500
BINARY = ModelClasses(["0", "1"], "1")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = monitored_project(tmp_path_factory.mktemp("performance") / "ws")
    log_traffic(Governance.open(root, actor="alice"), traffic(2, PER_DAY, seed=11))
    return root


@pytest.fixture
def project(base: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(base, root)
    return root


def _day(gov: Governance, day: int) -> Window:
    start = DAY0 + timedelta(days=day)
    return Window(prediction_log_folder(gov), start, start + timedelta(days=1), "1d")


def _metrics(gov: Governance, window: Window) -> dict[str, object]:
    version = get_model_version(gov)
    reference = load_reference(gov, version)
    scores = reference_scores(gov, version, reference)
    with gov.transaction() as session:
        found = window_model_metrics(gov, session, reference, scores, window)
    return {obs.metric: obs for obs in found}


def _scores(gov: Governance, frame) -> np.ndarray:  # type: ignore[no-untyped-def]
    model = load_model_version(gov, get_model_version(gov))
    return model.predict_proba(frame[list(FEATURES)])[:, 1]


def _window() -> Window:
    return Window(Path("unused"), DAY0, DAY0 + timedelta(days=1), "1d")


def _rows(y: np.ndarray, score: np.ndarray, predicted: np.ndarray | None = None) -> WindowRows:
    predicted = (score >= 0.5).astype(int) if predicted is None else predicted
    labelled = pa.table(
        {
            "score": score.astype(np.float64),
            "prediction": predicted.astype(str),
            "label": y.astype(str),
        }
    )
    # score_observations sorts the window's scores in place: give it its own copy
    return WindowRows(len(y), score.copy(), predicted.astype(str) == "1", labelled)


def test_reference_scores_are_the_models_positive_class_probabilities(project: Path) -> None:
    gov = Governance.open(project, actor="alice")
    version = get_model_version(gov)
    reference = load_reference(gov, version)

    scores = reference_scores(gov, version, reference)

    np.testing.assert_allclose(scores, _scores(gov, reference.frame), rtol=1e-12)


def test_performance_on_the_labelled_rows_equals_scikit_learn(project: Path) -> None:
    gov = Governance.open(project, actor="alice")
    frame = traffic(2, PER_DAY, seed=11)
    day_one = frame.index[frame["ts"] < DAY0 + timedelta(days=1)]
    labelled = day_one[::3]
    ingest_labels(gov, labels_for(frame, labelled))

    found = _metrics(gov, _day(gov, 0))

    y = frame.loc[labelled, "y"].to_numpy()
    score = _scores(gov, frame.loc[labelled])
    predicted = (score >= 0.5).astype(int)
    expected = {
        "roc_auc": roc_auc_score(y, score),
        "accuracy": accuracy_score(y, predicted),
        "precision": precision_score(y, predicted),
        "recall": recall_score(y, predicted),
        "f1": f1_score(y, predicted),
    }
    for metric, value in expected.items():
        obs = found[f"performance.{metric}"]
        assert obs.value == pytest.approx(value, abs=1e-12), metric
        assert obs.n == len(labelled)
        assert obs.details["labelled"] == len(labelled)
        assert obs.details["ci_low"] < obs.value < obs.details["ci_high"]
    assert found["performance.accuracy"].details["interval"] == "wilson"
    assert found["performance.roc_auc"].details["interval"] == "delong"


def test_score_drift_uses_the_exact_drift_statistics(project: Path) -> None:
    gov = Governance.open(project, actor="alice")
    frame = traffic(2, PER_DAY, seed=11)
    current = _scores(gov, frame[frame["ts"] >= DAY0 + timedelta(days=1)])
    reference = _scores(gov, load_reference(gov, get_model_version(gov)).frame)

    found = _metrics(gov, _day(gov, 1))

    ref_counts, cur_counts, _ = histogram(reference, current)
    assert found["score.psi"].value == pytest.approx(psi(ref_counts, cur_counts), rel=1e-12)
    scaled = wasserstein_distance(reference, current) / np.std(reference)
    assert found["score.wasserstein_scaled"].value == pytest.approx(scaled, rel=1e-9)
    assert found["score.mean"].value == pytest.approx(current.mean(), rel=1e-12)
    assert found["score.psi"].n == PER_DAY
    assert len(found["score.psi"].details["current"]) == len(ref_counts)


def test_a_window_without_labels_has_no_performance_and_says_why(project: Path) -> None:
    gov = Governance.open(project, actor="alice")

    found = _metrics(gov, _day(gov, 0))

    obs = found["performance.roc_auc"]
    assert (obs.value, obs.n) == (None, 0)
    assert obs.details["reason"] == (
        f"no label has arrived yet for the {PER_DAY} prediction(s) of the window"
    )
    assert found["estimate.roc_auc"].value is not None
    assert found["estimate.roc_auc"].estimated


def test_one_labelled_row_gives_an_undefined_auc_without_an_exception(project: Path) -> None:
    gov = Governance.open(project, actor="alice")
    frame = traffic(2, PER_DAY, seed=11)
    ingest_labels(gov, labels_for(frame, frame.index[:1]))

    found = _metrics(gov, _day(gov, frame.loc[0, "ts"].day - 1))

    auc = found["performance.roc_auc"]
    assert (auc.value, auc.n) == (None, 1)
    assert "hold one class only" in auc.details["reason"]
    assert found["performance.accuracy"].value in (0.0, 1.0)


def test_a_label_flip_lowers_the_measured_auc_but_not_the_estimate(project: Path) -> None:
    gov = Governance.open(project, actor="alice")
    frame = traffic(2, PER_DAY, seed=11)
    first = frame.index[frame["ts"] < DAY0 + timedelta(days=1)]
    second = frame.index[frame["ts"] >= DAY0 + timedelta(days=1)]
    ingest_labels(gov, labels_for(frame, first))
    ingest_labels(gov, labels_for(frame, second, flip=True))

    before, after = _metrics(gov, _day(gov, 0)), _metrics(gov, _day(gov, 1))

    assert before["performance.roc_auc"].value > 0.8
    assert after["performance.roc_auc"].value < 0.2
    assert after["performance.roc_auc"].details["ci_high"] < 0.5
    # The scores did not change, so neither did what they promise.
    assert after["estimate.roc_auc"].value == pytest.approx(
        before["estimate.roc_auc"].value, abs=0.03
    )


def test_late_labels_update_only_the_windows_whose_labelled_count_changed(
    project: Path,
) -> None:
    gov = Governance.open(project, actor="alice")
    frame = traffic(2, PER_DAY, seed=11)
    version = get_model_version(gov)
    reference = load_reference(gov, version)
    scores = reference_scores(gov, version, reference)
    windows = [_day(gov, 0), _day(gov, 1)]
    with gov.transaction() as session:
        project_id = gov.project(session).id
        run_ids = []
        for window in windows:
            run = MonitorRun(
                project_id=project_id,
                window="1d",
                window_start=window.start,
                window_end=window.end,
                status="succeeded",
                trigger="manual",
                actor="alice",
                started_at=datetime.now(UTC),
            )
            session.add(run)
            session.flush()
            run_ids.append(run.id)
            observed = window_model_metrics(gov, session, reference, scores, window)
            record_observations(session, project_id, run.id, observed)

    first = frame.index[frame["ts"] < DAY0 + timedelta(days=1)]
    ingest_labels(gov, labels_for(frame, first[:200]))
    monitored = list(zip(run_ids, windows, strict=True))
    with gov.transaction() as session:
        late = catch_up_performance(gov, session, reference, scores, monitored)
        record_observations(session, project_id, run_ids[0], [obs for _, obs in late])
    with gov.transaction() as session:
        again = catch_up_performance(gov, session, reference, scores, monitored)

    assert {run_id for run_id, _ in late} == {run_ids[0]}
    assert sorted(obs.metric for _, obs in late) == [
        "performance.accuracy",
        "performance.f1",
        "performance.precision",
        "performance.recall",
        "performance.roc_auc",
    ]
    assert all(obs.details["labelled"] == 200 for _, obs in late)
    assert again == []


def test_the_delong_interval_agrees_with_a_row_bootstrap() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, size=3000)
    score = np.clip(rng.normal(0.4 + 0.2 * y, 0.25), 0, 1)
    rows = scored_rows(_rows(y, score).labelled, BINARY)

    low, high = delong_interval(score, y == 1)
    boot = metric_interval(rows, "roc_auc", 0.95, 1000, 0)

    assert low == pytest.approx(boot.low, abs=0.005)
    assert high == pytest.approx(boot.high, abs=0.005)


def test_the_confusion_matrix_bootstrap_agrees_with_a_row_bootstrap() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, size=3000)
    predicted = np.where(rng.random(3000) < 0.8, y, 1 - y)
    rows = scored_rows(_rows(y, rng.random(3000), predicted).labelled, BINARY)

    cells = confusion_bootstrap(rows, "f1")
    boot = metric_interval(rows, "f1", 0.95, 1000, 0)

    assert cells.low == pytest.approx(boot.low, abs=0.005)
    assert cells.high == pytest.approx(boot.high, abs=0.005)


def test_a_multiclass_model_gets_macro_averages_and_no_auc() -> None:
    rng = np.random.default_rng(5)
    y = rng.choice(["a", "b", "c"], size=900)
    predicted = np.where(rng.random(900) < 0.7, y, rng.choice(["a", "b", "c"], size=900))
    labelled = pa.table(
        {"score": np.full(900, np.nan), "prediction": predicted, "label": y.astype(str)}
    )
    rows = WindowRows(900, np.full(900, np.nan), np.zeros(900, dtype=bool), labelled)

    found = {o.metric: o for o in performance(rows, ModelClasses(["a", "b", "c"], "b"), _window())}

    assert found["performance.accuracy"].value == pytest.approx(accuracy_score(y, predicted))
    for metric, scorer in (
        ("f1", f1_score),
        ("precision", precision_score),
        ("recall", recall_score),
    ):
        value = scorer(y, predicted, average="macro")
        assert found[f"performance.{metric}"].value == pytest.approx(value), metric
        assert found[f"performance.{metric}"].details["interval"] == "bootstrap"
    assert found["performance.roc_auc"].value is None
    assert "positive-class score only" in found["performance.roc_auc"].details["reason"]


def test_estimates_from_calibrated_scores_match_the_realised_performance() -> None:
    rng = np.random.default_rng(6)
    n = 50_000
    score = rng.beta(2, 2, size=n)
    y = (rng.random(n) < score).astype(int)  # the scores are calibrated by construction
    rows = _rows(y, score)

    found = {
        o.metric: o for o in score_observations(rows, None, Calibrator(None, "none"), _window())
    }

    predicted = (score >= 0.5).astype(int)
    realised = {
        "roc_auc": roc_auc_score(y, score),
        "accuracy": accuracy_score(y, predicted),
        "precision": precision_score(y, predicted),
        "recall": recall_score(y, predicted),
        "f1": f1_score(y, predicted),
    }
    for metric, value in realised.items():
        obs = found[f"estimate.{metric}"]
        assert obs.estimated
        assert obs.value == pytest.approx(value, abs=0.01), metric  # sampling noise at 50k rows
    cells = found["estimate.accuracy"].details["expected_confusion"]
    assert sum(cells.values()) == pytest.approx(n)


def test_estimates_without_any_score_are_undefined_with_a_reason() -> None:
    rows = _rows(np.array([1, 0]), np.array([np.nan, np.nan]), np.array([1, 0]))

    found = score_observations(rows, None, Calibrator(None, "none"), _window())

    assert {o.value for o in found} == {None}
    assert found[0].details["reason"] == "none of the window's 2 prediction(s) has a score"


def test_the_expected_auc_counts_every_pair_and_ties_half_across_blocks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(8)
    score = np.sort(rng.integers(0, 12, size=300) / 11)  # many ties
    p = np.clip(score * 0.8 + 0.1, 0, 1)
    above = score[:, None] > score[None, :]
    tied = score[:, None] == score[None, :]
    pairs = p[:, None] * (1 - p[None, :]) * (above + 0.5 * tied)
    brute = pairs.sum() / (p.sum() * (1 - p).sum())
    calibrator = Calibrator(None, "none")  # p is the (clipped) score itself

    whole = expected_auc(score * 0.8 + 0.1, calibrator)
    monkeypatch.setattr(performance_module, "ESTIMATE_BLOCK", 7)
    blocked = expected_auc(score * 0.8 + 0.1, calibrator)

    assert whole == pytest.approx(brute, rel=1e-12)
    assert blocked == pytest.approx(brute, rel=1e-12)
