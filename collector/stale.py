"""`station_stale`: a station that sent nothing for 3 × its reporting interval (wall clock)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from alerts.model import Observation, RuleSpec, Severity, Threshold, alert_key
from collector.stage import ObservationSink
from collector.stations import Stations
from collector.tracker import STALE_PERIODS, LastSeenTracker

CHECK_INTERVAL_S = 15.0


def stale_observations(
    stations: Stations,
    tracker: LastSeenTracker,
    now: datetime,
    owns: Callable[[str], bool] = lambda _station_id: True,
) -> list[Observation]:
    """One observation per station from the file that has reported at least once.

    The value is the seconds since its last message was received; the threshold is
    STALE_PERIODS × interval_s. A station that never reported is not "stale" (it may not
    be installed yet): `/api/v1/stations` shows it as `never`. With several shards, each
    judges only the stations it `owns` (the others' messages never reach it).
    """
    result = []
    for station in stations:
        seen = tracker.get(station.id)
        if station.auto or seen is None or not owns(station.id):
            continue
        rule = RuleSpec(
            name="station_stale",
            kind="system",
            unit="s",
            thresholds=(Threshold(Severity.INFO, STALE_PERIODS * station.interval_s),),
            op=">",
        )
        result.append(
            Observation(
                rule=rule,
                key=alert_key("station_stale", station.id),
                value=max((now - seen.received_at).total_seconds(), 0.0),
                at=now,
                station_id=station.id,
                area=station.area,
            )
        )
    return result


async def watch_stale(
    stations: Stations,
    tracker: LastSeenTracker,
    sink: ObservationSink,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    interval_s: float = CHECK_INTERVAL_S,
    owns: Callable[[str], bool] = lambda _station_id: True,
) -> None:
    """Evaluate `station_stale` for every station every `interval_s`, until cancelled."""
    while True:
        await asyncio.sleep(interval_s)
        for obs in stale_observations(stations, tracker, clock(), owns):
            await sink.observe(obs)
