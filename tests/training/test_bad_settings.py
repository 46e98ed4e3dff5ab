"""Bad training settings and data end `mlgate train` with a clear error (exit 2), and worker
processes of a search end with the process that started them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from mlgate.config import ParamSpec, TrainingConfig, parse_config
from mlgate.errors import ValidationError
from mlgate.lifecycle.service import Governance
from mlgate.training import open_storage, run_search
from mlgate.training.pipeline import PipelineSpec, import_estimator
from tests.fixtures import Cli
from tests.training.conftest import LOGISTIC_SEARCH, read_study, set_training, small_job

REPO = Path(__file__).resolve().parents[2]
LINEAR = "sklearn.linear_model.LogisticRegression"
SLOW = "tests.training.slow.SlowLogisticRegression"
WAIT_SECONDS = 120
TRIALS = 2000  # far more than a worker left running could finish while the test waits


def _search(space: dict[str, Any], **training: Any) -> dict[str, Any]:
    return {**LOGISTIC_SEARCH, **training, "search": {"trials": 2, "space": space}}


@pytest.mark.parametrize("bound", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_search_bound_is_refused(bound: float) -> None:
    with pytest.raises(ValueError, match="low and high must be finite numbers; got low") as info:
        ParamSpec(type="float", low=bound if bound < 0 else 0.1, high=bound)

    assert "high" in str(info.value)


def test_a_nan_bound_in_mlgate_yaml_exits_2_naming_the_setting(german_ws: Path, cli: Cli) -> None:
    path = german_ws / "mlgate.yaml"
    set_training(german_ws, **_search({"C": {"type": "float", "low": 0.0, "high": 1.0}}))
    path.write_text(path.read_text().replace("low: 0.0", "low: .nan"))

    result = cli("train", cwd=german_ws)

    assert result.code == 2, result.text
    assert "training.search.space.C" in result.text
    assert "low and high must be finite numbers; got low nan, high 1" in result.text


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_a_seed_outside_numpys_range_is_refused(seed: int) -> None:
    with pytest.raises(ValueError, match=f"seed {seed} is out of range"):
        TrainingConfig(seed=seed)


def test_the_largest_numpy_seed_is_accepted() -> None:
    assert TrainingConfig(seed=2**32 - 1).seed == 2**32 - 1


def test_a_negative_seed_with_a_search_exits_2(german_ws: Path, cli: Cli) -> None:
    set_training(german_ws, **{**LOGISTIC_SEARCH, "seed": -1})

    result = cli("train", cwd=german_ws)

    assert result.code == 2, result.text
    assert "training.seed: seed -1 is out of range; expected 0 <= seed <=" in (
        result.text.replace("\n", " ")
    )


@pytest.mark.parametrize("path", [".sklearn.Foo", "..Foo", "Foo", "sklearn.linear_model."])
def test_an_estimator_path_that_is_not_absolute_is_refused(path: str) -> None:
    with pytest.raises(ValidationError, match="is not a dotted absolute class path") as info:
        import_estimator(path, "training.estimator")

    assert f"training.estimator '{path}'" in info.value.message


def test_a_leading_dot_estimator_exits_2(german_ws: Path, cli: Cli) -> None:
    set_training(german_ws, estimator=".sklearn.Foo")

    result = cli("train", cwd=german_ws)

    assert result.code == 2, result.text
    assert "training.estimator '.sklearn.Foo' is not a dotted absolute class path" in (
        result.text.replace("\n", " ")
    )


def test_a_regressor_is_refused_for_plain_training(german_ws: Path, cli: Cli) -> None:
    set_training(german_ws, estimator="sklearn.linear_model.LinearRegression")

    result = cli("train", cwd=german_ws)

    assert result.code == 2, result.text
    text = result.text.replace("\n", " ")
    assert "training.estimator 'sklearn.linear_model._base.LinearRegression' is not a " in text
    assert "classifier" in text


def test_a_regressor_is_refused_in_a_search(german_ws: Path, cli: Cli) -> None:
    set_training(
        german_ws,
        **_search(
            {"alpha": {"type": "float", "low": 0.1, "high": 1.0}},
            estimator="sklearn.linear_model.Ridge",
            params={},
        ),
    )

    result = cli("train", cwd=german_ws)

    assert result.code == 2, result.text
    assert "'sklearn.linear_model._ridge.Ridge' is not a classifier" in (
        result.text.replace("\n", " ")
    )


def test_a_regressor_candidate_is_refused_naming_its_place(german_ws: Path, cli: Cli) -> None:
    set_training(
        german_ws,
        cv={"folds": 3},
        candidates=[
            {"name": "lr", "estimator": LINEAR, "params": {"max_iter": 500}},
            {"name": "ols", "estimator": "sklearn.linear_model.LinearRegression"},
        ],
    )

    result = cli("train", cwd=german_ws)

    assert result.code == 2, result.text
    assert (
        "training.candidates[1].estimator 'sklearn.linear_model._base.LinearRegression' is "
        in (result.text.replace("\n", " "))
    )


def test_a_library_error_in_every_trial_exits_2_naming_the_parameters(
    german_ws: Path, cli: Cli
) -> None:
    set_training(
        german_ws,
        estimator="lightgbm.LGBMClassifier",
        params={"n_estimators": 5},
        seed=0,
        cv={"folds": 2},
        search={"trials": 2, "space": {"num_leaves": {"type": "int", "low": 1, "high": 1}}},
    )

    result = cli("train", cwd=german_ws)

    assert result.code == 2, result.text
    text = result.text.replace("\n", " ")
    assert "fitting lightgbm.LGBMClassifier with {'n_estimators': 5, 'num_leaves': 1}" in text
    assert "(mlgate.yaml training)" in text
    assert "LightGBMError" in text
    assert "internal error" not in text.lower()


def test_failed_trials_are_marked_failed_and_the_search_goes_on(tmp_path: Path) -> None:
    # C = 0 is refused by LogisticRegression at fit; the other drawn values fit.
    url = f"sqlite:///{tmp_path / 'store.db'}"
    job = small_job(url, trials=3)
    space = {"C": ParamSpec(type="float", low=0.0, high=1.0)}
    job = _with_space(job, space)
    storage = open_storage(url)
    study = optuna.create_study(storage=storage, study_name=job.study_name, direction="maximize")
    study.enqueue_trial({"C": 0.0})
    storage.engine.dispose()

    result = run_search(job)

    trials = read_study(url, job.study_name).get_trials()
    assert [t.state for t in trials][0] == TrialState.FAIL
    assert trials[0].params == {"C": 0.0}
    assert result.trials == 3
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 3


def _with_space(job: Any, space: dict[str, ParamSpec]) -> Any:
    from dataclasses import replace

    return replace(job, objective=replace(job.objective, space=space))


def test_a_library_error_at_refit_names_the_candidate() -> None:
    from mlgate.training.run import plan_training, refit
    from tests.training.conftest import small_frame

    training = TrainingConfig.model_validate(
        {"candidates": [{"name": "lr", "estimator": LINEAR, "params": {"C": 1.0}}]}
    )
    plan = plan_training(training, small_frame(), ["x1", "x2"], "y", 1, {}, "ab" * 32, "proj")
    assert plan is not None
    broken = PipelineSpec(LINEAR, {"C": -1.0}, 0, ("x1", "x2"), ())
    candidate = plan.candidates[0].__class__("lr", broken, {})
    choice = _choice_of(candidate)

    with pytest.raises(ValidationError, match=r"refitting lr \(sklearn.linear_model") as info:
        refit(plan, choice)

    assert "{'C': -1.0}" in info.value.message


def _choice_of(candidate: Any) -> Any:
    from mlgate.training.cv import FoldScores
    from mlgate.training.run import Choice
    from mlgate.training.selection import CandidateResult

    result = CandidateResult(candidate.name, LINEAR, {}, FoldScores([0.5], 0.0))
    return Choice(candidate, result, {}, {}, None)


def test_a_one_class_target_is_refused_before_fitting(
    tmp_path: Path, cli: Cli, german: pd.DataFrame
) -> None:
    root = tmp_path / "one"
    root.mkdir()
    german[german["good_credit"] == 1].head(100).to_csv(root / "good.csv", index=False)
    result = cli(
        "init", "one", "--tier", "low", "--target", "good_credit", "--data", "good.csv",
        "--estimator", "sklearn.tree.DecisionTreeClassifier", cwd=root,
    )  # fmt: skip
    assert result.code == 0, result.text

    result = cli("train", cwd=root)

    assert result.code == 2, result.text
    assert (
        "the target 'good_credit' has 1 class (1) in dataset 'train'; a classifier needs "
        "at least 2" in result.text.replace("\n", " ")
    )


def test_cv_settings_without_search_or_candidates_still_train(german_ws: Path, cli: Cli) -> None:
    set_training(german_ws, estimator=LINEAR, params={"max_iter": 500}, cv={"folds": 3})

    result = cli("train", cwd=german_ws)

    assert result.code == 0, result.text


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"  # a zombie has stopped running


def _poll(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.1)


def test_search_workers_end_when_the_train_process_is_killed(german_ws: Path) -> None:
    set_training(
        german_ws,
        **{**LOGISTIC_SEARCH, "estimator": SLOW, "search": {**LOGISTIC_SEARCH["search"]}},
    )
    url = Governance.open(german_ws).store.url
    env = {**os.environ, "PYTHONPATH": str(REPO), "MLGATE_USER": "alice"}
    command = "from mlgate.cli.app import main; main()"
    parent = subprocess.Popen(
        [sys.executable, "-c", command, "train", "--trials", str(TRIALS), "--workers", "2"],
        cwd=german_ws,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[int] = []
    try:

        def worker_started() -> bool:
            workers[:] = [p for p in _children(parent.pid) if "spawn_main" in _cmdline(p)]
            return bool(workers)

        _poll(worker_started, "the search worker process to start")
        _poll(lambda: _complete_trials(url) >= 1, "the first complete trial")
        assert _alive(workers[0])

        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=WAIT_SECONDS)

        _poll(lambda: not _alive(workers[0]), "the orphaned worker to end")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for worker in workers:
            if _alive(worker):
                os.kill(worker, signal.SIGKILL)
    assert _complete_trials(url) < TRIALS


def _complete_trials(url: str) -> int:
    storage = optuna.storages.RDBStorage(url, skip_compatibility_check=True)
    try:
        return sum(
            len(storage.get_all_trials(s._study_id, states=(TrialState.COMPLETE,)))
            for s in storage.get_all_studies()
        )
    finally:
        storage.engine.dispose()


def test_trials_given_as_a_boolean_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"training\.search\.trials"):
        parse_config(
            {
                "project": "p",
                "tier": "low",
                "owner": "o",
                "data": {"target": "y"},
                "training": {"search": {"trials": True}},
            },
            "mlgate.yaml",
        )
