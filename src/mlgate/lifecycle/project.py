"""Starting a project: the workspace folder, its configuration and its row in the store."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from mlgate.config import CONFIG_FILE, Workspace, WorkspaceConfig
from mlgate.errors import ConflictError
from mlgate.lifecycle.service import Governance
from mlgate.policy import default_policy_path, load_policy
from mlgate.registry.db import Store
from mlgate.registry.models import Member, Project

logger = logging.getLogger(__name__)

OWNER_ROLES = ("admin", "data_scientist")


def init_project(
    root: Path, config: WorkspaceConfig, policy_file: Path | None = None
) -> Governance:
    """Create the workspace at ``root`` and register its project, governed by ``policy_file``.

    The policy is validated and stored by hash before anything else is written, and
    ``mlgate.yaml`` is written last, so a refused start leaves no half-made workspace.
    """
    workspace = Workspace(root)
    if workspace.config_path.exists():
        raise ConflictError(
            f"{workspace.config_path} already exists: this folder is already a workspace",
            hint="run `mlgate status` there, or choose another folder",
        )

    policy_path = policy_file or default_policy_path()
    policy_text = Path(policy_path).read_text(encoding="utf-8")
    policy = load_policy(policy_text, source_name=str(policy_path))
    for column in config.data.sensitive:
        if column == config.data.target:
            raise ConflictError(f"the target '{column}' cannot also be a sensitive attribute")

    workspace.state_dir.mkdir(parents=True, exist_ok=True)
    (workspace.root / "docs").mkdir(exist_ok=True)
    gov = Governance(
        workspace, actor=config.owner, store=Store(workspace.database_url), config=config
    )
    sha = gov.artifacts.put_bytes(policy_text.encode("utf-8"))

    with gov.transaction() as session:
        taken = session.execute(select(Project).where(Project.name == config.project)).scalar()
        if taken is not None:
            raise ConflictError(
                f"a project named '{config.project}' already exists in this store",
                hint="choose another name",
            )
        now = datetime.now(UTC)
        project = Project(
            name=config.project,
            owner=config.owner,
            tier=config.tier,
            stage=policy.stage_ids[0],
            policy_name=policy.name,
            policy_version=policy.version,
            policy_sha256=sha,
            config=config.model_dump(mode="json"),
            created_at=now,
        )
        session.add(project)
        session.flush()
        for role in OWNER_ROLES:
            session.add(
                Member(
                    project_id=project.id,
                    user=config.owner,
                    role=role,
                    added_by=config.owner,
                    added_at=now,
                )
            )
        gov.audit(
            session,
            "project.created",
            f"project:{config.project}",
            {
                "tier": config.tier,
                "policy": policy.name,
                "policy_sha256": sha,
                "owner": config.owner,
                "roles": list(OWNER_ROLES),
            },
        )

    workspace.save_config(config)
    logger.info("created project %s (%s risk) in %s", config.project, config.tier, root)
    return gov


__all__ = ["CONFIG_FILE", "init_project"]
