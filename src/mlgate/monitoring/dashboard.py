"""The monitoring dashboard: one offline HTML page with the history of a deployed model.

The page shows what the monitor runs recorded: the version serving and the last run, the open
alerts, drift per feature over time (with the thresholds drawn and a table of the windows that
drifted), the distribution of the model's scores against the reference, performance over time
with its confidence interval beside the estimate made without labels (drawn and named as an
estimate), the business target, the business KPI beside it, and the history of alerts.

Everything is read through :func:`~mlgate.monitoring.store.load_observations` and the alert
and KPI tables, so the page shows exactly what the rules judged. Like the governance report it
reads offline: inline CSS, inline SVG charts drawn by
:func:`~mlgate.reports.charts.figure_to_svg`, no script and nothing fetched. Every name that
comes from the project (features, rules, KPIs, messages) goes through Jinja2's autoescaping.
The same history gives the same bytes, apart from the one "written at" line.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from mlgate import __version__
from mlgate.checks import get_check
from mlgate.checks.base import Figure, Series
from mlgate.lifecycle.service import Governance
from mlgate.monitoring.alerts import describe_resolution, resolutions, resolve_threshold
from mlgate.monitoring.settings import Rule, effective_rules, parse_window
from mlgate.monitoring.store import Observation, load_observations
from mlgate.registry.models import Alert, Deployment, KpiValue, ModelVersion, MonitorRun
from mlgate.reports.charts import figure_to_svg
from mlgate.reports.files import template_environment, write_text_atomic
from mlgate.reports.html import format_text, format_value

logger = logging.getLogger(__name__)

DEPLOY_MODES = ("rest", "stream", "batch")
MAX_WINDOWS = 90  # windows drawn per chart: the most recent ones
MAX_TABLE_WINDOWS = 14  # windows (columns) of the drifted-windows table
FEATURES_PER_CHART = 6  # lines per drift chart, so every line keeps its own colour
MAX_CHART_FEATURES = 24  # features drawn, the most drifted first; the table lists every one
MAX_ALERT_ROWS = 200
# Drift statistics drawn over time: metric, axis label, and the drift check's threshold key.
DRIFT_CHARTS = (
    ("drift.psi", "PSI", "psi_threshold"),
    ("drift.wasserstein_scaled", "Wasserstein distance / reference sd", "wasserstein_threshold"),
    ("drift.js_distance", "Jensen-Shannon distance", "js_threshold"),
    ("drift.missing_share_change", "change of the missing share", "missing_share_threshold"),
)
SCORE_METRIC = "score.psi"
PERFORMANCE = ("performance.", "estimate.")
DRIFTED_METRIC = "drift.drifted"
PREFERRED_METRICS = ("roc_auc", "accuracy", "f1", "precision", "recall")
SEVERITY_BADGES = {"critical": "fail", "high": "fail", "medium": "warn", "low": "info"}


@dataclass(frozen=True)
class _History:
    """Everything the page shows, read in one transaction."""

    project: Mapping[str, Any]
    serving: list[tuple[str, int]]
    runs: int
    last_run: MonitorRun | None
    observations: list[Observation]
    alerts: list[Alert]
    resolutions: Mapping[int, Mapping[str, Any]]
    kpis: list[KpiValue]


def write_dashboard(gov: Governance, path: str | Path) -> Path:
    """Write the monitoring dashboard of the project to ``path`` and return it.

    The file is written atomically; a project with nothing monitored yet gets a page that says
    so and how to start.
    """
    started = time.perf_counter()
    history = _read(gov)
    rules = _rules(gov)
    context = _context(gov, history, rules)
    html = _environment().from_string(PAGE).render(**context)
    written = write_text_atomic(path, html)
    logger.info(
        "wrote the monitoring dashboard of %s to %s: %d observation(s), %d alert(s), "
        "%d chart(s) in %.2f s",
        gov.config.project,
        written,
        len(history.observations),
        len(history.alerts),
        html.count("<svg"),
        time.perf_counter() - started,
    )
    return written


# -- reading ---------------------------------------------------------------------------------


def _read(gov: Governance) -> _History:
    with gov.transaction() as session:
        project = gov.project(session)
        runs = _runs(session, project.id)
        alerts = list(
            session.execute(
                select(Alert).where(Alert.project_id == project.id).order_by(Alert.id)
            ).scalars()
        )
        kpis = list(
            session.execute(
                select(KpiValue)
                .where(KpiValue.project_id == project.id)
                .order_by(KpiValue.name, KpiValue.period_start)
            ).scalars()
        )
        return _History(
            project={"name": project.name, "tier": project.tier, "stage": project.stage},
            serving=_serving(gov, session, project.id),
            runs=len(runs),
            last_run=runs[-1] if runs else None,
            observations=load_observations(session, project.id),
            alerts=alerts,
            resolutions=resolutions(gov, session),
            kpis=kpis,
        )


def _runs(session: Session, project_id: int) -> list[MonitorRun]:
    stmt = select(MonitorRun).where(MonitorRun.project_id == project_id).order_by(MonitorRun.id)
    return list(session.execute(stmt).scalars())


def _serving(gov: Governance, session: Session, project_id: int) -> list[tuple[str, int]]:
    """Return (mode, model version) for each mode a version is live in."""
    stmt = (
        select(Deployment.mode, ModelVersion.version)
        .join(ModelVersion, Deployment.model_version_id == ModelVersion.id)
        .where(Deployment.project_id == project_id, Deployment.ended_at.is_(None))
        .order_by(Deployment.id)
    )
    live: dict[str, int] = {row.mode: row.version for row in session.execute(stmt)}
    return [(mode, live[mode]) for mode in DEPLOY_MODES if mode in live]


def _rules(gov: Governance) -> list[Rule]:
    """Return the project's effective rules, or none when they cannot be read."""
    try:
        return effective_rules(gov.policy.monitoring.rules, gov.config.monitoring, gov.tier)
    except ValueError as exc:  # the charts still draw; only their rule thresholds are missing
        logger.warning("monitoring rules not usable for the dashboard: %s", exc)
        return []


