"""Synthetic minute series and stations for the lake tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from collector.air._base import to_us
from collector.lake import LakeAnalyser, LakeConfig, LakeStatus
from collector.models import Feed, LakeReading
from collector.stations import Station

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
T0_US = to_us(T0)
MIN_US = 60_000_000


def minute(i: float) -> datetime:
    """T0 + i minutes."""
    return T0 + timedelta(minutes=i)


def us(i: float) -> int:
    """T0 + i minutes in µs since the epoch."""
    return T0_US + round(i * MIN_US)


def lake(**overrides: Any) -> Station:
    """A hazardous moraine lake like LAKE-01 (Kaskelen No. 3): marks 3.6 / 4.4 m, 60 s."""
    fields: dict[str, Any] = {
        "id": "LAKE-01",
        "kind": Feed.LAKE,
        "interval_s": 60,
        "warning_level_m": 3.6,
        "critical_level_m": 4.4,
        "outburst_hazard": True,
        "downstream": "Kaskelen",
    }
    fields.update(overrides)
    return Station(**fields)


def gauge() -> Station:
    """A river gauge below LAKE-01, like LAKE-03 (Kaskelen gorge outlet)."""
    return lake(
        id="LAKE-03",
        warning_level_m=2.2,
        critical_level_m=3.0,
        outburst_hazard=False,
        downstream_of="LAKE-01",
    )


def ramp(start: float, rate_m_h: float, minutes: int) -> list[float]:
    """`minutes` levels one minute apart rising at `rate_m_h` from `start`."""
    return [start + rate_m_h * i / 60 for i in range(minutes)]


def wobble(values: Sequence[float], amplitude: float = 0.005) -> list[float]:
    """Deterministic, zero-mean, centimetre-scale sensor noise (a 7-minute pattern)."""
    pattern = (0.0, 1.0, -1.0, 0.5, -0.5, 1.0, -1.0)
    return [v + amplitude * pattern[i % len(pattern)] for i, v in enumerate(values)]


def readings(
    station_id: str,
    *,
    level: Sequence[float | None] | None = None,
    discharge: Sequence[float | None] | None = None,
    precip: Sequence[float | None] | None = None,
    start: float = 0,
) -> list[LakeReading]:
    """One reading per minute from T0 + start; the longest series sets the count."""
    series = [s for s in (level, discharge, precip) if s is not None]
    n = max(len(s) for s in series)

    def at(s: Sequence[float | None] | None, i: int) -> float | None:
        return s[i] if s is not None and i < len(s) else None

    return [
        LakeReading(
            station_id,
            minute(start + i),
            level_m=at(level, i),
            discharge_m3s=at(discharge, i),
            precip_mm=at(precip, i),
        )
        for i in range(n)
    ]


def run(
    station: Station, batch: Sequence[LakeReading], config: LakeConfig | None = None
) -> tuple[LakeAnalyser, list[LakeStatus]]:
    """Feed readings one by one (as the daemon does), evaluating after each."""
    analyser = LakeAnalyser(station, config)
    statuses = []
    for reading in batch:
        analyser.add(reading)
        statuses.append(analyser.evaluate())
    return analyser, statuses


def arrays(
    values: Sequence[float], step_min: float = 1.0
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """µs times from T0 every `step_min` minutes, with float64 values."""
    times = np.array([us(i * step_min) for i in range(len(values))], dtype=np.int64)
    return times, np.asarray(values, dtype=np.float64)
