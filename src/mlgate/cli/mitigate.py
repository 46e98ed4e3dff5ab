"""The ``mlgate mitigate`` command: group thresholds on a model version, as a new version.

The command is added to the main application by :func:`register`, which receives the helper
that opens the project as the acting user, so this module does not import the application.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from mlgate.cli.render import console

CONSTRAINT_HELP = "demographic_parity, equalized_odds or true_positive_rate_parity"
SHOWN_GAPS = ("equalized_odds_difference", "demographic_parity_difference", "accuracy")


def register(app: typer.Typer, open_governance: Callable[[], Any]) -> None:
    """Add ``mlgate mitigate`` to ``app``."""

    @app.command("mitigate")
    def mitigate(
        constraint: Annotated[
            str, typer.Option(help=f"Fairness constraint: {CONSTRAINT_HELP}.")
        ] = "equalized_odds",
        dataset: Annotated[str, typer.Option(help="Dataset to fit the thresholds on.")] = "train",
        sensitive: Annotated[
            list[str] | None,
            typer.Option(help="A sensitive column (repeatable; default: the project's)."),
        ] = None,
        version: Annotated[
            int | None, typer.Option(help="Model version to mitigate (default: the newest).")
        ] = None,
    ) -> None:
        """Fit per-group thresholds (Fairlearn ThresholdOptimizer) and register a new version."""
        from mlgate.lifecycle.mitigation import mitigate as fit_thresholds

        gov = open_governance()
        with console.status("fitting group thresholds"):
            result = fit_thresholds(gov, constraint, dataset, sensitive or None, version)
        print_mitigation(result)


def print_mitigation(result: Any) -> None:
    """Print what was registered, the gaps before and after, and the next step."""
    registered = result.version
    console.print(
        f"Registered model version [bold]{registered.version}[/bold]: mitigated from version "
        f"{result.parent} with ThresholdOptimizer({result.constraint}) on dataset "
        f"'{result.dataset}', {len(result.groups)} groups of {', '.join(result.sensitive)} "
        f"(sha256 {registered.artifact_sha256[:12]})"
    )
    for key in SHOWN_GAPS:
        console.print(
            f"  {key.replace('_', ' ')} on '{result.dataset}': {result.before[key]:.3f} -> "
            f"{result.after[key]:.3f}"
        )
    console.print(
        f"It reads {', '.join(result.sensitive)} at prediction time. Next: mlgate check "
        "fairness --dataset holdout, then mlgate recheck for the rest of its evidence."
    )
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
