"""``mlgate monitor``: monitor the served predictions once, and look at what monitoring found.

``mlgate monitor`` alone runs every complete window not yet monitored; ``report`` writes the
monitoring dashboard and ``history`` lists the runs. What a run does and why is in
:mod:`mlgate.monitoring.run`; this module only parses and prints.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from mlgate.cli.options import (
    DashboardOption,
    UntilOption,
)
from mlgate.cli.render import console, err_console
from mlgate.errors import ValidationError

STATUS_STYLE = {"succeeded": "green", "failed": "bold red", "skipped": "dim", "running": "yellow"}
SEVERITY_STYLE = {"low": "dim", "medium": "yellow", "high": "bold red", "critical": "bold red"}


def register(
    app: typer.Typer, open_governance: Callable[[], Any], progress_bar: Callable[[], Progress]
) -> None:
    """Add the ``mlgate monitor`` command group to ``app``."""
    monitor_app = typer.Typer(
        help="Monitor served predictions: drift, performance, KPIs and alerts.",
        invoke_without_command=True,
    )
    app.add_typer(monitor_app, name="monitor")

    @monitor_app.callback()
    def monitor_once(ctx: typer.Context, until: UntilOption = None) -> None:
        """Monitor every complete window of the prediction log not yet monitored."""
        if ctx.invoked_subcommand is not None:
            return
        from mlgate.monitoring.run import monitor

        moment = parse_until(until) if until is not None else None
        gov = open_governance()
        # The summary below lists every alert opened; the log line the scheduler relies on
        # would only repeat it here.
        logging.getLogger("mlgate.monitoring.alerts").setLevel(logging.ERROR)
        with progress_bar() as bar:
            task = bar.add_task("monitoring windows", total=None)

            def update(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            summary = monitor(gov, until=moment, progress=update)
        if not summary.windows and _log_is_empty(gov):
            console.print(
                "Nothing to monitor: no prediction is logged yet. `mlgate serve` and "
                "`mlgate stream` log what they score; monitoring reads those logs."
            )
            return
        print_summary(summary)
        if summary.failed or summary.late_error:
            raise typer.Exit(1)

    @monitor_app.command("report")
    def report(
        output: DashboardOption = Path("monitoring.html"),
    ) -> None:
        """Write the monitoring dashboard: drift, performance, KPIs and alerts over time."""
        from mlgate.monitoring.dashboard import write_dashboard
        from mlgate.reports.files import checked_output

        gov = open_governance()
        workspace = gov.workspace
        protected = (workspace.state_dir, workspace.config_path)
        path = write_dashboard(gov, checked_output(output, "--output", protected))
        console.print(f"Monitoring dashboard: [bold]{path}[/bold]")

    @monitor_app.command("history")
    def history(
        limit: Annotated[int, typer.Option(min=1, help="How many runs to show.")] = 30,
    ) -> None:
        """List the monitor runs, newest window first: rows, model, status and findings."""
        from mlgate.monitoring.run import monitor_history

        runs = monitor_history(open_governance(), limit)
        if not runs:
            console.print("No window has been monitored yet; run `mlgate monitor`.")
            return
        console.print(history_table(runs))


def parse_until(text: str) -> datetime:
    """Return ``--until`` as an aware UTC moment; a bare date means its midnight."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(
            f"--until must be an ISO date or date-time such as 2026-12-01 or "
            f"2026-12-01T06:00 (UTC); got '{text}'"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _log_is_empty(gov: Any) -> bool:
    from mlgate.monitoring.windows import log_span
    from mlgate.serving.predictions import prediction_log_folder

    return log_span(prediction_log_folder(gov)) is None


