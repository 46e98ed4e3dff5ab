"""``mlgate labels`` and ``mlgate kpi``: late outcomes of predictions, and the business KPI.

Only parsing and printing live here; who may ingest what, and the checks, are in
:mod:`mlgate.monitoring.labels` and :mod:`mlgate.monitoring.kpis`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mlgate.cli.options import (
    KpiFilterOption,
    KpiName,
    KpiSourceOption,
    KpiValue,
    LabelFile,
    PeriodEndOption,
    PeriodStartOption,
    ReplaceLabelsOption,
)
from mlgate.cli.render import console

label_app = typer.Typer(
    help="Send the true outcomes of served predictions, joined to them by request id.",
    no_args_is_help=True,
)
kpi_app = typer.Typer(
    help="Report the business KPI per period, shown beside the model's metrics.",
    no_args_is_help=True,
)


def _gov():  # type: ignore[no-untyped-def]
    # Imported when a command runs: the main module imports this one to register the sub-apps.
    from mlgate.cli.app import _gov as open_governance

    return open_governance()


@label_app.command("add")
def labels_add(file: LabelFile, replace: ReplaceLabelsOption = False) -> None:
    """Store the labels of a file; labels already stored alike are skipped."""
    from mlgate.monitoring.labels import ingest_labels

    gov = _gov()
    with console.status(f"Ingesting labels from {file.name}..."):
        result = ingest_labels(gov, file, replace=replace)
    console.print(
        f"[green]{result.stored}[/green] label(s) stored, {result.unchanged} already known, "
        f"{result.replaced} replaced, of {result.received} in {result.source}"
    )
    if result.unlogged:
        console.print(
            f"[yellow]{result.unlogged}[/yellow] label(s) are for request ids not in the "
            "prediction log (stored anyway; check the request_id column if this is unexpected)"
        )


@label_app.command("status")
def labels_status() -> None:
    """Show per day how many predictions were logged and how many have their label."""
    from mlgate.monitoring.labels import label_status

    gov = _gov()
    with console.status("Reading the prediction log..."):
        days, unlogged = label_status(gov)
    if not days:
        console.print("No prediction is logged yet.")
    else:
        table = Table(title="Labels per day (UTC)", title_justify="left")
        for column in ("day", "logged", "labelled", "share"):
            table.add_column(column, justify="left" if column == "day" else "right")
        for day in days:
            share = f"{day.labelled / day.logged:.1%}" if day.logged else "-"
            table.add_row(day.day.isoformat(), f"{day.logged:,}", f"{day.labelled:,}", share)
        console.print(table)
    if unlogged:
        console.print(f"{unlogged:,} stored label(s) match no logged prediction.")


@kpi_app.command("add")
def kpi_add(
    name: KpiName,
    value: KpiValue,
    period_start: PeriodStartOption,
    period_end: PeriodEndOption,
    source: KpiSourceOption = "cli",
) -> None:
    """Report a KPI's value for one period (business owners, admins)."""
    from mlgate.monitoring.kpis import record_kpi

    row = record_kpi(_gov(), name, value, period_start, period_end, source)
    console.print(
        f"KPI [bold]{row.name}[/bold] = {row.value:g} for {row.period_start}..{row.period_end}"
    )


@kpi_app.command("import")
def kpi_import(
    file: Annotated[
        Path, typer.Argument(help="CSV with name, period_start, period_end, value[, source].")
    ],
) -> None:
    """Report KPI values from a CSV file; values already stored alike are skipped."""
    from mlgate.monitoring.kpis import import_kpis

    result = import_kpis(_gov(), file)
    console.print(
        f"[green]{result.stored}[/green] KPI value(s) stored, {result.unchanged} already "
        f"known, from {result.source}"
    )


@kpi_app.command("list")
def kpi_list(name: KpiFilterOption = None) -> None:
    """List the reported KPI values with their target and whether a monitor run saw them."""
    from mlgate.monitoring.kpis import list_kpis

    gov = _gov()
    values = list_kpis(gov, name)
    if not values:
        console.print("No KPI value is reported yet; report one with `mlgate kpi add`.")
        return

    specs = {spec.name: spec for spec in gov.config.monitoring.kpis}
    table = Table(title="Business KPI values", title_justify="left")
    for column in ("kpi", "period", "value", "unit", "target", "source", "evaluated"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for row in values:
        spec = specs.get(row.name)
        target = "-"
        if spec is not None:
            goal = "business case" if spec.target is None else f"{spec.target:g}"
            target = f"{goal}, {spec.direction} is better"
        table.add_row(
            row.name,
            f"{row.period_start}..{row.period_end}",
            f"{row.value:g}",
            spec.unit if spec is not None else "",
            target,
            row.source,
            "yes" if row.run_id is not None else "pending",
        )
    console.print(table)
