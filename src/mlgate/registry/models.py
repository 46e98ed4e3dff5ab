"""The tables of the governance store.

Every table that records a decision is append-only in spirit: rows are added, and the few
fields that change later (a project's stage, a deployment's end, a waiver's revocation) change
together with an audit event in the same transaction. JSON columns hold payloads whose shape is
owned by the pure layers (documents, check results).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of every mlgate table."""

    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Project(Base):
    """One model initiative, governed by one recorded policy."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    owner: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(20))
    stage: Mapped[str] = mapped_column(String(64))
    policy_name: Mapped[str] = mapped_column(String(200))
    policy_version: Mapped[str] = mapped_column(String(64))
    policy_sha256: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Member(Base):
    """A person's role in a project; one row per (person, role)."""

    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("project_id", "user", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    user: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(64))
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DatasetVersion(Base):
    """A dataset as registered: where it came from, its content hash and its schema."""

    __tablename__ = "dataset_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    uri: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    n_rows: Mapped[int] = mapped_column(Integer)
    n_cols: Mapped[int] = mapped_column(Integer)
    schema: Mapped[list[Any]] = mapped_column(JSON)
    contract: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ModelVersion(Base):
    """A trained model: its artifact, signature, parameters and provenance."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("project_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    flavour: Mapped[str] = mapped_column(String(64))
    estimator: Mapped[str] = mapped_column(String(300))
    trusted_types: Mapped[list[Any]] = mapped_column(JSON)
    signature: Mapped[list[Any]] = mapped_column(JSON)
    target: Mapped[str | None] = mapped_column(String(200), nullable=True)
    classes: Mapped[list[Any]] = mapped_column(JSON)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    dataset_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("dataset_versions.id"), nullable=True
    )
    code_version: Mapped[str] = mapped_column(String(200))
    packages: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Evidence(Base):
    """What satisfies (or fails) a requirement, bound to the data and model it was made on."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    stage: Mapped[str] = mapped_column(String(64))
    requirement_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10))
    summary: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    artifacts: Mapped[list[Any]] = mapped_column(JSON, default=list)
    dataset_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("dataset_versions.id"), nullable=True
    )
    model_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_versions.id"), nullable=True
    )
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Approval(Base):
    """A role's decision on a subject: the stage, the model version, or one piece of evidence."""

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    stage: Mapped[str] = mapped_column(String(64))
    requirement_id: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(10))
    role: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Waiver(Base):
    """A requirement set aside by an authorised role until it expires."""

    __tablename__ = "waivers"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    stage: Mapped[str] = mapped_column(String(64))
    requirement_id: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200), default="", server_default="")
    justification: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReviewFinding(Base):
    """A validator's finding against a model version, tracked until it is closed.

    ``severity`` is low, medium, high or critical; an open high or critical finding blocks the
    review gate. Closing one records who closed it, when, and how (``resolution``).
    """

    __tablename__ = "review_findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    model_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_versions.id"), nullable=True
    )
    severity: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200))
    due_date: Mapped[date] = mapped_column(Date)
    remediation: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)


