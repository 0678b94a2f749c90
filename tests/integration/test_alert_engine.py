"""The alert engine against a real database: replicas, restarts, repeats, dead letters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from alerts.channels.base import DeliveryError, Notification
from alerts.dispatch import Dispatcher
from alerts.engine import AlertEngine
from alerts.model import Alert, Event, Observation, RuleSpec, Severity, Threshold
from collector.metrics import Metrics
from storage.alerts import Target, claim_due
from storage.migrate import migrate
from tests.integration.harness import fetch_all

pytestmark = pytest.mark.integration

Pool = AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]
AQI = RuleSpec(
    "aqi",
    "air",
    "AQI",
    (Threshold(Severity.WARNING, 151), Threshold(Severity.CRITICAL, 201)),
    op=">=",
)
T0 = datetime(2026, 1, 10, 8, tzinfo=UTC)
TARGETS = [Target("webhook", "http://a"), Target("mqtt")]


def payload(alert: Alert, event: Event) -> dict[str, Any]:
    return {"key": alert.key, "alert": {"status": event.value, "labels": {"alertname": alert.rule}}}


def obs(value: float, minutes: int = 0) -> Observation:
    return Observation(
        AQI, "aqi:AIR-01", value, T0 + timedelta(minutes=minutes), "AIR-01", "Almaly"
    )


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Pool]:
    await migrate(database_url, timescaledb="off")
    async with AsyncConnectionPool(database_url, kwargs={"autocommit": True}, open=False) as p:
        yield p


def engine(pool: Pool) -> AlertEngine:
    return AlertEngine(pool, Metrics(), targets=TARGETS, payload=payload)


async def events(database_url: str) -> list[tuple[str, str]]:
    rows = await fetch_all(
        database_url, "SELECT channel, event FROM kuzet.notifications ORDER BY id"
    )
    return [(str(c), str(e)) for c, e in rows]


async def test_two_replicas_notify_each_transition_once(pool: Pool, database_url: str) -> None:
    # both replicas see the same readings; the database lets one write each transition
    a, b = engine(pool), engine(pool)
    await asyncio.gather(a.observe(obs(160)), b.observe(obs(160)))
    await asyncio.gather(a.observe(obs(210, 1)), b.observe(obs(210, 1)))
    await asyncio.gather(a.observe(obs(100, 2)), b.observe(obs(100, 2)))
    assert await events(database_url) == [
        ("webhook", "firing"),
        ("mqtt", "firing"),
        ("webhook", "escalated"),
        ("mqtt", "escalated"),
        ("webhook", "resolved"),
        ("mqtt", "resolved"),
    ]
    rows = await fetch_all(database_url, "SELECT state, severity FROM kuzet.alerts")
    assert rows == [("resolved", "critical")]


async def test_restart_neither_refires_nor_forgets(pool: Pool, database_url: str) -> None:
    first = engine(pool)
    await first.observe(obs(170))
    # a new process loads the firing alert: the same exceedance does not fire again
    second = engine(pool)
    await second.load()
    await second.observe(obs(175, 1))
    await second.observe(obs(120, 2))
    assert await events(database_url) == [
        ("webhook", "firing"),
        ("mqtt", "firing"),
        ("webhook", "resolved"),
        ("mqtt", "resolved"),
    ]


async def test_repeat_is_queued_once_across_replicas(pool: Pool, database_url: str) -> None:
    a, b = engine(pool), engine(pool)
    await a.observe(obs(170))
    await asyncio.sleep(1.1)
    counts = await asyncio.gather(a.repeat_due(1.0), b.repeat_due(1.0))
    assert sorted(counts) == [0, 1]
    assert (await events(database_url))[-2:] == [("webhook", "repeat"), ("mqtt", "repeat")]


class Failing:
    def __init__(self, retryable: bool) -> None:
        self.retryable = retryable
        self.calls = 0

    async def send(self, notification: Notification) -> None:
        self.calls += 1
        raise DeliveryError("receiver down", retryable=self.retryable)


@pytest.mark.parametrize(
    ("retryable", "status", "outcome"),
    [
        # transient failures are retried until the deadline, then dead
        (True, "dead", "dead"),
        # a permanent failure is not retried
        (False, "dead", "failed"),
    ],
)
async def test_undeliverable_notifications_end_dead(
    pool: Pool, database_url: str, retryable: bool, status: str, outcome: str
) -> None:
    metrics = Metrics()
    channel = Failing(retryable)
    eng = AlertEngine(pool, metrics, targets=[Target("webhook", "x")], payload=payload)
    await eng.observe(obs(170))
    dispatcher = Dispatcher(
        pool,
        {"webhook": channel},
        metrics,
        dead_after=timedelta(seconds=1),
        retry_initial=0.05,
        retry_max=0.1,
    )
    for _ in range(60):
        await dispatcher.run_once()
        rows = await fetch_all(database_url, "SELECT status FROM kuzet.notifications")
        if rows == [(status,)]:
            break
        await asyncio.sleep(0.1)
    assert rows == [(status,)]
    assert metrics.notifications.labels("webhook", outcome)._value.get() == 1
    assert (channel.calls > 1) is retryable


class Recording:
    def __init__(self) -> None:
        self.sent: list[int] = []

    async def send(self, notification: Notification) -> None:
        self.sent.append(notification.id)


async def test_rows_leased_by_a_dead_dispatcher_are_delivered_after_the_lease(
    pool: Pool, database_url: str
) -> None:
    await engine(pool).observe(obs(170))
    # a dispatcher leases both rows and dies before delivering (no finish, no unlock)
    async with pool.connection() as conn:
        leased = await claim_due(conn, limit=10, lease_s=1.0)
    assert len(leased) == 2
    channel = Recording()
    live = Dispatcher(
        pool,
        {"webhook": channel, "mqtt": channel},
        Metrics(),
        dead_after=timedelta(hours=1),
        retry_initial=1.0,
        retry_max=60.0,
    )
    # while the lease holds, another dispatcher leaves the rows alone (no double delivery)
    assert await live.run_once() == 0
    assert channel.sent == []
    await asyncio.sleep(1.2)
    # after the lease, the same rows are taken again and delivered once each
    assert await live.run_once() == 2
    assert sorted(channel.sent) == sorted(r.id for r in leased)
    rows = await fetch_all(database_url, "SELECT status FROM kuzet.notifications")
    assert rows == [("sent",), ("sent",)]
