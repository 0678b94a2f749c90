"""Shared internals of the air computations: pollutants, EPA rounding, time and completeness."""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

US_PER_S = 1_000_000
US_PER_HOUR = 3_600 * US_PER_S

# EPA requires at least 75 % of the expected readings before an average counts (spec §6).
COMPLETENESS = Fraction(3, 4)

# Allowance for binary floating-point noise, in units of the last kept digit: a NowCast that is
# 17.4 on paper comes out as 17.399999999999999 in binary and must still truncate to 17.4, and a
# true x.5 AQI must still round up. Real inputs carry at most 0.1 µg/m³ resolution, so 1e-9 of a
# digit never changes a genuine result.
_NOISE = 1e-9

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)

TimeLike: TypeAlias = datetime | np.datetime64
TimesLike: TypeAlias = Sequence[datetime] | npt.NDArray[np.datetime64]
ValuesLike: TypeAlias = Sequence[float | None] | npt.NDArray[np.floating]


class Pollutant(enum.StrEnum):
    """Pollutants Kuzet evaluates; the value is the MQTT field and database column name."""

    PM25 = "pm25"
    PM10 = "pm10"
    NO2 = "no2"


def truncate(value: float, decimals: int) -> float:
    """Truncate a non-negative value to `decimals` places, as EPA prescribes (never rounds up)."""
    scale = 10.0**decimals
    return round(math.floor(value * scale + _NOISE) / scale, decimals)


def round_half_up(value: float) -> int:
    """Round to the nearest integer with halves going up (EPA rounds the AQI this way)."""
    return math.floor(value + 0.5 + _NOISE)


def to_us(t: TimeLike) -> int:
    """Microseconds since the Unix epoch (UTC) for an aware datetime or a datetime64 (UTC)."""
    if isinstance(t, datetime):
        if t.tzinfo is None or t.utcoffset() is None:
            raise ValueError(f"naive datetime {t.isoformat()}: readings carry an offset (spec §3)")
        return (t - _EPOCH) // _ONE_US
    return int(t.astype("datetime64[us]").astype(np.int64))


def from_us(us: int) -> datetime:
    """The aware UTC datetime for microseconds since the Unix epoch."""
    return _EPOCH + timedelta(microseconds=us)


def duration_us(width: timedelta) -> int:
    """A strictly positive duration in whole microseconds."""
    us = width // _ONE_US
    if us <= 0:
        raise ValueError(f"window width must be positive, got {width}")
    return us


def times_to_us(times: TimesLike) -> npt.NDArray[np.int64]:
    """Reading times as int64 microseconds since the epoch (datetime64 arrays are taken as UTC)."""
    if isinstance(times, np.ndarray):
        return times.astype("datetime64[us]").view(np.int64)
    return np.fromiter((to_us(t) for t in times), dtype=np.int64, count=len(times))


def values_to_array(values: ValuesLike) -> npt.NDArray[np.float64]:
    """Values as float64, NaN where a reading lacks the metric (None in a sequence)."""
    if isinstance(values, np.ndarray):
        return values.astype(np.float64)
    return np.array([math.nan if v is None else v for v in values], dtype=np.float64)


@functools.lru_cache(maxsize=256)
def required_count(width_us: int, interval_s: float) -> int:
    """Readings a window needs to be valid: ⌊0.75 · w / interval_s⌋, at least 1 (spec §6).

    Computed in exact rational arithmetic so that a threshold that is a whole number on paper
    (24 h at 60 s → 1080) is never off by one through floating-point division.
    """
    if not interval_s > 0 or not math.isfinite(interval_s):
        raise ValueError(f"interval_s must be a positive number, got {interval_s}")
    expected = Fraction(width_us, US_PER_S) / Fraction(interval_s)
    return max(1, math.floor(COMPLETENESS * expected))


def clock_hour_means_us(
    times_us: npt.NDArray[np.int64],
    values: npt.NDArray[np.floating],
    now_us: int,
    interval_s: float,
    hours: int,
) -> list[float | None]:
    """Means of the `hours` UTC clock hours up to the one containing `now_us`, newest first.

    A clock hour is [HH:00, HH+1:00), the convention of `air_hourly.bucket`; readings after
    `now_us` are ignored, so the current hour holds only readings stamped up to then. An hour is
    valid with at least ⌊0.75 · 3600 / interval_s⌋ non-NaN readings (at least 1); the current,
    partial hour is held to the same full-hour threshold (see `nowcast.clock_hour_means`).
    """
    if hours < 1:
        raise ValueError(f"hours must be at least 1, got {hours}")
    newest_start = (now_us // US_PER_HOUR) * US_PER_HOUR
    oldest_start = newest_start - (hours - 1) * US_PER_HOUR
    vals = np.asarray(values, dtype=np.float64)
    keep = (times_us >= oldest_start) & (times_us <= now_us) & ~np.isnan(vals)
    bins = (times_us[keep] - oldest_start) // US_PER_HOUR
    counts = np.bincount(bins, minlength=hours)
    sums = np.bincount(bins, weights=vals[keep], minlength=hours)
    need = required_count(US_PER_HOUR, interval_s)
    return [
        float(sums[b] / counts[b]) if counts[b] >= need else None for b in range(hours - 1, -1, -1)
    ]
