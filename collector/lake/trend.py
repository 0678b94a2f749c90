"""Lake trends on event time: robust rise rate, drops, rainfall intensity, discharge baseline.

Pure functions of sorted int64 µs times and float64 values (accepted values only: the caller
screens with `collector.lake.quality`). Windows follow spec §6: a window of length w at time
t holds the readings in (t − w, t] and is valid only with ⌊0.75 · w / interval_s⌋ readings
(at least 1; at least 2 for a slope).

**Rise rate** (spec §6: "least-squares slope of level over the trailing 30 min, in m/h").
Ordinary least squares, made tolerant of *one* bad reading that passed the screening (say
a 0.15 m dip, below the 0.2 m step that would have held it back): the reading with the
largest leave-one-out prediction error d_i = e_i / (1 − h_ii) (e_i its OLS residual, h_ii
its leverage) is the single most influential suspect; the line is refitted without it and
the refit is kept only if |d_i| exceeds both `outlier_k` robust standard deviations of the
refit's residuals (1.4826 · MAD, the normal-consistent scale) and `outlier_floor_m`.
k = 3.5 is the usual cut-off for MAD-based modified z-scores (Iglewicz & Hoaglin, 1993,
"How to Detect and Handle Outliers"). Leave-one-out errors rather than raw residuals
because an outlier at the window's end has high leverage and drags the OLS line towards
itself, hiding its own residual. On clean data nothing is dropped and the result *is* the OLS
slope (equal to `numpy.polyfit(t, level, 1)[0]`), so the spec's definition holds; Theil–Sen
was set aside because it differs from OLS even on clean, noisy data.

**Drop**: the largest fall of level between two readings inside (t − w, t] (the maximum
drawdown), so a drop that has partly recovered still counts. **Peak** values hold the
largest per-reading value over a trailing hold period (see `collector.lake.evaluate`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from collector.air._base import US_PER_HOUR, duration_us, from_us, required_count

Times = npt.NDArray[np.int64]
Values = npt.NDArray[np.float64]

# Normal-consistent scale of the median absolute deviation.
MAD_SCALE = 1.4826
# Below this many readings the leave-one-out test has too little to compare with.
MIN_POINTS_FOR_OUTLIER = 5
_MIN_POINTS_FOR_SLOPE = 2
# Drops are differences of levels given to the millimetre: 3.0 − 2.7 is 0.2999999999999998 in
# binary and must still reach a 0.3 m threshold. Rounding to the micrometre removes that
# noise and is three orders of magnitude below any level sensor's resolution.
_DROP_DECIMALS = 6
_RATIO_DECIMALS = 9


@dataclass(frozen=True, slots=True)
class Slope:
    """A least-squares rate of change.

    Attributes:
        per_hour: The slope in units per hour (m/h for levels).
        n: Readings in the fit.
        excluded: Event time of the one reading left out as an outlier, if any.
    """

    per_hour: float
    n: int
    excluded: datetime | None = None


def _window(times: Times, end_us: int, width_us: int) -> slice:
    """Index range of the readings in (end − width, end] of sorted `times`."""
    i0 = int(np.searchsorted(times, end_us - width_us, side="right"))
    i1 = int(np.searchsorted(times, end_us, side="right"))
    return slice(i0, i1)


def _ols(x: Values, y: Values) -> tuple[float, float, float, float]:
    """Slope, intercept, mean of x and Σ(x − x̄)² of an ordinary least-squares line."""
    xm = float(x.mean())
    dx = x - xm
    sxx = float(dx @ dx)
    slope = float(dx @ (y - y.mean())) / sxx
    return slope, float(y.mean()) - slope * xm, xm, sxx


def robust_slope(
    times: Times,
    values: Values,
    *,
    end_us: int,
    width: timedelta,
    interval_s: float,
    outlier_k: float = 3.5,
    outlier_floor: float = 0.02,
) -> Slope | None:
    """Least-squares slope over (end − width, end], tolerant of one bad reading.

    Args:
        times: Sorted, unique event times (µs since the epoch).
        values: The values at those times (no NaN).
        end_us: The window's inclusive end t (the station's newest reading).
        width: The window length (30 min for `lake_rise`).
        interval_s: The station's expected reporting period (completeness).
        outlier_k: Robust standard deviations beyond which the worst reading is dropped.
        outlier_floor: Smallest leave-one-out error (value units) ever treated as an
            outlier, so that perfectly clean data (MAD = 0) keeps every reading.

    Returns:
        The slope per hour, or None with fewer than max(2, ⌊0.75 · w / interval_s⌋) readings.
    """
    w = duration_us(width)
    sel = _window(times, end_us, w)
    n = sel.stop - sel.start
    if n < max(_MIN_POINTS_FOR_SLOPE, required_count(w, interval_s)):
        return None
    # Hours relative to the window end: well conditioned, and the slope comes out per hour.
    x = (times[sel] - end_us).astype(np.float64) / US_PER_HOUR
    y = values[sel].astype(np.float64)
    slope, intercept, xm, sxx = _ols(x, y)
    if n < MIN_POINTS_FOR_OUTLIER:
        return Slope(slope, n)
    leverage = 1.0 / n + (x - xm) ** 2 / sxx
    loo_error = (y - (intercept + slope * x)) / (1.0 - leverage)
    worst = int(np.argmax(np.abs(loo_error)))
    keep = np.ones(n, dtype=bool)
    keep[worst] = False
    slope2, intercept2, _, _ = _ols(x[keep], y[keep])
    rest = y[keep] - (intercept2 + slope2 * x[keep])
    scale = MAD_SCALE * float(np.median(np.abs(rest - np.median(rest))))
    if abs(float(loo_error[worst])) > max(outlier_k * scale, outlier_floor):
        return Slope(slope2, n - 1, from_us(int(times[sel][worst])))
    return Slope(slope, n)


def max_drop(times: Times, levels: Values, *, end_us: int, width: timedelta) -> float | None:
    """Largest fall L_i − L_j (i before j) with both readings in (end − width, end].

    Returns:
        The drop (≥ 0; 0 for a level that only rose), or None with fewer than 2 readings.
        No completeness rule: a drop between two accepted readings is evidence whatever
        the gaps around them.
    """
    sel = _window(times, end_us, duration_us(width))
    seg = levels[sel]
    if seg.size < _MIN_POINTS_FOR_SLOPE:
        return None
    return round(float(np.max(np.maximum.accumulate(seg) - seg)), _DROP_DECIMALS)


def peak_drop(
    times: Times, levels: Values, *, end_us: int, width: timedelta, hold: timedelta
) -> float | None:
    """Largest `max_drop` over the window ends at the readings in (end − hold, end].

    Every pair of readings less than `width` apart, the later one within the hold period,
    counts: the value a `max_drop` evaluated at each of those readings would have peaked at.
    """
    w = duration_us(width)
    sel = _window(times, end_us, duration_us(hold))
    best: float | None = None
    for j in range(sel.start, sel.stop):
        i0 = int(np.searchsorted(times, int(times[j]) - w, side="right"))
        if i0 < j:
            drop = round(float(levels[i0 : j + 1].max() - levels[j]), _DROP_DECIMALS)
            best = drop if best is None else max(best, drop)
    return best


def window_sum_rate(
    times: Times, values: Values, *, end_us: int, width: timedelta, interval_s: float
) -> float | None:
    """Sum of the increments in (end − width, end] per hour (rainfall intensity in mm/h).

    `precip_mm` is the depth fallen since the previous report, so the 1 h sum is the mean
    intensity over the hour. Valid with ⌊0.75 · w / interval_s⌋ reports (at least 1); a
    missing report loses its rain, so an incomplete-but-valid hour is a lower bound.
    """
    w = duration_us(width)
    seg = values[_window(times, end_us, w)]
    if seg.size < required_count(w, interval_s):
        return None
    return float(seg.sum()) * US_PER_HOUR / w


def baseline_median(
    times: Times, values: Values, *, at_us: int, width: timedelta, interval_s: float
) -> float | None:
    """Median of the readings in [at − width, at) — the period *before* the reading at `at`.

    Returns:
        The median, or None with fewer than ⌊0.75 · w / interval_s⌋ readings (at least 1).
    """
    w = duration_us(width)
    i0 = int(np.searchsorted(times, at_us - w, side="left"))
    i1 = int(np.searchsorted(times, at_us, side="left"))
    if i1 - i0 < required_count(w, interval_s):
        return None
    return float(np.median(values[i0:i1]))


def surge_ratio(
    times: Times,
    values: Values,
    *,
    index: int,
    baseline: timedelta,
    interval_s: float,
    floor: float,
) -> tuple[float | None, float | None]:
    """Reading `index` over the median of the baseline period before it, and that median.

    The median is floored at `floor` (a near-dry channel must not turn noise into a surge).
    Returns (None, None) when the baseline is incomplete.
    """
    median = baseline_median(
        times, values, at_us=int(times[index]), width=baseline, interval_s=interval_s
    )
    if median is None:
        return None, None
    # Rounded like drops, so a reading of exactly twice the median reaches a 2× threshold.
    return round(float(values[index]) / max(median, floor), _RATIO_DECIMALS), median


def peak_surge_ratio(
    times: Times,
    values: Values,
    *,
    end_us: int,
    hold: timedelta,
    baseline: timedelta,
    interval_s: float,
    floor: float,
) -> float | None:
    """Largest `surge_ratio` of the readings in (end − hold, end]; None if none is valid."""
    sel = _window(times, end_us, duration_us(hold))
    ratios = [
        r
        for j in range(sel.start, sel.stop)
        if (
            r := surge_ratio(
                times, values, index=j, baseline=baseline, interval_s=interval_s, floor=floor
            )[0]
        )
        is not None
    ]
    return max(ratios) if ratios else None
