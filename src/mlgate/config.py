"""The workspace and its configuration file, ``mlgate.yaml``, plus the ``MLGATE_*`` settings.

A workspace is the folder of one model project. Its ``mlgate.yaml`` names the project, its risk
tier, the policy, the data's target and sensitive attributes, and the training recipe. In local
mode the store lives in ``.mlgate/`` beside it; ``MLGATE_DATABASE_URL`` and
``MLGATE_ARTIFACT_URL`` point a workspace at a team store instead.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

from mlgate.errors import NotFoundError, ValidationError, describe_problems
from mlgate.monitoring.settings import MonitoringConfig
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


class _Section(BaseModel):
    """A settings section that names the keys it takes when it meets one it does not know."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = [str(k) for k in data if k not in cls.model_fields]
            if unknown:
                raise ValueError(
                    f"unknown key(s) {', '.join(unknown)}; expected {', '.join(cls.model_fields)}"
                )
        return data


class CvConfig(_Section):
    """How training data is split for cross-validation: stratified, by group or by time.

    ``group_column`` (scheme ``group``) and ``time_column`` (scheme ``time``) only split the
    rows; they are never features. Without ``time_column``, the time scheme uses the column
    the dataset's data contract marks ``timestamp: true``.
    """

    scheme: Literal["stratified", "group", "time"] = "stratified"
    folds: int = Field(default=5, ge=2)
    group_column: str | None = Field(default=None, min_length=1)
    time_column: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _columns_fit_scheme(self) -> CvConfig:
        if self.scheme == "group" and self.group_column is None:
            raise ValueError(
                "scheme 'group' needs group_column: the column whose groups stay whole"
            )
        if self.group_column is not None and self.scheme != "group":
            raise ValueError(f"group_column applies to scheme 'group'; got scheme '{self.scheme}'")
        if self.time_column is not None and self.scheme != "time":
            raise ValueError(f"time_column applies to scheme 'time'; got scheme '{self.scheme}'")
        return self


class ParamSpec(_Section):
    """The range one hyperparameter is searched in.

    ``int`` and ``float`` take ``low`` and ``high`` (and ``log`` to search on a log scale, which
    needs ``low > 0``); ``categorical`` takes ``choices``.
    """

    type: Literal["int", "float", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: list[str | int | float | bool | None] | None = None

    @model_validator(mode="after")
    def _fits_type(self) -> ParamSpec:
        if self.type == "categorical":
            if self.low is not None or self.high is not None or self.log:
                raise ValueError(
                    "low, high and log apply to int and float; categorical takes choices"
                )
            if not self.choices:
                raise ValueError("type categorical needs a non-empty list of choices")
            return self
        if self.choices is not None:
            raise ValueError(f"choices apply to categorical; type {self.type} takes low and high")
        if self.low is None or self.high is None:
            raise ValueError(f"type {self.type} needs low and high")
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError(
                f"low and high must be finite numbers; got low {self.low:g}, high {self.high:g}"
            )
        if self.type == "int" and not (self.low.is_integer() and self.high.is_integer()):
            raise ValueError(
                f"type int needs whole bounds; got low {self.low:g}, high {self.high:g}"
            )
        if self.low > self.high:
            raise ValueError(f"low {self.low:g} is above high {self.high:g}; expected low <= high")
        if self.log and self.low <= 0:
            raise ValueError(f"log needs low > 0; got low {self.low:g}")
        return self


SearchSpace = dict[str, ParamSpec]


class SearchConfig(_Section):
    """The hyperparameter search: how many trials, how long at most, what to maximise, where.

    ``metric`` is a scikit-learn scorer name; left out, it is ``roc_auc`` for a binary target
    and ``accuracy`` otherwise. ``trials`` counts completed trials, so an interrupted search
    that is run again only runs the missing ones.
    """

    trials: int = Field(default=20, ge=1, strict=True)  # strict: YAML `true` is not 1 trial
    timeout_seconds: float | None = Field(default=None, gt=0)
    metric: str | None = None
    space: SearchSpace = Field(default_factory=dict)

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, metric: str | None) -> str | None:
        from sklearn.metrics import get_scorer_names

        if metric is not None and metric not in get_scorer_names():
            common = "roc_auc, accuracy, balanced_accuracy, average_precision, f1, neg_log_loss"
            raise ValueError(
                f"unknown metric '{metric}'; expected a scikit-learn scorer name such as "
                f"{common} (sklearn.metrics.get_scorer_names() lists them all)"
            )
        return metric


