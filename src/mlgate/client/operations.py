"""Remote ``mlgate`` commands for review and production: findings, deployments, monitoring,
alerts, labels, KPIs and the report downloads.

Each prints what its local counterpart prints (``cli/findings.py``, ``cli/deployments.py``,
``cli/monitor.py``, ``cli/alerts.py``, ``cli/labels.py``, ``mlgate report`` and ``card``),
from the server's answer. :func:`register` adds them to the remote application.
"""

from __future__ import annotations

import logging
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from mlgate.cli.options import (
    ALERT_HELP,
    FINDING_HELP,
    AlertReasonOption,
    CardPdfOption,
    DashboardOption,
    DescriptionOption,
    DueOption,
    EndpointOption,
    FindingStatusOption,
    FindingVersionOption,
    KpiFilterOption,
    KpiName,
    KpiSourceOption,
    KpiValue,
    LabelFile,
    ModeFilterOption,
    ModeOption,
    NewDueOption,
    NewOwnerOption,
    NewRemediationOption,
    OwnerOption,
    PeriodEndOption,
    PeriodStartOption,
    RemediationOption,
    ReopenReasonOption,
    ReplaceLabelsOption,
    ReportPdfOption,
    ResolutionOption,
    RollbackReasonOption,
    ServingAtOption,
    SeverityOption,
    ShowResolvedOption,
    TitleOption,
    UntilOption,
    VersionFilterOption,
)
from mlgate.cli.render import alert_table, console, err_console
from mlgate.client.remote import REMOTE, call
from mlgate.client.views import alert_object, as_object
from mlgate.errors import ValidationError
from mlgate.reports.files import checked_output

logger = logging.getLogger(__name__)

SEVERITY_STYLE = {"low": "dim", "medium": "yellow", "high": "bold red", "critical": "bold red"}

alerts_app = typer.Typer(
    help="List monitoring alerts, show one with its deliveries, resolve one with a reason.",
    invoke_without_command=True,
)
finding_app = typer.Typer(
    help="Record validators' findings against a model version and track them until closed.",
    no_args_is_help=True,
)
label_app = typer.Typer(
    help="Send the true outcomes of served predictions, joined to them by request id.",
    no_args_is_help=True,
)
kpi_app = typer.Typer(
    help="Report the business KPI per period, shown beside the model's metrics.",
    no_args_is_help=True,
)
monitor_app = typer.Typer(
    help="Monitor served predictions on the server: drift, performance, KPIs and alerts.",
    invoke_without_command=True,
)


def register(app: typer.Typer) -> None:
    """Add the review and production commands to the remote application ``app``."""
    app.add_typer(alerts_app, name="alerts")
    app.add_typer(finding_app, name="finding")
    app.add_typer(label_app, name="labels")
    app.add_typer(kpi_app, name="kpi")
    app.add_typer(monitor_app, name="monitor")
    for command in (deployments, deploy, rollback, report, card):
        app.command()(command)