def _threshold(gov: Governance, rules: Sequence[Rule], metrics: Iterable[str]) -> float | None:
    """Return the threshold of the first rule on one of ``metrics``, if any is known."""
    for metric in metrics:
        for rule in rules:
            if rule.metric == metric:
                value = resolve_threshold(gov, rule)
                if value is not None:
                    return value
    return None


def _drift_limits(drifted: Sequence[Observation]) -> dict[str, float]:
    """Return the drift thresholds the newest verdict used, else the drift check's defaults."""
    limits = {k: float(v) for k, v in get_check("drift").defaults.items()}
    for obs in reversed(drifted):
        used = obs.details.get("thresholds")
        if isinstance(used, Mapping):
            return {**limits, **{k: v for k, v in used.items() if _number(v) is not None}}
    return limits


# -- shaping ---------------------------------------------------------------------------------


def _context(gov: Governance, history: _History, rules: Sequence[Rule]) -> dict[str, Any]:
    window = gov.config.monitoring.window
    length = parse_window(window)
    observations = history.observations
    main = [o for o in observations if o.window_end - o.window_start == length]
    return {
        "project": history.project,
        "serving": history.serving,
        "window": window,
        "runs": history.runs,
        "last_run": _last_run(history.last_run),
        "n_observations": len(observations),
        "empty": not observations and history.last_run is None,
        "open_alerts": [_alert_row(a, history.resolutions) for a in _open(history.alerts)],
        "alert_history": _alert_history(history.alerts, history.resolutions),
        "n_alerts": len(history.alerts),
        "drift": _drift_section(gov, main, rules),
        "scores": _score_section(gov, main, rules),
        "performance": _performance_section(gov, observations, rules),
        "kpis": _kpi_section(gov, history.kpis, observations),
        "max_chart_features": MAX_CHART_FEATURES,
        "mlgate_version": __version__,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _last_run(run: MonitorRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "id": run.id,
        "window": run.window,
        "start": _aware(run.window_start),
        "end": _aware(run.window_end),
        "status": run.status,
        "rows": run.rows,
        "model_version": run.model_version,
        "ended_at": _aware(run.ended_at) if run.ended_at else None,
        "summary": run.summary,
    }


def _open(alerts: Sequence[Alert]) -> list[Alert]:
    order = list(SEVERITY_BADGES)
    found = [a for a in alerts if a.open]
    return sorted(found, key=lambda a: (_index(order, a.severity), _aware(a.opened_at), a.id))


def _alert_row(alert: Alert, resolved: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    state = "open" if alert.open else "resolved"
    how = "" if alert.open else describe_resolution(dict(resolved.get(alert.id) or {}))
    return {
        "id": alert.id,
        "severity": alert.severity,
        "badge": SEVERITY_BADGES.get(alert.severity, "info"),
        "rule": alert.rule_id,
        "metric": alert.metric,
        "subject": alert.subject,
        "action": alert.action,
        "state": state,
        "since": _aware(alert.first_window_start),
        "until": _aware(alert.last_window_end),
        "last_value": alert.last_value,
        "threshold": alert.threshold,
        "breaches": alert.breaches,
        "model_version": alert.model_version,
        "message": alert.message,
        "opened_at": _aware(alert.opened_at),
        "resolved_at": _aware(alert.resolved_at) if alert.resolved_at else None,
        "how": how,
    }


def _alert_history(
    alerts: Sequence[Alert], resolved: Mapping[int, Mapping[str, Any]]
) -> dict[str, Any]:
    newest = sorted(alerts, key=lambda a: (_aware(a.opened_at), a.id), reverse=True)
    rows = [_alert_row(a, resolved) for a in newest[:MAX_ALERT_ROWS]]
    return {"rows": rows, "total": len(alerts)}


def _drift_section(
    gov: Governance, observations: Sequence[Observation], rules: Sequence[Rule]
) -> dict[str, Any]:
    """Charts of each drift statistic per feature over time, and the drifted windows."""
    by_metric = _series(o for o in observations if o.metric.startswith("drift."))
    windows = _windows(o for o in observations if o.metric.startswith("drift."))
    shown = windows[-MAX_WINDOWS:]
    features = _feature_order(by_metric.get(DRIFTED_METRIC, {}), by_metric)
    limits = _drift_limits([o for o in observations if o.metric == DRIFTED_METRIC])

    charts = []
    for metric, label, key in DRIFT_CHARTS:
        charted = features[:MAX_CHART_FEATURES]
        subjects = [f for f in charted if _has_value(by_metric.get(metric, {}).get(f))]
        threshold = _threshold(gov, rules, [metric])
        if threshold is None:
            threshold = limits.get(key)
        for start in range(0, len(subjects), FEATURES_PER_CHART):
            group = subjects[start : start + FEATURES_PER_CHART]
            part = start // FEATURES_PER_CHART + 1
            parts = math.ceil(len(subjects) / FEATURES_PER_CHART)
            title = f"{label} per feature" + (f" ({part} of {parts})" if parts > 1 else "")
            series = [Series(f, _xs(shown), _ys(by_metric[metric][f], shown)) for f in group]
            figure = Figure(metric, title, "line", "window start (UTC)", label, series, threshold)
            name = f"drift-{len(charts) + 1}"
            charts.append(
                {
                    "svg": _svg(figure, name),
                    "metric": metric,
                    "label": label,
                    "features": group,
                    "threshold": threshold,
                }
            )

    drifted = by_metric.get(DRIFTED_METRIC, {})
    table_windows = windows[-MAX_TABLE_WINDOWS:]
    table = [
        {
            "feature": feature,
            "cells": [_drift_cell(drifted.get(feature, {}).get(w)) for w in table_windows],
            "drifted": sum(1 for o in drifted.get(feature, {}).values() if o.value == 1.0),
        }
        for feature in features
    ]
    return {
        "charts": charts,
        "features": features,
        "windows": len(windows),
        "shown": len(shown),
        "table_windows": [_label(w) for w in table_windows],
        "table": table,
    }


def _feature_order(
    drifted: Mapping[str, Mapping[tuple[datetime, datetime], Observation]],
    by_metric: Mapping[str, Mapping[str, Any]],
) -> list[str]:
    """Features with the most drifted windows first, then by name."""
    names = sorted({f for series in by_metric.values() for f in series})
    counts = {f: sum(1 for o in drifted.get(f, {}).values() if o.value == 1.0) for f in names}
    return sorted(names, key=lambda f: (-counts[f], f))


def _drift_cell(obs: Observation | None) -> dict[str, Any]:
    if obs is None or obs.value is None:
        return {"text": "n/a", "badge": "none", "title": "not measured"}
    if obs.value == 1.0:
        return {"text": "✗ drifted", "badge": "fail", "title": f"{obs.n:,} rows"}
    return {"text": "✓", "badge": "pass", "title": f"{obs.n:,} rows"}


def _score_section(
    gov: Governance, observations: Sequence[Observation], rules: Sequence[Rule]
) -> dict[str, Any]:
    """The latest window's score distribution against the reference, and score PSI over time."""
    psi = [o for o in observations if o.metric == SCORE_METRIC]
    if not psi:
        return {"distribution": None, "trend": None}

    # The newest window with scores: a window without predictions has no distribution.
    with_bins = [(o, _distribution(o.details)) for o in psi]
    found = [(o, bins) for o, bins in with_bins if bins is not None]
    distribution = None
    if found:
        latest, (labels, reference, current) = found[-1]
        series = [
            Series("reference (training data)", labels, reference),
            Series(
                f"window of {_label((latest.window_start, latest.window_end))}", labels, current
            ),
        ]
        figure = Figure(
            "score-distribution",
            "Score distribution: reference vs latest window",
            "bar",
            "score bin",
            "share of rows",
            series,
        )
        distribution = {
            "svg": _svg(figure, "scores-distribution"),
            "window": _label((latest.window_start, latest.window_end)),
            "psi": latest.value,
            "n": latest.n,
        }

    shown = _windows(psi)[-MAX_WINDOWS:]
    series_map = _series(psi)[SCORE_METRIC]
    threshold = _threshold(gov, rules, [SCORE_METRIC])
    lines = [
        Series(subject, _xs(shown), _ys(points, shown)) for subject, points in series_map.items()
    ]
    figure = Figure(
        SCORE_METRIC,
        "Score drift over time (PSI against the reference scores)",
        "line",
        "window start (UTC)",
        "PSI",
        lines,
        threshold,
    )
    return {
        "distribution": distribution,
        "trend": {"svg": _svg(figure, "scores-trend"), "threshold": threshold},
    }


def _performance_section(
    gov: Governance, observations: Sequence[Observation], rules: Sequence[Rule]
) -> dict[str, Any]:
    """Per window length, charts of the metrics the rules watch; the latest value of each."""
    found = [o for o in observations if o.metric.startswith(PERFORMANCE)]
    by_length: dict[timedelta, list[Observation]] = defaultdict(list)
    for obs in found:
        by_length[obs.window_end - obs.window_start].append(obs)
    watched = {r.metric.split(".", 1)[1] for r in rules if r.metric.startswith(PERFORMANCE)}

    charts: list[dict[str, Any]] = []
    latest: list[dict[str, Any]] = []
    for length in sorted(by_length):
        group = by_length[length]
        names = sorted({o.metric.split(".", 1)[1] for o in group}, key=_metric_order)
        charted = [n for n in names if n in watched] or names[:1]
        shown = _windows(group)[-MAX_WINDOWS:]
        for name in names:
            measured = _points(group, f"performance.{name}")
            estimated = _points(group, f"estimate.{name}")
            target = _threshold(gov, rules, [f"performance.{name}", f"estimate.{name}"])
            latest += _latest_rows(name, _span(length), measured, estimated, target)
            if name in charted:
                chart = _performance_chart(name, _span(length), shown, measured, estimated)
                figure = Figure(**{**chart, "threshold": target})
                charts.append(
                    {
                        "svg": _svg(figure, f"performance-{len(charts) + 1}"),
                        "metric": name,
                        "span": _span(length),
                        "target": target,
                        "has_estimate": bool(estimated),
                    }
                )
    return {"charts": charts, "latest": latest, "others": len(latest) > 2 * len(charts)}


def _performance_chart(
    name: str,
    span: str,
    shown: Sequence[Window],
    measured: Mapping[Window, Observation],
    estimated: Mapping[Window, Observation],
) -> dict[str, Any]:
    """Return the fields of a figure: measured values, their interval, and the estimate."""
    series = []
    if measured:
        lows = {w: _ci(o.details)[0] for w, o in measured.items()}
        highs = {w: _ci(o.details)[1] for w, o in measured.items()}
        series += [
            Series(f"{name} (labelled)", _xs(shown), _ys(measured, shown)),
            Series("95% interval, lower", _xs(shown), [lows.get(w) for w in shown]),
            Series("95% interval, upper", _xs(shown), [highs.get(w) for w in shown]),
        ]
    if estimated:
        series.append(Series(f"{name} estimate (no labels)", _xs(shown), _ys(estimated, shown)))
    return {
        "name": f"performance.{name}",
        "title": f"{name} per {span} window",
        "kind": "line",
        "x_label": "window start (UTC)",
        "y_label": name,
        "series": series,
    }


def _latest_rows(
    name: str,
    span: str,
    measured: Mapping[tuple[datetime, datetime], Observation],
    estimated: Mapping[tuple[datetime, datetime], Observation],
    target: float | None,
) -> list[dict[str, Any]]:
    rows = []
    for kind, points in (("measured", measured), ("estimate", estimated)):
        if not points:
            continue
        # The newest window with a value; a window still waiting for labels only if none has.
        valued = [w for w, o in points.items() if o.value is not None]
        window = max(valued or points)
        obs = points[window]
        low, high = _ci(obs.details) if kind == "measured" else (None, None)
        rows.append(
            {
                "metric": name,
                "span": span,
                "kind": kind,
                "window": _label(window),
                "value": obs.value,
                "low": low,
                "high": high,
                "n": obs.n,
                "target": target,
                "reason": obs.details.get("reason") if obs.value is None else None,
            }
        )
    return rows


def _kpi_section(
    gov: Governance, values: Sequence[KpiValue], observations: Sequence[Observation]
) -> list[dict[str, Any]]:
    """One chart per KPI: the reported values per period, with the target line."""
    specs = {spec.name: spec for spec in gov.config.monitoring.kpis}
    by_name: dict[str, list[KpiValue]] = defaultdict(list)
    for value in values:
        by_name[value.name].append(value)

    sections = []
    for position, name in enumerate(sorted(set(by_name) | set(specs))):
        rows = sorted(by_name.get(name, []), key=lambda v: v.period_start)
        spec = specs.get(name)
        target = spec.target if spec is not None else None
        if target is None:
            target = _observed_target(observations, f"kpi.{name}")
        unit = spec.unit if spec is not None else ""
        periods = [v.period_start.isoformat() for v in rows]
        figure = Figure(
            f"kpi.{name}",
            f"KPI {name} per period" + (" with its target" if target is not None else ""),
            "line",
            "period start",
            f"{name} ({unit})" if unit else name,
            [Series(name, periods, [float(v.value) for v in rows])],
            target,
        )
        sections.append(
            {
                "name": name,
                "unit": unit,
                "direction": spec.direction if spec is not None else None,
                "target": target,
                "svg": _svg(figure, f"kpi-{position + 1}"),
                "n": len(rows),
            }
        )
    return sections


def _observed_target(observations: Sequence[Observation], metric: str) -> float | None:
    for obs in reversed(observations):
        if obs.metric == metric and _number(obs.details.get("target")) is not None:
            return _number(obs.details.get("target"))
    return None


# -- series helpers --------------------------------------------------------------------------

Window = tuple[datetime, datetime]


def _series(
    observations: Iterable[Observation],
) -> dict[str, dict[str, dict[Window, Observation]]]:
    """Return observations by metric, subject and window."""
    found: dict[str, dict[str, dict[Window, Observation]]] = defaultdict(lambda: defaultdict(dict))
    for obs in observations:
        found[obs.metric][obs.subject][(obs.window_start, obs.window_end)] = obs
    return found


def _points(observations: Iterable[Observation], metric: str) -> dict[Window, Observation]:
    return {(o.window_start, o.window_end): o for o in observations if o.metric == metric}


def _windows(observations: Iterable[Observation]) -> list[Window]:
    return sorted({(o.window_start, o.window_end) for o in observations})


def _xs(windows: Sequence[Window]) -> list[str]:
    return [_label(w) for w in windows]


def _ys(points: Mapping[Window, Observation], windows: Sequence[Window]) -> list[float | None]:
    return [points[w].value if w in points else None for w in windows]


def _has_value(points: Mapping[Window, Observation] | None) -> bool:
    return points is not None and any(o.value is not None for o in points.values())


def _label(window: Window) -> str:
    start, end = window
    if end - start >= timedelta(days=1) and (start.hour, start.minute) == (0, 0):
        return start.strftime("%Y-%m-%d")
    return start.strftime("%Y-%m-%d %H:%M")


def _span(length: timedelta) -> str:
    if length % timedelta(weeks=1) == timedelta(0):
        return f"{length // timedelta(weeks=1)}w"
    if length % timedelta(days=1) == timedelta(0):
        return f"{length.days}d"
    return f"{int(length.total_seconds() // 3600)}h"


def _metric_order(name: str) -> tuple[int, str]:
    return (_index(PREFERRED_METRICS, name), name)


def _index(order: Sequence[str], value: str) -> int:
    return order.index(value) if value in order else len(order)


def _ci(details: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """Return the 95% interval a performance observation's details hold, if any."""
    return _number(details.get("ci_low")), _number(details.get("ci_high"))


def _distribution(details: Mapping[str, Any]) -> tuple[list[str], list[float], list[float]] | None:
    """Return bin names and the reference and current shares of a score observation."""
    reference, current = details.get("reference"), details.get("current")
    if not _numbers(reference) or not _numbers(current) or len(reference) != len(current):
        return None
    edges = details.get("edges")
    if _numbers(edges) and len(edges) in (len(reference) - 1, len(reference) + 1):
        # Interior edges only (the check's histogram) mean open-ended outer bins.
        if len(edges) == len(reference) - 1:
            edges = [-math.inf, *edges, math.inf]
        names = [_bin_name(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    else:
        names = [f"bin {i + 1}" for i in range(len(reference))]
    return names, _shares(reference), _shares(current)


def _shares(values: Sequence[Any]) -> list[float]:
    numbers = [float(v) for v in values]
    total = sum(numbers)
    # Counts are shown as shares, so a small window and the large reference compare.
    return [v / total for v in numbers] if total > 1.0 + 1e-9 else numbers


def _bin_name(low: float, high: float) -> str:
    if math.isinf(low):
        return f"below {high:.3g}"
    if math.isinf(high):
        return f"{low:.3g} or more"
    return f"{low:.3g} to {high:.3g}"


def _numbers(values: Any) -> bool:
    if not isinstance(values, Sequence) or isinstance(values, str) or not values:
        return False
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _svg(figure: Figure, name: str) -> Markup:
    # The id prefix is the chart's place on the page, never a name a user chose.
    return Markup(figure_to_svg(figure, id_prefix=f"mon-{name}"))  # noqa: S704


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# -- rendering -------------------------------------------------------------------------------


def _moment(value: Any) -> str:
    if isinstance(value, datetime):
        return _aware(value).strftime("%Y-%m-%d %H:%M UTC")
    return format_text(value)


@functools.cache
def _environment() -> jinja2.Environment:
    return template_environment({"num": format_value, "text": format_text, "moment": _moment})


PAGE = """\
{#- Monitoring dashboard. Self-contained: inline CSS and SVG, no script, nothing fetched.
    Autoescaping is on; the only Markup passed in is the chart SVG (escaped by matplotlib). -#}
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="mlgate {{ mlgate_version|text }}">
<title>Monitoring: {{ project.name|text }}</title>
<style>
{% include "_style.css.j2" %}
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 12px; }
td.cell { text-align: center; white-space: nowrap; }
</style>
</head>
<body>
<div class="page">
<header class="report" id="top">
<p class="kicker">Monitoring dashboard</p>
<h1>{{ project.name|text }}</h1>
<dl class="meta">
<dt>Risk tier</dt><dd>{{ project.tier|text }}</dd>
<dt>Current stage</dt><dd>{{ project.stage|text }}</dd>
<dt>Model version serving</dt><dd>
{%- if serving %}{% for mode, version in serving %}version {{ version }} ({{ mode }})
{%- if not loop.last %}, {% endif %}{% endfor %}
{%- else %}none deployed{% endif %}</dd>
<dt>Window</dt><dd>{{ window|text }}</dd>
<dt>Last run</dt><dd>
{%- if last_run %}run {{ last_run.id }}: window {{ last_run.start|moment }} to
 {{ last_run.end|moment }} ({{ last_run.window|text }}), {{ last_run.rows|num }} rows,
 model version {{ last_run.model_version|text }}, {{ last_run.status|text }}
{%- if last_run.ended_at %}, finished {{ last_run.ended_at|moment }}{% endif %}
{%- else %}none yet{% endif %}</dd>
<dt>Monitored</dt><dd>{{ runs|num }} window run(s), {{ n_observations|num }} observation(s),
 {{ n_alerts|num }} alert(s)</dd>
<dt>Written at</dt><dd>{{ written_at|text }} by mlgate {{ mlgate_version|text }}</dd>
</dl>
</header>
{% if empty %}
<main>
<section id="nothing-yet">
<h2>Nothing has been monitored yet</h2>
<p>No monitor run has recorded a window of served predictions for this project. To start:</p>
<ol>
<li>Deploy a model version (<code>mlgate deploy --mode rest</code> or <code>stream</code>)
 and let it score: the REST server and the stream consumer log every prediction
 (batch scoring with <code>mlgate predict</code> writes its output file only).</li>
<li>Run <code>mlgate monitor</code> once a window ({{ window|text }}) of predictions is
 complete, or set <code>monitoring.schedule</code> in mlgate.yaml and run
 <code>mlgate scheduler</code>.</li>
<li>Write this page again with <code>mlgate monitor report</code>.</li>
</ol>
</section>
</main>
{% else %}
<nav class="toc" aria-label="Contents">
<h2>Contents</h2>
<ol>
<li><a href="#open-alerts">Open alerts</a> ({{ open_alerts|length }})</li>
<li><a href="#drift">Drift per feature</a></li>
<li><a href="#scores">Score distribution</a></li>
<li><a href="#performance">Performance and business KPI</a></li>
<li><a href="#alert-history">Alert history</a></li>
</ol>
</nav>
<main>
<section id="open-alerts">
<h2>1. Open alerts</h2>
{% if open_alerts %}
<table class="data">
<thead><tr><th scope="col">#</th><th scope="col">Severity</th><th scope="col">Rule</th>
<th scope="col">Subject</th><th scope="col">Since</th><th scope="col" class="num">Last value</th>
<th scope="col" class="num">Threshold</th><th scope="col" class="num">Windows</th>
<th scope="col">Action</th><th scope="col">Message</th></tr></thead>
<tbody>
{% for a in open_alerts %}
<tr><td>{{ a.id }}</td><td><span class="badge b-{{ a.badge }}">{{ a.severity|text }}</span></td>
<td><code>{{ a.rule|text }}</code></td><td>{{ a.subject|text }}</td><td>{{ a.since|moment }}</td>
<td class="num">{{ a.last_value|num }}</td><td class="num">{{ a.threshold|num }}</td>
<td class="num">{{ a.breaches|num }}</td><td>{{ a.action|text }}</td>
<td>{{ a.message|text }}</td></tr>
{% endfor %}
</tbody>
</table>
{% else %}
<p>No alert is open.</p>
{% endif %}
</section>

<section id="drift">
<h2>2. Drift per feature over time</h2>
{% if drift.charts %}
<p>Each line is one feature's statistic against the reference (the training data) per
 {{ window|text }} window; the dashed line is the threshold at which the feature counts as
 drifted. Features with the most drifted windows come first.
{%- if drift.shown < drift.windows %} The charts show the latest {{ drift.shown }} of
 {{ drift.windows }} windows.{% endif %}
{%- if drift.features|length > max_chart_features %} They draw the {{ max_chart_features }}
 features with the most drifted windows; the table lists all {{ drift.features|length }}.
{%- endif %}</p>
<div class="grid">
{% for c in drift.charts %}
<figure>{{ c.svg }}<figcaption>{{ c.label|text }}: {{ c.features|join(", ") }}
{%- if c.threshold is not none %}; threshold {{ c.threshold|num }}{% endif %}</figcaption></figure>
{% endfor %}
</div>
<table class="data">
<caption>Drifted windows (latest {{ drift.table_windows|length }} of {{ drift.windows }})</caption>
<thead><tr><th scope="col">Feature</th><th scope="col" class="num">Drifted windows</th>
{% for w in drift.table_windows %}<th scope="col">{{ w|text }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in drift.table %}
<tr><td>{{ row.feature|text }}</td><td class="num">{{ row.drifted|num }}</td>
{% for cell in row.cells %}<td class="cell" title="{{ cell.title }}">
<span class="badge b-{{ cell.badge }}">{{ cell.text }}</span></td>{% endfor %}</tr>
{% endfor %}
</tbody>
</table>
{% else %}
<p class="note">No drift has been measured in {{ window|text }} windows yet.</p>
{% endif %}
</section>

<section id="scores">
<h2>3. Score distribution</h2>
{% if scores.distribution %}
<figure>{{ scores.distribution.svg }}<figcaption>Share of rows per score bin in the
 reference and in the window of {{ scores.distribution.window|text }}
 ({{ scores.distribution.n|num }} rows; PSI {{ scores.distribution.psi|num }}).</figcaption>
</figure>
{% endif %}
{% if scores.trend %}
<figure>{{ scores.trend.svg }}<figcaption>Score PSI per window
{%- if scores.trend.threshold is not none %}; the dashed line is the score-drift threshold
 {{ scores.trend.threshold|num }}{% endif %}.</figcaption></figure>
{% else %}
<p class="note">No score drift has been measured yet (the model may not give probabilities).</p>
{% endif %}
</section>

<section id="performance">
<h2>4. Performance and business KPI over time</h2>
{% if performance.charts or kpis %}
<p>Measured performance uses the labels that have arrived for a window, with its 95% interval
 drawn as two lines around it. An <strong>estimate</strong> is computed from the model's
 own scores before labels arrive and assumes the scores are calibrated: it is drawn as its own
 line named "estimate" and never replaces a measured value. The dashed line is the business
 target.
{%- if performance.others %} Metrics no rule watches are in the table below.{% endif %}</p>
<div class="grid">
{% for c in performance.charts %}
<figure>{{ c.svg }}<figcaption>{{ c.metric|text }} per {{ c.span|text }} window
{%- if c.has_estimate %}, with the estimate (no labels){% endif %}
{%- if c.target is not none %}; business target {{ c.target|num }}
{%- else %}; no business target found for it{% endif %}.</figcaption></figure>
{% endfor %}
{% for k in kpis %}
<figure>{{ k.svg }}<figcaption>KPI {{ k.name|text }}
{%- if k.unit %} ({{ k.unit|text }}){% endif %}, reported by the business owner per period
{%- if k.direction %}, {{ k.direction|text }} is better{% endif %}
{%- if k.target is not none %}; target {{ k.target|num }}{% else %}; no target set{% endif %}.
</figcaption></figure>
{% endfor %}
</div>
{% if performance.latest %}
<table class="data">
<caption>Latest value per metric</caption>
<thead><tr><th scope="col">Metric</th><th scope="col">Window</th><th scope="col">Kind</th>
<th scope="col" class="num">Value</th><th scope="col" class="num">95% interval</th>
<th scope="col" class="num">Rows</th><th scope="col" class="num">Business target</th></tr></thead>
<tbody>
{% for r in performance.latest %}
<tr><td><code>{{ r.metric|text }}</code> ({{ r.span|text }})</td><td>{{ r.window|text }}</td>
<td>{% if r.kind == "estimate" %}<span class="badge b-info">estimate</span>
{%- else %}measured{% endif %}</td>
<td class="num">{{ r.value|num }}{% if r.reason %} <span class="muted">({{ r.reason|text }})</span>
{%- endif %}</td>
<td class="num">{% if r.low is not none %}{{ r.low|num }} to {{ r.high|num }}
{%- else %}—{% endif %}</td>
<td class="num">{{ r.n|num }}</td><td class="num">{{ r.target|num }}</td></tr>
{% endfor %}
</tbody>
</table>
{% endif %}
{% else %}
<p class="note">No performance, estimate or KPI has been recorded yet.</p>
{% endif %}
</section>

<section id="alert-history">
<h2>5. Alert history</h2>
{% if alert_history.rows %}
<table class="data">
<thead><tr><th scope="col">#</th><th scope="col">State</th><th scope="col">Severity</th>
<th scope="col">Rule</th><th scope="col">Subject</th><th scope="col">Windows</th>
<th scope="col" class="num">Breaches</th><th scope="col">Model version</th>
<th scope="col">Opened</th><th scope="col">Closed</th></tr></thead>
<tbody>
{% for a in alert_history.rows %}
<tr><td>{{ a.id }}</td><td><span class="badge b-{{ 'fail' if a.state == 'open' else 'ended' }}">
{{- a.state }}</span></td><td>{{ a.severity|text }}</td><td><code>{{ a.rule|text }}</code></td>
<td>{{ a.subject|text }}</td><td>{{ a.since|moment }} to {{ a.until|moment }}</td>
<td class="num">{{ a.breaches|num }}</td><td>{{ a.model_version|text }}</td>
<td>{{ a.opened_at|moment }}</td>
<td>{% if a.resolved_at %}{{ a.resolved_at|moment }}: {{ a.how|text }}
{%- else %}—{% endif %}</td></tr>
{% endfor %}
</tbody>
</table>
{% if alert_history.total > alert_history.rows|length %}
<p class="note">Showing the newest {{ alert_history.rows|length }} of
 {{ alert_history.total }} alerts; <code>mlgate alerts --all</code> lists every one.</p>
{% endif %}
{% else %}
<p>No alert has been raised.</p>
{% endif %}
</section>
</main>
{% endif %}
<footer>Written by mlgate {{ mlgate_version|text }}. Every figure on this page is read from the
 project's store; <code>mlgate monitor report</code> writes it again.</footer>
</div>
</body>
</html>
"""
