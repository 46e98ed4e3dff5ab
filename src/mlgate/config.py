"""The workspace and its configuration file, ``mlgate.yaml``, plus the ``MLGATE_*`` settings.

A workspace is the folder of one model project. Its ``mlgate.yaml`` names the project, its risk
tier, the policy, the data's target and sensitive attributes, and the training recipe. In local
mode the store lives in ``.mlgate/`` beside it; ``MLGATE_DATABASE_URL`` and
``MLGATE_ARTIFACT_URL`` point a workspace at a team store instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from mlgate.errors import NotFoundError, ValidationError
from mlgate.policy.model import Tier

CONFIG_FILE = "mlgate.yaml"
STATE_DIR = ".mlgate"


class DataConfig(BaseModel):
    """What the model predicts and which columns need care."""

    model_config = ConfigDict(extra="forbid")

    target: str = Field(min_length=1)
    positive_label: Any = 1
    sensitive: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)


class TrainingConfig(BaseModel):
    """The estimator ``mlgate train`` builds: a dotted class path and its parameters."""

    model_config = ConfigDict(extra="forbid")

    estimator: str = "sklearn.ensemble.HistGradientBoostingClassifier"
    params: dict[str, Any] = Field(default_factory=dict)
    seed: int = 0


class WorkspaceConfig(BaseModel):
    """The contents of ``mlgate.yaml``."""

    model_config = ConfigDict(extra="forbid")

    project: str = Field(min_length=1, max_length=200, pattern=r"^[^\s/\\][^\n\r/\\]*$")
    tier: Tier
    owner: str
    description: str = ""
    policy: str = "default"
    data: DataConfig
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    thresholds: dict[str, dict[str, float]] = Field(default_factory=dict)


def current_user() -> str:
    """Return who acts in local mode: ``MLGATE_USER``, else the login name.

    Local mode trusts this name the way git trusts ``user.name``; the team server authenticates.
    """
    return os.environ.get("MLGATE_USER") or os.environ.get("USER") or "unknown"


class Workspace:
    """A project folder with its ``mlgate.yaml`` and, in local mode, its ``.mlgate/`` state."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.config_path = self.root / CONFIG_FILE
        self.state_dir = self.root / STATE_DIR

    @classmethod
    def find(cls, start: Path | None = None) -> Workspace:
        """Return the workspace containing ``start`` (or ``MLGATE_WORKSPACE``, or the cwd)."""
        explicit = os.environ.get("MLGATE_WORKSPACE")
        here = Path(explicit) if explicit else (start or Path.cwd())
        for folder in [here.resolve(), *here.resolve().parents]:
            if (folder / CONFIG_FILE).is_file():
                return cls(folder)
        raise NotFoundError(
            f"no {CONFIG_FILE} found in {here} or any folder above it",
            hint="run `mlgate init NAME` to create a workspace, or cd into one",
        )

    @property
    def database_url(self) -> str:
        """Return the store's URL: ``MLGATE_DATABASE_URL`` or the workspace's SQLite file."""
        return os.environ.get("MLGATE_DATABASE_URL") or f"sqlite:///{self.state_dir / 'mlgate.db'}"

    def local_store_missing(self) -> bool:
        """Return whether this workspace keeps its own SQLite store and that file is gone."""
        return (
            "MLGATE_DATABASE_URL" not in os.environ
            and not (self.state_dir / "mlgate.db").is_file()
        )

    @property
    def artifact_url(self) -> str:
        """Return the artifact store's URL: ``MLGATE_ARTIFACT_URL`` or ``.mlgate/artifacts``."""
        return os.environ.get("MLGATE_ARTIFACT_URL") or str(self.state_dir / "artifacts")

    def load_config(self) -> WorkspaceConfig:
        """Read and validate ``mlgate.yaml``, naming each bad field."""
        try:
            raw = yaml.safe_load(self.config_path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise NotFoundError(f"{self.config_path} does not exist") from exc
        except yaml.YAMLError as exc:
            raise ValidationError(f"{self.config_path} is not valid YAML: {exc}") from exc
        return parse_config(raw, str(self.config_path))

    def save_config(self, config: WorkspaceConfig) -> None:
        """Write ``mlgate.yaml`` from ``config``."""
        data = config.model_dump(mode="json")
        self.config_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def parse_config(raw: Any, source: str) -> WorkspaceConfig:
    """Validate a parsed ``mlgate.yaml``; the error lists every bad field with what it expected."""
    if not isinstance(raw, dict):
        raise ValidationError(f"{source} must be a mapping of settings; got {type(raw).__name__}")
    try:
        return WorkspaceConfig.model_validate(raw)
    except PydanticValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ValidationError(f"{source} has invalid settings: {problems}") from exc
