"""The governance report: one self-contained HTML page per project, the first model card.

:func:`render_report` and :func:`write_report` turn the project's state (a plain dict gathered
by the service layer) into the page; :func:`figure_to_svg` draws a check's figure as inline SVG.
"""

from __future__ import annotations

from mlgate.reports.charts import draw_figure, figure_to_svg
from mlgate.reports.html import build_context, format_value, render_report, write_report

__all__ = [
    "build_context",
    "draw_figure",
    "figure_to_svg",
    "format_value",
    "render_report",
    "write_report",
]
