"""The API's JSON answers turned into what :mod:`mlgate.cli.render` prints.

The renderers read attributes of the service's records; :func:`as_object` gives a JSON object
the same attributes, with ISO date-times as ``datetime`` so the tables format them alike.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

from rich.markup import escape

from mlgate.cli.render import console, stage_table

DATE_SUFFIXES = ("_at", "_start", "_end", "_date")
DATE_KEYS = ("start", "end")
STAGE_STYLE = {"passed": "green", "current": "cyan"}


def as_object(data: dict[str, Any]) -> SimpleNamespace:
    """Return a JSON object as attributes; nested objects too, time stamps as datetimes."""
    return SimpleNamespace(**{key: _value(key, value) for key, value in data.items()})


def _value(key: str, value: Any) -> Any:
    if isinstance(value, dict):
        return as_object(value)
    if isinstance(value, list):
        return [as_object(v) if isinstance(v, dict) else v for v in value]
    if isinstance(value, str) and (key in DATE_KEYS or key.endswith(DATE_SUFFIXES)):
        return parse_moment(value)
    return value


def alert_object(data: dict[str, Any]) -> SimpleNamespace:
    """Return an alert as the alert table reads it; a value JSON could not carry is NaN."""
    alert = as_object(data)
    for key in ("threshold", "first_value", "last_value"):
        if getattr(alert, key, None) is None:
            setattr(alert, key, math.nan)
    return alert


def parse_moment(text: str) -> datetime | date | str:
    """Return an ISO date or date-time as such; anything else unchanged."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text)
    except ValueError:
        return text


def print_remote_status(project: dict[str, Any], show_all: bool, server: str) -> None:
    """Print a project's header, then its current stage (or all stages) as checklists."""
    console.print(
        f"[bold]{escape(project['name'])}[/bold]  tier [bold]{project['tier']}[/bold]  stage "
        f"[bold cyan]{escape(project['stage'])}[/bold cyan]  policy "
        f"{escape(project['policy'])} {escape(project['policy_version'])}  on {escape(server)}"
    )
    stages = [as_object(s) for s in project["stages"]]
    console.print(
        "  ".join(f"[{STAGE_STYLE.get(s.status, 'dim')}]{escape(s.id)}[/]" for s in stages)
    )
    for stage in stages:
        if show_all or stage.status == "current":
            console.print(stage_table(stage, show_hints=stage.status == "current"))
    current = next((s for s in stages if s.status == "current"), None)
    if current is not None and current.satisfied and current.id != stages[-1].id:
        console.print("[green]All requirements met:[/green] run `mlgate advance`.")