def save(content: bytes, target: Path) -> Path:
    """Write a downloaded file through a temporary file moved into place; return ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    logger.info("wrote %s (%d bytes) from the team server", target, len(content))
    return target


# -- alerts -------------------------------------------------------------------------------


@alerts_app.callback()
def alerts_list(ctx: typer.Context, show_all: ShowResolvedOption = False) -> None:
    """List the open alerts (with --all, the resolved ones and how they closed)."""
    if ctx.invoked_subcommand is not None:
        return
    alerts = [alert_object(a) for a in call("GET", "alerts", params={"all": show_all})]
    if not alerts:
        what = "No alert has been raised" if show_all else "No alert is open"
        console.print(f"{what}; `mlgate monitor` evaluates the rules.")
        return
    how = {a.id: a.resolution for a in alerts if a.resolution}
    title = "Monitoring alerts" if show_all else "Open monitoring alerts"
    console.print(alert_table(alerts, title, how))


@alerts_app.command("show")
def alerts_show(
    alert_id: Annotated[int, typer.Argument(metavar="ID", help=ALERT_HELP, min=1)],
) -> None:
    """Show one alert: what breached, over which windows, and every notice sent about it."""
    alert = alert_object(call("GET", "alerts", alert_id))
    state = "open" if alert.open else (alert.resolution or "resolved")
    console.print(
        Text.assemble(
            (f"Alert {alert.id} ", "bold"),
            (alert.severity, SEVERITY_STYLE.get(alert.severity, "")),
            f"  {alert.rule_id} on {alert.subject}: {state}",
        )
    )
    console.print(escape(alert.message))
    rows = (
        ("metric", alert.metric),
        ("threshold", f"{alert.threshold:.4g}"),
        ("first value", f"{alert.first_value:.4g}"),
        ("last value", f"{alert.last_value:.4g}"),
        ("breaching windows", str(alert.breaches)),
        ("from", f"{alert.first_window_start:%Y-%m-%d %H:%M} to {alert.last_window_end:%H:%M}"),
        ("model version", str(alert.model_version) if alert.model_version else "-"),
        ("action", alert.action),
        ("opened", f"{alert.opened_at:%Y-%m-%d %H:%M:%S}"),
        ("resolved", f"{alert.resolved_at:%Y-%m-%d %H:%M:%S}" if alert.resolved_at else "-"),
    )
    for label, value in rows:
        console.print(f"  {label:<18} {escape(str(value))}")
    _print_deliveries(alert.notified)


def _print_deliveries(notified: list[Any]) -> None:
    if not notified:
        console.print("  No notice has been sent about this alert.")
        return
    table = Table(title="Deliveries", title_justify="left")
    for column in ("at", "event", "channel", "status", "tries", "detail"):
        table.add_column(column, overflow="fold")
    for d in notified:
        values = vars(d)
        table.add_row(
            *(str(values.get(key, "")) for key in ("at", "event", "channel", "status")),
            str(values.get("attempts", "")),
            str(values.get("detail", "")),
        )
    console.print(table)


@alerts_app.command("resolve")
def alerts_resolve(
    alert_id: Annotated[int, typer.Argument(metavar="ID", help=ALERT_HELP, min=1)],
    reason: AlertReasonOption,
) -> None:
    """Resolve an open alert by hand (ml engineers and validators); its next breach re-opens."""
    alert = call("POST", "alerts", alert_id, "resolve", json={"reason": reason})
    console.print(
        f"[green]Resolved[/green] alert {alert['id']} ({escape(alert['rule_id'])} on "
        f"{escape(alert['subject'])})"
    )


# -- findings -----------------------------------------------------------------------------


@finding_app.command("add")
def finding_add(
    severity: SeverityOption,
    title: TitleOption,
    description: DescriptionOption,
    owner: OwnerOption,
    due: DueOption,
    remediation: RemediationOption = "",
    model_version: FindingVersionOption = None,
) -> None:
    """Record a finding against a model version (validators, risk officers, admins)."""
    body = {
        "severity": severity,
        "title": title,
        "description": description,
        "owner": owner,
        "due": due,
        "remediation": remediation,
        "model_version": model_version,
    }
    finding = call("POST", "findings", json=body)
    version = finding.get("model_version")
    bound = (
        "the project (no model version is registered yet)"
        if version is None
        else f"model version {version}"
    )
    console.print(
        f"Recorded {finding['severity']} finding [bold]{finding['id']}[/bold] against {bound}, "
        f"owned by {escape(finding['owner'])}, due {finding['due_date']}"
    )


@finding_app.command("list")
def finding_list(
    status: FindingStatusOption = None, model_version: VersionFilterOption = None
) -> None:
    """List the project's findings: severity, status, owner, due date and resolution."""
    params = {"status": status, "model_version": model_version}
    findings = [as_object(f) for f in call("GET", "findings", params=params)]
    if not findings:
        console.print("No finding matches; record one with `mlgate finding add`.")
        return
    console.print(findings_table(findings))


def findings_table(findings: list[Any]) -> Table:
    """Return findings as the local ``mlgate finding list`` shows them."""
    today = datetime.now(UTC).date()
    table = Table(title="Review findings", title_justify="left")
    for column in ("id", "severity", "status", "model", "title", "owner", "due"):
        table.add_column(column, overflow="fold")
    table.add_column("remediation / resolution", overflow="fold")
    for f in findings:
        overdue = getattr(f, "overdue", f.status == "open" and f.due_date < today)
        due = Text(
            f"{f.due_date}" + (" overdue" if overdue else ""), "bold red" if overdue else ""
        )
        model = f"v{f.model_version}" if getattr(f, "model_version", None) else "-"
        closing = f"{f.resolution} (closed by {f.closed_by})" if f.status == "closed" else ""
        table.add_row(
            str(f.id),
            Text(f.severity, style=SEVERITY_STYLE.get(f.severity, "")),
            f.status,
            model,
            Text(f.title),
            Text(f.owner),
            due,
            Text(closing or f.remediation or "-"),
        )
    return table


@finding_app.command("update")
def finding_update(
    finding_id: Annotated[int, typer.Argument(metavar="ID", help=FINDING_HELP, min=1)],
    remediation: NewRemediationOption = None,
    owner: NewOwnerOption = None,
    due: NewDueOption = None,
) -> None:
    """Change an open finding's remediation plan (its owner may), owner or due date."""
    body = {
        key: value
        for key, value in (("remediation", remediation), ("owner", owner), ("due", due))
        if value is not None
    }
    if not body:
        raise ValidationError("give at least one of --remediation, --owner or --due")
    finding = REMOTE.client.patch(REMOTE.path("findings", finding_id), json=body)
    console.print(
        f"Finding {finding['id']} is owned by {escape(finding['owner'])}, due "
        f"{finding['due_date']}; remediation: {escape(finding['remediation'] or '-')}"
    )


