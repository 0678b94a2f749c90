"""US EPA/AirNow PM NowCast and the clock-hour means it is computed from.

The algorithm (EPA fact sheet "PM NowCast", https://nepis.epa.gov/Exe/ZyPURL.cgi?Dockey=P100X0J6.txt;
AirNow, "The NowCast for PM2.5 and PM10", https://forum.airnowtech.org/t/the-nowcast-for-pm2-5-and-pm10/172;
EPA-454/B-24-002, "How the NowCast is calculated"):

1. Take the hourly means of the last 12 hours, c1 the most recent; missing hours are skipped.
2. w = c_min / c_max over the available hours (1 − range / max); for PM, w* = max(w, 0.5).
3. NowCast = Σ w*^(i−1) · c_i / Σ w*^(i−1) over the available hours, i − 1 being the hour's
   age (0 for c1), so a missing hour removes its term but does not shift older exponents.
4. Valid only when at least 2 of the 3 most recent hours are valid ("there is only 1
   requirement for a valid NowCast calculation: 2 of the past 3 hourly data points").
5. The raw hourly means are used untruncated; the NowCast is truncated to 0.1 µg/m³ (PM2.5) or
   1 µg/m³ (PM10) and then converted with the AQI equation (`collector.air.aqi.aqi`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from collector.air._base import (
    Pollutant,
    TimeLike,
    TimesLike,
    ValuesLike,
    clock_hour_means_us,
    times_to_us,
    to_us,
    truncate,
    values_to_array,
)

NOWCAST_HOURS = 12
# The floor on the weight factor for PM; it approximates a 3-hour average when air changes fast.
PM_MIN_WEIGHT = 0.5
# The NowCast needs this many valid hours among the most recent three.
RECENT_HOURS = 3
RECENT_REQUIRED = 2

# Decimal places the NowCast is truncated to.
NOWCAST_DECIMALS: Mapping[Pollutant, int] = MappingProxyType({Pollutant.PM25: 1, Pollutant.PM10: 0})


def _hourly_array(hourly: Sequence[float | None], pollutant: Pollutant) -> npt.NDArray[np.float64]:
    if pollutant not in NOWCAST_DECIMALS:
        raise ValueError(f"EPA defines the PM NowCast for pm25 and pm10, not {pollutant}")
    if len(hourly) > NOWCAST_HOURS:
        raise ValueError(f"the NowCast uses {NOWCAST_HOURS} hours, got {len(hourly)}")
    c = np.array([math.nan if h is None else float(h) for h in hourly], dtype=np.float64)
    if np.isinf(c).any() or (c < 0).any():
        raise ValueError(f"hourly means must be finite and >= 0, got {list(hourly)}")
    return c


def weight_factor(
    hourly: Sequence[float | None], pollutant: Pollutant = Pollutant.PM25
) -> float | None:
    """The NowCast weight factor w* = max(c_min / c_max, 0.5) over the available hours.

    Args:
        hourly: Hourly means, newest first, None (or NaN) for a missing hour; at most 12.
        pollutant: PM2.5 or PM10.

    Returns:
        The weight factor, or None when no hour is available.
    """
    return _weight(_hourly_array(hourly, pollutant))


def _weight(c: npt.NDArray[np.float64]) -> float | None:
    available = c[~np.isnan(c)]
    if available.size == 0:
        return None
    c_max = float(available.max())
    # All-zero hours have no range to scale; they are "very similar", so weight them equally.
    w = 1.0 if c_max <= 0 else float(available.min()) / c_max
    return max(w, PM_MIN_WEIGHT)


def nowcast(hourly: Sequence[float | None], pollutant: Pollutant = Pollutant.PM25) -> float | None:
    """The EPA PM NowCast concentration in µg/m³, truncated as EPA does.

    Args:
        hourly: Hourly means of the last 12 clock hours, newest first, None (or NaN) for a missing
            or invalid hour. Fewer than 12 entries means the older hours are missing.
        pollutant: PM2.5 (truncated to 0.1 µg/m³) or PM10 (truncated to 1 µg/m³).

    Returns:
        The NowCast, or None unless at least 2 of the 3 most recent hours are valid.

    Raises:
        ValueError: More than 12 hours, a negative or infinite mean, or a pollutant without a
            NowCast (NO2).
    """
    return _nowcast(tuple(hourly), pollutant)


# Pure, and its input repeats: the closed hours change once an hour, and the current one
# only counts from its 45th reading (at 60 s), so most readings ask for the same NowCast.
@functools.lru_cache(maxsize=4096)
def _nowcast(hourly: tuple[float | None, ...], pollutant: Pollutant) -> float | None:
    c = _hourly_array(hourly, pollutant)
    valid = ~np.isnan(c)
    if np.count_nonzero(valid[:RECENT_HOURS]) < RECENT_REQUIRED:
        return None
    w = _weight(c)
    if w is None:  # pragma: no cover - two valid hours were just checked
        return None
    ages = np.flatnonzero(valid)
    weights = w**ages
    value = float(np.dot(weights, c[valid]) / weights.sum())
    return truncate(value, NOWCAST_DECIMALS[pollutant])


def clock_hour_means(
    times: TimesLike,
    values: ValuesLike,
    *,
    now: TimeLike,
    interval_s: float,
    hours: int = NOWCAST_HOURS,
) -> list[float | None]:
    """Hourly means of the clock hours up to the one containing `now`, newest first.

    This is the NowCast input built from raw readings. Clock hours are UTC hours [HH:00, HH+1:00)
    (Almaty's offset is a whole number of hours, so they are local clock hours too). An hour is
    valid with at least ⌊0.75 · 3600 / interval_s⌋ readings (at least 1), the completeness rule of
    spec §6; None marks an invalid hour, and None/NaN values are not readings of this pollutant.

    The current, partial hour (the one containing `now`; readings after `now` are ignored) is held
    to the same full-hour threshold: at 60 s it counts from its 45th reading, about HH:45. Before
    that it is a missing c1 and the NowCast rests on the two previous complete hours through the
    2-of-3 rule, their weights keeping their ages. This keeps a few minutes of readings from
    taking the largest weight (w*^0) and making the index jump at every hour change, and it is a
    pure function of the readings, so replays give the same result.

    Args:
        times: Reading times: aware datetimes, or a datetime64 array (taken as UTC).
        values: The pollutant's values, same length; None or NaN where a reading lacks it.
        now: The evaluation time (wall clock in the API, the reading's time in rule evaluation).
        interval_s: The station's expected reporting period in seconds.
        hours: How many clock hours to return.

    Returns:
        `hours` entries, newest first, each the mean in the values' unit or None.
    """
    times_us = times_to_us(times)
    vals = values_to_array(values)
    if vals.shape != times_us.shape:
        raise ValueError(f"{times_us.size} times but {vals.size} values")
    return clock_hour_means_us(times_us, vals, to_us(now), interval_s, hours)
