"""The ingest stage: topic → feed and station, size check, decode, count, hand to writers."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
from typing import Protocol

from prometheus_client import Counter, Gauge

from collector.acks import Ack
from collector.config import IngestSettings
from collector.feeds import DECODERS, DecodeContext
from collector.metrics import OTHER_FEED, Metrics
from collector.models import Feed, Reading, Rejection, RejectReason
from collector.ratelimit import LogLimiter
from collector.shard import Shard
from collector.stations import STATION_ID, Station, Stations
from collector.throttle import StationThrottle
from storage.readings import RejectedRow

logger = logging.getLogger(__name__)

# What `rejected_messages.payload` keeps of an oversized message (spec §3).
KEEP_OVERSIZED = 64 * 1024
# Auto-registration is for a few new sensors, not for anyone who can invent station ids:
# past this many, unknown stations are rejected even in `accept` mode.
MAX_AUTO_STATIONS = 1000
_TIME = attrgetter("time")


@dataclass(frozen=True, slots=True)
class Unit:
    """One MQTT message's worth of work for a writer; `done` releases its acknowledgement."""

    topic: str
    feed: Feed | None
    received_at: datetime
    received_mono: float
    readings: tuple[Reading, ...]
    rejected: tuple[RejectedRow, ...]
    new_station: tuple[str, str] | None
    done: Ack


def topic_filters(prefix: str) -> list[str]:
    """The topic filters the daemon subscribes to (QoS 1): one per feed."""
    return [f"{prefix}/{feed.value}/+" for feed in Feed]


class Sink(Protocol):
    """Where units go next (the writer of the unit's feed)."""

    async def put(self, unit: Unit) -> None:
        """Accept a unit; may wait when the writer is behind (backpressure)."""


ReadingsListener = Callable[[Sequence[Reading], datetime], None]
# An analytics stage: may wait when it is behind (backpressure, like the writers).
ReadingsStage = Callable[[Sequence[Reading], datetime], Awaitable[None]]


