"""The ``mlgate run``, ``mlgate pipelines`` and ``mlgate scheduler`` commands.

The commands are added to the main application by :func:`register`, which receives the helper
that opens the project as the acting user, so this module does not import the application.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from mlgate.cli.render import console, err_console


def register(app: typer.Typer, open_governance: Callable[[], Any]) -> None:
    """Add ``mlgate run``, ``mlgate pipelines`` and ``mlgate scheduler`` to ``app``."""

    @app.command("run")
    def run(
        name: Annotated[str, typer.Argument(help="A pipeline declared in mlgate.yaml.")],
    ) -> None:
        """Run a declared pipeline once, in a worker process, and record the run."""
        from mlgate.pipelines.runs import run_pipeline

        gov = open_governance()
        with console.status(f"running pipeline {name}"):
            record = run_pipeline(gov, name)
        print_run(record)
        if record.status != "succeeded":
            raise typer.Exit(1)

    @app.command("pipelines")
    def pipelines() -> None:
        """List the declared pipelines with their last run and next scheduled time."""
        from mlgate.pipelines.runs import pipeline_runs

        gov = open_governance()
        last = {run.pipeline: run for run in pipeline_runs(gov)}
        if not gov.config.pipelines:
            console.print("No pipelines are declared in mlgate.yaml (docs/pipelines.md).")
            return
        console.print(pipeline_table(gov.config.pipelines, last, datetime.now(UTC)))

    @app.command("scheduler")
    def scheduler(
        once: Annotated[
            bool, typer.Option("--once", help="Run what is due now, then exit.")
        ] = False,
        poll_seconds: Annotated[
            float, typer.Option(min=1, help="Seconds between looks at the schedules.")
        ] = 30,
    ) -> None:
        """Run scheduled pipelines when their cron slots come due, until SIGTERM or Ctrl-C."""
        from mlgate.pipelines.scheduler import Scheduler

        scheduler = Scheduler(open_governance)
        with scheduler.stopping_on_signals():
            if once:
                for record in scheduler.run_due():
                    print_run(record)
                return
            console.print(f"Scheduler running; polling every {poll_seconds:g} s. Stop: Ctrl-C.")
            scheduler.serve(poll_seconds)
        console.print("Scheduler stopped.")


def print_run(record: Any) -> None:
    """Print how a run ended: what it produced, or its error and where its log is."""
    from mlgate.pipelines.runs import run_seconds

    seconds = run_seconds(record) or 0.0
    head = f"Pipeline {record.pipeline} run {record.id} {record.status} in {seconds:.1f} s"
    if record.status == "succeeded":
        console.print(f"[green]{head}[/green]: {record.output}")
        return
    err_console.print(f"[bold red]{head}[/bold red]: {record.error}", soft_wrap=True)
    if record.log_file:
        err_console.print(f"[cyan]log:[/cyan] {record.log_file}", soft_wrap=True)


def pipeline_table(declared: dict[str, Any], last: dict[str, Any], now: datetime) -> Table:
    """Return the pipelines as a table: kind, schedule, last run and next scheduled time."""
    from mlgate.pipelines.cron import next_slot

    table = Table(title="Pipelines", title_justify="left")
    for column in ("pipeline", "kind", "schedule", "last run", "next run (UTC)"):
        table.add_column(column)
    for name, pipeline in declared.items():
        run = last.get(name)
        previous = "-"
        if run is not None:
            previous = f"{run.id} {run.status} {run.started_at:%Y-%m-%d %H:%M} ({run.trigger})"
        upcoming = "-"
        if pipeline.schedule:
            upcoming = f"{next_slot(pipeline.schedule, now):%Y-%m-%d %H:%M}"
        table.add_row(name, pipeline.kind, pipeline.schedule or "-", previous, upcoming)
    return table
