"""Alert vocabulary: severities, events, rules' thresholds, and the values that cross stages."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal


class Severity(enum.StrEnum):
    """Alert severity, ordered info < warning < critical."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Order for comparisons (escalation goes to a higher rank)."""
        return _RANK[self]


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class Event(enum.StrEnum):
    """What a notification tells about its alert."""

    FIRING = "firing"
    ESCALATED = "escalated"
    REPEAT = "repeat"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Threshold:
    """One level of a rule: crossing `value` means `severity`."""

    severity: Severity
    value: float


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A threshold rule, resolved for one alert key (per-station overrides applied)."""

    name: str
    kind: str
    unit: str
    # ascending by severity
    thresholds: tuple[Threshold, ...]
    op: Literal[">", ">="] = ">"
    # resolve below this fraction of the lowest threshold crossed
    hysteresis: float = 0.9
    # the condition must hold this long (event time) before firing
    for_: timedelta = timedelta(0)


@dataclass(frozen=True, slots=True)
class Observation:
    """A rule's input value for one key at an event time; None when data is insufficient."""

    rule: RuleSpec
    key: str
    value: float | None
    at: datetime
    station_id: str | None
    area: str
    # wall-clock receive time of the reading behind it (for the latency metric)
    received_at: datetime | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert as stored in `kuzet.alerts`."""

    id: int
    key: str
    rule: str
    kind: str
    severity: Severity
    state: Literal["firing", "resolved"]
    station_id: str | None
    area: str
    value: float | None
    threshold: float | None
    unit: str
    started_at: datetime
    resolved_at: datetime | None = None
    acked_at: datetime | None = None
    acked_by: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Stable hash of the key (Alertmanager uses 16 hex digits)."""
        return fingerprint(self.key)


def fingerprint(key: str) -> str:
    """Stable 16-hex-digit hash of an alert key."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def alert_key(rule: str, subject: str) -> str:
    """The identity of an alert: rule plus station (or area for area-wide rules)."""
    return f"{rule}:{subject}"
