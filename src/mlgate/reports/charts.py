"""Draw the figures that checks describe as data, as inline SVG for the HTML report.

A check never plots: it returns a :class:`~mlgate.checks.base.Figure` (kind, axes, series) and
this module turns it into a small SVG with matplotlib's SVG backend, without pyplot and without
any display. The output is made to be pasted into one HTML page next to other charts:

- the XML header, doctype and metadata block are removed;
- every ``id`` (and every reference to it) is prefixed with a per-chart prefix, so two charts
  in the same page never share an id, and the chart's style rule is scoped to its own root;
- text stays text (``svg.fonttype = none``), so an auditor can search and copy it;
- the same figure always gives the same bytes (fixed ``svg.hashsalt``, no date).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from html import escape
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure as MplFigure

from mlgate.checks.base import Figure, Series
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

FIGURE_KINDS = ("bar", "line", "hist", "scatter")
FIGSIZE = (6.4, 3.2)
THRESHOLD_COLOR = "#b2182b"

# Okabe-Ito: told apart by colour-blind readers and in greyscale print.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#000000")

# Above this many points a line or scatter is embedded as a bitmap, to keep the page light.
RASTER_POINTS = 5000

_STYLE: dict[str, Any] = {
    "svg.hashsalt": "mlgate",
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#555555",
    "axes.grid": True,
    "axes.grid.axis": "y",
    "axes.axisbelow": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "legend.fontsize": 8,
    "xtick.color": "#333333",
    "ytick.color": "#333333",
}

_ID_ATTR = re.compile(r'\bid="([^"]+)"')
_HREF_REF = re.compile(r'((?:xlink:)?href)="#([^"]+)"')
_URL_REF = re.compile(r"url\(#([^)]+)\)")
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_-]")


def figure_to_svg(figure: Figure | Mapping[str, Any], *, id_prefix: str | None = None) -> str:
    """Render a figure (or its dict form) to an SVG element ready to inline in HTML.

    Parameters
    ----------
    figure
        A :class:`~mlgate.checks.base.Figure`, or the dict that ``CheckResult.to_dict()`` stores.
    id_prefix
        Prefix for every id inside the SVG. Give each chart of a page its own; by default it is
        derived from the figure's content, so identical figures share it.

    Returns
    -------
    str
        The ``<svg>...</svg>`` element, with no XML header, ``role="img"`` and a ``<title>``.

    Raises
    ------
    ValidationError
        When the figure's kind is unknown or its fields do not have the expected shape.
    """
    fig = as_figure(figure)
    prefix = _clean_prefix(id_prefix) if id_prefix else _content_prefix(fig)

    with matplotlib.rc_context({**_STYLE, "svg.id": prefix}):
        canvas_figure = draw_figure(fig)
        buffer = io.StringIO()
        canvas_figure.savefig(buffer, format="svg", metadata={"Date": None})

    svg = _tidy_svg(buffer.getvalue(), prefix, fig.title or fig.name)
    logger.debug("rendered figure %s (%s) to %d bytes of SVG", fig.name, fig.kind, len(svg))
    return svg


def draw_figure(figure: Figure | Mapping[str, Any]) -> MplFigure:
    """Draw a figure on a new matplotlib figure (no pyplot, no display) and return it.

    The report calls :func:`figure_to_svg`; this step is public for other outputs (PDF) and
    for tests that count the drawn artists.
    """
    fig = as_figure(figure)

    with matplotlib.rc_context(_STYLE):
        canvas_figure = MplFigure(figsize=FIGSIZE, dpi=100, layout="constrained")
        ax = canvas_figure.add_subplot()
        ax.set_prop_cycle(color=list(PALETTE))

        drawn = _DRAWERS[fig.kind](ax, fig.series)
        if not drawn:
            ax.text(
                0.5,
                0.5,
                "no data",
                transform=ax.transAxes,
                ha="center",
                va="center",
                color="#777777",
            )
        if fig.threshold is not None and math.isfinite(fig.threshold):
            ax.axhline(
                fig.threshold,
                color=THRESHOLD_COLOR,
                linestyle="--",
                linewidth=1.2,
                label=f"threshold {fig.threshold:g}",
                gid="threshold",
            )

        ax.set_title(fig.title)
        ax.set_xlabel(fig.x_label)
        ax.set_ylabel(fig.y_label)
        if len(fig.series) > 1 or fig.threshold is not None:
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return canvas_figure


def as_figure(figure: Figure | Mapping[str, Any]) -> Figure:
    """Return ``figure`` as a :class:`Figure`, rebuilding it from its dict form if needed."""
    if isinstance(figure, Figure):
        fig = figure
    else:
        try:
            series = [s if isinstance(s, Series) else Series(**s) for s in figure["series"]]
            fig = Figure(**{**figure, "series": series})
        except (KeyError, TypeError) as exc:
            raise ValidationError(
                f"a figure needs name, title, kind, x_label, y_label and series of "
                f"{{name, x, y}}; got keys {sorted(figure)}: {exc}"
            ) from exc

    if fig.kind not in FIGURE_KINDS:
        raise ValidationError(
            f"figure '{fig.name}' has kind '{fig.kind}'; expected one of {', '.join(FIGURE_KINDS)}"
        )
    return fig


def _draw_bar(ax: Axes, series: Sequence[Series]) -> bool:
    """Grouped bars over categorical x; a ``None`` value leaves its slot empty."""
    categories = _categories(series)
    positions = {category: i for i, category in enumerate(categories)}
    width = 0.8 / max(len(series), 1)
    drawn = False

    for j, s in enumerate(series):
        offset = (j - (len(series) - 1) / 2) * width
        points = [
            (positions[str(x)] + offset, y) for x, y in zip(s.x, s.y, strict=False) if _finite(y)
        ]
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        for x, y in zip(s.x, s.y, strict=False):
            if not _finite(y):
                # An empty slot must not read as zero: say that the value is missing.
                ax.text(
                    positions[str(x)] + offset,
                    0,
                    "n/a",
                    rotation=90,
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    color="#777777",
                )
        bars = ax.bar(xs, ys, width=width, label=s.name, color=PALETTE[j % len(PALETTE)])
        for i, patch in enumerate(bars.patches):
            patch.set_gid(f"bar_{j}_{i}")
        drawn = True

    _categorical_ticks(ax, categories)
    return drawn


def _draw_line(ax: Axes, series: Sequence[Series]) -> bool:
    """Lines with markers; a ``None`` value breaks the line rather than bridging the gap."""
    xs_all, categories = _x_positions(series)
    drawn = False

    for s, xs in zip(series, xs_all, strict=True):
        ys = np.array([y if _finite(y) else np.nan for y in s.y[: len(xs)]], dtype=float)
        if not np.isfinite(ys).any():
            continue
        ax.plot(
            xs[: len(ys)],
            ys,
            marker="o",
            markersize=3,
            linewidth=1.5,
            label=s.name,
            rasterized=len(ys) > RASTER_POINTS,
        )
        drawn = True

    if categories is not None:
        _categorical_ticks(ax, categories)
    return drawn


def _draw_hist(ax: Axes, series: Sequence[Series]) -> bool:
    """Counts per bin; ``x`` holds either the bin edges (one more than ``y``) or the centres."""
    all_edges = [_bin_edges(s) for s in series]
    if any(edges is None for edges in all_edges):
        logger.debug("a histogram series has non-numeric or mismatched bins; drawn as bars")
        return _draw_bar(ax, series)

    drawn = False
    alpha = 1.0 if len(series) == 1 else 0.55
    for j, (s, edges) in enumerate(zip(series, all_edges, strict=True)):
        counts = [y if _finite(y) else 0.0 for y in s.y]
        if not any(_finite(y) for y in s.y):
            continue
        ax.bar(
            edges[:-1],
            counts,
            width=np.diff(edges),
            align="edge",
            alpha=alpha,
            label=s.name,
            color=PALETTE[j % len(PALETTE)],
            edgecolor="white",
            linewidth=0.5,
        )
        drawn = True
    return drawn


def _draw_scatter(ax: Axes, series: Sequence[Series]) -> bool:
    """Points; a pair with a ``None`` on either axis is left out."""
    xs_all, categories = _x_positions(series)
    drawn = False

    for s, xs in zip(series, xs_all, strict=True):
        points = [(x, y) for x, y in zip(xs, s.y, strict=False) if _finite(y) and math.isfinite(x)]
        if not points:
            continue
        px, py = zip(*points, strict=True)
        ax.scatter(px, py, s=12, alpha=0.8, label=s.name, rasterized=len(px) > RASTER_POINTS)
        drawn = True

    if categories is not None:
        _categorical_ticks(ax, categories)
    return drawn


_DRAWERS = {"bar": _draw_bar, "line": _draw_line, "hist": _draw_hist, "scatter": _draw_scatter}


def _finite(value: Any) -> bool:
    """Whether ``value`` is a real, finite number (``None``, NaN and strings are not)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return False
    return math.isfinite(float(value))


