"""Receiving files over the API: size-capped, under a generated name, removed after use.

An uploaded file is written to a folder of its own, with a random name, inside the project's
``uploads/`` folder; the client's path is never used, only its bare file name (reduced to safe
characters), so that the record keeps the name people know. The folder is removed once the
service layer has stored the content under its hash. Messages from the service layer name the
file by that bare name, never by the server's path.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import UploadFile

from mlgate.errors import GovernanceError, ValidationError
from mlgate.lifecycle.service import Governance
from mlgate.server.errors import ApiError

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
MAX_NAME = 100
UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def bare_name(filename: str | None, suffixes: tuple[str, ...], what: str) -> str:
    """Return the client's file name without folders, reduced to safe characters.

    The suffix must be one of ``suffixes`` (any case): it decides how the service reads it.
    """
    given = filename or ""
    last = given.replace("\\", "/").rsplit("/", 1)[-1]
    name = UNSAFE.sub("-", last).strip(".-")
    stem, dot, suffix = name.rpartition(".")
    if not dot or f".{suffix.lower()}" not in suffixes:
        raise ValidationError(
            f"the {what} '{given[:MAX_NAME]}' has no supported suffix; expected a file name "
            f"ending {' or '.join(suffixes)}"
        )
    stem = stem[: MAX_NAME - len(suffix) - 1] or "upload"
    return f"{stem}.{suffix.lower()}"


@contextmanager
def staged(gov: Governance, name: str) -> Iterator[Path]:
    """Yield ``uploads/<random>/<name>`` in the project's folder; remove that folder after."""
    uploads = gov.workspace.root / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=uploads))
    try:
        yield folder / name
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def save_upload(upload: UploadFile, target: Path, limit: int, what: str) -> int:
    """Copy ``upload`` to ``target`` in chunks; refuse (413) one above ``limit`` bytes.

    Returns the number of bytes written. An empty file is refused as well: no reader of data,
    contracts or models can make anything of it.
    """
    if upload.size is not None and upload.size > limit:
        raise too_large(what, upload.size, limit)
    written = 0
    upload.file.seek(0)
    with target.open("wb") as out:
        while chunk := upload.file.read(CHUNK_BYTES):
            written += len(chunk)
            if written > limit:
                raise too_large(what, written, limit)
            out.write(chunk)
    if written == 0:
        raise ValidationError(f"the {what} '{target.name}' is empty; expected its content")
    logger.info("received %s %s (%d bytes)", what, target.name, written)
    return written


def too_large(what: str, size: int, limit: int) -> ApiError:
    """Return the 413 refusal of an upload of at least ``size`` bytes, above ``limit``."""
    return ApiError(
        413,
        f"the {what} holds {size / 2**20:.1f} MB or more, above the server's limit of "
        f"{limit / 2**20:g} MB per file",
        hint="the server's operator raises the limit with MLGATE_MAX_UPLOAD_MB",
    )


@contextmanager
def shown_as(folder: Path) -> Iterator[None]:
    """Rewrite service-layer messages to name files in ``folder`` by their bare names.

    The server's paths mean nothing to the client and are not theirs to know.
    """
    try:
        yield
    except GovernanceError as error:
        message = error.message
        for form in {str(folder.resolve()), str(folder)}:
            message = message.replace(form + os.sep, "").replace(form, "the upload")
        error.message = message
        error.args = (message,)
        raise
