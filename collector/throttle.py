"""Per-station token buckets, so one flooding station cannot starve the others."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bucket:
    """One station's bucket: tokens left, and when (wall and event time) it was last refilled.

    `event` is the newest reading time (Unix seconds) the station was credited for, or
    -inf before its first reading.
    """

    tokens: float
    updated: float
    event: float = -math.inf


def decide(
    bucket: Bucket | None, now: float, event: float | None, *, rate: float, burst: float
) -> tuple[bool, Bucket]:
    """Whether a station's message passes, and the station's bucket afterwards (pure).

    The bucket refills at `rate` tokens per second of whichever advanced more since the
    last message: the monotonic clock, or the station's own event time (its newest reading).
    Crediting event time is what keeps a catch-up backlog whole: after an outage the broker
    delivers hours of queued readings within seconds, but their timestamps advance as fast
    as they arrive, so they earn their tokens. A sensor stuck in a loop (repeated or
    wall-clock timestamps, or undecodable bytes) earns only wall time and is held to `rate`.

    Args:
        bucket: the station's bucket, None for a station not seen yet (starts full).
        now: a monotonic time in seconds.
        event: the newest reading time of this message (Unix seconds), None when it has
            no readings (rejected input).
        rate: tokens per second (> 0).
        burst: bucket capacity; one message costs one token.
    """
    if bucket is None:
        bucket = Bucket(tokens=burst, updated=now)
    wall = max(0.0, now - bucket.updated)
    advance = 0.0
    newest = bucket.event
    if event is not None and event > bucket.event:
        # The first reading sets the baseline only: no credit for a station's past.
        advance = 0.0 if math.isinf(bucket.event) else event - bucket.event
        newest = event
    tokens = min(burst, bucket.tokens + rate * max(wall, advance))
    if tokens >= 1.0:
        return True, Bucket(tokens - 1.0, now, newest)
    # The credit just computed stays in the bucket with its baseline moved on, so the same
    # wall or event interval is never counted twice.
    return False, Bucket(tokens, now, newest)


class StationThrottle:
    """The buckets of all stations; `rate` 0 turns throttling off.

    Buckets are kept in LRU order and capped, so invented station ids cannot grow memory
    (a forgotten station starts again with a full bucket).
    """

    def __init__(self, rate: float, burst: int, *, max_keys: int = 10_000) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        """Whether any message can be throttled."""
        return self._rate > 0

    def allow(self, station_id: str, now: float, event: float | None) -> bool:
        """Take a token for one message of `station_id` (see `decide`)."""
        if not self.enabled:
            return True
        allowed, bucket = decide(
            self._buckets.get(station_id), now, event, rate=self._rate, burst=self._burst
        )
        self._buckets[station_id] = bucket
        self._buckets.move_to_end(station_id)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return allowed