class Deployment(Base):
    """A model version put to use in a mode (batch, REST, stream) until it is replaced."""

    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    mode: Mapped[str] = mapped_column(String(20))
    endpoint: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuditEvent(Base):
    """One link of the hash chain: who did what to which subject, and the hash that seals it."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    project: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(300))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[str] = mapped_column(String(40))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # The digests of the governance rows this event's transaction wrote (see registry.seals).
    seals: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)


class AuditHead(Base):
    """The single row that holds the chain's tip; locking it serialises appends."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class FeatureVersion(Base):
    """One version of a catalogued feature: how it is computed, from which columns, by whom.

    ``sensitivity`` is what the feature is: the categories inherited from its source columns
    united with the ones declared; ``declared_sensitivity`` is what the person declared (``None``
    when they declared nothing). ``sha256`` seals the definition record, so re-adding the same
    record is recognised and a changed one becomes the next version.
    """

    __tablename__ = "feature_versions"
    __table_args__ = (UniqueConstraint("project_id", "name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    sources: Mapped[list[Any]] = mapped_column(JSON)
    dataset_name: Mapped[str] = mapped_column(String(200))
    dataset_version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id"))
    owner: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sensitivity: Mapped[list[Any]] = mapped_column(JSON)
    declared_sensitivity: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sha256: Mapped[str] = mapped_column(String(64))


class ModelFeature(Base):
    """A model version's use of a feature version, recorded when the model is registered."""

    __tablename__ = "model_features"
    __table_args__ = (UniqueConstraint("model_version_id", "feature_version_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    feature_version_id: Mapped[int] = mapped_column(ForeignKey("feature_versions.id"), index=True)


class PipelineRun(Base):
    """One run of a declared pipeline: what started it, how it ended, and what it produced.

    ``active`` is true while the run is going and null afterwards; with the unique constraint
    on (project, pipeline, active) the store itself refuses a second concurrent run of the same
    pipeline, even from two schedulers on one team database. ``slot`` is the cron moment a
    scheduled run stands for, unique per pipeline, so each slot runs once.
    """

    __tablename__ = "pipeline_runs"
    __table_args__ = (
        UniqueConstraint("project_id", "pipeline", "active"),
        UniqueConstraint("project_id", "pipeline", "slot"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    pipeline: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    trigger: Mapped[str] = mapped_column(String(20))
    slot: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    active: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    actor: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    output: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    log_excerpt: Mapped[str] = mapped_column(Text, default="")
    log_file: Mapped[str | None] = mapped_column(Text, nullable=True)


class MonitorRun(Base):
    """One monitor run over one window of served predictions: what it read and how it ended.

    A window is monitored once: (project, window length, window start) is unique, so two
    schedulers never summarise the same window twice.
    """

    __tablename__ = "monitor_runs"
    __table_args__ = (UniqueConstraint("project_id", "window", "window_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    window: Mapped[str] = mapped_column(String(20))
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    window_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    model_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20))
    summary: Mapped[str] = mapped_column(Text, default="")
    trigger: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class MonitorMetric(Base):
    """One observed value: a metric of one subject (feature, score, model, KPI) in one window.

    ``estimated`` marks values computed without labels (from the model's own confidence);
    ``n`` is the number of rows the value rests on, so rules can ignore thin windows.
    """

    __tablename__ = "monitor_metrics"
    __table_args__ = (Index("ix_monitor_metrics_series", "project_id", "metric", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    run_id: Mapped[int] = mapped_column(ForeignKey("monitor_runs.id"), index=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    window_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    metric: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(200))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    n: Mapped[int] = mapped_column(Integer, default=0)
    estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PredictionLabel(Base):
    """The true outcome of one served prediction, joined to it by request id when it arrives."""

    __tablename__ = "prediction_labels"
    __table_args__ = (UniqueConstraint("project_id", "request_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    request_id: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(200))
    observed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(200))


class KpiValue(Base):
    """The business owner's value of one KPI for one period, as reported (CLI, file or API)."""

    __tablename__ = "kpi_values"
    __table_args__ = (UniqueConstraint("project_id", "name", "period_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    value: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(200), default="")
    actor: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The monitor run that evaluated the value against the rules; null until one has.
    run_id: Mapped[int | None] = mapped_column(ForeignKey("monitor_runs.id"), nullable=True)


class Alert(Base):
    """One breach of a monitoring rule for one subject, from its first window until it clears.

    ``open`` is true while the alert stands and null once resolved; with the unique constraint
    on (project, rule, subject, open) the store itself keeps one ongoing breach to one alert,
    even with two monitors writing at once. ``notified`` lists each delivery attempt.
    """

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("project_id", "rule_id", "subject", "open"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(10))
    action: Mapped[str] = mapped_column(String(20))
    open: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    threshold: Mapped[float] = mapped_column(Float)
    first_value: Mapped[float] = mapped_column(Float)
    last_value: Mapped[float] = mapped_column(Float)
    first_window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_window_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    breaches: Mapped[int] = mapped_column(Integer, default=1)
    clear_windows: Mapped[int] = mapped_column(Integer, default=0)
    model_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    message: Mapped[str] = mapped_column(Text)
    notified: Mapped[list[Any]] = mapped_column(JSON, default=list)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class User(Base):
    """A person who signs in to the team server.

    ``password_hash`` is a salted scrypt hash (``None`` for token-only accounts); ``is_admin``
    lets a user manage accounts and create projects, but gives no role inside a project.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(300), nullable=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiToken(Base):
    """A bearer token or a browser session of one user, kept only as its SHA-256.

    ``kind`` is ``api`` for tokens people create for the command line and scripts, ``session``
    for the cookie of a web sign-in. A revoked or expired token authenticates nobody.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    label: Mapped[str] = mapped_column(String(200), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
