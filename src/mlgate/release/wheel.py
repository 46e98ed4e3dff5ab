"""Writing a wheel file by hand, byte for byte the same for the same content.

A wheel is a zip archive (the binary distribution format of PEP 427, revised by PEP 491) with a
``{name}-{version}.dist-info`` folder holding ``METADATA``, ``WHEEL``, ``entry_points.txt`` and
``RECORD``: every other file with its urlsafe-base64 sha256 and size. No build backend is needed
for a pure-Python package whose files are already known, and writing the archive here keeps it
reproducible: entries in a fixed order, a fixed timestamp (1980-01-01, the earliest a zip can
hold), fixed permissions and one compression setting, so the same files give the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import zipfile
from collections.abc import Mapping

from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # a regular file, readable by everyone, writable by its owner
COMPRESSION = zipfile.ZIP_DEFLATED
COMPRESS_LEVEL = 9


def record_hash(data: bytes) -> str:
    """Return a file's hash as RECORD spells it: ``sha256=`` and urlsafe base64 without padding."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode('ascii')}"


def record_text(files: Mapping[str, bytes], record_path: str) -> str:
    """Return the RECORD file listing ``files`` and, without hash, RECORD itself."""
    lines = [f"{path},{record_hash(data)},{len(data)}" for path, data in files.items()]
    lines.append(f"{record_path},,")
    return "\n".join(lines) + "\n"


def _ordered(files: Mapping[str, bytes], dist_info: str) -> dict[str, bytes]:
    """Return the files sorted, the package first and the ``.dist-info`` folder last."""
    prefix = f"{dist_info}/"
    return dict(sorted(files.items(), key=lambda item: (item[0].startswith(prefix), item[0])))


def wheel_bytes(files: Mapping[str, bytes], dist_info: str) -> bytes:
    """Return the wheel archive of ``files`` (paths inside the wheel), with RECORD added.

    ``files`` must already hold ``METADATA``, ``WHEEL`` and ``entry_points.txt`` under
    ``dist_info``; RECORD is computed here and written last, as the specification recommends.
    """
    record_path = f"{dist_info}/RECORD"
    ordered = _ordered(files, dist_info)
    ordered[record_path] = record_text(ordered, record_path).encode("utf-8")

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in ordered.items():
            info = zipfile.ZipInfo(path, date_time=FIXED_TIME)
            info.external_attr = FILE_MODE << 16
            info.compress_type = COMPRESSION
            archive.writestr(info, data, compresslevel=COMPRESS_LEVEL)
    logger.debug("wrote a wheel archive of %d files", len(ordered))
    return buffer.getvalue()


def metadata_text(fields: list[tuple[str, str]], description: str) -> str:
    """Return a METADATA file: ``Key: value`` header lines, a blank line, then the description."""
    for key, value in fields:
        if "\n" in value or "\r" in value:
            raise ValidationError(f"metadata field {key} must be one line; got {value!r}")
    header = "".join(f"{key}: {value}\n" for key, value in fields)
    return f"{header}\n{description.rstrip()}\n"


def wheel_text(generator: str) -> str:
    """Return the WHEEL file of a pure-Python wheel for any Python 3."""
    return (
        f"Wheel-Version: 1.0\nGenerator: {generator}\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )


def entry_points_text(scripts: Mapping[str, str]) -> str:
    """Return ``entry_points.txt`` declaring ``scripts`` (name -> ``module:function``)."""
    lines = [f"{name} = {target}" for name, target in sorted(scripts.items())]
    return "[console_scripts]\n" + "\n".join(lines) + "\n"
