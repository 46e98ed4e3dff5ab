"""Where the team server keeps its store, its artifacts and the projects' working folders."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlgate.errors import ValidationError

HOME_VARIABLE = "MLGATE_SERVER_HOME"
DEFAULT_SESSION_HOURS = 12.0


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
        )

    def prepare(self) -> None:
        """Create the home folder and its projects folder."""
        (self.home / "projects").mkdir(parents=True, exist_ok=True)
