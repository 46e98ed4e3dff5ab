"""The ``mlgate test`` command: run the required checks, then show one table of outcomes.

The command is added to the main application by :func:`register`, which receives the two
helpers it shares with the other commands (opening the project as the acting user, and the
progress bar), so this module does not import the application and no import cycle arises.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from mlgate.cli.render import STATUS_STYLE, console
from mlgate.lifecycle.testing import ERROR, NOT_RUN, SuiteResult

OUTCOME_STYLE = {**STATUS_STYLE, NOT_RUN: "bold red", ERROR: "bold red"}


def register(
    app: typer.Typer, open_governance: Callable[[], Any], progress_bar: Callable[[], Progress]
) -> None:
    """Add ``mlgate test`` to ``app``."""

    @app.command("test")
    def test(
        stage: Annotated[
            list[str] | None,
            typer.Option(
                metavar="STAGE",
                help="Test this stage (repeatable; default: development and testing).",
            ),
        ] = None,
        all_stages: Annotated[
            bool, typer.Option("--all", help="Test every stage up to the current one.")
        ] = False,
        only: Annotated[
            list[str] | None,
            typer.Option(metavar="NAME", help="Run only this requirement or check (repeatable)."),
        ] = None,
    ) -> None:
        """Run every check the policy requires at the project's tier, and store the evidence.

        Exits with 1 when a required check failed or could not run.
        """
        from mlgate.lifecycle.testing import run_tests

        gov = open_governance()
        with progress_bar() as bar:
            task = bar.add_task("checks", total=None)

            def update(what: str, done: int, total: int | None) -> None:
                bar.update(task, description=f"check {what}", completed=done, total=total)

            result = run_tests(gov, stage or [], all_stages, only or [], update)
        print_suite(result)
        if not result.ok:
            raise typer.Exit(1)


def outcome_table(result: SuiteResult) -> Table:
    """Return one row per required check: requirement (and check), dataset, status, summary."""
    version = f"model version {result.model_version}" if result.model_version else "no model"
    table = Table(
        title=f"{result.project}, {version}: stages {', '.join(result.stages)}",
        title_justify="left",
        expand=True,
    )
    # The check's name is shown only where it differs from the requirement's, so that the
    # summary keeps most of the width of an 80-column terminal.
    table.add_column("requirement", no_wrap=True)
    table.add_column("data", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("summary / next step", ratio=1)
    table.add_column("seconds", justify="right", no_wrap=True)
    for outcome in result.outcomes:
        summary = Text(outcome.summary)
        if outcome.fix:
            summary.append(f"\nnext: {outcome.fix}", style="cyan")
        name = outcome.requirement
        if outcome.check != outcome.requirement:
            name = f"{name}\n({outcome.check})"
        table.add_row(
            name,
            outcome.dataset,
            Text(outcome.status, style=OUTCOME_STYLE.get(outcome.status, "")),
            summary,
            f"{outcome.seconds:.2f}" if outcome.seconds is not None else "-",
        )
    return table


def print_suite(result: SuiteResult) -> None:
    """Print the outcome table, the counts, and where the details are."""
    if not result.outcomes:
        console.print(
            f"No check is required in stage(s) {', '.join(result.stages)} at this tier; "
            "nothing to run."
        )
        return
    console.print(outcome_table(result))
    counts = ", ".join(f"{n} {status}" for status, n in result.counts().items() if n)
    verdict = "[green]all passed[/green]" if result.ok else "[bold red]not passed[/bold red]"
    console.print(f"{len(result.outcomes)} check(s): {counts}; {verdict}.")
    console.print(
        "Details: `mlgate report` writes every finding and chart to report.html; "
        "`mlgate status --all` shows where each gate stands."
    )
