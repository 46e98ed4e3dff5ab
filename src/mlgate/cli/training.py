"""What ``mlgate train`` shows: search progress, the candidates compared, and the choice.

The progress bar names the candidate being searched, the trials complete out of those asked
for, the newest complete trial and the best score so far. After registration, a search prints
its study and best trial, and model selection prints the comparison table and the reason.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import optuna
from rich.progress import Progress, TaskID
from rich.table import Table

from mlgate.cli.render import console
from mlgate.errors import NotFoundError
from mlgate.lifecycle.service import Governance
from mlgate.training import SearchProgress, TrialProgress


def train_command(
    gov: Governance, search: bool | None, trials: int | None, workers: int, bar: Progress
) -> None:
    """Train (searching and selecting as configured), register, and print the outcome."""
    from mlgate.lifecycle.models import get_model_version, train_model

    try:
        newest_before = get_model_version(gov).version
    except NotFoundError:
        newest_before = 0
    _quiet_optuna(logging.getLogger().getEffectiveLevel())
    with bar:
        task = bar.add_task("training", total=None)
        version = train_model(gov, search, trials, workers, _reporter(bar, task))

    if version.version <= newest_before:
        console.print(
            f"Model version [bold]{version.version}[/bold] already holds this search's result "
            f"on this data; nothing new was registered (sha256 {version.artifact_sha256[:12]})"
        )
    else:
        console.print(
            f"Registered model version [bold]{version.version}[/bold] "
            f"({version.estimator}, sha256 {version.artifact_sha256[:12]}); "
            f"metrics {version.metrics}"
        )
    selection = version.params.get("selection")
    if selection:
        console.print(selection_table(selection))
        console.print(f"Chose [bold]{selection['winner']}[/bold]: {selection['reason']}")
    found = version.params.get("search")
    if found:
        console.print(
            f"Search: study {found['study']}, {found['trials']} complete trial(s); best "
            f"{found['metric']} {found['best_value']:.4f} (trial {found['best_trial']}) with "
            f"{found['best_params']}"
        )


class _OptunaLog(logging.Handler):
    """Writes Optuna's messages to stderr in mlgate's format; tracebacks only at debug level.

    Optuna reports a failed trial with the traceback of its error, which mlgate then reports as
    one line; the traceback is for -vv. The stream is looked up at each message, so that the
    handler follows a redirected stderr.
    """

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
        sys.stderr.write(self.format(record) + "\n")


OPTUNA_LOG = _OptunaLog()


def _quiet_optuna(level: int) -> None:
    """Route Optuna's messages through :data:`OPTUNA_LOG`, at mlgate's verbosity (-v, -vv)."""
    optuna.logging.disable_default_handler()
    optuna.logging.disable_propagation()
    logging.getLogger("optuna").addHandler(OPTUNA_LOG)
    optuna.logging.set_verbosity(level)


def _reporter(bar: Progress, task: TaskID) -> SearchProgress:
    def update(progress: TrialProgress) -> None:
        best = "-" if progress.best is None else f"{progress.best:.4f}"
        last = "" if progress.last_trial is None else f", last trial {progress.last_trial}"
        bar.update(
            task,
            description=f"{progress.label}: {progress.complete}/{progress.trials} trials{last}, "
            f"best {progress.metric} {best}",
            completed=progress.complete,
            total=progress.trials,
        )

    return update


def selection_table(selection: dict[str, Any]) -> Table:
    """Return the candidates compared in model selection as a table, the winner marked."""
    metric = selection["metric"]
    table = Table(title=f"Model selection on mean {metric}", title_justify="left")
    for column in ("candidate", "estimator", "mean", "std", "fold scores", "fit s", "trials"):
        table.add_column(column, no_wrap=column != "fold scores")
    for row in selection["candidates"]:
        name = row["candidate"]
        table.add_row(
            f"[bold]{name}[/bold] *" if name == selection["winner"] else name,
            row["estimator"].rpartition(".")[2],
            f"{row['mean']:.4f}",
            f"{row['std']:.4f}",
            " ".join(f"{s:.3f}" for s in row["folds"]),
            f"{row['fit_seconds']:.3f}",
            str(row.get("trials", "-")),
        )
    return table
