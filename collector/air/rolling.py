"""Event-time rolling means (spec §6) as a pure array function, and their completeness rule."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from collector.air._base import (
    TimeLike,
    TimesLike,
    ValuesLike,
    duration_us,
    required_count,
    times_to_us,
    to_us,
    values_to_array,
)


def required_readings(width: timedelta, interval_s: float) -> int:
    """Readings a window of `width` needs to be valid: ⌊0.75 · width / interval_s⌋, at least 1."""
    return required_count(duration_us(width), interval_s)


def rolling_mean(
    times: TimesLike,
    values: ValuesLike,
    *,
    at: TimeLike,
    width: timedelta,
    interval_s: float,
) -> float | None:
    """Mean of the readings with times in (at − width, at], or None when too few (spec §6).

    Args:
        times: Reading times (aware datetimes or a datetime64 array taken as UTC), in any order.
            Each entry counts as one reading: deduplicate upstream.
        values: The metric's values, same length; None or NaN where a reading lacks the metric
            (such readings do not count towards completeness).
        at: The window's (inclusive) end t.
        width: The window length w.
        interval_s: The station's expected reporting period in seconds.

    Returns:
        The sample mean, or None with fewer than ⌊0.75 · w / interval_s⌋ (min. 1) readings.
    """
    times_us = times_to_us(times)
    vals = values_to_array(values)
    if vals.shape != times_us.shape:
        raise ValueError(f"{times_us.size} times but {vals.size} values")
    w = duration_us(width)
    end = to_us(at)
    inside = (times_us > end - w) & (times_us <= end) & ~np.isnan(vals)
    count = int(np.count_nonzero(inside))
    if count < required_count(w, interval_s):
        return None
    return float(vals[inside].sum() / count)
