"""Routing: which channel targets an alert transition goes to (severity, kind, area, resolve)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from alerts.model import Event, Severity
from storage.alerts import Target


def _fold(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.casefold() for v in values)


@dataclass(frozen=True, slots=True)
class Route:
    """A filter on alert labels and events; empty `kinds`/`areas` mean every one."""

    min_severity: Severity = Severity.INFO
    kinds: frozenset[str] = frozenset()
    areas: frozenset[str] = frozenset()
    send_resolved: bool = True

    @classmethod
    def of(
        cls,
        *,
        min_severity: Severity = Severity.INFO,
        kinds: Iterable[str] = (),
        areas: Iterable[str] = (),
        send_resolved: bool = True,
    ) -> Route:
        """A route whose kinds and areas compare case-insensitively ("Almaly" = "almaly")."""
        return cls(min_severity, _fold(kinds), _fold(areas), send_resolved)

    def matches(self, labels: Mapping[str, str], event: str) -> bool:
        """Whether a transition (`event`) of an alert with `labels` passes this filter."""
        if event == Event.RESOLVED.value and not self.send_resolved:
            return False
        if severity_of(labels).rank < self.min_severity.rank:
            return False
        if self.kinds and labels.get("kind", "").casefold() not in self.kinds:
            return False
        return not self.areas or labels.get("area", "").casefold() in self.areas


# Matches everything: the route of a recipient that sets no filter of its own.
ANY = Route()


def severity_of(labels: Mapping[str, str]) -> Severity:
    """The alert's severity label; an unknown or missing one counts as critical.

    A label we cannot classify must not be filtered away: over-notifying is the safe error.
    """
    try:
        return Severity(labels.get("severity", ""))
    except ValueError:
        return Severity.CRITICAL


@dataclass(frozen=True, slots=True)
class RoutedTarget:
    """An outbox target and the routes it must pass: its channel's, then its own."""

    target: Target
    routes: tuple[Route, ...] = ()

    def matches(self, labels: Mapping[str, str], event: str) -> bool:
        """Whether every route lets the transition through."""
        return all(route.matches(labels, event) for route in self.routes)


def select(
    targets: Iterable[RoutedTarget], labels: Mapping[str, str], event: str
) -> tuple[Target, ...]:
    """The targets a transition goes to, in configuration order."""
    return tuple(t.target for t in targets if t.matches(labels, event))
