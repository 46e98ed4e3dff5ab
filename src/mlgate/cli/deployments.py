"""The ``mlgate deployments`` and ``mlgate rollback`` commands: what served when, and undoing.

The commands are added to the main application by :func:`register`, which receives the helper
that opens the project as the acting user, so this module does not import the application.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import typer
from rich.table import Table

from mlgate.cli.options import (
    ModeFilterOption,
    ModeOption,
    RollbackReasonOption,
    ServingAtOption,
)
from mlgate.cli.render import console


def register(app: typer.Typer, open_governance: Callable[[], Any]) -> None:
    """Add ``mlgate deployments`` and ``mlgate rollback`` to ``app``."""

    @app.command("deployments")
    def deployments(mode: ModeFilterOption = None, at: ServingAtOption = None) -> None:
        """List every deployment, or which version was serving at a given moment."""
        from mlgate.lifecycle.deployments import deployment_history, parse_moment, serving_at

        gov = open_governance()
        if at is None:
            print_history(deployment_history(gov, mode))
            return

        moment = parse_moment(at)
        console.print(f"Serving at {moment.isoformat(timespec='seconds')}:")
        for each, record in serving_at(gov, moment, mode).items():
            served = "nothing" if record is None else f"model version {record.version}"
            since = "" if record is None else f" (deployed {_when(record.created_at)})"
            console.print(f"  {each:<7} {served}{since}")

    @app.command("rollback")
    def rollback(reason: RollbackReasonOption, mode: ModeOption = "batch") -> None:
        """Re-deploy the version that served in a mode before the live one."""
        from mlgate.lifecycle.deployments import rollback as do_rollback

        done = do_rollback(open_governance(), mode, reason)
        console.print(
            f"[green]Rolled back[/green] {done.mode} from model version {done.from_version} "
            f"to {done.to_version} (at {done.deployment.endpoint})"
        )


def print_history(records: list[Any]) -> None:
    """Print the deployments as a table, oldest first."""
    if not records:
        console.print("No deployments yet; `mlgate deploy` makes the first.")
        return

    table = Table("mode", "version", "endpoint", "by", "deployed (UTC)", "ended (UTC)", "live")
    for record in records:
        table.add_row(
            record.mode,
            str(record.version),
            record.endpoint,
            record.actor,
            _when(record.created_at),
            "" if record.ended_at is None else _when(record.ended_at),
            "yes" if record.live else "no",
        )
    console.print(table)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")
