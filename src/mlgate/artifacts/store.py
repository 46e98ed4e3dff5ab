"""A content-addressed store: files are kept under their sha256 and checked on every read.

The store sits behind an fsspec URL, so a local folder (the default), S3 or any other filesystem
fsspec knows can hold it. Writing the same content twice stores it once. A read recomputes the
hash and refuses content that no longer matches its address, so a tampered or corrupted file is
never handed to a caller (and never unpickled).
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import uuid
from pathlib import Path

import fsspec

from mlgate.errors import IntegrityError, NotFoundError, ValidationError

logger = logging.getLogger(__name__)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def sha256_bytes(data: bytes) -> str:
    """Return the hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


CHUNK_BYTES = 1 << 20


def _protocols(fs: fsspec.AbstractFileSystem) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def sha256_file_fs(fs: fsspec.AbstractFileSystem, path: str) -> str:
    """Return the hex sha256 of ``path`` on filesystem ``fs``, read in chunks."""
    digest = hashlib.sha256()
    with fs.open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_file(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Return the hex sha256 of the file at ``path``, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ArtifactStore:
    """Content-addressed blobs under ``root`` (a path or any fsspec URL)."""

    def __init__(self, root: str | Path) -> None:
        self.root = str(root).rstrip("/")
        self.fs, self._base = fsspec.core.url_to_fs(self.root)
        self.fs.makedirs(self._base, exist_ok=True)

    def _path(self, sha256: str) -> str:
        if not _SHA256.match(sha256):
            raise ValidationError(
                f"artifact address must be 64 lowercase hex characters; got '{sha256}'"
            )
        return f"{self._base}/{sha256[:2]}/{sha256}"

    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` and return its sha256; content already present is not rewritten."""
        digest = sha256_bytes(data)
        path = self._path(digest)
        if self.fs.exists(path):
            return digest

        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        partial = f"{path}.{uuid.uuid4().hex}.partial"
        with self.fs.open(partial, "wb") as handle:
            handle.write(data)
        self.fs.mv(partial, path)

        logger.debug("stored artifact %s (%d bytes)", digest[:12], len(data))
        return digest

    def put_file(self, path: str | Path) -> str:
        """Store the file at ``path`` and return its sha256, streaming it in chunks.

        A file larger than memory is hashed and copied piece by piece, never read whole.
        """
        digest = sha256_file(path)
        target = self._path(digest)
        if self.fs.exists(target):
            return digest

        self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        partial = f"{target}.{uuid.uuid4().hex}.partial"
        with open(path, "rb") as source, self.fs.open(partial, "wb") as handle:
            shutil.copyfileobj(source, handle, CHUNK_BYTES)
        self.fs.mv(partial, target)
        if sha256_file_fs(self.fs, target) != digest:
            self.fs.rm(target)
            raise IntegrityError(f"{path} changed while it was being stored; store it again")
        logger.debug("stored artifact %s from %s", digest[:12], Path(path).name)
        return digest

    def size(self, sha256: str) -> int:
        """Return the stored content's size in bytes."""
        return int(self.fs.size(self._path(sha256)))

    def verified_local_path(self, sha256: str) -> Path:
        """Return a local path to the content after checking its hash in a streaming pass.

        For reading files too large to load whole; only a store on the local filesystem can
        hand out a path.
        """
        if "file" not in _protocols(self.fs):
            raise ValidationError(
                f"large files are read in place, which needs a local artifact store; "
                f"{self.root} is not local",
                hint="point MLGATE_ARTIFACT_URL at a local folder for files beyond memory",
            )
        path = self._path(sha256)
        if not self.fs.exists(path):
            raise NotFoundError(f"artifact {sha256} is not in the store at {self.root}")
        actual = sha256_file(path)
        if actual != sha256:
            raise IntegrityError(
                f"artifact {sha256} was tampered with or corrupted: its content now hashes "
                f"to {actual}; mlgate refuses to use it",
                hint="restore the file from a backup, or register the model or data again",
            )
        return Path(path)

    def exists(self, sha256: str) -> bool:
        """Return whether content with this address is stored."""
        return bool(self.fs.exists(self._path(sha256)))

    def get_bytes(self, sha256: str) -> bytes:
        """Return the content stored under ``sha256`` after checking that it still matches."""
        path = self._path(sha256)
        if not self.fs.exists(path):
            raise NotFoundError(f"artifact {sha256} is not in the store at {self.root}")

        with self.fs.open(path, "rb") as handle:
            data = handle.read()

        actual = sha256_bytes(data)
        if actual != sha256:
            raise IntegrityError(
                f"artifact {sha256} was tampered with or corrupted: its content now hashes "
                f"to {actual}; mlgate refuses to use it",
                hint="restore the file from a backup, or register the model or data again",
            )
        return data

    def location(self, sha256: str) -> str:
        """Return where the content lives (for operators; read it through :meth:`get_bytes`)."""
        return f"{self.fs.unstrip_protocol(self._path(sha256))}"
