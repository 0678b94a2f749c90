"""Seismic stage: packets → STA/LTA picks → association → `earthquake` and `station_pga`."""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from alerts.config import AlertSettings
from alerts.model import Observation, RuleSpec, Threshold, alert_key
from collector.metrics import Metrics
from collector.models import Feed, Reading, SeismicPacket
from collector.seismic import Associator, Event, EventChange, Pick, SecondPga, StationDetector
from collector.stage import ObservationSink
from collector.stations import Station, Stations
from storage.seismic import upsert_event, upsert_picks

logger = logging.getLogger(__name__)

Pool = AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]
CITY = (43.238, 76.889)
CITY_AREA = "Almaty"
# spec §6: a station's PGA alerts only if no event explains it within 10 s.
PGA_QUIET = timedelta(seconds=10)
# How long after a second of data its packet arrives when live (a 1 s packet, plus transport).
# Data older than this on arrival is late (a backlog, a replay): its quiet period is then
# counted from receipt, so that the other stations' packets of the same seconds, arriving
# about as late, get the same 10 s to declare the event that explains it.
LIVE_LAG = timedelta(seconds=2)
EXPIRE_EVERY_S = 1.0
# Overflow policy of the stage queue (docs/performance.md, finding 5). The queue is bounded
# by count (`queue_size`: `put` waits, backpressure to MQTT, as for the writers), which alone
# let an overloaded stage run ~6 s behind at 1,600 stations. It is also bounded by age: a
# packet that waited longer than this is not analysed (counted, logged); its row is stored
# by the writer all the same. Early warning is worth only as much as it is early: under
# overload, analysing fresh packets keeps `earthquake` latency bounded, where working
# through a backlog would raise every alert late. A station that loses more than 2 s of
# packets restarts its detector (10 s warm-up), which is the visible cost of the overload.
MAX_LAG_S = 3.0
SHED_LOG_EVERY_S = 10.0


class PickPeers(Protocol):
    """The other shards, as seen from this shard's seismic stage (collector.exchange)."""

    def picks(self, picks: Sequence[Pick]) -> None:
        """Send picks of this shard's stations."""

    def seen(self, station_id: str, until: datetime) -> None:
        """Note how far a station's data has been processed."""


@dataclass(frozen=True, slots=True)
class RemotePicks:
    """Picks and data extents of another shard's stations, for the associator only."""

    picks: tuple[Pick, ...]
    seen: dict[str, datetime] = field(default_factory=dict)
    # when the other shard sent them (None: unknown)
    sent_at: datetime | None = None


@dataclass(order=True, slots=True)
class _PendingPga:
    due: datetime
    seq: int
    station: Station = field(compare=False)
    pga: SecondPga = field(compare=False)
    received_at: datetime = field(compare=False)


def pga_due(second: datetime, received_at: datetime) -> datetime:
    """When a second's PGA is judged: PGA_QUIET after it, or after its receipt if it came late."""
    return max(second, received_at - LIVE_LAG) + PGA_QUIET


def azimuth_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial bearing from point 1 to point 2, degrees clockwise from north."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return (math.degrees(math.atan2(y, x)) + 360.0) % 360.0


def event_observation(
    rule: RuleSpec, event: Event, *, ended: bool, now: datetime, received_at: datetime | None
) -> Observation:
    """The `earthquake` input of one event: expected city intensity (0 once it ended)."""
    lead = (event.city.s_arrival - now).total_seconds()
    details: dict[str, Any] = {
        "event_id": event.event_id,
        "magnitude": round(event.magnitude, 1) if event.magnitude is not None else None,
        "intensity": round(event.intensity_city, 1) if event.intensity_city is not None else None,
        "distance_km": round(event.city.epicentral_km),
        "direction": azimuth_deg(*CITY, event.lat, event.lon),
        "depth_km": event.depth_km,
        "lat": round(event.lat, 3),
        "lon": round(event.lon, 3),
        "station_count": event.station_count,
        "origin_time": event.origin_time.isoformat(),
        "s_arrival": event.city.s_arrival.isoformat(),
    }
    if lead >= 1:
        details["lead_s"] = round(lead)
    return Observation(
        rule=rule,
        key=alert_key("earthquake", event.event_id),
        value=0.0 if ended else event.intensity_city,
        at=event.updated_at,
        station_id=None,
        area=CITY_AREA,
        received_at=received_at,
        details=details,
    )


