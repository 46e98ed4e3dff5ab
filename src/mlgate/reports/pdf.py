"""Print an HTML report to PDF with WeasyPrint: A4 pages, running headers, page numbers.

WeasyPrint is an optional dependency (``pip install 'mlgate[review]'``) because it loads Pango
from the operating system. The HTML reports are printed as they are, with :data:`PRINT_CSS`
added: it sets the page box, repeats the document title and the page number on each page, keeps
table rows, charts and evidence cards whole, and lets wide tables wrap instead of running off
the page: a long word in a cell (a hash, an identifier, a timestamp) may break anywhere, and
tables of many columns come in parts (see :func:`mlgate.reports.html.column_parts`). Charts are
inline SVG, which WeasyPrint draws as vectors.

WeasyPrint measures a cell whose text may break anywhere in time that grows with the square of
the text's length (seconds for a paragraph of a few thousand characters), so only the long words
themselves are marked breakable (:func:`breakable_words`); prose wraps between its words.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'mlgate[review]'"

PRINT_CSS = """
@page {
  size: A4;
  margin: 20mm 14mm 18mm 14mm;
  @top-left { content: string(doc-title); font-size: 8pt; color: #5b6474; }
  @top-right { content: string(doc-kind); font-size: 8pt; color: #5b6474; }
  @bottom-right { content: "Page " counter(page) " of " counter(pages); font-size: 8pt;
    color: #5b6474; }
  @bottom-left { content: "mlgate"; font-size: 8pt; color: #5b6474; }
}
html { font-size: 9pt; }
body { font-size: 9pt; line-height: 1.35; }
h1 { string-set: doc-title content(); }
.kicker { string-set: doc-kind content(); }
.page { max-width: none; padding: 0; }
nav.toc ol ol { columns: 1; }
table { font-size: 7.5pt; width: 100%; table-layout: auto; }
th, td { overflow-wrap: break-word !important; padding: 2px 4px; }
.brk, td code, td .hash { overflow-wrap: anywhere !important; }
td.num { overflow-wrap: normal; }
table.part { font-size: 6.5pt; }
thead { display: table-header-group; }
tr, figure, article.evidence h3, dl.meta, .claim { break-inside: avoid; }
table.metrics, table.doc-table, table.completeness { break-inside: avoid; }
h2, h3, h4, caption { break-after: avoid; }
figure svg { max-width: 100%; height: auto; }
a { color: inherit; text-decoration: none; }
.back { display: none; }
"""


# A run of text without spaces long enough to overflow a narrow column, and short enough that
# breaking it anywhere is cheap to lay out; longer runs wrap only where a word may.
LONG_WORD = re.compile(r"(?<![^\s<>])[^\s<>]{16,100}(?![^\s<>])")
TAG = re.compile(r"(<[^>]*>)")
TAG_NAME = re.compile(r"</?\s*([A-Za-z][A-Za-z0-9-]*)")
# Elements whose text is not laid out as cell text, or must not change.
RAW_ELEMENTS = frozenset({"style", "script", "svg", "title", "head"})


def breakable_words(html: str) -> str:
    """Return ``html`` with each long word of its text wrapped in ``<span class="brk">``.

    Only text between tags changes, never a tag, an attribute, a style sheet or a chart, so the
    page reads and links as before; the span lets that word, and nothing else, break anywhere.
    """
    parts = TAG.split(html)
    open_raw: list[str] = []
    for i, part in enumerate(parts):
        if i % 2:
            found = TAG_NAME.match(part)
            name = found.group(1).lower() if found else ""
            if name in RAW_ELEMENTS and not part.endswith("/>"):
                if part.startswith("</"):
                    if open_raw and open_raw[-1] == name:
                        open_raw.pop()
                else:
                    open_raw.append(name)
            continue
        if not open_raw and part:
            parts[i] = LONG_WORD.sub(r'<span class="brk">\g<0></span>', part)
    return "".join(parts)


def write_pdf(html: str, path: str | os.PathLike[str]) -> Path:
    """Print ``html`` to the PDF file ``path``, replacing any file there.

    Raises
    ------
    ValidationError
        When WeasyPrint (or the Pango library it loads) is not installed.
    """
    weasyprint = load_weasyprint()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    tmp = target.with_name(f".{target.name}.tmp")
    try:
        with _quiet_weasyprint():
            document = weasyprint.HTML(string=breakable_words(html), base_url=str(target.parent))
            document.write_pdf(tmp, stylesheets=[weasyprint.CSS(string=PRINT_CSS)])
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)

    logger.info(
        "printed %s (%d bytes) in %.1f s",
        target,
        target.stat().st_size,
        time.perf_counter() - started,
    )
    return target


@contextlib.contextmanager
def _quiet_weasyprint() -> Iterator[None]:
    """Hold back WeasyPrint's warnings while it prints.

    Matplotlib's SVG carries its styles as CSS properties (``fill``, ``stroke``) that
    WeasyPrint's CSS parser reports as unknown, one line each, thousands per report, although
    its SVG renderer draws them. Errors still get through.
    """
    log = logging.getLogger("weasyprint")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def load_weasyprint() -> Any:
    """Import WeasyPrint, or say how to install it (and Pango) when that fails."""
    try:
        import weasyprint
    except (ImportError, OSError) as exc:
        raise ValidationError(
            f"PDF output needs WeasyPrint, which could not be loaded ({exc})",
            hint=f"run {INSTALL_HINT}; on Debian or Ubuntu also install Pango: "
            "apt-get install libpango-1.0-0 libpangoft2-1.0-0",
        ) from None
    return weasyprint