@finding_app.command("close")
def finding_close(
    finding_id: Annotated[int, typer.Argument(metavar="ID", help=FINDING_HELP, min=1)],
    resolution: ResolutionOption,
) -> None:
    """Close a finding; not by the model's author nor by the finding's owner."""
    finding = call("POST", "findings", finding_id, "close", json={"resolution": resolution})
    console.print(
        f"[green]Closed[/green] finding {finding['id']} by {escape(finding['closed_by'])}"
    )


@finding_app.command("reopen")
def finding_reopen(
    finding_id: Annotated[int, typer.Argument(metavar="ID", help=FINDING_HELP, min=1)],
    reason: ReopenReasonOption,
) -> None:
    """Reopen a closed finding (validators, risk officers, admins)."""
    finding = call("POST", "findings", finding_id, "reopen", json={"reason": reason})
    console.print(f"[yellow]Reopened[/yellow] finding {finding['id']}")


# -- labels and KPIs ----------------------------------------------------------------------


@label_app.command("add")
def labels_add(file: LabelFile, replace: ReplaceLabelsOption = False) -> None:
    """Upload the labels of a file; labels already stored alike are skipped."""
    if not file.is_file():
        raise ValidationError(f"label file {file} does not exist or is not a file")
    with file.open("rb") as data, err_console.status(f"Uploading labels from {file.name}..."):
        files = {"file": (file.name, data, "application/octet-stream")}
        result = call("POST", "labels", files=files, data={"replace": str(replace).lower()})
    console.print(
        f"[green]{result['stored']}[/green] label(s) stored, {result['unchanged']} already "
        f"known, {result['replaced']} replaced, of {result['received']} in {escape(file.name)}"
    )
    if result["unlogged"]:
        console.print(
            f"[yellow]{result['unlogged']}[/yellow] label(s) are for request ids not in the "
            "prediction log (stored anyway; check the request_id column if this is unexpected)"
        )


@kpi_app.command("add")
def kpi_add(
    name: KpiName,
    value: KpiValue,
    period_start: PeriodStartOption,
    period_end: PeriodEndOption,
    source: KpiSourceOption = "cli",
) -> None:
    """Report a KPI's value for one period (business owners, admins)."""
    try:
        number = float(value)
    except ValueError:
        raise ValidationError(f"VALUE must be a number; got '{value}'") from None
    body = {
        "name": name,
        "value": number,
        "period_start": period_start,
        "period_end": period_end,
        "source": source,
    }
    row = call("POST", "kpis", json=body)
    console.print(
        f"KPI [bold]{escape(row['name'])}[/bold] = {row['value']:g} for "
        f"{row['period_start']}..{row['period_end']}"
    )


