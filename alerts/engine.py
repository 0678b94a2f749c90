"""The alert engine: applies state-machine decisions, persists transitions, queues notices."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from alerts.decide import Action, Active, Decision, decide
from alerts.model import Alert, Event, Observation, Severity
from collector.metrics import Metrics
from storage import alerts as store
from storage.alerts import PayloadFn, Target, TargetsFn

logger = logging.getLogger(__name__)

Pool = AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]
TransitionHook = Callable[[Alert, Event], None]


class AlertEngine:
    """Owns the alert state of this process; one task calls `observe` (no locking needed).

    The database is the arbiter between replicas: a transition is written only if the
    stored state still allows it (unique firing key, conditional updates), and only the
    transaction that wrote it queues notifications. The in-memory state is a cache of
    the firing alerts, loaded at start-up, so a restart neither re-fires nor forgets.
    """

    def __init__(
        self,
        pool: Pool,
        metrics: Metrics,
        *,
        targets: Sequence[Target] | TargetsFn,
        payload: PayloadFn,
        on_queued: Callable[[], None] = lambda: None,
        on_transition: TransitionHook = lambda _alert, _event: None,
    ) -> None:
        self._pool = pool
        self._metrics = metrics
        if callable(targets):
            self._targets: TargetsFn = targets
        else:
            fixed = tuple(targets)
            self._targets = lambda _labels, _event: fixed
        self._payload = payload
        self._on_queued = on_queued
        self._on_transition = on_transition
        self._active: dict[str, Active] = {}
        self._kinds: dict[str, tuple[str, Severity]] = {}

    async def load(self) -> None:
        """Adopt the firing alerts stored in the database."""
        async with self._pool.connection() as conn:
            firing = await store.firing_alerts(conn)
        for alert in firing:
            self._adopt(alert)
        self._update_gauge()
        logger.info("alert engine: %d firing alerts loaded", len(firing))

    def state(self, key: str) -> Active | None:
        """The current state of a key (None: inactive)."""
        return self._active.get(key)

    def _adopt(self, alert: Alert) -> None:
        lowest = alert.details.get("lowest_threshold", alert.threshold)
        self._active[alert.key] = Active(
            since=alert.started_at,
            severity=alert.severity,
            lowest=float(lowest) if lowest is not None else None,
            alert_id=alert.id,
            level=alert.threshold,
        )
        self._kinds[alert.key] = (alert.kind, alert.severity)

    def _update_gauge(self) -> None:
        counts = Counter(self._kinds.values())
        for kind, severity in {*counts, *self._known_label_pairs()}:
            self._metrics.alerts_firing.labels(kind, severity.value).set(counts[(kind, severity)])

    def _known_label_pairs(self) -> set[tuple[str, Severity]]:
        return {(k, s) for k in ("air", "seismic", "lake", "system") for s in Severity}

    async def observe(self, obs: Observation) -> None:
        """Apply one observation; database errors leave the state as it was (retried later)."""
        state = self._active.get(obs.key)
        decision = decide(obs.rule, obs.value, state, obs.at)
        if decision.action is Action.NONE:
            return
        if decision.action in (Action.PENDING, Action.CLEAR):
            self._set(obs.key, decision.state)
            return
        try:
            await self._transition(obs, state, decision)
        except psycopg.Error as exc:
            logger.warning(
                "alert %s: %s not recorded, will retry: %s", obs.key, decision.action, exc
            )

    def _set(self, key: str, state: Active | None) -> None:
        if state is None:
            self._active.pop(key, None)
        else:
            self._active[key] = state

    async def _transition(self, obs: Observation, state: Active | None, d: Decision) -> None:
        assert obs.value is not None  # noqa: S101 - decide() acts only on values
        async with self._pool.connection() as conn:
            if d.action is Action.FIRE:
                assert d.threshold is not None  # noqa: S101
                alert, created = await store.fire(
                    conn,
                    self._fields(obs, d),
                    targets=self._targets,
                    payload=self._payload,
                    received_at=obs.received_at,
                )
                # Adopt what is stored: if another replica fired it first (created is
                # False), its severity is ours now and the next observation escalates it
                # if needed.
                self._adopt(alert)
                if created:
                    self._announce(alert, Event.FIRING)
            elif d.action is Action.ESCALATE and state is not None and state.alert_id:
                assert d.threshold is not None  # noqa: S101
                alert_or_none = await store.escalate(
                    conn,
                    state.alert_id,
                    severity=d.threshold.severity,
                    value=obs.value,
                    threshold=d.threshold.value,
                    details=obs.details,
                    targets=self._targets,
                    payload=self._payload,
                    received_at=obs.received_at,
                )
                self._set(obs.key, d.state)
                if alert_or_none is not None:
                    self._kinds[obs.key] = (alert_or_none.kind, alert_or_none.severity)
                    self._announce(alert_or_none, Event.ESCALATED)
            elif d.action is Action.RESOLVE and state is not None and state.alert_id:
                resolved = await store.resolve(
                    conn,
                    state.alert_id,
                    value=obs.value,
                    at=obs.at,
                    targets=self._targets,
                    payload=self._payload,
                    received_at=obs.received_at,
                )
                self._set(obs.key, None)
                self._kinds.pop(obs.key, None)
                if resolved is not None:
                    self._announce(resolved, Event.RESOLVED)
        self._update_gauge()

    def _fields(self, obs: Observation, d: Decision) -> dict[str, Any]:
        assert d.threshold is not None  # noqa: S101
        return {
            "key": obs.key,
            "rule": obs.rule.name,
            "kind": obs.rule.kind,
            "severity": d.threshold.severity.value,
            "station_id": obs.station_id,
            "area": obs.area,
            "value": obs.value,
            "threshold": d.threshold.value,
            "unit": obs.rule.unit,
            "started_at": obs.at,
            "details": {
                **obs.details,
                "lowest_threshold": d.state.lowest if d.state else d.threshold.value,
            },
        }

    def _announce(self, alert: Alert, event: Event) -> None:
        logger.info(
            "alert %s %s (%s, value %s, threshold %s)",
            alert.key,
            event.value,
            alert.severity.value,
            alert.value,
            alert.threshold,
            extra={"alert_id": alert.id, "rule": alert.rule, "event": event.value},
        )
        self._on_queued()
        self._on_transition(alert, event)

    async def repeat_due(self, interval_s: float) -> int:
        """Queue `repeat` notices for alerts firing un-notified for `interval_s`."""
        async with self._pool.connection() as conn:
            repeated = await store.enqueue_repeats(
                conn, interval_s=interval_s, targets=self._targets, payload=self._payload
            )
        for alert in repeated:
            self._announce(alert, Event.REPEAT)
        return len(repeated)
