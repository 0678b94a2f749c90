from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.config import RuleSettings, load_alert_settings
from alerts.model import Severity, Threshold
from collector.config import ConfigError


def test_spec_defaults() -> None:
    # spec §6 default conditions
    s = load_alert_settings({})
    assert s.rule("pm25_24h").thresholds == (Threshold(Severity.WARNING, 35.0),)  # type: ignore[union-attr]
    assert s.rule("pm25_1h").thresholds == (Threshold(Severity.CRITICAL, 160.0),)  # type: ignore[union-attr]
    assert s.rule("no2_1h").thresholds == (Threshold(Severity.CRITICAL, 200.0),)  # type: ignore[union-attr]
    assert s.rule("no2_24h").thresholds == (Threshold(Severity.WARNING, 40.0),)  # type: ignore[union-attr]
    aqi = s.rule("aqi")
    assert aqi is not None
    assert aqi.op == ">="
    assert aqi.thresholds == (
        Threshold(Severity.WARNING, 151.0),
        Threshold(Severity.CRITICAL, 201.0),
    )
    assert s.repeat_interval == timedelta(hours=4)
    assert s.dead_after == timedelta(hours=1)
    assert aqi.hysteresis == 0.9


@pytest.mark.parametrize(
    ("section", "rule", "station", "expected"),
    [
        # a level in the file replaces the default levels of that rule
        (
            {"rules": {"pm25_24h": {"critical": 75}}},
            "pm25_24h",
            None,
            (Threshold(Severity.CRITICAL, 75.0),),
        ),
        # per-station override
        (
            {"rules": {"pm25_24h": {"stations": {"AIR-07": {"warning": 50}}}}},
            "pm25_24h",
            "AIR-07",
            (Threshold(Severity.WARNING, 50.0),),
        ),
        # other stations keep the rule's levels
        (
            {"rules": {"pm25_24h": {"stations": {"AIR-07": {"warning": 50}}}}},
            "pm25_24h",
            "AIR-01",
            (Threshold(Severity.WARNING, 35.0),),
        ),
    ],
)
def test_overrides(
    section: dict[str, object], rule: str, station: str | None, expected: tuple[Threshold, ...]
) -> None:
    spec = load_alert_settings(section).rule(rule, station)
    assert spec is not None
    assert spec.thresholds == expected


def test_disabled_rule_is_none() -> None:
    assert load_alert_settings({"rules": {"no2_24h": {"enabled": False}}}).rule("no2_24h") is None


def test_for_duration() -> None:
    spec = load_alert_settings({"rules": {"pm25_1h": {"for": "10m"}}}).rule("pm25_1h")
    assert spec is not None
    assert spec.for_ == timedelta(minutes=10)


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        ({"rules": {"pm25_24h": {"warnin": 3}}}, "alerts.rules.pm25_24h.warnin"),  # typo
        ({"repeat_interval": "often"}, "alerts.repeat_interval"),  # bad duration
        ({"hysteresis": 1.5}, "alerts.hysteresis"),  # out of (0, 1]
        ({"rules": {"custom": {"enabled": True}}}, "at least one"),  # a rule with no level
    ],
)
def test_errors_are_one_line(section: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_alert_settings(section)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        # a copy with other rule settings: the memo shared by the copy must not answer
        ({"rules": {"pm25_1h": RuleSettings(critical=100.0)}}, Threshold(Severity.CRITICAL, 100.0)),
        # a copy with another default hysteresis: the spec carries it, so it is rebuilt
        ({"hysteresis": 0.5}, Threshold(Severity.CRITICAL, 160.0)),
    ],
)
def test_built_rules_are_memoised_but_never_stale(
    update: dict[str, object], expected: Threshold
) -> None:
    # PERF: rule() is called per reading and memoises the RuleSpecs it builds
    s = load_alert_settings({})
    first = s.rule("pm25_1h", "AIR-01")
    assert s.rule("pm25_1h", "AIR-01") is first
    copy = s.model_copy(update=update)
    rule = copy.rule("pm25_1h", "AIR-01")
    assert rule is not None
    assert rule.thresholds == (expected,)
    assert rule.hysteresis == update.get("hysteresis", 0.9)
    # the memo is not part of the settings' value
    assert s == load_alert_settings({})