class SeismicStage:
    """Per-station detectors and one network associator, fed packet by packet.

    State lives in memory only: after a restart each detector warms up again (10 s of
    LTA), which the associator tolerates. Picks and events are written as they change;
    the alert is raised through the engine before the event row, since seconds matter.
    """

    def __init__(
        self,
        stations: Stations,
        alerts: AlertSettings,
        sink: ObservationSink,
        pool: Pool,
        metrics: Metrics,
        *,
        queue_size: int = 10_000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_lag_s: float = MAX_LAG_S,
    ) -> None:
        self._stations = stations
        self._alerts = alerts
        self._sink = sink
        self._pool = pool
        self._metrics = metrics
        self._clock = clock
        self._max_lag_s = max_lag_s
        # packets not analysed because they waited longer than max_lag_s (see MAX_LAG_S)
        self.shed = 0
        self._shed_logged = (0, 0.0)
        self._detectors: dict[str, StationDetector] = {}
        self._associator = Associator()
        # a heap by due time: late data is due later than live data queued after it
        self._pending_pga: list[_PendingPga] = []
        self._pga_seq = 0
        self._queue: asyncio.Queue[tuple[SeismicPacket | RemotePicks, datetime, float]] = (
            asyncio.Queue(maxsize=queue_size)
        )
        self._quake_rule = _levels(alerts.rule("earthquake"))
        # Sharded (docs/scaling.md): every shard associates every pick, so `station_pga`
        # knows all events; only the leader alerts on events and stores them.
        self._peers: PickPeers | None = None
        self._leads: Callable[[], bool] = lambda: True
        metrics.known_seismic_stations(s.id for s in stations.of_kind(Feed.SEISMIC))

    def share(self, peers: PickPeers, leads: Callable[[], bool]) -> None:
        """Run as one shard: send picks to `peers`; alert on events only while `leads()`."""
        self._peers = peers
        self._leads = leads

    async def put_remote(self, remote: RemotePicks, received_at: datetime) -> None:
        """Queue another shard's picks, in order with this shard's packets."""
        await self._queue.put((remote, received_at, time.monotonic()))

    async def put(self, readings: Sequence[Reading], received_at: datetime) -> None:
        """Queue the packets of one message."""
        mono = time.monotonic()
        for reading in readings:
            if isinstance(reading, SeismicPacket):
                await self._queue.put((reading, received_at, mono))

    async def run(self) -> None:
        """Process packets until cancelled; expire quiet events about once a second."""
        while True:
            try:
                item, received_at, mono = await asyncio.wait_for(
                    self._queue.get(), timeout=EXPIRE_EVERY_S
                )
            except TimeoutError:
                await self._expire()
                continue
            if isinstance(item, RemotePicks):
                await self.process_remote(item, received_at, mono)
            elif not self._too_late(mono):
                await self.process(item, received_at, mono)
            await self._expire()

    def _too_late(self, mono: float) -> bool:
        """Whether a packet received at `mono` waited too long to be analysed (MAX_LAG_S)."""
        now = time.monotonic()
        if now - mono <= self._max_lag_s:
            return False
        self.shed += 1
        self._metrics.seismic_shed.inc()
        count, at = self._shed_logged
        if now - at >= SHED_LOG_EVERY_S:
            logger.warning(
                "seismic stage over %.0f s behind: %d packets not analysed (stored all the same)",
                self._max_lag_s,
                self.shed - count,
            )
            self._shed_logged = (self.shed, now)
        return True

    async def process(self, packet: SeismicPacket, received_at: datetime, mono: float) -> None:
        """One packet through detector, associator and rules."""
        station = self._stations.get(packet.station_id)
        if station is None:
            return
        detector = self._detectors.get(station.id)
        if detector is None:
            detector = StationDetector(station.id)
            self._detectors[station.id] = detector
        result = detector.process(packet)
        now = self._clock()
        # Auto-registered stations have no position: detected, never associated.
        position = (
            (station.lat, station.lon)
            if station.lat is not None and station.lon is not None
            else None
        )
        elevation = station.elevation_m or 0.0
        if position is not None:
            last = packet.time + timedelta(seconds=(packet.n - 1) / packet.sr)
            self._associator.station_seen(station.id, *position, last, elevation_m=elevation)
        if result.picks:
            self._metrics.seismic_picks.labels(station.id).inc(
                sum(1 for p in result.picks if p.final)
            )
            try:
                async with self._pool.connection() as conn:
                    await upsert_picks(conn, result.picks)
            except psycopg.Error as exc:
                logger.warning("seismic picks not stored: %s", exc)
        if position is not None:
            for pick in result.picks:
                updates = self._associator.add_pick(pick, *position, now, elevation_m=elevation)
                for update in updates:
                    await self._event(update.event, update.change, received_at, mono)
        for second in result.pga:
            self._pga_seq += 1
            due = pga_due(second.second, received_at)
            heapq.heappush(
                self._pending_pga, _PendingPga(due, self._pga_seq, station, second, received_at)
            )
        if self._peers is not None and position is not None:
            # After the picks: a peer must not learn the extent before the picks within it.
            self._peers.picks(result.picks)
            self._peers.seen(station.id, last)
        await self._check_pga(now)

    async def process_remote(self, remote: RemotePicks, received_at: datetime, mono: float) -> None:
        """Another shard's extents and picks into the associator (its owner stores them)."""
        now = self._clock()
        window = timedelta(seconds=self._associator.config.pick_window_s)
        for station_id, until in remote.seen.items():
            station = self._stations.get(station_id)
            if station is not None and station.lat is not None and station.lon is not None:
                self._associator.station_seen(
                    station_id,
                    station.lat,
                    station.lon,
                    until,
                    elevation_m=station.elevation_m or 0.0,
                )
        for pick in remote.picks:
            station = self._stations.get(pick.station_id)
            # A pick sent longer ago than the association window (a backlog redelivered
            # after a restart) could only re-declare an old event. Send time, not pick time:
            # a replay of recorded data has old pick times and must still associate.
            if station is None or station.lat is None or station.lon is None:
                continue
            if now - (remote.sent_at or now) > window:
                continue
            updates = self._associator.add_pick(
                pick, station.lat, station.lon, now, elevation_m=station.elevation_m or 0.0
            )
            for update in updates:
                await self._event(update.event, update.change, received_at, mono)

    async def _event(
        self, event: Event, change: EventChange, received_at: datetime | None, mono: float | None
    ) -> None:
        ended = change is EventChange.ENDED
        if not self._leads():
            return
        if change is EventChange.DECLARED:
            self._metrics.seismic_events.inc()
            logger.info(
                "seismic event %s declared from %d stations",
                event.event_id,
                event.station_count,
                extra={"event_id": event.event_id},
            )
        if self._quake_rule is not None:
            await self._sink.observe(
                event_observation(
                    self._quake_rule, event, ended=ended, now=self._clock(), received_at=received_at
                )
            )
            if mono is not None and event.intensity_city is not None:
                self._metrics.seismic_alert_latency.observe(time.monotonic() - mono)
        try:
            async with self._pool.connection() as conn:
                await upsert_event(conn, event, ended=ended)
        except psycopg.Error as exc:
            logger.warning("seismic event %s not stored: %s", event.event_id, exc)

    async def _expire(self) -> None:
        for update in self._associator.expire(self._clock()):
            await self._event(update.event, update.change, None, None)
        await self._check_pga(self._clock())

    async def _check_pga(self, now: datetime) -> None:
        """Raise `station_pga` for seconds no event explained within PGA_QUIET."""
        while self._pending_pga and self._pending_pga[0].due <= now:
            item = heapq.heappop(self._pending_pga)
            rule = self._alerts.rule("station_pga", item.station.id)
            if rule is None or item.station.lat is None or item.station.lon is None:
                continue
            explained = self._associator.explaining_event(
                item.station.lat, item.station.lon, item.pga.second
            )
            if explained is not None:
                continue
            await self._sink.observe(
                Observation(
                    rule=rule,
                    key=alert_key("station_pga", item.station.id),
                    value=item.pga.pga_gal,
                    at=item.pga.second,
                    station_id=item.station.id,
                    area=item.station.area,
                    received_at=item.received_at,
                )
            )


def _levels(rule: RuleSpec | None) -> RuleSpec | None:
    """The earthquake rule with a level per whole intensity above the first threshold."""
    if rule is None or not rule.thresholds:
        return rule
    base = rule.thresholds[0]
    steps = range(math.ceil(base.value), 11)
    levels = (base, *(Threshold(base.severity, float(v)) for v in steps if v > base.value))
    return replace(rule, thresholds=levels)
