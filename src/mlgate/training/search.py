"""Hyperparameter search with Optuna, its study kept in the governance store.

The study lives in the same database as the project (``RDBStorage`` on the store's own URL:
the workspace's SQLite file, or the team's PostgreSQL). Its name is derived from the project,
the training data's hash and a hash of everything that decides a trial's score (estimator,
fixed parameters, space, cross-validation, metric, seed, features), so running the same search
again finds the same study:

- **Resume.** A search counts its *complete* trials and runs only the missing ones. A trial
  stopped by Ctrl-C is marked failed by Optuna at once; a trial left running by a killed process
  stops sending heartbeats and is marked failed once its grace period has passed. Failed trials
  do not count, so their place is taken by new ones.
- **Workers.** Several processes, on one machine or several, may run trials of one study at
  the same time. Before a trial draws its values it checks that fewer than ``trials`` trials
  ahead of it are complete or running; otherwise it stops at once (Optuna records it as pruned,
  with the user attribute ``surplus``), so that together the workers finish exactly ``trials``
  complete trials.
- **Reproducible.** The sampler is Optuna's TPE, seeded from the training seed, the worker's
  number and the number of trials already in the study: an uninterrupted search in one process
  draws the same values every time, and a resumed one does not repeat the values it drew before.

Optuna keeps its own tables (``studies``, ``trials``, ``trial_params``...) beside mlgate's, and
none of their names is one of mlgate's. Optuna would also record its schema revision in
Alembic's ``alembic_version`` table, which holds mlgate's revision: the governance schema is
therefore always brought up first, Optuna finds a revision there and leaves it alone, and its own
compatibility check (which would compare mlgate's revision with Optuna's) is replaced by a
comparison of the schema version Optuna records in its ``version_info`` table. On SQLite every
transaction of the search takes the write lock at its start, as the governance store's do, so
concurrent workers queue instead of failing with "database is locked".
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from multiprocessing.process import BaseProcess
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.exceptions import ExperimentalWarning
from optuna.samplers import TPESampler
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import event, text
from sqlalchemy.exc import SQLAlchemyError

from mlgate.config import ParamSpec
from mlgate.errors import ConflictError, GovernanceError, ValidationError
from mlgate.registry.db import Store, _on_sqlite_begin, _on_sqlite_connect
from mlgate.training.cv import FoldScores, Split, fold_scores
from mlgate.training.pipeline import PipelineSpec
from mlgate.training.scoring import Scorer
from mlgate.training.space import suggest

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10  # a running trial records a heartbeat this often; stale after twice that
POLL_SECONDS = 1.0  # how often a worker looks again while other workers finish the last trials
SQLITE_LOCK_SECONDS = 30  # how long a SQLite connection waits for another one's write lock,
# as the governance store's connections do (their listeners, added below, set the same)
SURPLUS = "surplus"
ORPHAN_POLL_SECONDS = 0.5  # how often a worker process checks that its parent is still there
ORPHAN_EXIT_CODE = 1
PR_SET_PDEATHSIG = 1  # Linux prctl option: the signal a process gets when its parent dies

# Running trials that never recorded a heartbeat (tables and columns of Optuna's schema, whose
# version open_storage checks).
SILENT_TRIALS = text(
    "SELECT trial_id, number, datetime_start FROM trials WHERE study_id = :study_id "
    "AND state = 'RUNNING' AND trial_id NOT IN (SELECT trial_id FROM trial_heartbeats)"
)


def study_name(project: str, dataset_sha256: str, settings: Mapping[str, Any]) -> str:
    """Return the study's name: project, data hash and a hash of the search's settings.

    ``settings`` is everything that decides a trial's score; the number of trials and the
    timeout are left out, so raising ``trials`` continues the same study.
    """
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"mlgate:{project}:{dataset_sha256[:16]}:{digest[:16]}"


def open_storage(url: str, heartbeat_seconds: int = HEARTBEAT_SECONDS) -> RDBStorage:
    """Open Optuna's storage on the governance store at ``url``, creating its tables if needed."""
    Store(url).close()  # mlgate's migration record first, so that Optuna leaves it alone
    sqlite = url.startswith("sqlite")
    engine_kwargs: dict[str, Any] = (
        {"connect_args": {"timeout": SQLITE_LOCK_SECONDS}} if sqlite else {"pool_pre_ping": True}
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            storage = RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                skip_compatibility_check=True,
                heartbeat_interval=heartbeat_seconds,
            )
    except (SQLAlchemyError, optuna.exceptions.StorageInternalError) as exc:
        raise ConflictError(f"cannot open the search tables in the store: {exc}") from exc

    if sqlite:
        event.listen(storage.engine, "connect", _on_sqlite_connect)
        event.listen(storage.engine, "begin", _on_sqlite_begin)
        storage.engine.dispose()  # later connections are made with the listeners above
    _check_schema(storage)
    return storage