def _numeric(values: Sequence[Any]) -> bool:
    return all(v is None or _finite(v) for v in values)


def _categories(series: Sequence[Series]) -> list[str]:
    """The x values of all series as labels, in order of first appearance."""
    seen: dict[str, None] = {}
    for s in series:
        for x in s.x:
            seen.setdefault(str(x), None)
    return list(seen)


def _x_positions(series: Sequence[Series]) -> tuple[list[list[float]], list[str] | None]:
    """Numeric x as floats; otherwise positions on a shared categorical axis and its labels."""
    if all(_numeric(s.x) for s in series):
        xs = [[float(x) if x is not None else math.nan for x in s.x] for s in series]
        return xs, None

    categories = _categories(series)
    positions = {category: float(i) for i, category in enumerate(categories)}
    return [[positions[str(x)] for x in s.x] for s in series], categories


def _bin_edges(s: Series) -> np.ndarray | None:
    """Bin edges for a histogram series, or ``None`` when its x is not numeric."""
    if not s.x or not _numeric(s.x) or any(x is None for x in s.x):
        return None
    x = np.asarray(s.x, dtype=float)
    if len(x) == len(s.y) + 1:
        return x
    if len(x) != len(s.y):
        return None

    if len(x) == 1:
        return np.array([x[0] - 0.5, x[0] + 0.5])
    mids = (x[:-1] + x[1:]) / 2
    first = x[0] - (mids[0] - x[0])
    last = x[-1] + (x[-1] - mids[-1])
    return np.concatenate([[first], mids, [last]])


