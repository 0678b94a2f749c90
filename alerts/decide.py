"""The alert state machine as pure functions: value + current state + time → action."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from alerts.model import RuleSpec, Severity, Threshold


class Action(enum.StrEnum):
    """What the engine must do for one observation."""

    NONE = "none"
    PENDING = "pending"  # condition met, waiting for the rule's `for` duration
    CLEAR = "clear"  # a pending condition went away before firing
    FIRE = "fire"
    ESCALATE = "escalate"
    RESOLVE = "resolve"


@dataclass(frozen=True, slots=True)
class Active:
    """The in-memory state of one alert key (absent means inactive)."""

    since: datetime
    # None while pending; the current severity once firing
    severity: Severity | None = None
    # the lowest threshold crossed while firing: resolution is relative to it
    lowest: float | None = None
    alert_id: int | None = None
    # the highest threshold crossed so far: a higher one is an escalation
    level: float | None = None

    @property
    def firing(self) -> bool:
        """Whether the alert fired (is not merely pending)."""
        return self.severity is not None


@dataclass(frozen=True, slots=True)
class Decision:
    """The action, with the threshold that caused it and the next state (None: inactive)."""

    action: Action
    threshold: Threshold | None
    state: Active | None


def _over(rule: RuleSpec, value: float, threshold: Threshold) -> bool:
    return value > threshold.value if rule.op == ">" else value >= threshold.value


def crossed(rule: RuleSpec, value: float) -> Threshold | None:
    """The highest threshold `value` crosses (`>` or `>=` per rule), or None."""
    hit = None
    for threshold in rule.thresholds:
        over = _over(rule, value, threshold)
        if over and (
            hit is None
            or (threshold.severity.rank, threshold.value) > (hit.severity.rank, hit.value)
        ):
            hit = threshold
    return hit


def decide(  # noqa: PLR0911 - one return per transition reads best
    rule: RuleSpec, value: float | None, state: Active | None, at: datetime
) -> Decision:
    """One step of the state machine.

    Rules: no data changes nothing (a gap neither fires nor resolves: `station_stale`
    reports gaps); inactive → firing when a threshold is crossed (→ pending first when the
    rule has a `for` duration, firing once it held that long in event time); firing →
    escalated when a higher threshold is crossed (a higher severity, or a higher level of
    the same severity, e.g. the next earthquake intensity); firing → resolved when the
    value falls below `hysteresis` × the lowest threshold crossed. Severity never steps
    down while firing: one alert, one resolve.
    """
    if value is None:
        return Decision(Action.NONE, None, state)
    hit = crossed(rule, value)
    if state is None or not state.firing:
        if hit is None:
            return Decision(Action.CLEAR if state is not None else Action.NONE, None, None)
        since = state.since if state is not None else at
        if at - since >= rule.for_:
            # A value past the critical level has crossed the warning level too: resolution
            # is relative to the lowest of them, as if it had risen through each.
            lowest = min(t.value for t in rule.thresholds if _over(rule, value, t))
            return Decision(Action.FIRE, hit, Active(since, hit.severity, lowest, level=hit.value))
        return Decision(Action.PENDING, hit, Active(since))
    assert state.severity is not None  # noqa: S101 - firing
    assert state.lowest is not None  # noqa: S101 - set when firing
    level = state.level if state.level is not None else state.lowest
    if hit is not None and hit.severity.rank >= state.severity.rank and hit.value > level:
        return Decision(
            Action.ESCALATE, hit, replace(state, severity=hit.severity, level=hit.value)
        )
    if value < rule.hysteresis * state.lowest:
        floor = next((t for t in rule.thresholds if t.value == state.lowest), None)
        return Decision(Action.RESOLVE, floor, None)
    return Decision(Action.NONE, None, state)


def repeat_due(last_notified: datetime, now: datetime, interval: timedelta) -> bool:
    """Whether a still-firing alert should be re-notified (wall clock)."""
    return now - last_notified >= interval


def retry_delay(
    attempts: int, *, initial: float = 1.0, cap: float = 60.0, rng: random.Random
) -> float:
    """Seconds before delivery attempt `attempts + 1`: capped exponential, full jitter.

    The schedule is persisted in the outbox (a restart keeps it), so it is a pure function
    of the attempt count rather than an in-process retry loop.
    """
    base = min(cap, initial * 2 ** max(attempts - 1, 0))
    # "equal jitter": at least half the backoff, so retries still spread out but never spin
    return float(base / 2 + rng.uniform(0, base / 2))


def is_dead(created_at: datetime, now: datetime, deadline: timedelta) -> bool:
    """Whether a notification that keeps failing should be given up."""
    return now - created_at >= deadline
