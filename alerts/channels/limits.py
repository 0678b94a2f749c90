"""Rate limits: our own per channel, the provider's (429 / Retry-After), and per client."""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from alerts.channels.base import Channel, DeliveryError, Notification
from alerts.channels.metrics import ChannelMetrics

# A provider asking for more than this is treated as "much later": the outbox backoff
# (capped at a minute) then retries, and the notification becomes dead after its hour.
MAX_RETRY_AFTER_S = 3600.0


class RetryAfterError(DeliveryError):
    """A retryable failure that says when a retry may succeed.

    `remote` is True when the provider throttled us (HTTP 429, Retry-After), False when our own
    per-channel limit did. The dispatcher may use `retry_after` as the lower bound of its delay.
    """

    def __init__(self, message: str, *, retry_after: float, remote: bool) -> None:
        super().__init__(message, retryable=True)
        self.retry_after = retry_after
        self.remote = remote


class RateLimiter:
    """At most `limit` events in any sliding window of `window_s` seconds."""

    def __init__(self, limit: int, *, window_s: float = 60.0) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._limit = limit
        self._window = window_s
        self._times: deque[float] = deque()

    def acquire(self, now: float) -> float:
        """Take a slot at monotonic time `now`: 0.0 when granted, else seconds until one frees."""
        while self._times and self._times[0] <= now - self._window:
            self._times.popleft()
        if len(self._times) < self._limit:
            self._times.append(now)
            return 0.0
        return self._times[0] + self._window - now


class KeyedRateLimiter:
    """One sliding-window limit per key (a client address); keys kept in LRU order, capped.

    The cap bounds memory when many addresses appear; an evicted key starts afresh.
    """

    def __init__(self, limit: int, *, window_s: float = 60.0, max_keys: int = 10_000) -> None:
        self._limit = limit
        self._window = window_s
        self._max_keys = max_keys
        self._keys: OrderedDict[str, RateLimiter] = OrderedDict()

    def acquire(self, key: str, now: float) -> float:
        """As RateLimiter.acquire, for `key`."""
        limiter = self._keys.get(key)
        if limiter is None:
            limiter = RateLimiter(self._limit, window_s=self._window)
            self._keys[key] = limiter
        self._keys.move_to_end(key)
        while len(self._keys) > self._max_keys:
            self._keys.popitem(last=False)
        return limiter.acquire(now)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from an HTTP `Retry-After` value (delta-seconds or HTTP-date), capped.

    Returns:
        None when absent or unreadable, else a delay in [0, MAX_RETRY_AFTER_S].
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text) if text.isdigit() else _seconds_until(text, now)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _seconds_until(http_date: str, now: datetime) -> float:
    when = parsedate_to_datetime(http_date)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - now).total_seconds()


class Limited:
    """Wraps a channel with its per-channel rate limit and counts throttling.

    Over the limit, `send` raises RetryAfterError before calling the provider: the outbox keeps the
    notification and retries it with its backoff, so a burst is spread out rather than lost
    (it still becomes dead after the outbox's `dead_after`). The limit is per process: with
    several replicas the provider sees up to replicas × limit.
    """

    def __init__(
        self,
        name: str,
        channel: Channel,
        *,
        limiter: RateLimiter | None = None,
        metrics: ChannelMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.inner = channel
        self._limiter = limiter
        self._metrics = metrics
        self._clock = clock

    async def send(self, notification: Notification) -> None:
        """Deliver through the wrapped channel unless the channel's limit is reached."""
        if self._limiter is not None:
            wait = self._limiter.acquire(self._clock())
            if wait > 0:
                self._count("local")
                raise RetryAfterError(
                    f"channel rate limit reached; next slot in {wait:.1f}s",
                    retry_after=wait,
                    remote=False,
                )
        try:
            await self.inner.send(notification)
        except RetryAfterError as exc:
            if exc.remote:
                self._count("remote")
            raise

    def _count(self, by: str) -> None:
        if self._metrics is not None:
            self._metrics.throttled.labels(self.name, by).inc()
