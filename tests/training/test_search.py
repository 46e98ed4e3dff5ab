"""Search on German credit: the best trial is registered, and an interrupted search resumes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from optuna.trial import TrialState

import mlgate.training.search as search_module
from mlgate.lifecycle.models import train_model
from mlgate.lifecycle.service import Governance
from tests.training.conftest import LOGISTIC_SEARCH, read_study, set_training, study_names


def _with_trials(trials: int) -> dict[str, Any]:
    return {**LOGISTIC_SEARCH, "search": {**LOGISTIC_SEARCH["search"], "trials": trials}}


def test_search_registers_the_best_trial_recorded_in_the_store(german_ws: Path) -> None:
    set_training(german_ws, **_with_trials(4))
    gov = Governance.open(german_ws, actor="alice")

    version = train_model(gov)

    recorded = version.params["search"]
    study = read_study(gov.store.url, recorded["study"])
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert recorded["best_value"] == study.best_value
    assert recorded["best_params"] == study.best_params
    assert recorded["best_trial"] == study.best_trial.number
    assert recorded["trials"] == len(complete) == 4
    assert recorded["best_fold_scores"] == study.best_trial.user_attrs["fold_scores"]
    assert np.mean(recorded["best_fold_scores"]) == pytest.approx(study.best_value)
    assert version.params["C"] == study.best_params["C"]
    assert version.params["max_iter"] == 500
    assert version.metrics["cv_roc_auc_mean"] == study.best_value
    assert version.metrics["search_trials"] == 4
    dataset_sha = gov.snapshot_now().datasets["train"].sha256
    assert recorded["study"].startswith(f"mlgate:credit:{dataset_sha[:16]}:")
    assert (version.params["cv"]["scheme"], version.params["cv"]["folds"]) == ("stratified", 3)
    report = Governance.open(german_ws, actor="bob").verify_audit()
    assert report.ok, report.message


def test_interrupted_search_resumes_without_rerunning_complete_trials(german_ws: Path) -> None:
    set_training(german_ws, **_with_trials(6))
    gov = Governance.open(german_ws, actor="alice")

    def stop_after_three(progress: Any) -> None:
        if progress.complete == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_model(gov, progress=stop_after_three)
    url = gov.store.url
    [name] = study_names(url)
    before = read_study(url, name).get_trials()
    assert [t.state for t in before] == [TrialState.COMPLETE] * 3

    version = train_model(gov)

    after = read_study(url, name).get_trials()
    assert [t.state for t in after] == [TrialState.COMPLETE] * 6
    assert [(t.number, t.params, t.value, t.datetime_complete) for t in after[:3]] == [
        (t.number, t.params, t.value, t.datetime_complete) for t in before
    ]
    assert version.params["search"]["trials"] == 6


def test_trial_stopped_by_ctrl_c_is_failed_and_replaced(
    german_ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_training(german_ws, **_with_trials(4))
    gov = Governance.open(german_ws, actor="alice")
    real = search_module.fold_scores
    calls = {"n": 0}

    def interrupted_third(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(search_module, "fold_scores", interrupted_third)
    with pytest.raises(KeyboardInterrupt):
        train_model(gov)
    monkeypatch.setattr(search_module, "fold_scores", real)

    version = train_model(gov)

    trials = read_study(gov.store.url, version.params["search"]["study"]).get_trials()
    assert [t.state for t in trials] == [
        TrialState.COMPLETE,
        TrialState.COMPLETE,
        TrialState.FAIL,
        TrialState.COMPLETE,
        TrialState.COMPLETE,
    ]


def test_running_a_finished_search_again_adds_no_version(german_ws: Path) -> None:
    set_training(german_ws, **_with_trials(2))
    gov = Governance.open(german_ws, actor="alice")

    first = train_model(gov)
    again = train_model(gov)
    more = train_model(gov, trials=3)

    assert again.version == first.version
    assert more.version == first.version + 1
    assert more.params["search"]["trials"] == 3
