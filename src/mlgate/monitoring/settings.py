"""What to monitor and when to raise an alert: the policy's rules and a project's overrides.

The policy states the default rules per risk tier (``monitoring.rules`` in the policy file); a
project's ``mlgate.yaml`` may change a rule's threshold, window, minimum sample size, severity or
action by its id, switch it off, or add its own rules. :func:`effective_rules` merges the two.

A rule watches one metric (see :data:`METRICS`) for each matching subject (a feature, the
score, the model, a KPI) and is breached when the metric is ``above`` or ``below`` its
threshold in a window that holds at least ``min_samples`` rows. A performance rule may take its
threshold from the business case's success metric of the same name (``threshold:
business_case``).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlgate.tiers import IDENTIFIER, TIERS, Tier

Severity = Literal["low", "medium", "high", "critical"]
Action = Literal["alert", "retrain"]

# Metric names an observation may carry; a rule names one of them. ``performance.<name>`` and
# ``estimate.<name>`` take a scikit-learn metric name (roc_auc, accuracy, ...); ``kpi.<name>``
# takes a KPI declared in the project's ``monitoring.kpis``.
METRICS = (
    "drift.drifted",  # 1.0 when the feature's effect sizes cross the drift thresholds
    "drift.psi",
    "drift.ks_statistic",
    "drift.wasserstein_scaled",
    "drift.js_distance",
    "drift.chi2_pvalue",
    "drift.missing_share_change",
    "drift.unseen_share",
    "score.psi",
    "score.wasserstein_scaled",
    "score.mean",
)
METRIC_FAMILIES = ("performance.", "estimate.", "kpi.")
WINDOW_PATTERN = re.compile(r"^([1-9][0-9]*)([hdw])$")
WINDOW_UNITS = {"h": "hours", "d": "days", "w": "weeks"}
MAX_WINDOW = timedelta(days=3660)  # ten years: longer windows would never end


def parse_window(text: str) -> timedelta:
    """Return the length of a window written as ``<n>h``, ``<n>d`` or ``<n>w`` (``7d``)."""
    match = WINDOW_PATTERN.match(str(text).strip())
    if match is None:
        raise ValueError(
            f"window {text!r} is not understood; expected a whole number and a unit, "
            "h (hours), d (days) or w (weeks), like 1h, 1d or 7d"
        )
    length = timedelta(**{WINDOW_UNITS[match.group(2)]: min(int(match.group(1)), 10**6)})
    if length > MAX_WINDOW:
        raise ValueError(f"window {text!r} is longer than {MAX_WINDOW.days} days; expected less")
    return length


def _known_metric(metric: str) -> str:
    if metric in METRICS:
        return metric
    for family in METRIC_FAMILIES:
        if metric.startswith(family) and re.fullmatch(r"[a-z][a-z0-9_]*", metric[len(family) :]):
            return metric
    raise ValueError(
        f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}, or "
        "performance.<metric>, estimate.<metric> or kpi.<name>"
    )


def _valid_window(text: str) -> str:
    parse_window(text)
    return text


class Rule(BaseModel):
    """A threshold on one metric, per subject and window, and what to do when it is crossed."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=IDENTIFIER)
    metric: str
    when: Literal["above", "below"] = "above"
    threshold: float | Literal["business_case"]
    subjects: list[str] | None = None  # None: every subject the metric is observed for
    window: str = "1d"
    min_samples: int = Field(default=500, ge=1)
    severity: Severity = "high"
    action: Action = "alert"
    tiers: list[Tier] = Field(default_factory=lambda: list(TIERS), min_length=1)
    description: str = ""

    @field_validator("metric")
    @classmethod
    def _metric_known(cls, value: str) -> str:
        return _known_metric(value)

    @field_validator("window")
    @classmethod
    def _window_ok(cls, value: str) -> str:
        return _valid_window(value)

    def breached(self, value: float, threshold: float) -> bool:
        """Whether ``value`` is on the wrong side of ``threshold``."""
        return value > threshold if self.when == "above" else value < threshold


class RuleOverride(BaseModel):
    """A project's change to one of the policy's rules; unset fields keep the policy's value."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    threshold: float | Literal["business_case"] | None = None
    subjects: list[str] | None = None
    window: str | None = None
    min_samples: int | None = Field(default=None, ge=1)
    severity: Severity | None = None
    action: Action | None = None

    @field_validator("window")
    @classmethod
    def _window_ok(cls, value: str | None) -> str | None:
        return None if value is None else _valid_window(value)


class PolicyMonitoring(BaseModel):
    """The policy's monitoring section: the default rules for every project."""

    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(default_factory=list)