MAX_TICK_CHARS = 32  # longer category labels are shortened; the evidence tables hold them whole


def _short(label: str) -> str:
    return label if len(label) <= MAX_TICK_CHARS else label[: MAX_TICK_CHARS - 1] + "\u2026"


def _categorical_ticks(ax: Axes, categories: Sequence[str]) -> None:
    ax.set_xticks(range(len(categories)), labels=[_short(c) for c in categories])
    if len(categories) > 6 or max((len(c) for c in categories), default=0) > 10:
        ax.tick_params(axis="x", labelrotation=30)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")


def _content_prefix(fig: Figure) -> str:
    payload = json.dumps(asdict(fig), sort_keys=True, default=str)
    return "chart-" + hashlib.sha256(payload.encode()).hexdigest()[:10]


def _clean_prefix(prefix: str) -> str:
    cleaned = _UNSAFE_ID.sub("-", prefix)
    return cleaned if cleaned[:1].isalpha() else "c" + cleaned


def _tidy_svg(svg: str, prefix: str, title: str) -> str:
    """Strip the header and metadata, prefix every id and scope the embedded style rule."""
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, count=1, flags=re.DOTALL)

    svg = _ID_ATTR.sub(lambda m: f'id="{_prefixed(prefix, m.group(1))}"', svg)
    svg = _HREF_REF.sub(lambda m: f'{m.group(1)}="#{_prefixed(prefix, m.group(2))}"', svg)
    svg = _URL_REF.sub(lambda m: f"url(#{_prefixed(prefix, m.group(1))})", svg)
    svg = svg.replace('<style type="text/css">*{', f'<style type="text/css">#{prefix} *{{', 1)

    title_id = f"{prefix}-title"
    head_end = svg.index(">") + 1
    head = svg[:head_end].replace(
        "<svg ", f'<svg class="chart" role="img" aria-labelledby="{title_id}" ', 1
    )
    return f'{head}\n <title id="{title_id}">{escape(title)}</title>{svg[head_end:]}'.strip()


def _prefixed(prefix: str, ident: str) -> str:
    return ident if ident == prefix else f"{prefix}-{ident}"
