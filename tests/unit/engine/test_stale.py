from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from collector.models import AirReading
from collector.stale import stale_observations
from collector.stations import Station, Stations
from collector.tracker import LastSeenTracker, StationStatus, station_status

NOW = datetime(2026, 1, 10, 12, tzinfo=UTC)
STATION = Station(id="AIR-01", kind="air", interval_s=60)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("age", "status"),
    [
        (timedelta(seconds=179), StationStatus.OK),  # within 3 × interval_s
        (timedelta(seconds=181), StationStatus.STALE),  # past 3 × interval_s
    ],
)
def test_station_status(age: timedelta, status: StationStatus) -> None:
    tracker = LastSeenTracker()
    tracker.on_readings([AirReading("AIR-01", NOW - age)], NOW - age)
    assert station_status(STATION, tracker.get("AIR-01"), NOW) is status


def test_never_reported_is_not_stale() -> None:
    # a station without any data is shown as `never` and raises no alert
    assert station_status(STATION, None, NOW) is StationStatus.NEVER
    assert stale_observations(Stations([STATION]), LastSeenTracker(), NOW) == []


def test_stale_observation_value_and_threshold() -> None:
    tracker = LastSeenTracker()
    tracker.on_readings([AirReading("AIR-01", NOW)], NOW - timedelta(minutes=10))
    (obs,) = stale_observations(Stations([STATION]), tracker, NOW)
    assert obs.key == "station_stale:AIR-01"
    assert obs.value == 600.0  # seconds since it was received (receive time, not event time)
    assert obs.rule.thresholds[0].value == 180.0
    assert obs.rule.kind == "system"
