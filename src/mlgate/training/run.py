"""From mlgate.yaml to one fitted model: cross-validate, search, select, refit.

:func:`plan_training` turns the ``training`` settings and the training data into a
:class:`TrainingPlan`: the candidates (the configured estimator, or each of ``candidates``),
the folds every one of them is scored on, the metric, and whether their spaces are searched.
:func:`choose` scores each candidate (searching its space with Optuna, or cross-validating its
fixed parameters) and chooses among them; :func:`refit` fits the winner on all the training
rows. The record of the choice (folds, search, selection) is kept with the model version.

Plain ``mlgate train`` on a configuration without a search space or candidates needs no plan:
:func:`plan_training` returns ``None`` and the one configured estimator is fitted as before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sklearn.pipeline import Pipeline

from mlgate.config import ParamSpec, PreprocessingConfig, SearchConfig, TrainingConfig
from mlgate.errors import ValidationError
from mlgate.tabular import column_kind
from mlgate.training.cv import Split, fold_scores, make_splits
from mlgate.training.pipeline import PipelineSpec
from mlgate.training.scoring import Scorer, default_metric
from mlgate.training.search import (
    HEARTBEAT_SECONDS,
    Objective,
    SearchJob,
    SearchProgress,
    TrialProgress,
    run_search,
    study_name,
)
from mlgate.training.selection import CandidateResult, Selection, select
from mlgate.training.space import check_space

logger = logging.getLogger(__name__)


def pipeline_spec(
    estimator: str,
    params: Mapping[str, Any],
    seed: int,
    frame: pd.DataFrame,
    features: list[str],
    where: str = "training",
    preprocessing: Mapping[str, Any] | None = None,
) -> PipelineSpec:
    """Return the spec of the pipeline for ``features``: numeric columns scaled, others encoded."""
    categorical = tuple(c for c in features if column_kind(frame[c]) != "numeric")
    numeric = tuple(c for c in features if c not in categorical)
    return PipelineSpec(
        estimator, dict(params), seed, numeric, categorical, where, dict(preprocessing or {})
    )


@dataclass(frozen=True)
class CandidatePlan:
    """One model to score: its pipeline and the space searched for it (empty: fixed params)."""

    name: str
    pipeline: PipelineSpec
    space: dict[str, ParamSpec]


@dataclass(frozen=True)
class TrainingPlan:
    """What :func:`choose` does: candidates, folds, metric and search settings."""

    project: str
    dataset_sha256: str
    x: pd.DataFrame
    y: pd.Series
    splits: list[Split]
    cv: dict[str, Any]
    scorer: Scorer
    candidates: list[CandidatePlan]
    selecting: bool
    searching: bool
    trials: int
    timeout_seconds: float | None
    seed: int

    def settings(self, candidate: CandidatePlan) -> dict[str, Any]:
        """Return everything that decides a trial's score for ``candidate`` (for the study)."""
        return {
            "candidate": candidate.name,
            "estimator": candidate.pipeline.estimator,
            "params": dict(candidate.pipeline.params),
            "space": {k: v.model_dump(mode="json") for k, v in candidate.space.items()},
            "cv": self.cv,
            "metric": self.scorer.metric,
            "positive_label": self.scorer.positive_label,
            "seed": self.seed,
            "features": list(self.x.columns),
            "target": str(self.y.name),
            # Only a changed recipe enters the name, so studies of the default one keep theirs.
            **(
                {"preprocessing": dict(candidate.pipeline.preprocessing)}
                if candidate.pipeline.preprocessing
                and candidate.pipeline.preprocessing != PreprocessingConfig().model_dump()
                else {}
            ),
        }


@dataclass(frozen=True)
class Choice:
    """The candidate chosen on cross-validation, its metrics, and the record kept with it."""

    candidate: CandidatePlan
    result: CandidateResult
    metrics: dict[str, Any]
    record: dict[str, Any]
    selection: Selection | None