def _check_schema(storage: RDBStorage) -> None:
    from optuna.storages._rdb.models import SCHEMA_VERSION

    with storage.engine.connect() as connection:
        row = connection.execute(
            text("SELECT schema_version, library_version FROM version_info")
        ).first()
    if row is not None and row[0] != SCHEMA_VERSION:
        raise ConflictError(
            f"the search tables in the store were made by optuna {row[1]} (schema {row[0]}); "
            f"the installed optuna {optuna.__version__} expects schema {SCHEMA_VERSION}",
            hint="install the optuna version that made them, or finish with the old studies "
            "and move them to another database before upgrading",
        )


@dataclass(frozen=True)
class Objective:
    """Scores one trial: draws its values, cross-validates the pipeline, returns the mean."""

    x: pd.DataFrame
    y: pd.Series
    splits: list[Split]
    pipeline: PipelineSpec
    space: dict[str, ParamSpec]
    scorer: Scorer

    def __call__(self, trial: optuna.Trial) -> float:
        """Return the mean validation metric of this trial's values over the folds."""
        params = suggest(trial, self.space)
        scores = fold_scores(self.pipeline, params, self.x, self.y, self.splits, self.scorer)
        trial.set_user_attr("fold_scores", scores.scores)
        trial.set_user_attr("fit_seconds", scores.fit_seconds)
        trial.set_user_attr("process", os.getpid())
        return scores.mean


@dataclass(frozen=True)
class SearchJob:
    """One study to fill with ``trials`` complete trials; plain data, sent to worker processes."""

    storage_url: str
    study_name: str
    label: str
    objective: Objective
    trials: int
    seed: int
    settings: dict[str, Any]
    timeout_seconds: float | None = None
    heartbeat_seconds: int = HEARTBEAT_SECONDS


@dataclass(frozen=True)
class TrialProgress:
    """Where a search stands, for a progress bar."""

    label: str
    complete: int
    trials: int
    best: float | None
    metric: str
    last_trial: int | None


SearchProgress = Callable[[TrialProgress], None]


@dataclass(frozen=True)
class SearchResult:
    """The outcome of a search: its study, how many trials completed, and the best trial."""

    study: str
    metric: str
    trials: int
    best_trial: int
    best_value: float
    best_params: dict[str, Any]
    folds: FoldScores

    def record(self) -> dict[str, Any]:
        """Return what is kept with the model version (plain JSON)."""
        return {
            "study": self.study,
            "metric": self.metric,
            "trials": self.trials,
            "best_trial": self.best_trial,
            "best_value": self.best_value,
            "best_params": self.best_params,
            "best_fold_scores": list(self.folds.scores),
        }


def run_search(
    job: SearchJob, workers: int = 1, progress: SearchProgress | None = None
) -> SearchResult:
    """Run ``job`` in this process and ``workers - 1`` more, then return the best trial."""
    if workers < 1:
        raise ValidationError(f"workers must be at least 1; got {workers}")
    storage = open_storage(job.storage_url, job.heartbeat_seconds)
    study = optuna.create_study(
        storage=storage, study_name=job.study_name, direction="maximize", load_if_exists=True
    )
    if not study.user_attrs:
        study.set_user_attr("mlgate", job.settings)
    logger.info(
        "search %s: %d trial(s) asked, %d complete already, %d worker process(es)",
        job.study_name,
        job.trials,
        len(_complete(study)),
        workers,
    )

    helpers = _start_helpers(job, workers - 1)
    try:
        run_trials(job, 0, progress)
    except BaseException:
        for helper in helpers:
            helper.terminate()
            helper.join()
        storage.engine.dispose()
        raise

    for helper in helpers:
        helper.join()
        if helper.exitcode:
            logger.warning("search worker %s ended with code %s", helper.name, helper.exitcode)
    try:
        return search_result(study, job)
    finally:
        storage.engine.dispose()


