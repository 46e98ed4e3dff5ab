"""Starting a project: the workspace folder, its configuration and its row in the store."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from mlgate.config import CONFIG_FILE, Workspace, WorkspaceConfig
from mlgate.documents import template
from mlgate.errors import ConflictError, NotFoundError, PolicyViolation, ValidationError
from mlgate.lifecycle.access import policy_requires_grants
from mlgate.lifecycle.data import register_dataset
from mlgate.lifecycle.service import Governance
from mlgate.policy import Policy, default_policy_path, load_policy
from mlgate.registry.db import Store
from mlgate.registry.models import Member, Project
from mlgate.tabular import read_table

logger = logging.getLogger(__name__)

OWNER_ROLES = ("admin", "data_scientist")
# Records someone other than the owner files (a grant by the data owner, acceptance by the
# business) or that a command makes (a deployment): no template is written for them.
SIGNED_BY_OTHERS = ("deployment", "data_access_grant", "user_acceptance")


def init_project(
    root: Path | Workspace,
    config: WorkspaceConfig,
    policy_file: Path | None = None,
    data_file: Path | None = None,
    store: Store | None = None,
) -> Governance:
    """Create the workspace at ``root`` and register its project, governed by ``policy_file``.

    Everything that can be refused is checked first (the policy, the configuration, the data
    file and whether its sensitive columns would need a grant), so a refused start leaves no
    half-made workspace. The documents the tier asks for are written to ``docs/`` as templates
    to fill, and ``data_file`` is registered as dataset ``train``. The team server passes its
    own ``Workspace`` (with the shared store's URLs) and its open ``store``.
    """
    workspace = root if isinstance(root, Workspace) else Workspace(root)
    root = workspace.root
    if root.exists() and not root.is_dir():
        raise ValidationError(f"{root} is a file; a workspace needs a folder")
    if workspace.config_path.exists():
        raise ConflictError(
            f"{workspace.config_path} already exists: this folder is already a workspace",
            hint="run `mlgate status` there, or choose another folder",
        )
    policy_path = Path(policy_file or default_policy_path())
    if not policy_path.is_file():
        raise NotFoundError(f"policy file {policy_path} does not exist")
    policy_text = policy_path.read_text(encoding="utf-8")
    policy = load_policy(policy_text, source_name=str(policy_path))
    if config.data.target in config.data.sensitive:
        raise ConflictError(
            f"the target '{config.data.target}' cannot also be a sensitive attribute"
        )
    if data_file is not None:
        _check_first_data(policy, config, data_file)

    workspace.state_dir.mkdir(parents=True, exist_ok=True)
    gov = Governance(
        workspace,
        actor=config.owner,
        store=store or Store(workspace.database_url),
        config=config,
    )
    sha = gov.artifacts.put_bytes(policy_text.encode("utf-8"))
    _create_project(gov, config, policy, sha)

    workspace.save_config(config)
    written = write_templates(workspace.root / "docs", policy, config.tier)
    logger.info("created project %s (%s risk) in %s", config.project, config.tier, root)
    if data_file is not None:
        register_dataset(gov, data_file, "train")
    logger.info("wrote %d document templates", len(written))
    return gov


def _check_first_data(policy: Policy, config: WorkspaceConfig, data_file: Path) -> None:
    frame = read_table(data_file)
    expected = [config.data.target, *config.data.sensitive]
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"{data_file} lacks column(s) {', '.join(missing)} named by --target/--sensitive; "
            f"found columns: {', '.join(map(str, frame.columns))}"
        )
    if policy_requires_grants(policy, config.tier) and config.data.sensitive:
        raise PolicyViolation(
            f"a {config.tier}-risk project needs a data access grant before data with "
            f"sensitive columns ({', '.join(config.data.sensitive)}) is registered",
            hint="run init without --data; a risk officer records a grant for you "
            "(mlgate doc new data_access_grant, mlgate doc submit); then mlgate data add FILE",
        )


def _create_project(gov: Governance, config: WorkspaceConfig, policy: Policy, sha: str) -> None:
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


def write_templates(folder: Path, policy: Policy, tier: str) -> list[Path]:
    """Write a template for each document the tier asks for, leaving existing files alone."""
    folder.mkdir(parents=True, exist_ok=True)
    kinds = [
        req.document or req.record
        for stage in policy.stages
        for req in stage.requirements
        if req.applies_to(tier)
        and req.kind in ("document", "record")  # type: ignore[arg-type]
        and (req.document or req.record) not in SIGNED_BY_OTHERS
    ]
    written = []
    for kind in dict.fromkeys(k for k in kinds if k):
        path = folder / f"{kind}.yaml"
        if not path.exists():
            path.write_text(template(kind), encoding="utf-8")
            written.append(path)
    return written


__all__ = ["CONFIG_FILE", "init_project", "write_templates"]