def plan_training(
    training: TrainingConfig,
    frame: pd.DataFrame,
    features: list[str],
    target: str,
    positive_label: Any,
    split_by: Mapping[str, str],
    dataset_sha256: str,
    project: str,
    search: bool | None = None,
    trials: int | None = None,
) -> TrainingPlan | None:
    """Return the plan for these settings, or ``None`` when one fixed estimator is all there is.

    ``search`` (the ``--search/--no-search`` flag) defaults to searching whenever a space is
    configured; ``trials`` (``--trials``) overrides ``training.search.trials`` and asks for a
    search. ``split_by`` holds the columns the cv scheme splits by.
    """
    searching = _searching(training, search, trials)
    if not searching and not training.candidates:
        return None

    y = frame[target]
    candidates = _candidates(training, frame, features, searching)
    settings = training.search or SearchConfig()
    metric = settings.metric or default_metric(y)
    splits = make_splits(frame, target, training.cv, split_by, training.seed)
    cv = {"scheme": training.cv.scheme, "folds": len(splits), **dict(split_by)}
    return TrainingPlan(
        project=project,
        dataset_sha256=dataset_sha256,
        x=frame[features],
        y=y,
        splits=splits,
        cv=cv,
        scorer=Scorer(metric, positive_label, y.nunique() == 2),
        candidates=candidates,
        selecting=bool(training.candidates),
        searching=searching,
        trials=trials or settings.trials,
        timeout_seconds=settings.timeout_seconds,
        seed=training.seed,
    )


def _searching(training: TrainingConfig, search: bool | None, trials: int | None) -> bool:
    has_space = bool(training.search and training.search.space) or any(
        c.space for c in training.candidates
    )
    if trials is not None and search is False:
        raise ValidationError(
            f"--trials {trials} sets how many search trials to run, and --no-search turns the "
            "search off; give one of them"
        )
    wanted = search if search is not None else (has_space or trials is not None)
    if wanted and not has_space:
        raise ValidationError(
            "nothing to search: mlgate.yaml has no training.search.space and no candidate "
            "with a space",
            hint="add parameters to training.search.space (docs/training.md shows how), or "
            "train without --search",
        )
    return wanted


def _candidates(
    training: TrainingConfig, frame: pd.DataFrame, features: list[str], searching: bool
) -> list[CandidatePlan]:
    if training.candidates:
        configured = [
            (c.name, c.estimator, c.params, c.space, f"training.candidates[{i}]")
            for i, c in enumerate(training.candidates)
        ]
    else:
        space = training.search.space if training.search else {}
        name = training.estimator.rpartition(".")[2]
        configured = [(name, training.estimator, training.params, space, "training")]

    plans = []
    for name, estimator, params, space, where in configured:
        spec = pipeline_spec(
            estimator,
            params,
            training.seed,
            frame,
            features,
            where,
            training.preprocessing.model_dump(),
        )
        searched = dict(space) if searching else {}
        section = "training.search" if where == "training" else where
        check_space(searched, spec.estimator_class, params, section)
        plans.append(CandidatePlan(name, spec, searched))
    return plans


def choose(
    plan: TrainingPlan,
    storage_url: str,
    workers: int = 1,
    progress: SearchProgress | None = None,
    heartbeat_seconds: int = HEARTBEAT_SECONDS,
) -> Choice:
    """Score every candidate on the plan's folds (searching its space if it has one); choose."""
    results = [
        _score(plan, candidate, storage_url, workers, progress, heartbeat_seconds)
        for candidate in plan.candidates
    ]
    selection = select(results, plan.scorer.metric) if plan.selecting else None
    winner = selection.winner if selection else results[0]

    return Choice(
        candidate=next(c for c in plan.candidates if c.name == winner.name),
        result=winner,
        metrics=_metrics(winner, plan.scorer.metric),
        record=_record(plan, winner, selection),
        selection=selection,
    )


