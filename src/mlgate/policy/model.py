"""The policy schema: stages, and per stage and risk tier the requirements to leave it.

A requirement is one of six kinds:

- ``document``: a filled template of type ``document`` that validates against its schema;
- ``check``: an automated check (``check``) with thresholds, run on a registered dataset
  (``dataset``) and, for model checks, on the project's current model version;
- ``approval``: ``count`` distinct people holding ``role`` approve ``subject`` (the whole stage,
  the current model version, or the evidence of another requirement), never its author;
- ``record``: a fact with a period of validity (``record``): a compute allocation, a data access
  grant, emergency contacts, or a deployment;
- ``process``: evaluated live at the gate: every earlier stage's requirements are met or waived
  and the audit chain verifies; expired compute allocations and data grants are flagged;
- ``findings``: no open finding of ``severity`` or worse stands against the current model version
  (validators record findings with ``mlgate finding add``).

A ``document`` requirement may also name a ``role`` and a ``count``: that many distinct people
holding the role must each submit one (user acceptance by two business owners, say), and any of
them rejecting blocks the gate.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mlgate.monitoring.settings import PolicyMonitoring
from mlgate.tiers import IDENTIFIER, TIERS, Tier

RequirementKind = Literal["document", "check", "approval", "record", "process", "findings"]
RECORD_TYPES = ("compute_allocation", "data_access_grant", "emergency_contacts", "deployment")


class Requirement(BaseModel):
    """One thing a stage asks for before a project may leave it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=IDENTIFIER)
    kind: RequirementKind
    title: str
    description: str = ""
    tiers: list[Tier] = Field(default_factory=lambda: list(TIERS), min_length=1)
    document: str | None = None
    check: str | None = None
    dataset: str = "train"
    thresholds: dict[str, float] = Field(default_factory=dict)
    tier_thresholds: dict[Tier, dict[str, float]] = Field(default_factory=dict)
    role: str | None = None
    count: int | dict[Tier, int] = 1
    subject: str = "stage"
    record: str | None = None
    severity: Literal["low", "medium", "high", "critical"] = "high"

    @model_validator(mode="after")
    def _fields_match_kind(self) -> Requirement:
        needed = {"document": "document", "check": "check", "approval": "role", "record": "record"}
        field_name = needed.get(self.kind)
        if field_name is not None and getattr(self, field_name) is None:
            raise ValueError(f"a requirement of kind '{self.kind}' needs the field '{field_name}'")
        if self.kind == "record" and self.record not in RECORD_TYPES:
            raise ValueError(
                f"record must be one of {', '.join(RECORD_TYPES)}; got '{self.record}'"
            )
        return self

    @field_validator("thresholds")
    @classmethod
    def _finite_thresholds(cls, thresholds: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in thresholds.items() if not math.isfinite(v)}
        if bad:
            raise ValueError(f"thresholds must be finite numbers; got {bad}")
        return thresholds

    @field_validator("tier_thresholds")
    @classmethod
    def _finite_tier_thresholds(
        cls, tiers: dict[Tier, dict[str, float]]
    ) -> dict[Tier, dict[str, float]]:
        for limits in tiers.values():
            cls._finite_thresholds(limits)
        return tiers

    def applies_to(self, tier: Tier) -> bool:
        """Return whether a project of ``tier`` must meet this requirement."""
        return tier in self.tiers

    def thresholds_for(self, tier: Tier) -> dict[str, float]:
        """Return the thresholds for ``tier``: the common ones overlaid with the tier's own."""
        return {**self.thresholds, **self.tier_thresholds.get(tier, {})}

    def count_for(self, tier: Tier) -> int:
        """Return how many distinct approvers ``tier`` needs."""
        if isinstance(self.count, int):
            return self.count
        return self.count.get(tier, 1)


class Stage(BaseModel):
    """One stage of the process and the requirements to leave it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=IDENTIFIER)
    title: str
    description: str = ""
    requirements: list[Requirement] = Field(default_factory=list)


class Policy(BaseModel):
    """The whole process: ordered stages, the roles it knows and who may grant waivers."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    description: str = ""
    roles: list[str] = Field(min_length=1)
    waiver_roles: list[str] = Field(default_factory=list)
    stages: list[Stage] = Field(min_length=1)
    monitoring: PolicyMonitoring = Field(default_factory=PolicyMonitoring)

    @field_validator("stages")
    @classmethod
    def _unique_ids(cls, stages: list[Stage]) -> list[Stage]:
        seen: set[str] = set()
        for stage in stages:
            for req in stage.requirements:
                if req.id in seen:
                    raise ValueError(f"requirement id '{req.id}' is used twice")
                seen.add(req.id)
        if len({s.id for s in stages}) != len(stages):
            raise ValueError("stage ids must be unique")
        return stages

    @model_validator(mode="after")
    def _references_resolve(self) -> Policy:
        ids = {r.id for s in self.stages for r in s.requirements}
        for role in self.waiver_roles:
            if role not in self.roles:
                raise ValueError(f"waiver role '{role}' is not among roles {self.roles}")
        for stage in self.stages:
            for req in stage.requirements:
                if req.role is not None and req.role not in self.roles:
                    raise ValueError(
                        f"requirement '{req.id}': role '{req.role}' is not among roles "
                        f"{self.roles}"
                    )
                if req.kind != "approval":
                    continue
                if req.subject not in ("stage", "model") and req.subject not in ids:
                    raise ValueError(
                        f"requirement '{req.id}': subject '{req.subject}' must be 'stage', "
                        "'model' or the id of another requirement"
                    )
        return self

    @property
    def stage_ids(self) -> list[str]:
        """Return the stage ids in order."""
        return [s.id for s in self.stages]

    def stage(self, stage_id: str) -> Stage:
        """Return the stage called ``stage_id``."""
        for stage in self.stages:
            if stage.id == stage_id:
                return stage
        raise KeyError(f"unknown stage '{stage_id}'; the policy has {', '.join(self.stage_ids)}")

    def next_stage(self, stage_id: str) -> str | None:
        """Return the stage after ``stage_id``, or ``None`` for the last one."""
        ids = self.stage_ids
        position = ids.index(stage_id)
        return ids[position + 1] if position + 1 < len(ids) else None

    def requirements_for(self, stage_id: str, tier: Tier) -> list[Requirement]:
        """Return the requirements of ``stage_id`` that apply to ``tier``."""
        return [r for r in self.stage(stage_id).requirements if r.applies_to(tier)]

    def requirement(self, requirement_id: str) -> tuple[Stage, Requirement]:
        """Return the stage and requirement with id ``requirement_id``."""
        for stage in self.stages:
            for req in stage.requirements:
                if req.id == requirement_id:
                    return stage, req
        raise KeyError(f"unknown requirement '{requirement_id}'")