def run_trials(job: SearchJob, worker: int = 0, progress: SearchProgress | None = None) -> int:
    """Run trials of ``job``'s study until it holds ``job.trials`` complete ones.

    Returns how many trials this process ran. Trials other workers are running count as
    on their way: this process waits for them rather than start more than are needed, and runs
    one in their place if theirs fails.
    """
    storage = open_storage(job.storage_url, job.heartbeat_seconds)
    try:
        study = optuna.load_study(study_name=job.study_name, storage=storage)
        return _fill(study, storage, job, worker, progress)
    finally:
        storage.engine.dispose()


def _fill(
    study: optuna.Study,
    storage: RDBStorage,
    job: SearchJob,
    worker: int,
    progress: SearchProgress | None,
) -> int:
    study.sampler = TPESampler(seed=_sampler_seed(job.seed, worker, len(study.trials)))
    deadline = None if job.timeout_seconds is None else time.monotonic() + job.timeout_seconds

    ran = 0
    failures: list[ValidationError] = []
    while True:
        _stop_if_orphaned()
        _fail_stale(study, storage, 2 * job.heartbeat_seconds)
        complete = _complete(study)
        running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
        _report(progress, job, complete)
        if len(complete) >= job.trials:
            return ran
        if deadline is not None and time.monotonic() >= deadline:
            logger.warning(
                "search %s stopped by its %g s timeout with %d of %d trials complete",
                job.study_name,
                job.timeout_seconds,
                len(complete),
                job.trials,
            )
            return ran
        if len(complete) + running >= job.trials:
            time.sleep(POLL_SECONDS)
            continue

        # A trial whose fit fails (a searched value the library refuses, say) is marked failed
        # and the search goes on: other values of the space may well fit. Failed trials do not
        # count, so a space where nothing fits would never end; once this process has seen as
        # many failures as trials were asked for, it stops with the last error if no trial of
        # the study completed, and otherwise leaves the search to the trials that did.
        study.optimize(
            lambda trial: _recorded(trial, job, failures),
            n_trials=1,
            callbacks=[_logged(job)],
            catch=(ValidationError,),
        )
        ran += 1
        if len(failures) >= job.trials:
            if not _complete(study):
                raise failures[-1]
            logger.warning(
                "search %s: %d trial(s) failed in this process; stopping with %d complete",
                job.study_name,
                len(failures),
                len(_complete(study)),
            )
            return ran


def search_result(study: optuna.Study, job: SearchJob) -> SearchResult:
    """Return the best complete trial of ``study`` as a :class:`SearchResult`."""
    complete = _complete(study)
    if not complete:
        raise ValidationError(
            f"the search {job.study_name} has no complete trial: its timeout of "
            f"{job.timeout_seconds} s ended it before the first trial finished",
            hint="raise training.search.timeout_seconds, or run `mlgate train --search` again "
            "to continue the same study",
        )
    best = study.best_trial
    assert best.value is not None  # a complete single-objective trial has its value
    return SearchResult(
        study=study.study_name,
        metric=job.objective.scorer.metric,
        trials=len(complete),
        best_trial=best.number,
        best_value=best.value,
        best_params=dict(best.params),
        folds=FoldScores(list(best.user_attrs["fold_scores"]), best.user_attrs["fit_seconds"]),
    )


def _claimed(trial: optuna.Trial, job: SearchJob) -> float:
    """Run the objective unless enough trials ahead of this one are complete or running."""
    ahead = [
        t
        for t in trial.study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING)
        )
        if t.number < trial.number
    ]
    if len(ahead) >= job.trials:
        trial.set_user_attr(SURPLUS, True)
        raise optuna.TrialPruned(
            f"{len(ahead)} trials ahead of this one are complete or running; "
            f"{job.trials} were asked for"
        )
    return job.objective(trial)


def _recorded(trial: optuna.Trial, job: SearchJob, failures: list[ValidationError]) -> float:
    """Run the trial; keep its error (Optuna marks the trial failed) for :func:`_fill`."""
    try:
        return _claimed(trial, job)
    except ValidationError as exc:
        failures.append(exc)
        logger.warning("search %s: trial %d failed: %s", job.label, trial.number, exc.message)
        raise


def _logged(job: SearchJob) -> Callable[[optuna.Study, FrozenTrial], None]:
    def log(study: optuna.Study, trial: FrozenTrial) -> None:
        if trial.state == TrialState.COMPLETE:
            logger.info(
                "search %s: trial %d scored %s %.4f",
                job.label,
                trial.number,
                job.objective.scorer.metric,
                trial.value,
            )

    return log


