"""``mlgate alerts``: list monitoring alerts, show one with its deliveries, resolve one by hand.

Only parsing and printing live here; what opens and resolves an alert, and who may resolve one
by hand, is in :mod:`mlgate.monitoring.alerts`.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from mlgate.cli.options import (
    ALERT_HELP,
    AlertReasonOption,
    ShowResolvedOption,
)
from mlgate.cli.render import ALERT_STYLE, alert_table, console

alerts_app = typer.Typer(
    help="List monitoring alerts, show one with its deliveries, resolve one with a reason.",
    invoke_without_command=True,
)

DELIVERY_STYLE = {"sent": "green", "failed": "bold red", "not_configured": "dim"}


def _gov():  # type: ignore[no-untyped-def]
    # Imported when a command runs: the main module imports this one to register the sub-app.
    from mlgate.cli.app import _gov as open_governance

    return open_governance()


@alerts_app.callback()
def alerts_list(ctx: typer.Context, show_all: ShowResolvedOption = False) -> None:
    """List the open alerts (with --all, the resolved ones and how they closed)."""
    if ctx.invoked_subcommand is not None:
        return
    from mlgate.monitoring.alerts import describe_resolution, list_alerts, resolutions

    gov = _gov()
    alerts = list_alerts(gov, include_resolved=show_all)
    if not alerts:
        what = "No alert has been raised" if show_all else "No alert is open"
        console.print(f"{what}; `mlgate monitor` evaluates the rules.")
        return

    how = {i: describe_resolution(r) for i, r in resolutions(gov).items()}
    title = "Monitoring alerts" if show_all else "Open monitoring alerts"
    console.print(alert_table(alerts, title, how))
    failed = [a.id for a in alerts if any(d.get("status") == "failed" for d in a.notified or [])]
    if failed:
        console.print(
            f"[yellow]warn[/] a notice of alert {', '.join(map(str, failed))} could not be "
            "delivered - see `mlgate alerts show ID`"
        )


@alerts_app.command("show")
def alerts_show(
    alert_id: Annotated[str, typer.Argument(metavar="ID", help=ALERT_HELP)],
) -> None:
    """Show one alert: what breached, over which windows, and every notice sent about it."""
    from mlgate.monitoring.alerts import (
        describe_resolution,
        get_alert,
        parse_alert_id,
        resolutions,
    )

    gov = _gov()
    alert = get_alert(gov, parse_alert_id(alert_id))
    state = "open" if alert.open else describe_resolution(resolutions(gov).get(alert.id))

    console.print(
        Text.assemble(
            (f"Alert {alert.id} ", "bold"),
            (alert.severity, ALERT_STYLE.get(alert.severity, "")),
            f"  {alert.rule_id} on {alert.subject}: {state}",
        )
    )
    console.print(alert.message)
    rows = (
        ("metric", alert.metric),
        ("threshold", f"{alert.threshold:.4g}"),
        ("first value", f"{alert.first_value:.4g}"),
        ("last value", f"{alert.last_value:.4g}"),
        ("breaching windows", str(alert.breaches)),
        (
            "from",
            f"{alert.first_window_start:%Y-%m-%d %H:%M} to {alert.last_window_end:%Y-%m-%d %H:%M}",
        ),
        ("model version", str(alert.model_version) if alert.model_version else "-"),
        ("action", alert.action),
        ("opened", f"{alert.opened_at:%Y-%m-%d %H:%M:%S}"),
        ("resolved", f"{alert.resolved_at:%Y-%m-%d %H:%M:%S}" if alert.resolved_at else "-"),
    )
    for label, value in rows:
        console.print(f"  {label:<18} {value}")

    deliveries = Table(title="Deliveries", title_justify="left")
    for column in ("at", "event", "channel", "status", "tries", "detail"):
        deliveries.add_column(column, overflow="fold")
    for d in alert.notified or []:
        deliveries.add_row(
            str(d.get("at", "")),
            str(d.get("event", "")),
            str(d.get("channel", "")),
            Text(str(d.get("status", "")), style=DELIVERY_STYLE.get(d.get("status"), "")),
            str(d.get("attempts", "")),
            str(d.get("detail", "")),
        )
    if alert.notified:
        console.print(deliveries)
    else:
        console.print("  No notice has been sent about this alert.")


@alerts_app.command("resolve")
def alerts_resolve(
    alert_id: Annotated[str, typer.Argument(metavar="ID", help=ALERT_HELP)],
    reason: AlertReasonOption,
) -> None:
    """Resolve an open alert by hand (ml engineers and validators); its next breach re-opens."""
    from mlgate.monitoring.alerts import parse_alert_id, resolve_alert

    alert = resolve_alert(_gov(), parse_alert_id(alert_id), reason)
    console.print(f"[green]Resolved[/green] alert {alert.id} ({alert.rule_id} on {alert.subject})")
