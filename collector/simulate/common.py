"""Shared simulator conventions: event time as Unix seconds, local time, distances, ts styles."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta, timezone
from typing import Final, TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]

DAY_S: Final = 86_400.0
HOUR_S: Final = 3_600.0
# Kazakhstan moved to a single time zone, UTC+5, on 1 March 2024: Almaty's rush hours, heating
# and melt cycles follow that clock.
LOCAL_OFFSET_S: Final = 5 * HOUR_S
ALMATY_TZ: Final = timezone(timedelta(seconds=LOCAL_OFFSET_S))
EARTH_RADIUS_KM: Final = 6371.0
# 1970-01-01 was a Thursday: day number + 3, modulo 7, is the ISO weekday counted from Monday = 0.
_EPOCH_WEEKDAY: Final = 3
SATURDAY: Final = 5


def as_array(t: float | FloatArray) -> FloatArray:
    """Event times (Unix seconds, UTC) as a float64 array (a scalar becomes shape ())."""
    return np.asarray(t, dtype=np.float64)


def rounded(x: FloatArray, decimals: int, low: float, high: float) -> FloatArray:
    """Clip to the spec's accepted range, then round as the sensor reports (float64 out)."""
    return np.asarray(np.round(np.clip(x, low, high), decimals), dtype=np.float64)


def local_hour(t: float | FloatArray) -> FloatArray:
    """Hour of the day in Almaty local time (UTC+5), 0 ≤ h < 24."""
    return np.asarray(((as_array(t) + LOCAL_OFFSET_S) % DAY_S) / HOUR_S)


def day_of_year(t: float | FloatArray) -> FloatArray:
    """Day of the year in local time, 0-based and fractional (1 January 00:00 is 0.0)."""
    local = as_array(t) + LOCAL_OFFSET_S
    seconds = np.floor(local).astype("datetime64[s]")
    year_start = seconds.astype("datetime64[Y]").astype("datetime64[s]")
    whole = (seconds - year_start).astype(np.float64)
    return np.asarray((whole + (local - np.floor(local))) / DAY_S)


def month_day(t: float | FloatArray) -> npt.NDArray[np.int64]:
    """Local calendar date as the integer MMDD (15 October is 1015), for seasonal windows."""
    days = np.floor((as_array(t) + LOCAL_OFFSET_S) / DAY_S).astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    month = months.astype(np.int64) % 12 + 1
    day = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    return np.asarray(month * 100 + day)


def in_season(t: float | FloatArray, first: int, last: int) -> npt.NDArray[np.bool_]:
    """Whether the local date lies in the MMDD window first..last (inclusive; may wrap the year)."""
    md = month_day(t)
    if first <= last:
        return np.asarray((md >= first) & (md <= last))
    return np.asarray((md >= first) | (md <= last))


def is_weekend(t: float | FloatArray) -> npt.NDArray[np.bool_]:
    """Whether the local date is a Saturday or Sunday."""
    days = np.floor((as_array(t) + LOCAL_OFFSET_S) / DAY_S)
    return np.asarray((days + _EPOCH_WEEKDAY) % 7 >= SATURDAY)


def gaussian(x: FloatArray, centre: float, width: float) -> FloatArray:
    """An unnormalised bell exp(−(x − centre)² / 2·width²), peak 1."""
    return np.asarray(np.exp(-0.5 * ((x - centre) / width) ** 2))


def smoothstep(x: FloatArray) -> FloatArray:
    """0 below 0, 1 above 1, a raised-cosine ramp in between (no kink at either end)."""
    clipped = np.clip(x, 0.0, 1.0)
    return np.asarray(0.5 - 0.5 * np.cos(np.pi * clipped))


def distance_km(
    lat1: float | FloatArray, lon1: float | FloatArray, lat2: float, lon2: float
) -> FloatArray:
    """Great-circle distance on a spherical Earth (haversine, R = 6371 km)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2) - np.radians(lon1)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


def to_datetime(t: float) -> datetime:
    """A Unix time as an aware UTC datetime, rounded to the microsecond."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=round(t * 1e6))


class TsStyle(enum.Enum):
    """How a payload writes its `ts`; the spec accepts all three, so the network mixes them."""

    RFC3339_Z = "rfc3339-z"
    RFC3339_LOCAL = "rfc3339+05:00"
    UNIX = "unix"


def format_ts(t: float, style: TsStyle) -> str | float:
    """Render an event time in one of the spec's timestamp forms.

    Fractions are written only as finely as needed (seconds, milliseconds or microseconds).

    Args:
        t: Unix seconds.
        style: the form.

    Returns:
        An RFC 3339 string with `Z` or `+05:00`, or Unix seconds as a JSON number.
    """
    if style is TsStyle.UNIX:
        return round(t, 6)
    moment = to_datetime(t)
    micro = moment.microsecond
    spec = "seconds" if micro == 0 else "milliseconds" if micro % 1000 == 0 else "microseconds"
    if style is TsStyle.RFC3339_LOCAL:
        return moment.astimezone(ALMATY_TZ).isoformat(timespec=spec)
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def ts_style_for(index: int) -> TsStyle:
    """The timestamp form of the `index`-th station of a feed: the three forms in turn."""
    styles = tuple(TsStyle)
    return styles[index % len(styles)]
