"""Last reading per station (event and receive time) and the staleness it implies."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import attrgetter

from collector.models import Reading
from collector.stations import Station

_STATION = attrgetter("station_id")
_TIME = attrgetter("time")

# A station is stale after this many missed reporting periods (spec §6, station_stale).
STALE_PERIODS = 3


class StationStatus(enum.StrEnum):
    """What the API reports for a station."""

    OK = "ok"
    STALE = "stale"
    NEVER = "never"


@dataclass(frozen=True, slots=True)
class Seen:
    """The newest reading of a station."""

    time: datetime
    received_at: datetime


def station_status(station: Station, seen: Seen | None, now: datetime) -> StationStatus:
    """`stale` when nothing arrived for STALE_PERIODS × interval_s (receive time)."""
    if seen is None:
        return StationStatus.NEVER
    if now - seen.received_at > timedelta(seconds=STALE_PERIODS * station.interval_s):
        return StationStatus.STALE
    return StationStatus.OK


class LastSeenTracker:
    """Keeps the newest event time per station; fed by the ingest stage."""

    def __init__(self) -> None:
        self._seen: dict[str, Seen] = {}

    def seed(self, seen: dict[str, Seen]) -> None:
        """Start from what the database knows (after a restart)."""
        self._seen.update(seen)

    def on_readings(self, readings: Sequence[Reading], received_at: datetime) -> None:
        """Listener for the ingest stage: remember the newest reading per station."""
        if len(readings) > 1 and len(set(map(_STATION, readings))) == 1:
            # A batch message (one station): only its newest reading can change anything.
            readings = (max(readings, key=_TIME),)
        for reading in readings:
            current = self._seen.get(reading.station_id)
            if current is None or reading.time >= current.time:
                self._seen[reading.station_id] = Seen(reading.time, received_at)

    def get(self, station_id: str) -> Seen | None:
        """The newest reading of a station, if any."""
        return self._seen.get(station_id)