class CandidateConfig(_Section):
    """One model compared in model selection: its estimator, fixed params and search space."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    estimator: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    space: SearchSpace = Field(default_factory=dict)


class PreprocessingConfig(_Section):
    """How the training pipeline prepares the columns before the estimator sees them.

    Numeric columns are imputed then scaled; the others imputed then encoded. The defaults
    (median, standard scaling, most frequent, one-hot) suit linear models and trees alike;
    tree ensembles lose nothing with ``numeric_scale: none`` and ``categorical_encode:
    ordinal``, which keep the matrix small.
    """

    numeric_impute: Literal["median", "mean", "most_frequent"] = "median"
    numeric_scale: Literal["standard", "robust", "minmax", "none"] = "standard"
    categorical_impute: Literal["most_frequent", "constant"] = "most_frequent"
    categorical_encode: Literal["onehot", "ordinal"] = "onehot"
    min_category_share: float | None = Field(default=None, gt=0, lt=1)


class TrainingConfig(_Section):
    """How ``mlgate train`` builds, cross-validates, searches and selects the model.

    Only ``estimator``, ``params`` and ``seed`` are needed: they describe the one model plain
    ``mlgate train`` fits. ``cv``, ``search`` and ``candidates`` add cross-validation, an Optuna
    search and model selection; docs/training.md explains each.
    """

    estimator: str = "sklearn.ensemble.HistGradientBoostingClassifier"
    params: dict[str, Any] = Field(default_factory=dict)
    seed: int = 0
    preprocessing: PreprocessingConfig = Field(default_factory=PreprocessingConfig)
    cv: CvConfig = Field(default_factory=CvConfig)
    search: SearchConfig | None = None
    candidates: list[CandidateConfig] = Field(default_factory=list)

    @field_validator("seed")
    @classmethod
    def _seed_in_range(cls, seed: int) -> int:
        # numpy (and so scikit-learn and Optuna's sampler) takes seeds from 0 to 2**32 - 1
        if not 0 <= seed < 2**32:
            raise ValueError(f"seed {seed} is out of range; expected 0 <= seed <= {2**32 - 1}")
        return seed

    @model_validator(mode="after")
    def _candidates_consistent(self) -> TrainingConfig:
        names = [c.name for c in self.candidates]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"candidate name(s) {', '.join(repeated)} appear more than once")
        if self.candidates and self.search is not None and self.search.space:
            raise ValueError(
                "search.space describes training.estimator, which candidates replace; give each "
                "candidate its own space"
            )
        return self

    @model_serializer(mode="wrap")
    def _omit_unused(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Keep a written mlgate.yaml as short as before for a project that uses none of the
        # cross-validation, search or selection settings.
        data = handler(self)
        if self.preprocessing == PreprocessingConfig():
            data.pop("preprocessing", None)
        if self.cv == CvConfig():
            data.pop("cv", None)
        if self.search is None:
            data.pop("search", None)
        if not self.candidates:
            data.pop("candidates", None)
        return data


class ReviewConfig(_Section):
    """Where the project's own code, tests and user documentation live, for the review checks.

    Paths are relative to the workspace; each names a file or a folder. Test files are never
    counted as code under review, whichever folder holds them; ``exclude`` takes glob patterns
    (``notebooks/*``) of files to leave out of every list.
    """

    source: list[str] = Field(default_factory=lambda: ["."], min_length=1)
    tests: list[str] = Field(default_factory=lambda: ["tests"])
    docs: list[str] = Field(default_factory=lambda: ["README.md", "docs"])
    exclude: list[str] = Field(default_factory=list)

    @field_validator("source", "tests", "docs", "exclude", mode="before")
    @classmethod
    def _one_or_many(cls, paths: Any) -> Any:
        return [paths] if isinstance(paths, str) else paths

    @field_validator("source", "tests", "docs")
    @classmethod
    def _inside_workspace(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if Path(path).is_absolute() or ".." in Path(path).parts:
                raise ValueError(
                    f"path {path!r} leaves the workspace; expected a path relative to it"
                )
        return paths


class PipelineConfig(_Section):
    """One pipeline of the project: where features come from, how it retrains, how it scores.

    ``kind`` says what its result becomes. A ``data`` pipeline's ``entry`` returns a DataFrame
    or the path of a file it wrote, registered as a version of ``dataset``. A ``training``
    pipeline runs ``mlgate train`` or, with an ``entry``, registers the fitted estimator or
    model file it returns; ``run_checks`` then runs the testing stage's checks for it. A
    ``scoring`` pipeline scores ``input`` (a file), the newest version of ``dataset``, or what
    its ``entry`` returns, with the model deployed for batch use, into ``output`` (``{run}`` and
    ``{date}`` are filled in). ``entry`` is ``module:function``, imported from the workspace
    root or its ``src/`` and called with ``params`` as keyword arguments; ``schedule`` is a
    five-field cron expression in UTC. docs/pipelines.md explains each.
    """

    kind: Literal["data", "training", "scoring"]
    entry: str | None = Field(default=None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    params: dict[str, Any] = Field(default_factory=dict)
    schedule: str | None = None
    timeout_seconds: float = Field(default=3600, gt=0)
    dataset: str | None = Field(default=None, min_length=1)
    contract: str | None = None
    input: str | None = None
    output: str | None = None
    run_checks: bool = False
    trust: list[str] = Field(default_factory=list)
    allow_pickle: bool = False

    @field_validator("schedule")
    @classmethod
    def _valid_cron(cls, schedule: str | None) -> str | None:
        from mlgate.pipelines.cron import check_cron

        if schedule is not None:
            check_cron(schedule)
        return schedule

    @field_validator("contract", "input", "output")
    @classmethod
    def _path_inside_workspace(cls, path: str | None) -> str | None:
        if path is not None and (Path(path).is_absolute() or ".." in Path(path).parts):
            raise ValueError(f"path {path!r} leaves the workspace; expected a path relative to it")
        return path

    @model_validator(mode="after")
    def _settings_fit_kind(self) -> PipelineConfig:
        allowed = _PIPELINE_SETTINGS[self.kind]
        given = [k for k in _KIND_SETTINGS if k in self.model_fields_set and k not in allowed]
        if given:
            raise ValueError(
                f"{', '.join(given)} do(es) not apply to a {self.kind} pipeline; it takes "
                f"{', '.join(sorted(allowed))}"
            )
        if self.kind == "data" and (self.entry is None or self.dataset is None):
            raise ValueError("a data pipeline needs entry (module:function) and dataset (a name)")
        if self.kind == "scoring":
            sources = [k for k in ("entry", "input", "dataset") if getattr(self, k) is not None]
            if len(sources) != 1 or self.output is None:
                raise ValueError(
                    "a scoring pipeline needs output and exactly one of entry, input or "
                    f"dataset; got {', '.join(sources) or 'none of them'}"
                )
        return self

    @model_serializer(mode="wrap")
    def _omit_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Write back only what was set: a default written out would be a setting the kind
        # does not take, and the file would no longer load.
        data = handler(self)
        return {k: v for k, v in data.items() if k == "kind" or k in self.model_fields_set}


_KIND_SETTINGS = ("dataset", "contract", "input", "output", "run_checks", "trust", "allow_pickle")
_PIPELINE_SETTINGS = {
    "data": {"dataset", "contract"},
    "training": {"run_checks", "trust", "allow_pickle"},
    "scoring": {"dataset", "input", "output"},
}


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
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    pipelines: dict[str, PipelineConfig] = Field(default_factory=dict)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)

    @field_validator("project")
    @classmethod
    def _usable_project_name(cls, name: str) -> str:
        # The name is a folder name and a path segment of the team server's pages and API.
        if name in (".", "..") or any(ord(c) < 32 or ord(c) == 127 for c in name):
            raise ValueError(
                f"project name {name[:100]!r} is not allowed; expected a name that is neither "
                "'.' nor '..' and has no control characters"
            )
        return name

    @field_validator("pipelines")
    @classmethod
    def _pipeline_names(cls, pipelines: dict[str, PipelineConfig]) -> dict[str, PipelineConfig]:
        bad = [name for name in pipelines if not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", name)]
        if bad:
            raise ValueError(
                f"pipeline name(s) {', '.join(map(repr, bad))} are not allowed; expected "
                "letters, digits, '_', '.' or '-' (at most 100)"
            )
        return pipelines

    @model_serializer(mode="wrap")
    def _omit_default_review(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if self.review == ReviewConfig():
            data.pop("review", None)
        if not self.pipelines:
            data.pop("pipelines", None)
        if self.monitoring == MonitoringConfig():
            data.pop("monitoring", None)
        return data


def current_user() -> str:
    """Return who acts in local mode: ``MLGATE_USER``, else the login name.

    Local mode trusts this name the way git trusts ``user.name``; the team server authenticates.
    """
    return os.environ.get("MLGATE_USER") or os.environ.get("USER") or "unknown"


class Workspace:
    """A project folder with its ``mlgate.yaml`` and, in local mode, its ``.mlgate/`` state."""

    def __init__(
        self, root: Path, database_url: str | None = None, artifact_url: str | None = None
    ) -> None:
        self.root = root.resolve()
        self.config_path = self.root / CONFIG_FILE
        self.state_dir = self.root / STATE_DIR
        # The team server keeps one folder per project and passes its shared store's URLs.
        self._database_url = database_url
        self._artifact_url = artifact_url

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
        return (
            self._database_url
            or os.environ.get("MLGATE_DATABASE_URL")
            or f"sqlite:///{self.state_dir / 'mlgate.db'}"
        )

    def local_store_missing(self) -> bool:
        """Return whether this workspace keeps its own SQLite store and that file is gone."""
        return (
            self._database_url is None
            and "MLGATE_DATABASE_URL" not in os.environ
            and not (self.state_dir / "mlgate.db").is_file()
        )

    @property
    def artifact_url(self) -> str:
        """Return the artifact store's URL: ``MLGATE_ARTIFACT_URL`` or ``.mlgate/artifacts``."""
        return (
            self._artifact_url
            or os.environ.get("MLGATE_ARTIFACT_URL")
            or str(self.state_dir / "artifacts")
        )

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
        problems = describe_problems(exc.errors())
        raise ValidationError(f"{source} has invalid settings: {problems}") from exc
