"""Writing report files so that a reader never sees half of one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2

from mlgate.errors import ValidationError

READABLE = 0o666
HTML_SUFFIXES = (".html", ".htm")


def _umask() -> int:
    """Return the process umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def checked_output(
    path: str | os.PathLike[str],
    option: str,
    protected: tuple[Path, ...] = (),
    suffixes: tuple[str, ...] = HTML_SUFFIXES,
    hint: str | None = None,
) -> Path:
    """Return ``path`` if a report may be written there; raise naming what is wrong otherwise.

    A report replaces its file whole, so the path must name a regular file (or none yet) with
    one of ``suffixes``, under folders (missing ones are created when it is written), and lie
    outside ``protected`` (a workspace's
    state folder and its configuration): a mistyped option must never replace a store, a
    device or a folder's worth of files with HTML.
    """
    target = Path(path)
    if target.suffix.lower() not in suffixes:
        kind = "an .html" if suffixes == HTML_SUFFIXES else f"a {' or '.join(suffixes)}"
        raise ValidationError(
            f"{option} must be {kind} file; got '{target.name or target}'", hint=hint
        )
    if target.exists() and not target.is_file():
        kind = "a folder" if target.is_dir() else "not a regular file"
        raise ValidationError(f"{option} {target} is {kind}; expected a file to write")
    folder = next((p for p in [target.parent, *target.parent.parents] if p.exists()), None)
    if folder is not None and not folder.is_dir():
        raise ValidationError(f"{option} {target}: {folder} is a file, not a folder")
    resolved = target.resolve()
    for place in protected:
        place = place.resolve()
        if resolved == place or place in resolved.parents:
            raise ValidationError(
                f"{option} {target} would overwrite the workspace's own {place.name}; "
                "choose a path outside it"
            )
    return target


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file moved into place.

    The file ends up readable by all (``0o666`` less the umask) rather than private, as a
    temporary file would be; missing parent folders are created.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp_name, READABLE & ~_umask())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def template_environment(filters: dict[str, Callable[..., Any]]) -> jinja2.Environment:
    """Return a Jinja2 environment over the packaged templates, with ``filters`` added.

    Autoescaping is always on, so every value a user typed is escaped, and an undefined name
    is an error rather than an empty cell in a report.
    """
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mlgate.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(filters)
    return env