def _complete(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def _fail_stale(study: optuna.Study, storage: RDBStorage, grace_seconds: int) -> None:
    """Mark failed the running trials of processes that are gone.

    Optuna fails a running trial whose heartbeat is older than the grace period. A process
    killed after it created its trial but before the trial's first heartbeat leaves a running
    trial without any heartbeat, which Optuna never fails; such a trial is failed here once it
    started longer ago than the grace period (by the clock of the process that started it,
    which is this machine's when the workers share one).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)

    cutoff = datetime.now() - timedelta(seconds=grace_seconds)
    study_id = storage.get_study_id_from_name(study.study_name)
    with storage.engine.connect() as connection:
        silent = connection.execute(SILENT_TRIALS, {"study_id": study_id}).all()
    for trial_id, number, started in silent:
        if started is None or _as_datetime(started) >= cutoff:
            continue
        try:
            storage.set_trial_state_values(trial_id, TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker failed it first, or it finished after all
        logger.warning(
            "trial %d of search %s never sent a heartbeat; failed it", number, study.study_name
        )


def _as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _report(progress: SearchProgress | None, job: SearchJob, complete: list[FrozenTrial]) -> None:
    if progress is None:
        return
    values = [t.value for t in complete if t.value is not None]
    progress(
        TrialProgress(
            label=job.label,
            complete=len(complete),
            trials=job.trials,
            best=max(values) if values else None,
            metric=job.objective.scorer.metric,
            last_trial=max((t.number for t in complete), default=None),
        )
    )


def _sampler_seed(seed: int, worker: int, existing: int) -> int:
    return int(np.random.SeedSequence([seed, worker, existing]).generate_state(1)[0])


def _start_helpers(job: SearchJob, count: int) -> list[BaseProcess]:
    context = multiprocessing.get_context("spawn")
    parent = os.getpid()
    helpers = [
        context.Process(target=_helper_main, args=(job, i, parent), name=f"mlgate-search-{i}")
        for i in range(1, count + 1)
    ]
    for helper in helpers:
        helper.start()
    return helpers


def _helper_main(job: SearchJob, worker: int, parent: int) -> None:
    """Entry point of a worker process: run trials, report errors as one line, no traceback.

    The worker ends with its parent, the ``mlgate train`` process that started it: a parent
    killed (SIGTERM, SIGKILL) cannot terminate it, and it would go on running trials nobody
    waits for.
    """
    # Only this process's own error reaches its stderr, as one line: Optuna's report of the
    # failed trial would repeat it with a traceback.
    optuna.logging.set_verbosity(optuna.logging.CRITICAL)
    _follow_parent(parent)
    try:
        run_trials(job, worker)
    except GovernanceError as exc:
        logger.error("search worker %d stopped: %s", worker, exc.message)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)


_parent_pid: int | None = None  # set in a worker process: the pid of the process that started it


def _follow_parent(parent: int) -> None:
    """Make this worker process end as soon as ``parent`` is gone.

    On Linux the kernel sends SIGTERM at the parent's death (``PR_SET_PDEATHSIG``). Everywhere,
    a daemon thread compares ``os.getppid()`` with ``parent`` every ``ORPHAN_POLL_SECONDS``
    (an orphan is adopted by another process), and :func:`_fill` does before each trial. A
    trial cut short stays running in the study until its heartbeat goes stale and it is failed.
    """
    global _parent_pid
    _parent_pid = parent
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            logger.debug("prctl is not available; watching the parent process instead")
    threading.Thread(target=_watch_parent, name="mlgate-parent-watch", daemon=True).start()
    _stop_if_orphaned()  # the parent may have died before the signal was asked for


def _watch_parent() -> None:
    while True:
        time.sleep(ORPHAN_POLL_SECONDS)
        if _orphaned():
            logger.error("search worker stops: the mlgate train process that started it is gone")
            os._exit(ORPHAN_EXIT_CODE)


def _orphaned() -> bool:
    return _parent_pid is not None and os.getppid() != _parent_pid


def _stop_if_orphaned() -> None:
    """In a worker process whose parent is gone, stop before starting another trial."""
    if _orphaned():
        logger.error("search worker stops: the mlgate train process that started it is gone")
        sys.exit(ORPHAN_EXIT_CODE)
