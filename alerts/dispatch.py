"""Outbox dispatcher: leases due notifications, delivers them per channel, records outcomes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from alerts.channels.base import Channel, DeliveryError, Notification
from alerts.decide import is_dead, retry_delay
from collector.metrics import Metrics
from storage.alerts import OutboxRow, claim_due, finish

logger = logging.getLogger(__name__)

Pool = AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]
SilenceCheck = Callable[[Mapping[str, Any], datetime], bool]

# How many notifications one pass leases, and for how long: a dispatcher that dies while
# delivering leaves the rows to another one after the lease.
BATCH = 50
LEASE_S = 60.0
IDLE_POLL_S = 1.0


class Dispatcher:
    """Delivers the outbox at least once; each channel fails and retries on its own."""

    def __init__(
        self,
        pool: Pool,
        channels: Mapping[str, Channel],
        metrics: Metrics,
        *,
        dead_after: timedelta,
        retry_initial: float,
        retry_max: float,
        silenced: SilenceCheck = lambda _alert, _now: False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
    ) -> None:
        self._pool = pool
        self._channels = channels
        self._metrics = metrics
        self._dead_after = dead_after
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._silenced = silenced
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """New notifications were queued: look now instead of at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled."""
        while True:
            delivered = 0
            try:
                delivered = await self.run_once()
            except psycopg.Error as exc:
                logger.warning("outbox unavailable: %s", exc)
            if delivered:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=IDLE_POLL_S)

    async def run_once(self) -> int:
        """One pass: lease what is due and deliver it; returns how many were handled."""
        async with self._pool.connection() as conn:
            rows = await claim_due(conn, limit=BATCH, lease_s=LEASE_S)
        if rows:
            await asyncio.gather(*(self._deliver(row) for row in rows))
        return len(rows)

    async def _deliver(self, row: OutboxRow) -> None:
        channel = self._channels.get(row.channel)
        now = self._clock()
        if channel is None:
            # The channel was removed from the configuration: nothing will ever send it.
            await self._finish(row, "dead", f"channel {row.channel!r} not configured", "failed")
            return
        alert = row.payload.get("alert", {})
        if self._silenced(alert, now):
            await self._finish(row, "silenced", None, "silenced")
            return
        notification = Notification(
            id=row.id,
            alert_id=row.alert_id,
            channel=row.channel,
            target=row.target,
            event=row.event,
            key=str(row.payload.get("key", "")),
            alert=alert,
            attempts=row.attempts,
        )
        try:
            await channel.send(notification)
        except DeliveryError as exc:
            await self._failed(row, exc)
            return
        await self._finish(row, "sent", None, "sent")
        if row.trigger_received_at is not None:
            latency = max((self._clock() - row.trigger_received_at).total_seconds(), 0.0)
            self._metrics.notification_latency.labels(row.channel).observe(latency)

    async def _failed(self, row: OutboxRow, exc: DeliveryError) -> None:
        now = self._clock()
        error = str(exc)[:500]
        if not exc.retryable:
            logger.error(
                "notification %d via %s failed permanently: %s", row.id, row.channel, error
            )
            await self._finish(row, "dead", error, "failed")
        elif is_dead(row.created_at, now, self._dead_after):
            logger.error(
                "notification %d via %s gave up after %s: %s",
                row.id,
                row.channel,
                self._dead_after,
                error,
            )
            await self._finish(row, "dead", error, "dead")
        else:
            delay = retry_delay(
                row.attempts + 1, initial=self._retry_initial, cap=self._retry_max, rng=self._rng
            )
            # A receiver that says when to come back (Retry-After, Telegram's retry_after,
            # our own rate limit) is believed.
            delay = max(delay, float(getattr(exc, "retry_after", 0.0) or 0.0))
            logger.warning(
                "notification %d via %s failed (%s); retry in %.1fs",
                row.id,
                row.channel,
                error,
                delay,
            )
            await self._finish(row, "failed", error, "retry", retry_in_s=delay)

    async def _finish(
        self, row: OutboxRow, status: str, error: str | None, outcome: str, *, retry_in_s: float = 0
    ) -> None:
        started = time.monotonic()
        async with self._pool.connection() as conn:
            await finish(conn, row.id, status=status, error=error, retry_in_s=retry_in_s)
        self._metrics.notifications.labels(row.channel, outcome).inc()
        logger.debug("notification %d %s in %.3fs", row.id, status, time.monotonic() - started)