class Ingest:
    """Turns raw MQTT messages into units for the writers, counting and logging bad input."""

    def __init__(
        self,
        *,
        settings: IngestSettings,
        topic_prefix: str,
        stations: Stations,
        metrics: Metrics,
        sinks: Mapping[Feed | None, Sink],
        listeners: Sequence[ReadingsListener] = (),
        stages: Sequence[ReadingsStage] = (),
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        shard: Shard | None = None,
    ) -> None:
        self._settings = settings
        # Sharded: the messages of other shards' stations are acknowledged unread.
        self._shard = shard if shard is not None and shard.sharded else None
        self._prefix = topic_prefix
        self._stations = stations
        self._metrics = metrics
        self._sinks = sinks
        self._listeners = listeners
        self._stages = stages
        self._wall = wall_clock
        self._mono = monotonic
        self._log_limit = LogLimiter(settings.reject_log_interval.total_seconds())
        self._auto_count = sum(1 for s in stations if s.auto)
        self._throttle = StationThrottle(settings.station_rate, settings.station_burst)
        self._throttle_log = LogLimiter(settings.reject_log_interval.total_seconds())
        # Metric children bound once (feed label, station): `labels()` per message took
        # ~3 % of the CPU per single-reading message. Bounded: feeds, stations file.
        self._received: dict[str, Counter] = {}
        self._last_seen: dict[str, Gauge] = {}

    async def handle(self, topic: str, payload: bytes, done: Ack) -> None:  # noqa: PLR0912
        """Process one message; never raises for bad input."""
        if self._shard is not None and not self._shard.owns_topic(topic, self._prefix):
            self._metrics.shard_skipped.inc()
            done()
            return
        received_at = self._wall()
        received_mono = self._mono()
        feed, station_id, problem = self._route(topic)
        label = feed.value if feed else OTHER_FEED
        received = self._received.get(label)
        if received is None:
            received = self._received[label] = self._metrics.messages_received.labels(label)
        received.inc()
        readings: tuple[Reading, ...] = ()
        rejections: tuple[Rejection, ...]
        new_station: tuple[str, str] | None = None
        if problem is not None:
            rejections = (problem,)
        elif len(payload) > self._settings.max_message_bytes:
            rejections = (
                Rejection(
                    RejectReason.TOO_LARGE,
                    f"{len(payload)} bytes > {self._settings.max_message_bytes}",
                    payload[:KEEP_OVERSIZED],
                ),
            )
        else:
            assert feed is not None  # noqa: S101 - _route returns a feed whenever no problem
            station, rejection = self._station(feed, station_id, payload)
            if station is None:
                rejections = (rejection,) if rejection else ()
            else:
                if station.auto and rejection is None:
                    new_station = (station.id, feed.value)
                ctx = DecodeContext(
                    station_id=station.id,
                    received_at=received_at,
                    max_age=self._settings.max_age,
                    max_future=self._settings.max_future,
                )
                decoded = DECODERS[feed](payload, ctx)
                readings = decoded.readings
                # The decoder refuses batches with too many items as too_large, whole:
                # keep only the first 64 KiB of such a message, as for an oversized one.
                rejections = tuple(
                    Rejection(r.reason, r.detail, r.payload[:KEEP_OVERSIZED])
                    if r.reason is RejectReason.TOO_LARGE
                    else r
                    for r in decoded.rejections
                )
                if not station.auto:
                    seen = self._last_seen.get(station.id)
                    if seen is None:
                        seen = self._metrics.station_last_seen.labels(station.id)
                        self._last_seen[station.id] = seen
                    seen.set(received_at.timestamp())
        # HARDEN: a station over ingest.station_rate is acknowledged, counted, not stored.
        if problem is None and self._throttled(topic, label, station_id, readings, received_mono):
            readings, rejections, new_station = (), (), None
        for rejection in rejections:
            self._metrics.messages_rejected.labels(label, rejection.reason.value).inc()
        if rejections:
            self._log_rejection(topic, rejections)
        if readings:
            for listener in self._listeners:
                listener(readings, received_at)
            # Analytics see readings before the commit: an alert must not wait for a
            # database flush. The durable record of the alert is written by the engine.
            for stage in self._stages:
                await stage(readings, received_at)
        unit = Unit(
            topic=topic,
            feed=feed,
            received_at=received_at,
            received_mono=received_mono,
            readings=readings,
            rejected=tuple(
                RejectedRow(received_at, topic, label, r.reason.value, r.detail, r.payload)
                for r in rejections
            ),
            new_station=new_station,
            done=done,
        )
        await self._sinks[feed].put(unit)

    def _route(self, topic: str) -> tuple[Feed | None, str, Rejection | None]:
        parts = topic.split("/")
        feed = None
        if len(parts) == 3 and parts[0] == self._prefix:  # noqa: PLR2004 - prefix/feed/station
            try:
                feed = Feed(parts[1])
            except ValueError:
                feed = None
        # fullmatch: `$` also matches before a final newline, and "AIR-01\n" as a station id
        # made auto-registration raise, so the message was never acknowledged (HARDEN fuzz).
        if feed is None or not STATION_ID.fullmatch(parts[2]):
            detail = f"expected {self._prefix}/<air|seismic|lake>/<station_id>"
            return feed, "", Rejection(RejectReason.BAD_TOPIC, detail, b"")
        return feed, parts[2], None

    def _station(
        self, feed: Feed, station_id: str, payload: bytes
    ) -> tuple[Station | None, Rejection | None]:
        station = self._stations.get(station_id)
        if station is not None:
            if station.kind is not feed:
                detail = f"{station_id} is a {station.kind.value} station, not {feed.value}"
                return None, Rejection(RejectReason.UNKNOWN_STATION, detail, payload)
            return station, None
        if self._settings.unknown_stations == "reject":
            return None, Rejection(RejectReason.UNKNOWN_STATION, "not in stations file", payload)
        if self._auto_count >= MAX_AUTO_STATIONS:
            detail = f"more than {MAX_AUTO_STATIONS} auto-registered stations"
            return None, Rejection(RejectReason.UNKNOWN_STATION, detail, payload)
        self._auto_count += 1
        logger.info("auto-registering station %s (%s)", station_id, feed.value)
        return self._stations.register_auto(station_id, feed), None

    def _throttled(
        self, topic: str, label: str, station_id: str, readings: Sequence[Reading], now: float
    ) -> bool:
        newest = max(map(_TIME, readings), default=None)
        if self._throttle.allow(station_id, now, newest.timestamp() if newest else None):
            return False
        self._metrics.messages_throttled.labels(label).inc()
        allowed, suppressed = self._throttle_log.allow(station_id, now)
        if allowed:
            logger.warning(
                "station %s exceeds ingest.station_rate: dropping its messages%s",
                station_id,
                f"; {suppressed} more dropped since the last line" if suppressed else "",
                extra={"topic": topic, "station_id": station_id},
            )
        return True

    def _log_rejection(self, topic: str, rejections: tuple[Rejection, ...]) -> None:
        allowed, suppressed = self._log_limit.allow(topic, self._mono())
        if not allowed:
            return
        first = rejections[0]
        logger.warning(
            "rejected message on %s: %s (%s)%s%s",
            topic,
            first.reason.value,
            first.detail,
            f" and {len(rejections) - 1} more items" if len(rejections) > 1 else "",
            f"; {suppressed} similar lines suppressed" if suppressed else "",
            extra={"topic": topic, "reason": first.reason.value},
        )
