"""Rate limits: the sliding window, Retry-After parsing, and the channel wrapper."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerts.channels.base import DeliveryError, Notification
from alerts.channels.limits import (
    MAX_RETRY_AFTER_S,
    KeyedRateLimiter,
    Limited,
    RateLimiter,
    RetryAfterError,
    parse_retry_after,
)
from alerts.channels.metrics import ChannelMetrics
from tests.unit.channels.sample import note

NOW = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("limit", "times", "waits"),
    [
        (2, [0, 1, 2], [0, 0, 58]),  # the third waits until the first ages out (t=60)
        (2, [0, 1, 60], [0, 0, 0]),  # the first has left the window at t=60
        (1, [0, 30, 59.5, 60], [0, 30, 0.5, 0]),  # refused attempts take no slot
        (3, [0, 0, 0, 0], [0, 0, 0, 60]),  # a burst up to the limit passes at once
    ],
)
def test_sliding_window(limit: int, times: list[float], waits: list[float]) -> None:
    limiter = RateLimiter(limit)
    assert [limiter.acquire(t) for t in times] == pytest.approx(waits)


def test_keyed_limiter_keeps_keys_apart_and_bounded() -> None:
    limiter = KeyedRateLimiter(1, max_keys=2)
    assert limiter.acquire("a", 0) == 0
    assert limiter.acquire("b", 0) == 0  # another client has its own budget
    assert limiter.acquire("a", 1) > 0
    limiter.acquire("c", 2)  # evicts the least recently used key ("b")
    assert limiter.acquire("b", 3) == 0  # an evicted key starts afresh


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),  # delta-seconds
        ("Sat, 10 Jan 2026 09:01:30 GMT", 90.0),  # HTTP-date
        ("Sat, 10 Jan 2026 08:59:00 GMT", 0.0),  # a date in the past: now
        ("999999", MAX_RETRY_AFTER_S),  # capped
        ("soon", None),  # unreadable
        ("", None),  # empty
        (None, None),  # absent
        ("-5", None),  # not delta-seconds, not a date
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


class Recorder:
    def __init__(self, error: DeliveryError | None = None) -> None:
        self.sent: list[Notification] = []
        self.error = error

    async def send(self, notification: Notification) -> None:
        if self.error is not None:
            raise self.error
        self.sent.append(notification)


async def test_over_the_limit_is_retryable_and_not_sent() -> None:
    now = [0.0]
    inner = Recorder()
    metrics = ChannelMetrics()
    channel = Limited(
        "telegram", inner, limiter=RateLimiter(2), metrics=metrics, clock=lambda: now[0]
    )
    await channel.send(note("a"))
    await channel.send(note("b"))
    with pytest.raises(RetryAfterError) as info:
        await channel.send(note("c"))
    assert info.value.retryable is True
    assert info.value.remote is False
    assert info.value.retry_after == pytest.approx(60.0)
    assert [n.target for n in inner.sent] == ["a", "b"]
    assert metrics.throttled.labels("telegram", "local")._value.get() == 1
    now[0] = 60.0  # a minute later the outbox retry goes through
    await channel.send(note("c"))
    assert len(inner.sent) == 3


@pytest.mark.parametrize(
    ("error", "remote_count"),
    [
        (RetryAfterError("429", retry_after=5, remote=True), 1),  # the provider throttled us
        (DeliveryError("500", retryable=True), 0),  # a plain failure is not throttling
    ],
)
async def test_provider_throttling_is_counted(error: DeliveryError, remote_count: int) -> None:
    metrics = ChannelMetrics()
    channel = Limited("ntfy", Recorder(error), metrics=metrics)
    with pytest.raises(DeliveryError) as info:
        await channel.send(note("t"))
    assert info.value is error  # passed on unchanged
    assert metrics.throttled.labels("ntfy", "remote")._value.get() == remote_count


async def test_without_a_limit_everything_passes() -> None:
    inner = Recorder()
    channel = Limited("mqtt", inner)
    for i in range(100):
        await channel.send(note(str(i)))
    assert len(inner.sent) == 100
