"""The training pipeline: cross-validation schemes, Optuna search and model selection.

``mlgate train`` reads the ``training`` section of mlgate.yaml; :mod:`mlgate.lifecycle.models`
loads the data, calls :func:`plan_training`, :func:`choose` and :func:`refit`, and registers
the model they return. The pieces:

- :mod:`~mlgate.training.pipeline`: the preprocessing pipeline around the configured estimator.
- :mod:`~mlgate.training.cv`: stratified, group and time-ordered folds, and fold scores.
- :mod:`~mlgate.training.scoring`: the metric, scored for the project's positive label.
- :mod:`~mlgate.training.space`: search spaces, checked and drawn from.
- :mod:`~mlgate.training.search`: the Optuna study in the governance store, resumable and
  shared by worker processes.
- :mod:`~mlgate.training.selection`: choosing among candidates, with the reason.
"""

from mlgate.training.cv import FoldScores, fold_scores, make_splits, split_columns
from mlgate.training.pipeline import PipelineSpec
from mlgate.training.run import (
    Choice,
    TrainingPlan,
    choose,
    pipeline_spec,
    plan_training,
    refit,
    search_job,
)
from mlgate.training.scoring import Scorer
from mlgate.training.search import (
    SearchJob,
    SearchProgress,
    SearchResult,
    TrialProgress,
    open_storage,
    run_search,
    run_trials,
    study_name,
)
from mlgate.training.selection import CandidateResult, Selection, select

__all__ = [
    "CandidateResult",
    "Choice",
    "FoldScores",
    "PipelineSpec",
    "Scorer",
    "SearchJob",
    "SearchProgress",
    "SearchResult",
    "Selection",
    "TrainingPlan",
    "TrialProgress",
    "choose",
    "fold_scores",
    "make_splits",
    "open_storage",
    "pipeline_spec",
    "plan_training",
    "refit",
    "run_search",
    "run_trials",
    "search_job",
    "select",
    "split_columns",
    "study_name",
]
