"""Per-message shortcuts on the ingest hot path give what the per-reading loops gave."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from collector.ingest import Unit
from collector.models import AirReading, LakeReading, Reading, SeismicPacket
from collector.tracker import LastSeenTracker
from collector.writer import _to_batch
from storage.readings import RejectedRow

T0 = datetime(2026, 1, 10, tzinfo=UTC)
RECEIVED = T0 + timedelta(hours=1)


def air(station: str, minute: int) -> AirReading:
    return AirReading(station, T0 + timedelta(minutes=minute), pm25=float(minute))


def lake(station: str, minute: int) -> LakeReading:
    return LakeReading(station, T0 + timedelta(minutes=minute), level_m=1.0)


def packet(station: str, second: int) -> SeismicPacket:
    samples = np.zeros(100, dtype=np.float32)
    return SeismicPacket(station, T0 + timedelta(seconds=second), 100.0, samples, samples, samples)


def unit(readings: tuple[Reading, ...], rejected: int = 0) -> Unit:
    rows = tuple(
        RejectedRow(RECEIVED, "kuzet/air/A", "air", "schema", f"item {i}", b"{}")
        for i in range(rejected)
    )
    return Unit("kuzet/air/A", None, RECEIVED, 0.0, readings, rows, None, lambda: None)


MIXED = (air("A", 1), lake("L", 2), packet("S", 3), air("A", 4))
CASES = [
    # one air batch message
    [unit(tuple(air("A", m) for m in range(100)))],
    # lake and seismic messages next to air ones, with rejected items
    [unit((air("A", 1),), 2), unit((lake("L", 1), lake("L", 2))), unit((packet("S", 0),))],
    # a unit mixing types (not produced today) keeps per-reading routing
    [unit(MIXED, 1)],
    # a unit with nothing but rejections
    [unit((), 3)],
]


def per_reading(units: list[Unit]) -> tuple[list[object], ...]:
    """`_to_batch` as it was: one isinstance test per reading."""
    air_rows: list[object] = []
    lake_rows: list[object] = []
    seismic_rows: list[object] = []
    rejected: list[object] = []
    for u in units:
        for r in u.readings:
            target = {AirReading: air_rows, LakeReading: lake_rows, SeismicPacket: seismic_rows}
            target[type(r)].append((r, u.received_at))
        rejected.extend(u.rejected)
    return air_rows, lake_rows, seismic_rows, rejected


@pytest.mark.parametrize("units", CASES)
def test_to_batch_routes_like_the_loop(units: list[Unit]) -> None:
    batch = _to_batch(units)
    assert (batch.air, batch.lake, batch.seismic, batch.rejected) == per_reading(units)


@pytest.mark.parametrize(
    "messages",
    [
        # a batch in order, then an older batch: the newest time stays
        [[air("A", m) for m in range(10)], [air("A", m) for m in range(5)]],
        # a batch out of order: its newest reading counts, not its last
        [[air("A", 9), air("A", 3), air("A", 5)]],
        # equal newest times within a batch
        [[air("A", 4), air("A", 4)]],
        # two stations in one call keep separate entries
        [[air("A", 1), air("B", 7), air("A", 2)]],
        # single readings
        [[air("A", 1)], [air("A", 0)], [air("A", 2)]],
    ],
)
def test_tracker_keeps_the_newest_reading(messages: list[list[AirReading]]) -> None:
    tracker = LastSeenTracker()
    expected: dict[str, tuple[datetime, datetime]] = {}
    for i, readings in enumerate(messages):
        received = RECEIVED + timedelta(seconds=i)
        tracker.on_readings(readings, received)
        for r in readings:  # the rule reading by reading: a newer or equal time replaces
            if r.station_id not in expected or r.time >= expected[r.station_id][0]:
                expected[r.station_id] = (r.time, received)
    for station, (newest, received) in expected.items():
        seen = tracker.get(station)
        assert seen is not None
        assert (seen.time, seen.received_at) == (newest, received)
