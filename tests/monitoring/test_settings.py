from datetime import timedelta

import pytest
from pydantic import ValidationError

from mlgate.config import WorkspaceConfig
from mlgate.monitoring.settings import MonitoringConfig, Rule, effective_rules, parse_window
from mlgate.policy import default_policy_path, load_policy


def _rule(rule_id: str, **changes: object) -> Rule:
    return Rule(**{"id": rule_id, "metric": "drift.psi", "threshold": 0.2, **changes})


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("1h", timedelta(hours=1)),
        ("1d", timedelta(days=1)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_windows_are_read_as_whole_hours_days_or_weeks(text: str, length: timedelta) -> None:
    assert parse_window(text) == length


@pytest.mark.parametrize("text", ["0d", "1.5d", "d", "1m", "-1d", "", "1 day"])
def test_a_window_that_is_not_understood_names_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected a whole number and a unit, h \(hours\)"):
        parse_window(text)


def test_an_unknown_metric_names_the_known_ones() -> None:
    with pytest.raises(ValidationError, match="unknown metric 'drift.colour'; expected one of"):
        _rule("x", metric="drift.colour")


@pytest.mark.parametrize("metric", ["performance.roc_auc", "estimate.accuracy", "kpi.approvals"])
def test_metric_families_take_a_name(metric: str) -> None:
    assert _rule("x", metric=metric).metric == metric


@pytest.mark.parametrize(
    ("when", "value", "breached"),
    [("above", 0.3, True), ("above", 0.2, False), ("below", 0.1, True), ("below", 0.2, False)],
)
def test_a_rule_is_breached_strictly_beyond_its_threshold(
    when: str, value: float, breached: bool
) -> None:
    assert _rule("x", when=when).breached(value, 0.2) is breached


def test_overrides_change_only_what_they_name_and_can_switch_a_rule_off() -> None:
    policy = [
        _rule("drift_a", window="1d", severity="high"),
        _rule("drift_b"),
        _rule("only_high", tiers=["high"]),
    ]
    config = MonitoringConfig.model_validate(
        {
            "rules": {
                "drift_a": {"threshold": 0.3, "window": "7d"},
                "drift_b": {"enabled": False},
            },
            "extra_rules": [{"id": "own", "metric": "score.mean", "threshold": 0.9}],
        }
    )

    rules = effective_rules(policy, config, "medium")

    assert [r.id for r in rules] == ["drift_a", "own"]
    assert (rules[0].threshold, rules[0].window, rules[0].severity) == (0.3, "7d", "high")


def test_an_override_of_a_rule_the_policy_lacks_is_an_error_naming_the_known_rules() -> None:
    config = MonitoringConfig.model_validate({"rules": {"feature_drfit": {"threshold": 0.3}}})

    with pytest.raises(ValueError, match="names feature_drfit, .* expected one of drift_a"):
        effective_rules([_rule("drift_a")], config, "low")


def test_an_extra_rule_may_not_reuse_a_policy_rule_id() -> None:
    config = MonitoringConfig.model_validate(
        {"extra_rules": [{"id": "drift_a", "metric": "score.mean", "threshold": 0.9}]}
    )

    with pytest.raises(ValueError, match="reuses the id\\(s\\) drift_a"):
        effective_rules([_rule("drift_a")], config, "low")


def test_the_default_policy_has_drift_score_and_performance_rules_for_every_tier() -> None:
    policy = load_policy(default_policy_path())

    low = {r.id for r in effective_rules(policy.monitoring.rules, MonitoringConfig(), "low")}
    high = {r.id for r in effective_rules(policy.monitoring.rules, MonitoringConfig(), "high")}

    assert {"feature_drift", "score_drift", "performance"} <= low
    assert high - low == {"estimated_performance"}


def test_a_workspace_without_a_monitoring_section_keeps_its_file_unchanged() -> None:
    raw = {"project": "p", "tier": "low", "owner": "a", "data": {"target": "y"}}

    dumped = WorkspaceConfig.model_validate(raw).model_dump(mode="json")

    assert "monitoring" not in dumped


def test_two_extra_rules_with_one_id_are_refused() -> None:
    rule = {"id": "own", "metric": "score.mean", "threshold": 0.9}

    with pytest.raises(ValidationError, match="rule id\\(s\\) own appear more than once"):
        MonitoringConfig.model_validate({"extra_rules": [rule, {**rule, "threshold": 0.5}]})


def test_a_window_of_thousands_of_years_is_refused_not_overflowed() -> None:
    with pytest.raises(ValueError, match="is longer than 3660 days"):
        parse_window("99999999999999d")