class KpiSpec(BaseModel):
    """A business KPI the business owner reports per period, with its direction and target."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=IDENTIFIER)
    unit: str = ""
    direction: Literal["higher", "lower"] = "higher"
    target: float | None = None  # None: the business case's success metric of the same name


class SmtpConfig(BaseModel):
    """Where alert e-mails go out; the password is read from the environment, never the file."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    sender: str = Field(min_length=3)
    starttls: bool = True
    username_env: str | None = None
    password_env: str | None = None
    timeout_seconds: float = Field(default=10.0, gt=0)


class NotifyConfig(BaseModel):
    """How alerts reach the emergency contacts: a webhook, e-mail, or both."""

    model_config = ConfigDict(extra="forbid")

    webhook_url_env: str | None = "MLGATE_ALERT_WEBHOOK"
    smtp: SmtpConfig | None = None
    timeout_seconds: float = Field(default=10.0, gt=0)


class RetrainConfig(BaseModel):
    """Which declared training pipeline a ``retrain`` rule starts, and how often at most."""

    model_config = ConfigDict(extra="forbid")

    pipeline: str | None = None  # None: the only training pipeline, if there is exactly one
    cooldown: str = "7d"  # no second retraining within this time of the last one

    @field_validator("cooldown")
    @classmethod
    def _cooldown_ok(cls, value: str) -> str:
        return _valid_window(value)


class MonitoringConfig(BaseModel):
    """The ``monitoring:`` section of ``mlgate.yaml``."""

    model_config = ConfigDict(extra="forbid")

    reference: str = "train"  # the registered dataset that windows are compared with
    window: str = "1d"
    features: list[str] | None = None  # None: the deployed model's input features
    schedule: str | None = None  # cron expression for `mlgate scheduler`
    rules: dict[str, RuleOverride] = Field(default_factory=dict)
    extra_rules: list[Rule] = Field(default_factory=list)

    @field_validator("extra_rules")
    @classmethod
    def _distinct_ids(cls, rules: list[Rule]) -> list[Rule]:
        counts = Counter(rule.id for rule in rules)
        twice = sorted(rule_id for rule_id, n in counts.items() if n > 1)
        if twice:
            raise ValueError(
                f"rule id(s) {', '.join(twice)} appear more than once; each rule needs its own id"
            )
        return rules

    kpis: list[KpiSpec] = Field(default_factory=list)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    retrain: RetrainConfig = Field(default_factory=RetrainConfig)

    @field_validator("window")
    @classmethod
    def _window_ok(cls, value: str) -> str:
        return _valid_window(value)

    @field_validator("schedule")
    @classmethod
    def _schedule_ok(cls, value: str | None) -> str | None:
        from mlgate.pipelines.cron import check_cron

        return None if value is None else check_cron(value)


def effective_rules(policy_rules: list[Rule], config: MonitoringConfig, tier: Tier) -> list[Rule]:
    """Return the rules for a project of ``tier``: the policy's, overridden, plus its own.

    An override naming a rule the policy does not have is an error, so a typo never silently
    leaves the default in force.
    """
    known = {rule.id for rule in policy_rules}
    unknown = sorted(set(config.rules) - known)
    if unknown:
        raise ValueError(
            f"monitoring.rules names {', '.join(unknown)}, which the policy does not define; "
            f"expected one of {', '.join(sorted(known)) or '(none)'}"
        )

    rules: list[Rule] = []
    for rule in policy_rules:
        if tier not in rule.tiers:
            continue
        override = config.rules.get(rule.id)
        if override is not None:
            if not override.enabled:
                continue
            changes = override.model_dump(exclude={"enabled"}, exclude_none=True)
            rule = rule.model_copy(update=changes)
        rules.append(rule)

    clashes = sorted({r.id for r in config.extra_rules} & {r.id for r in rules})
    if clashes:
        raise ValueError(
            f"monitoring.extra_rules reuses the id(s) {', '.join(clashes)}; override a policy "
            "rule under monitoring.rules instead, or choose another id"
        )
    return [*rules, *(r for r in config.extra_rules if tier in r.tiers)]