def print_summary(summary: Any) -> None:
    """Print what one monitor call did: each window, then the alerts it opened and resolved."""
    if not (summary.windows or summary.caught_up or summary.kpis or summary.late_error):
        console.print("Nothing to monitor: no complete window since the last run.")
        return
    if summary.windows:
        console.print(window_table(summary.windows))
    for window in summary.failed:
        err_console.print(
            f"[bold red]window {window.length} {window.start:%Y-%m-%d %H:%M} failed[/bold red]: "
            f"{escape(window.summary)}",
            soft_wrap=True,
        )
    if summary.caught_up or summary.kpis:
        console.print(
            f"Late values: {summary.caught_up} performance value(s) recomputed with new "
            f"labels, {summary.kpis} KPI value(s) evaluated"
        )
    for alert in summary.opened:
        style = SEVERITY_STYLE.get(alert.severity, "")
        console.print(
            f"[{style}]alert opened[/] {alert.rule_id} on {escape(alert.subject)} "
            f"({alert.severity}): {escape(alert.message)}",
            soft_wrap=True,
        )
    for alert in summary.resolved:
        console.print(f"[green]alert resolved[/green] {alert.rule_id} on {escape(alert.subject)}")
    for delivery in summary.deliveries:
        if delivery.status == "failed":
            err_console.print(
                f"[yellow]{delivery.channel} notice of alert {delivery.alert_id} failed[/yellow]:"
                f" {escape(delivery.detail)}",
                soft_wrap=True,
            )
    for rule_id, reason in summary.not_applicable.items():
        console.print(
            f"[yellow]rule {rule_id} judged nothing[/yellow]: {escape(reason)}", soft_wrap=True
        )
    if summary.late_error:
        err_console.print(
            f"[bold red]late labels and KPI values were not checked[/bold red]: "
            f"{escape(summary.late_error)}",
            soft_wrap=True,
        )
    outcome = summary.retrain
    if outcome is not None:
        made = f" model version {outcome.model_version}," if outcome.model_version else ""
        console.print(
            f"Retraining {outcome.status}:{made} {escape(outcome.detail)}", soft_wrap=True
        )
    failed, silent = summary.failed, summary.silent
    tail = f"; {len(silent)} without predictions" if silent else ""
    tail += f"; {len(failed)} window(s) failed" if failed else ""
    console.print(
        f"Monitored {len(summary.windows)} window(s) in {summary.seconds:.1f} s: "
        f"{len(summary.opened)} alert(s) opened, {len(summary.resolved)} resolved{tail}"
    )


def window_table(windows: list[Any]) -> Table:
    """Return the windows of one call as a table."""
    table = Table(title="Monitored windows", title_justify="left")
    for column in ("window (UTC)", "length", "rows", "model", "status", "drifted"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    table.add_column("performance")
    table.add_column("alerts")
    for w in windows:
        style = STATUS_STYLE.get(w.status, "")
        alerts = [f"+{a}" for a in w.opened] + [f"-{a}" for a in w.resolved]
        table.add_row(
            f"{w.start:%Y-%m-%d %H:%M}",
            w.length,
            f"{w.rows:,}",
            f"v{w.model_version}" if w.model_version else "-",
            f"[{style}]{w.status}[/]",
            ", ".join(w.drifted) or "-",
            _headline(w),
            ", ".join(alerts) or "-",
        )
    return table


def history_table(runs: list[Any]) -> Table:
    """Return monitor runs as a table."""
    table = Table(title="Monitor runs", title_justify="left")
    for column in ("run", "window (UTC)", "length", "rows", "model", "status", "trigger", "by"):
        table.add_column(column, justify="right" if column in ("run", "rows") else "left")
    table.add_column("summary")
    for run in runs:
        style = STATUS_STYLE.get(run.status, "")
        table.add_row(
            str(run.id),
            f"{run.window_start:%Y-%m-%d %H:%M}",
            run.window,
            f"{run.rows:,}",
            f"v{run.model_version}" if run.model_version else "-",
            f"[{style}]{run.status}[/]",
            run.trigger,
            escape(run.actor),
            escape(run.summary),
        )
    return table


def _headline(window: Any) -> str:
    """Return the window's ROC AUC (or first metric): measured when labelled, else estimated."""
    for values, mark in ((window.performance, ""), (window.estimates, " (estimate)")):
        known = {name: value for name, value in values.items() if value is not None}
        if known:
            name = "roc_auc" if "roc_auc" in known else next(iter(known))
            return f"{name} {known[name]:.3f}{mark}"
    return "-"
