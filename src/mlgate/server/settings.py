"""Where the team server keeps its store, its artifacts and the projects' working folders."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlgate.errors import ValidationError

HOME_VARIABLE = "MLGATE_SERVER_HOME"
DEFAULT_SESSION_HOURS = 12.0
DEFAULT_MAX_UPLOAD_MB = 512


@dataclass(frozen=True)
class ServerSettings:
    """The team server's locations and session lifetime.

    ``home`` holds one working folder per project (uploaded files, rendered reports); the store
    and the artifacts default to a SQLite file and a folder inside it, and are normally pointed
    at PostgreSQL and a shared bucket with ``MLGATE_DATABASE_URL`` and ``MLGATE_ARTIFACT_URL``.
    """

    home: Path
    database_url: str
    artifact_url: str
    session_hours: float = DEFAULT_SESSION_HOURS
    secure_cookies: bool = False
    max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB

    @classmethod
    def from_env(cls, home: Path | None = None) -> ServerSettings:
        """Read the settings from ``MLGATE_SERVER_HOME``, ``MLGATE_DATABASE_URL`` and friends."""
        root = Path(home or os.environ.get(HOME_VARIABLE) or "mlgate-server").resolve()
        if root.exists() and not root.is_dir():
            raise ValidationError(f"the server home {root} is a file; expected a folder")
        hours = os.environ.get("MLGATE_SESSION_HOURS", str(DEFAULT_SESSION_HOURS))
        try:
            session_hours = float(hours)
        except ValueError:
            session_hours = -1.0
        if not 0 < session_hours <= 24 * 30:
            raise ValidationError(
                f"MLGATE_SESSION_HOURS must be a number of hours above 0 and at most 720; "
                f"got '{hours}'"
            )
        return cls(
            home=root,
            database_url=os.environ.get("MLGATE_DATABASE_URL")
            or f"sqlite:///{root / 'mlgate.db'}",
            artifact_url=os.environ.get("MLGATE_ARTIFACT_URL") or str(root / "artifacts"),
            session_hours=session_hours,
            secure_cookies=os.environ.get("MLGATE_SECURE_COOKIES", "") not in ("", "0"),
            max_upload_mb=_max_upload_mb(),
        )

    @property
    def max_upload_bytes(self) -> int:
        """Return the largest file an upload may carry, in bytes."""
        return self.max_upload_mb * 2**20

    def prepare(self) -> None:
        """Create the home folder and its projects folder."""
        (self.home / "projects").mkdir(parents=True, exist_ok=True)


def _max_upload_mb() -> int:
    """Return ``MLGATE_MAX_UPLOAD_MB``: the largest uploaded file, in whole megabytes."""
    text = os.environ.get("MLGATE_MAX_UPLOAD_MB", str(DEFAULT_MAX_UPLOAD_MB)).strip()
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= 1024 * 1024:
        raise ValidationError(
            f"MLGATE_MAX_UPLOAD_MB must be a whole number of megabytes from 1 to 1048576; "
            f"got '{text}'"
        )
    return int(text)
