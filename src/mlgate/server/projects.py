"""Opening the store's projects on the server, each in a working folder of its own.

The server has no workspace folder that a person made with ``mlgate init``: it keeps one under
its home for each project (uploaded files, rendered reports) and reads the project's settings
from the store, where they were recorded when the project was created. A project created by the
command line against the same store is opened the same way.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import yaml
from sqlalchemy import select

from mlgate.config import Workspace, WorkspaceConfig, parse_config
from mlgate.errors import NotFoundError
from mlgate.lifecycle.service import Governance
from mlgate.registry.db import Store
from mlgate.registry.models import Member, Project
from mlgate.server.settings import ServerSettings

logger = logging.getLogger(__name__)


def folder_name(project: str) -> str:
    """Return a folder name for ``project``: readable, safe on any filesystem, and unique."""
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "-", project).strip(".-")[:60] or "project"
    return f"{readable}-{hashlib.sha256(project.encode('utf-8')).hexdigest()[:8]}"


class Projects:
    """The server's access to projects: listing them and opening one as a user."""

    def __init__(self, settings: ServerSettings, store: Store) -> None:
        self.settings = settings
        self.store = store

    def workspace(self, project: str) -> Workspace:
        """Return the server's working folder of ``project`` (not created here)."""
        root = self.settings.home / "projects" / folder_name(project)
        return Workspace(root, self.settings.database_url, self.settings.artifact_url)

    def open(self, name: str, actor: str) -> Governance:
        """Return ``name``'s governance acting as ``actor``, its folder made ready."""
        with self.store.transaction() as session:
            project = session.execute(
                select(Project).where(Project.name == name)
            ).scalar_one_or_none()
            if project is None:
                raise NotFoundError(f"no project '{name[:200]}' on this server")
            config = parse_config(project.config, f"the stored settings of project {name}")
        workspace = self.workspace(name)
        _materialise(workspace, config)
        gov = Governance(workspace, actor, store=self.store, config=config)
        gov.source_available = False  # the project's code is in its workspace, not here
        return gov

    def names(self) -> list[str]:
        """Return every project's name, oldest first."""
        with self.store.transaction() as session:
            return list(session.execute(select(Project.name).order_by(Project.id)).scalars())

    def roles(self, user: str) -> dict[str, set[str]]:
        """Return the roles ``user`` holds, per project name."""
        with self.store.transaction() as session:
            rows = session.execute(
                select(Project.name, Member.role)
                .join(Member, Member.project_id == Project.id)
                .where(Member.user == user)
            )
            held: dict[str, set[str]] = {}
            for project, role in rows:
                held.setdefault(project, set()).add(role)
            return held


def _materialise(workspace: Workspace, config: WorkspaceConfig) -> None:
    """Create the project's folder with the stored settings as its ``mlgate.yaml``."""
    root: Path = workspace.root
    (root / "docs").mkdir(parents=True, exist_ok=True)
    (root / "uploads").mkdir(exist_ok=True)
    text = yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
    if not workspace.config_path.is_file() or workspace.config_path.read_text("utf-8") != text:
        workspace.config_path.write_text(text, encoding="utf-8")
        logger.info("wrote the settings of project %s to its server folder", config.project)
