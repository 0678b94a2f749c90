from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from alerts.decide import Action, Active, crossed, decide, is_dead, repeat_due, retry_delay
from alerts.model import RuleSpec, Severity, Threshold

T0 = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)
W, C = Severity.WARNING, Severity.CRITICAL
PM25_24H = RuleSpec("pm25_24h", "air", "µg/m³", (Threshold(W, 35.0),))
AQI = RuleSpec("aqi", "air", "AQI", (Threshold(W, 151.0), Threshold(C, 201.0)), op=">=")
SLOW = RuleSpec("pm25_24h", "air", "µg/m³", (Threshold(W, 35.0),), for_=timedelta(minutes=10))


def firing(severity: Severity, lowest: float) -> Active:
    return Active(since=T0, severity=severity, lowest=lowest, alert_id=1)


@pytest.mark.parametrize(
    ("rule", "value", "state", "at", "action", "severity"),
    [
        # no data never changes anything, not even a firing alert
        (PM25_24H, None, firing(W, 35.0), T0, Action.NONE, W),
        # ">" is strict: exactly at the limit does not fire
        (PM25_24H, 35.0, None, T0, Action.NONE, None),
        # just above fires at once (no `for`)
        (PM25_24H, 35.1, None, T0, Action.FIRE, W),
        # ">=" fires exactly at the breakpoint
        (AQI, 151.0, None, T0, Action.FIRE, W),
        # a value past the highest threshold fires at that severity directly
        (AQI, 250.0, None, T0, Action.FIRE, C),
        # firing and still above: nothing to do (fires once)
        (PM25_24H, 50.0, firing(W, 35.0), T0, Action.NONE, W),
        # higher severity crossed while firing: escalate
        (AQI, 201.0, firing(W, 151.0), T0, Action.ESCALATE, C),
        # dropping from critical to warning range does not de-escalate or resolve
        (AQI, 160.0, firing(C, 151.0), T0, Action.NONE, C),
        # hysteresis: below the limit but above 90 % of it stays firing
        (PM25_24H, 32.0, firing(W, 35.0), T0, Action.NONE, W),
        # exactly 90 % is not below 90 %: still firing
        (PM25_24H, 31.5, firing(W, 35.0), T0, Action.NONE, W),
        # below 90 % of the lowest threshold crossed: resolve
        (PM25_24H, 31.4, firing(W, 35.0), T0, Action.RESOLVE, None),
        # after an escalation, resolution is still relative to the lowest threshold crossed
        (AQI, 140.0, firing(C, 151.0), T0, Action.NONE, C),
        (AQI, 135.0, firing(C, 151.0), T0, Action.RESOLVE, None),
        # with `for`: the first crossing only starts pending
        (SLOW, 40.0, None, T0, Action.PENDING, None),
        # pending for less than `for`: still pending (no new action)
        (SLOW, 40.0, Active(since=T0), T0 + timedelta(minutes=9), Action.PENDING, None),
        # pending for `for` (event time): fire
        (SLOW, 40.0, Active(since=T0), T0 + timedelta(minutes=10), Action.FIRE, W),
        # pending and back below: cleared, never notified
        (SLOW, 30.0, Active(since=T0), T0 + timedelta(minutes=5), Action.CLEAR, None),
    ],
)
def test_decide(
    rule: RuleSpec,
    value: float | None,
    state: Active | None,
    at: datetime,
    action: Action,
    severity: Severity | None,
) -> None:
    decision = decide(rule, value, state, at)
    assert decision.action is action
    next_severity = decision.state.severity if decision.state else None
    assert next_severity is severity


def test_fire_remembers_the_lowest_threshold_crossed() -> None:
    # resolution later compares against this value: straight to critical crossed warning too
    decision = decide(AQI, 205.0, None, T0)
    assert decision.state is not None
    assert decision.state.lowest == 151.0
    assert decision.state.level == 201.0
    # 178 is below 90 % of the critical level but not of the warning level: still firing
    assert decide(AQI, 178.0, decision.state, T0).action is Action.NONE
    escalated = decide(AQI, 210.0, firing(W, 151.0), T0)
    assert escalated.state is not None
    assert escalated.state.lowest == 151.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (150.9, None),  # below every threshold
        (151.0, W),  # warning at its breakpoint (>=)
        (200.9, W),  # still warning
        (201.0, C),  # critical at its breakpoint
    ],
)
def test_crossed(value: float, expected: Severity | None) -> None:
    hit = crossed(AQI, value)
    assert (hit.severity if hit else None) is expected


@pytest.mark.parametrize(
    ("attempts", "low", "high"),
    [
        (1, 0.5, 1.0),  # first retry around 1 s
        (2, 1.0, 2.0),  # doubles
        (4, 4.0, 8.0),
        (7, 30.0, 60.0),  # 64 s capped at 60
        (30, 30.0, 60.0),  # stays capped
    ],
)
def test_retry_delay_is_capped_exponential_with_jitter(
    attempts: int, low: float, high: float
) -> None:
    rng = random.Random(1)
    delays = [retry_delay(attempts, rng=rng) for _ in range(200)]
    assert all(low <= d <= high for d in delays)
    assert len(set(delays)) > 1  # jittered


@pytest.mark.parametrize(
    ("age", "dead"),
    [
        (timedelta(minutes=59), False),  # still inside the 1 h delivery window
        (timedelta(hours=1), True),  # deadline reached: give up
    ],
)
def test_is_dead(age: timedelta, dead: bool) -> None:
    assert is_dead(T0, T0 + age, timedelta(hours=1)) is dead


@pytest.mark.parametrize(
    ("since_last", "due"),
    [
        (timedelta(hours=3, minutes=59), False),  # not yet
        (timedelta(hours=4), True),  # every 4 h of wall-clock time
    ],
)
def test_repeat_due(since_last: timedelta, due: bool) -> None:
    assert repeat_due(T0, T0 + since_last, timedelta(hours=4)) is due


QUAKE = RuleSpec(
    "earthquake",
    "seismic",
    "MSK-64",
    tuple(Threshold(Severity.CRITICAL, float(i)) for i in range(4, 11)),
    op=">=",
)


@pytest.mark.parametrize(
    ("value", "level", "action"),
    [
        (4.6, 4.0, Action.NONE),  # the estimate moves within the same intensity level
        (5.1, 4.0, Action.ESCALATE),  # the next intensity level: an update, same severity
        (4.2, 5.0, Action.NONE),  # a lower estimate does not step down
    ],
)
def test_levels_of_the_same_severity_escalate(value: float, level: float, action: Action) -> None:
    state = Active(since=T0, severity=C, lowest=4.0, alert_id=1, level=level)
    assert decide(QUAKE, value, state, T0).action is action
