"""Detector outputs that cross into association and storage: picks, per-second PGA, time helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Pick:
    """A P pick and the amplitudes measured after it so far (`seismic_picks` row)."""

    station_id: str
    time: datetime
    # Peak STA/LTA (any component) from the pick over the amplitude window so far.
    sta_lta: float
    pga_gal: float
    pd_cm: float
    # Seconds of data after the pick that the peaks cover.
    window_s: float
    component: str
    final: bool


@dataclass(frozen=True, slots=True)
class SecondPga:
    """Peak horizontal |a| of one station over one UTC second [second, second + 1 s)."""

    station_id: str
    second: datetime
    pga_gal: float
    # Samples that went into it: fewer than sr for a station's first second or around a gap.
    samples: int


def to_us(t: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime."""
    if t.utcoffset() is None:
        raise ValueError(f"naive datetime {t.isoformat()}")
    return (t - _EPOCH) // _ONE_US


def from_us(us: int) -> datetime:
    """The UTC datetime `us` microseconds after the Unix epoch."""
    return _EPOCH + timedelta(microseconds=us)
