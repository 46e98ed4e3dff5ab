"""Rich rendering of what the service returns: tables, gate checklists and errors."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from mlgate.checks import CheckResult
from mlgate.lifecycle.notices import Notice
from mlgate.lifecycle.service import StageStatus
from mlgate.registry.models import Project

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

STATE_STYLE = {
    "satisfied": "green",
    "waived": "yellow",
    "missing": "red",
    "failed": "bold red",
    "rejected": "bold red",
    "expired": "red",
    "pending": "dim",
}
STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red"}
LOCATION = re.compile(r"[^\s:]+:\d+(-\d+)?")  # path:line or path:first-last


def stage_table(stage: StageStatus, show_hints: bool = True) -> Table:
    """Return one stage's requirements as a table: state, what satisfied it, or what to do."""
    table = Table(
        title=f"{stage.title} ({stage.id}) - {stage.status}",
        title_justify="left",
        expand=True,
        show_lines=False,
    )
    table.add_column("requirement", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("detail / next step", ratio=1)
    for req in stage.requirements:
        detail = Text(req.detail)
        if show_hints and req.hint and not req.met:
            detail.append(f"\nnext: {req.hint}", style="cyan")
        table.add_row(
            req.id, req.kind, Text(req.state, style=STATE_STYLE.get(req.state, "")), detail
        )
    if not stage.requirements:
        table.add_row("-", "-", Text("satisfied", style="green"), "nothing required at this tier")
    return table


def print_status(project: Project, stages: Sequence[StageStatus], show_all: bool) -> None:
    """Print the project header, then the current stage (or all stages) as checklists."""
    console.print(
        f"[bold]{project.name}[/bold]  tier [bold]{project.tier}[/bold]  stage "
        f"[bold cyan]{project.stage}[/bold cyan]  policy {project.policy_name} "
        f"{project.policy_version} ({project.policy_sha256[:12]})"
    )
    progress = "  ".join(
        f"[{'green' if s.status == 'passed' else 'cyan' if s.status == 'current' else 'dim'}]"
        f"{s.id}[/]"
        for s in stages
    )
    console.print(progress)
    for stage in stages:
        if show_all or stage.status == "current":
            console.print(stage_table(stage, show_hints=stage.status == "current"))
    current = next(s for s in stages if s.status == "current")
    if current.satisfied and current.id != stages[-1].id:
        console.print("[green]All requirements met:[/green] run `mlgate advance`.")


def check_table(result: CheckResult) -> Table:
    """Return a check result's metrics and findings as a table."""
    table = Table(
        title=f"{result.check}: {result.status}",
        title_justify="left",
        title_style=STATUS_STYLE[result.status],
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in list(result.metrics.items())[:30]:
        table.add_row(name, _fmt(value))
    if len(result.metrics) > 30:
        table.add_row("...", f"{len(result.metrics) - 30} more in the report")
    return table


def print_findings(result: CheckResult, limit: int = 20) -> None:
    """Print a check's summary and its failure, then warning, findings.

    A finding about a place in a file (``path:line``) is printed with it, as compilers do.
    """
    console.print(f"[{STATUS_STYLE[result.status]}]{result.status}[/]: {result.summary}")
    notable = [f for f in result.findings if f.severity == "fail"]
    notable += [f for f in result.findings if f.severity == "warn"]
    for finding in notable[:limit]:
        style = "red" if finding.severity == "fail" else "yellow"
        where = f"{finding.subject}  " if LOCATION.fullmatch(str(finding.subject)) else ""
        console.print(f"  [{style}]{finding.severity}[/] {escape(where)}{escape(finding.message)}")
    if len(notable) > limit:
        console.print(f"  ... and {len(notable) - limit} more findings in the report")


def _fmt(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def print_notices(found: Sequence[Notice]) -> None:
    """Print overdue reclaims and expiring grants and waivers, most urgent first."""
    if not found:
        return
    console.print("[bold]Needs attention[/bold]")
    for notice in sorted(found, key=lambda n: n.severity != "fail"):
        style = "red" if notice.severity == "fail" else "yellow"
        console.print(f"  [{style}]{notice.severity}[/] {notice.message} - {notice.hint}")


ALERT_STYLE = {"low": "dim", "medium": "yellow", "high": "bold red", "critical": "bold red"}


def alert_table(alerts: Sequence[object], title: str, how: dict[int, str] | None = None) -> Table:
    """Return alerts as a table: severity, rule, subject, since, last value against threshold.

    ``how`` maps a resolved alert's id to how it closed; open alerts show ``open``.
    """
    table = Table(title=title, title_justify="left")
    for column in ("id", "severity", "rule", "subject", "since", "last value", "windows"):
        table.add_column(column, overflow="fold")
    table.add_column("status", overflow="fold")
    for alert in alerts:
        a: Any = alert
        side = "<" if a.last_value < a.threshold else ">" if a.last_value > a.threshold else "="
        table.add_row(
            str(a.id),
            Text(a.severity, style=ALERT_STYLE.get(a.severity, "")),
            a.rule_id,
            a.subject,
            f"{a.first_window_start:%Y-%m-%d %H:%M}",
            f"{a.last_value:.4g} {side} {a.threshold:.4g}",
            str(a.breaches),
            "open" if a.open else (how or {}).get(a.id, "resolved"),
        )
    return table


AUDIT_HASH = re.compile(r"(sha256[:=])?([0-9a-f]{32,})")
AUDIT_SHORT_HASH = 12  # hex digits of a hash the compact view keeps
AUDIT_VALUE_CHARS = 60  # longest value the compact view shows whole
AUDIT_REASON_CHARS = 200  # a refusal's reason is what the reader came for: more of it
AUDIT_SUBJECT_WIDTH = 32  # the subject column is padded to its widest value up to this
AUDIT_BARE = re.compile(r"[^\s\"',\[\]{}]+")  # a text shown without quotes


def audit_details(payload: dict[str, object] | None, full: bool = False) -> str:
    """Return an event's payload as ``key=value`` pairs on one line, for ``mlgate audit log``.

    Keys are in alphabetical order, but a refusal's ``reason`` comes last. The compact view
    (the default) shortens hashes to their first 12 hex digits and cuts long values with an
    ellipsis, keeping 200 characters of a reason; ``full`` shows every value whole. Texts with
    spaces or control characters are quoted as JSON strings, so one event stays on one line.
    """
    if not payload:
        return ""
    keys = sorted(payload, key=lambda k: (k == "reason", k))
    pairs = []
    for key in keys:
        text = _audit_value(payload[key], full)
        limit = AUDIT_REASON_CHARS if key == "reason" else AUDIT_VALUE_CHARS
        if not full and len(text) > limit:
            text = text[: limit - 1] + "\u2026"
        pairs.append(f"{key}={text}")
    return " ".join(pairs)


def _audit_value(value: object, full: bool) -> str:
    """Return one payload value as compact text: lists in brackets, hashes shortened."""
    if isinstance(value, str):
        hashed = None if full else AUDIT_HASH.fullmatch(value)
        if hashed:
            return f"{hashed.group(1) or ''}{hashed.group(2)[:AUDIT_SHORT_HASH]}"
        return value if AUDIT_BARE.fullmatch(value) else json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_audit_value(v, full) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{k}={_audit_value(v, full)}" for k, v in value.items())
        return "{" + inner + "}"
    return json.dumps(value, default=str)


def print_audit_events(events: Sequence[dict[str, Any]], full: bool = False) -> None:
    """Print audit events oldest first, one line each: number, time, actor, action, subject,
    then the details of :func:`audit_details`.

    ``events`` are mappings with the keys of an audit event, as the store or the server's API
    gives them.
    """
    width = min(max((len(e["subject"]) for e in events), default=0), AUDIT_SUBJECT_WIDTH)
    for e in events:
        line = (
            f"{e['seq']:>5} {e['created_at'][:19]} {e['actor']:<10} {e['action']:<24} "
            f"{e['subject']:<{width}}  {audit_details(e.get('payload'), full)}"
        )
        console.print(line.rstrip(), markup=False, soft_wrap=True)