@kpi_app.command("list")
def kpi_list(name: KpiFilterOption = None) -> None:
    """List the reported KPI values with their target and whether a monitor run saw them."""
    values = call("GET", "kpis", params={"name": name})
    if not values:
        console.print("No KPI value is reported yet; report one with `mlgate kpi add`.")
        return
    table = Table(title="Business KPI values", title_justify="left")
    for column in ("kpi", "period", "value", "unit", "target", "source", "evaluated"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for row in values:
        target = "-"
        if row["direction"] is not None:
            goal = "business case" if row["target"] is None else f"{row['target']:g}"
            target = f"{goal}, {row['direction']} is better"
        table.add_row(
            Text(row["name"]),
            f"{row['period_start']}..{row['period_end']}",
            f"{row['value']:g}",
            Text(row["unit"]),
            target,
            Text(row["source"]),
            "yes" if row["evaluated"] else "pending",
        )
    console.print(table)


# -- deployments --------------------------------------------------------------------------


def deployments(mode: ModeFilterOption = None, at: ServingAtOption = None) -> None:
    """List every deployment, or which version was serving at a given moment."""
    from mlgate.cli.deployments import print_history
    from mlgate.lifecycle.deployments import MODES, parse_moment

    moment = parse_moment(at) if at is not None else None
    records = [as_object(r) for r in call("GET", "deployments", params={"mode": mode})]
    if moment is None:
        print_history(records)
        return
    console.print(f"Serving at {moment.isoformat(timespec='seconds')}:")
    for each in (mode,) if mode is not None else MODES:
        live = [r for r in records if r.mode == each and _served_at(r, moment)]
        record = live[-1] if live else None
        served = "nothing" if record is None else f"model version {record.version}"
        since = "" if record is None else f" (deployed {record.created_at:%Y-%m-%d %H:%M:%S})"
        console.print(f"  {each:<7} {served}{since}")


def _served_at(record: Any, moment: datetime) -> bool:
    """Return whether a deployment was serving at ``moment`` (start in, end out)."""
    return record.created_at <= moment and (record.ended_at is None or moment < record.ended_at)


def deploy(mode: ModeOption = "batch", endpoint: EndpointOption = None) -> None:
    """Deploy the current model version once every gate up to deployment holds for it."""
    done = call("POST", "deployments", json={"mode": mode, "endpoint": endpoint})
    console.print(f"[green]Deployed[/green] ({done['mode']}) at {escape(done['endpoint'])}")


def rollback(reason: RollbackReasonOption, mode: ModeOption = "batch") -> None:
    """Re-deploy the version that served in a mode before the live one."""
    done = call("POST", "rollback", json={"mode": mode, "reason": reason})
    console.print(
        f"[green]Rolled back[/green] {done['mode']} from model version {done['from_version']} "
        f"to {done['to_version']} (at {escape(done['deployment']['endpoint'])})"
    )


# -- monitoring ---------------------------------------------------------------------------


@monitor_app.callback()
def monitor_once(ctx: typer.Context, until: UntilOption = None) -> None:
    """Monitor, on the server, every complete window of the prediction log not yet monitored."""
    if ctx.invoked_subcommand is not None:
        return
    from mlgate.cli.monitor import parse_until, print_summary

    body = {"until": parse_until(until).isoformat()} if until is not None else {}
    with err_console.status("monitoring on the server"):
        answer = call("POST", "monitor", json=body)
    summary = as_object(answer)
    summary.opened = [alert_object(a) for a in answer["opened"]]
    summary.resolved = [alert_object(a) for a in answer["resolved"]]
    summary.failed = [w for w in summary.windows if w.status == "failed"]
    summary.silent = [None] * answer["silent"]
    print_summary(summary)
    if summary.failed or summary.late_error:
        raise typer.Exit(1)


@monitor_app.command("history")
def monitor_history(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many runs to show.")] = 30,
) -> None:
    """List the monitor runs, newest window first: rows, model, status and findings."""
    from mlgate.cli.monitor import history_table

    runs = [as_object(r) for r in call("GET", "monitor", "runs", params={"limit": limit})]
    if not runs:
        console.print("No window has been monitored yet; run `mlgate monitor`.")
        return
    console.print(history_table(runs))


@monitor_app.command("report")
def monitor_report(
    output: DashboardOption = Path("monitoring.html"),
) -> None:
    """Download the monitoring dashboard: drift, performance, KPIs and alerts over time."""
    target = checked_output(output, "--output")
    with err_console.status("rendering the dashboard on the server"):
        answer = REMOTE.client.download(REMOTE.path("reports", "monitoring"))
    console.print(f"Monitoring dashboard: [bold]{escape(str(save(answer.content, target)))}[/]")


# -- report and card ----------------------------------------------------------------------


def report(
    output: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("report.html"),
    pdf: ReportPdfOption = False,
) -> None:
    """Download the governance report (EU AI Act Annex IV and SR 11-7 layout) as HTML, and PDF."""
    target = checked_output(
        output, "--output", hint="add --pdf to write a PDF beside the HTML file"
    )
    # The PDF first: a server that cannot print one refuses before anything is written.
    for fmt in ("pdf", "html") if pdf else ("html",):
        path = target if fmt == "html" else target.with_suffix(".pdf")
        _download(("reports", "governance"), fmt, path, "Report")


def card(
    output_dir: Annotated[
        Path, typer.Option(help="Folder for model-card.html, .pdf and .json.")
    ] = Path("."),
    pdf: CardPdfOption = True,
) -> None:
    """Download the model card as model-card.json (stable schema), model-card.html and .pdf."""
    if output_dir.exists() and not output_dir.is_dir():
        raise ValidationError(
            f"--output-dir must be a folder; '{output_dir}' is a file",
            hint="name a folder (it is created when missing)",
        )
    for fmt in ("pdf", "json", "html") if pdf else ("json", "html"):
        _download(("reports", "card"), fmt, output_dir / f"model-card.{fmt}", "Model card")


def _download(parts: tuple[str, ...], fmt: str, target: Path, what: str) -> None:
    """Render one document on the server in ``fmt`` and save it as ``target``."""
    with err_console.status(f"rendering the {what.lower()} ({fmt}) on the server"):
        answer = REMOTE.client.download(REMOTE.path(*parts), format=fmt)
    console.print(f"{what} written to {escape(str(save(answer.content, target)))}")
