"""Silences with Alertmanager semantics, and the cache the dispatcher asks synchronously.

A silence mutes an alert while it is active (`startsAt <= now < endsAt`) and every one of its
matchers matches the alert's labels. A matcher compares one label (absent = ""): equality, or
a regular expression anchored at both ends (`isRegex`); `isEqual: false` negates either.
A silence must have at least one matcher that does not match the empty string, so no silence
mutes everything by accident. A stored regular expression that does not compile never
matches: a broken silence lets notifications through rather than hiding them.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Final

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from storage.silences import SilenceRow, current_silences

logger = logging.getLogger(__name__)

Pool = AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]
LABEL_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DEFAULT_REFRESH_S: Final = 15.0


class SilenceState(enum.StrEnum):
    """Alertmanager's silence states."""

    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


@lru_cache(maxsize=1024)
def _pattern(expression: str) -> re.Pattern[str] | None:
    try:
        return re.compile(expression)
    except re.error:
        return None


@dataclass(frozen=True, slots=True)
class Matcher:
    """One condition on one label."""

    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether the labels satisfy this matcher (an absent label is "")."""
        label = labels.get(self.name, "")
        if self.is_regex:
            pattern = _pattern(self.value)
            if pattern is None:
                return False
            hit = pattern.fullmatch(label) is not None
        else:
            hit = label == self.value
        return hit == self.is_equal

    def as_dict(self) -> dict[str, Any]:
        """The Alertmanager API v2 shape."""
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.is_regex,
            "isEqual": self.is_equal,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Matcher:
        """From the Alertmanager API v2 shape (`isEqual` defaults to true, as there)."""
        return cls(
            name=str(data.get("name", "")),
            value=str(data.get("value", "")),
            is_regex=bool(data.get("isRegex", False)),
            is_equal=bool(data.get("isEqual", True)),
        )


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """Whether every matcher matches (a silence without matchers matches nothing)."""
    listed = list(matchers)
    return bool(listed) and all(m.matches(labels) for m in listed)


def matcher_problems(matchers: Sequence[Matcher]) -> list[str]:
    """Why these matchers cannot make a silence (empty when they can)."""
    if not matchers:
        return ["at least one matcher is required"]
    problems: list[str] = []
    for index, matcher in enumerate(matchers):
        if not LABEL_NAME.match(matcher.name):
            problems.append(f"matchers[{index}].name: not a label name: {matcher.name!r}")
        if matcher.is_regex and _pattern(matcher.value) is None:
            problems.append(f"matchers[{index}].value: invalid regular expression")
    if not problems and all(m.matches({}) for m in matchers):
        problems.append("at least one matcher must not match the empty string")
    return problems


@dataclass(frozen=True, slots=True)
class Silence:
    """A silence as the dispatcher sees it."""

    id: int
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str = ""
    comment: str = ""
    expired_at: datetime | None = None

    def state(self, now: datetime) -> SilenceState:
        """Pending before `startsAt`, active until `endsAt`, expired after (or when deleted)."""
        if self.expired_at is not None:
            return SilenceState.EXPIRED
        if now < self.starts_at:
            return SilenceState.PENDING
        return SilenceState.ACTIVE if now < self.ends_at else SilenceState.EXPIRED

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        """Whether this silence mutes an alert with these labels at `now`."""
        return self.state(now) is SilenceState.ACTIVE and matches_all(self.matchers, labels)

    @classmethod
    def from_row(cls, row: SilenceRow) -> Silence:
        """From a stored silence."""
        return cls(
            id=row.id,
            matchers=tuple(Matcher.from_dict(m) for m in row.matchers),
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            created_by=row.created_by,
            comment=row.comment,
            expired_at=row.expired_at,
        )


def alert_labels(alert: Mapping[str, Any]) -> dict[str, str]:
    """The labels of an Alertmanager alert element, as strings."""
    labels = alert.get("labels")
    if not isinstance(labels, Mapping):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in labels.items()}


class SilenceCache:
    """The current silences in memory, refreshed from the database now and then.

    `silenced(alert, now)` answers from memory, so the dispatcher asks it without awaiting.
    """

    def __init__(self, silences: Iterable[Silence] = ()) -> None:
        self._silences: tuple[Silence, ...] = tuple(silences)

    @property
    def silences(self) -> tuple[Silence, ...]:
        """The silences known now."""
        return self._silences

    def replace(self, silences: Iterable[Silence]) -> None:
        """Swap in a new set (one assignment: readers see the old or the new set)."""
        self._silences = tuple(silences)

    def silenced(self, alert: Mapping[str, Any], now: datetime) -> bool:
        """Whether an Alertmanager alert element is muted at `now` (the dispatcher's check)."""
        labels = alert_labels(alert)
        return any(s.mutes(labels, now) for s in self._silences)

    async def refresh(self, pool: Pool) -> int:
        """Reload the active and pending silences; returns how many there are.

        Raises:
            psycopg.Error: the database did not answer (the old set stays).
        """
        async with pool.connection() as conn:
            rows = await current_silences(conn)
        self.replace(Silence.from_row(r) for r in rows)
        return len(rows)

    async def run(self, pool: Pool, *, interval_s: float = DEFAULT_REFRESH_S) -> None:
        """Refresh every `interval_s` until cancelled; a failed refresh keeps the old set."""
        while True:
            try:
                await self.refresh(pool)
            except psycopg.Error as exc:
                logger.warning("silences not refreshed (keeping %d): %s", len(self._silences), exc)
            await asyncio.sleep(interval_s)