def refit(plan: TrainingPlan, choice: Choice) -> tuple[Pipeline, float]:
    """Fit the chosen candidate, with its best searched values, on all training rows.

    Returns the fitted pipeline and the seconds the fit took.
    """
    overrides = choice.result.search["best_params"] if choice.result.search else {}
    model = choice.candidate.pipeline.build(overrides)
    started = time.perf_counter()
    try:
        model.fit(plan.x, plan.y)
    except Exception as exc:  # any library's error (LightGBMError...); not Ctrl-C
        params = {**choice.candidate.pipeline.params, **overrides}
        raise ValidationError(
            f"refitting {choice.candidate.name} ({choice.candidate.pipeline.estimator}) with "
            f"parameters {params} on dataset 'train' failed: {type(exc).__name__}: {exc}"
        ) from exc
    seconds = time.perf_counter() - started

    logger.info("refitted %s on %d rows in %.2f s", choice.candidate.name, len(plan.y), seconds)
    return model, seconds


def search_job(
    plan: TrainingPlan,
    candidate: CandidatePlan,
    storage_url: str,
    heartbeat_seconds: int = HEARTBEAT_SECONDS,
) -> SearchJob:
    """Return the search of ``candidate``'s space, its study in the store at ``storage_url``."""
    settings = plan.settings(candidate)
    return SearchJob(
        storage_url=storage_url,
        study_name=study_name(plan.project, plan.dataset_sha256, settings),
        label=candidate.name,
        objective=Objective(
            plan.x, plan.y, plan.splits, candidate.pipeline, candidate.space, plan.scorer
        ),
        trials=plan.trials,
        seed=plan.seed,
        settings=settings,
        timeout_seconds=plan.timeout_seconds,
        heartbeat_seconds=heartbeat_seconds,
    )


def _score(
    plan: TrainingPlan,
    candidate: CandidatePlan,
    storage_url: str,
    workers: int,
    progress: SearchProgress | None,
    heartbeat_seconds: int,
) -> CandidateResult:
    estimator = candidate.pipeline.estimator
    if candidate.space:
        job = search_job(plan, candidate, storage_url, heartbeat_seconds)
        found = run_search(job, workers, progress)
        params = {**candidate.pipeline.params, **found.best_params}
        return CandidateResult(candidate.name, estimator, params, found.folds, found.record())

    _announce(progress, plan, candidate, done=0)
    scores = fold_scores(candidate.pipeline, {}, plan.x, plan.y, plan.splits, plan.scorer)
    _announce(progress, plan, candidate, done=1, best=scores.mean)
    logger.info(
        "cross-validated %s: mean %s %.4f over %d folds",
        candidate.name,
        plan.scorer.metric,
        scores.mean,
        len(scores.scores),
    )
    return CandidateResult(candidate.name, estimator, dict(candidate.pipeline.params), scores)


def _announce(
    progress: SearchProgress | None,
    plan: TrainingPlan,
    candidate: CandidatePlan,
    done: int,
    best: float | None = None,
) -> None:
    if progress is not None:
        label = f"{candidate.name} (fixed params)"
        progress(TrialProgress(label, done, 1, best, plan.scorer.metric, None))


def _metrics(winner: CandidateResult, metric: str) -> dict[str, Any]:
    metrics: dict[str, Any] = {
        f"cv_{metric}_mean": winner.folds.mean,
        f"cv_{metric}_std": winner.folds.std,
    }
    if winner.search is not None:
        metrics["search_trials"] = winner.search["trials"]
    return metrics


def _record(
    plan: TrainingPlan, winner: CandidateResult, selection: Selection | None
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "cv": {
            **plan.cv,
            "metric": plan.scorer.metric,
            "mean": winner.folds.mean,
            "std": winner.folds.std,
            "fold_scores": list(winner.folds.scores),
        }
    }
    if winner.search is not None:
        record["search"] = winner.search
    if selection is not None:
        record["selection"] = selection.record()
    return record
