"""Shared helpers for the export/replay tests: sample files and comparable readings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from collector.models import AirReading, LakeReading, Reading, SeismicPacket

DATA = Path(__file__).resolve().parents[2] / "data" / "replay"


def utc(text: str) -> datetime:
    """An RFC 3339 literal as an aware UTC datetime."""
    return datetime.fromisoformat(text).astimezone(UTC)


def key(reading: Reading) -> tuple[Any, ...]:
    """Everything a reading holds, as a comparable tuple (packets hold numpy arrays)."""
    if isinstance(reading, SeismicPacket):
        return (
            reading.feed,
            reading.station_id,
            reading.time,
            reading.sr,
            tuple(np.asarray(reading.x, dtype=np.float32).tolist()),
            tuple(np.asarray(reading.y, dtype=np.float32).tolist()),
            tuple(np.asarray(reading.z, dtype=np.float32).tolist()),
        )
    assert isinstance(reading, AirReading | LakeReading)
    return (reading.feed, reading.station_id, reading.time, *reading_values(reading))


def reading_values(reading: AirReading | LakeReading) -> tuple[float | None, ...]:
    """The measurement fields in column order."""
    if isinstance(reading, AirReading):
        return (reading.pm25, reading.pm10, reading.no2, reading.temp, reading.rh)
    return (reading.level_m, reading.water_temp, reading.precip_mm, reading.discharge_m3s)


def packet(station_id: str, time: str, sr: float, samples: list[list[float]]) -> SeismicPacket:
    """A packet from literal samples (x, y, z)."""
    arrays = np.array(samples, dtype=np.float32)
    return SeismicPacket(station_id, utc(time), sr, arrays[0], arrays[1], arrays[2])


# The readings of export_sample.jsonl / export_sample.csv, in time order.
SAMPLE = (
    LakeReading("GAUGE-01", utc("2026-01-10T03:05:00+00:00"), level_m=1.1, discharge_m3s=2.5),
    AirReading(
        "AIR-01",
        utc("2026-01-10T08:00:00+00:00"),
        pm25=41.2,
        pm10=60.5,
        no2=55.0,
        temp=-3.2,
        rh=71.0,
    ),
    LakeReading(
        "LAKE-01", utc("2026-01-10T08:00:00+00:00"), level_m=3.42, water_temp=4.1, precip_mm=0.4
    ),
    packet(
        "SEIS-01",
        "2026-01-10T08:00:00.250+00:00",
        100.0,
        [[0.1, -0.2, 0.3], [1.5, 1.25, -1.0], [980.0, 979.5, 980.25]],
    ),
    AirReading("AIR-02", utc("2026-01-10T08:01:00+00:00"), pm25=12.0),
)
