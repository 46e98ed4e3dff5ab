"""``mlgate finding``: record validators' findings against a model version and track them.

Only parsing and printing live here; who may record, update, close and reopen a finding, and
why, is in :mod:`mlgate.lifecycle.findings`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from mlgate.cli.options import (
    FINDING_HELP,
    DescriptionOption,
    DueOption,
    FindingStatusOption,
    FindingVersionOption,
    NewDueOption,
    NewOwnerOption,
    NewRemediationOption,
    OwnerOption,
    RemediationOption,
    ReopenReasonOption,
    ResolutionOption,
    SeverityOption,
    TitleOption,
    VersionFilterOption,
)
from mlgate.cli.render import console

finding_app = typer.Typer(
    help="Record validators' findings against a model version and track them until closed.",
    no_args_is_help=True,
)

SEVERITY_STYLE = {"low": "dim", "medium": "yellow", "high": "bold red", "critical": "bold red"}


def _gov():  # type: ignore[no-untyped-def]
    # Imported when a command runs: the main module imports this one to register the sub-app.
    from mlgate.cli.app import _gov as open_governance

    return open_governance()


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
    from mlgate.lifecycle.findings import add_finding, parse_due, version_numbers

    gov = _gov()
    finding = add_finding(
        gov,
        severity,
        title,
        description,
        owner,
        parse_due(due, "--due"),
        remediation,
        model_version,
    )
    if finding.model_version_id is None:
        bound = "the project (no model version is registered yet)"
    else:
        bound = f"model version {version_numbers(gov)[finding.model_version_id]}"
    console.print(
        f"Recorded {finding.severity} finding [bold]{finding.id}[/bold] against {bound}, "
        f"owned by {finding.owner}, due {finding.due_date}"
    )


@finding_app.command("list")
def finding_list(
    status: FindingStatusOption = None, model_version: VersionFilterOption = None
) -> None:
    """List the project's findings: severity, status, owner, due date and resolution."""
    from mlgate.lifecycle.findings import list_findings, version_numbers

    gov = _gov()
    findings = list_findings(gov, status, model_version)
    if not findings:
        console.print("No finding matches; record one with `mlgate finding add`.")
        return

    versions = version_numbers(gov)
    today = datetime.now(UTC).date()
    table = Table(title="Review findings", title_justify="left")
    for column in ("id", "severity", "status", "model", "title", "owner", "due"):
        table.add_column(column, overflow="fold")
    table.add_column("remediation / resolution", overflow="fold")
    for f in findings:
        overdue = f.status == "open" and f.due_date < today
        due = Text(
            f"{f.due_date}" + (" overdue" if overdue else ""), "bold red" if overdue else ""
        )
        model = f"v{versions[f.model_version_id]}" if f.model_version_id in versions else "-"
        closing = f"{f.resolution} (closed by {f.closed_by})" if f.status == "closed" else ""
        table.add_row(
            str(f.id),
            Text(f.severity, style=SEVERITY_STYLE[f.severity]),
            f.status,
            model,
            f.title,
            f.owner,
            due,
            closing or f.remediation or "-",
        )
    console.print(table)


@finding_app.command("update")
def finding_update(
    finding_id: Annotated[str, typer.Argument(metavar="ID", help=FINDING_HELP)],
    remediation: NewRemediationOption = None,
    owner: NewOwnerOption = None,
    due: NewDueOption = None,
) -> None:
    """Change an open finding's remediation plan (its owner may), owner or due date."""
    from mlgate.lifecycle.findings import parse_due, parse_finding_id, update_finding

    new_due = parse_due(due, "--due") if due is not None else None
    finding = update_finding(_gov(), parse_finding_id(finding_id), remediation, owner, new_due)
    console.print(
        f"Finding {finding.id} is owned by {finding.owner}, due {finding.due_date}; "
        f"remediation: {finding.remediation or '-'}"
    )


@finding_app.command("close")
def finding_close(
    finding_id: Annotated[str, typer.Argument(metavar="ID", help=FINDING_HELP)],
    resolution: ResolutionOption,
) -> None:
    """Close a finding; not by the model's author nor by the finding's owner."""
    from mlgate.lifecycle.findings import close_finding, parse_finding_id

    finding = close_finding(_gov(), parse_finding_id(finding_id), resolution)
    console.print(f"[green]Closed[/green] finding {finding.id} by {finding.closed_by}")


@finding_app.command("reopen")
def finding_reopen(
    finding_id: Annotated[str, typer.Argument(metavar="ID", help=FINDING_HELP)],
    reason: ReopenReasonOption,
) -> None:
    """Reopen a closed finding (validators, risk officers, admins)."""
    from mlgate.lifecycle.findings import parse_finding_id, reopen_finding

    finding = reopen_finding(_gov(), parse_finding_id(finding_id), reason)
    console.print(f"[yellow]Reopened[/yellow] finding {finding.id}")
