"""Trend functions: robust slope vs numpy.polyfit, one-bad-reading tolerance, windows, drops."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from collector.lake import (
    baseline_median,
    max_drop,
    peak_drop,
    peak_surge_ratio,
    robust_slope,
    surge_ratio,
    window_sum_rate,
)
from tests.unit.lake._synthetic import arrays, minute, ramp, us

HALF_HOUR = timedelta(minutes=30)
HOUR = timedelta(hours=1)
TEN_MIN = timedelta(minutes=10)


def polyfit_rate(times: np.ndarray, values: np.ndarray, end_us: int, width_min: int) -> float:
    """Reference: numpy.polyfit slope over (end − width, end], in units per hour."""
    keep = (times > end_us - width_min * 60_000_000) & (times <= end_us)
    hours = (times[keep] - end_us) / 3.6e9
    return float(np.polyfit(hours, values[keep], 1)[0])


@pytest.mark.parametrize(
    ("levels", "step_min", "interval_s"),
    [
        # a clean 0.8 m/h line: OLS is exact and nothing is excluded
        (ramp(2.5, 0.8, 45), 1.0, 60),
        # a seasonal 0.05 m/h rise with centimetre noise (fixed seed): still plain OLS
        (
            list(np.asarray(ramp(2.8, 0.05, 45)) + np.random.default_rng(3).normal(0, 0.01, 45)),
            1.0,
            60,
        ),
        # a 90 s station: the slope is on event time, whatever the spacing
        (ramp(3.0, -0.3, 30), 1.5, 90),
    ],
)
def test_slope_equals_polyfit_on_clean_data(
    levels: list[float], step_min: float, interval_s: float
) -> None:
    times, values = arrays(levels, step_min)
    end = int(times[-1])
    result = robust_slope(times, values, end_us=end, width=HALF_HOUR, interval_s=interval_s)
    assert result is not None
    assert result.excluded is None
    assert result.per_hour == pytest.approx(polyfit_rate(times, values, end, 30), rel=1e-9)


@pytest.mark.parametrize(
    ("bad_minute", "offset"),
    [
        # a bad reading at the window's end: highest leverage, where plain OLS suffers most
        (44, 0.15),
        # in the middle, a dip
        (30, -0.15),
        # first reading of the window
        (15, 0.4),
        # a 10 cm error that passed the 0.2 m step screen
        (40, -0.10),
    ],
)
def test_one_bad_reading_is_tolerated(bad_minute: int, offset: float) -> None:
    levels = ramp(2.5, 0.8, 45)
    levels[bad_minute] += offset
    times, values = arrays(levels)
    end = int(times[-1])
    result = robust_slope(times, values, end_us=end, width=HALF_HOUR, interval_s=60)
    assert result is not None
    # the refit without it is the exact clean slope…
    assert result.per_hour == pytest.approx(0.8, abs=1e-9)
    assert result.excluded == minute(bad_minute)
    assert result.n == 29
    # …whereas plain OLS is pulled off by the bad reading
    assert polyfit_rate(times, values, end, 30) != pytest.approx(0.8, abs=1e-4)


def test_noise_alone_excludes_nothing_below_the_floor() -> None:
    # ±1 cm wobble on a line never exceeds the 2 cm floor: nothing is dropped
    levels = [v + 0.01 * (-1) ** i for i, v in enumerate(ramp(3.0, 0.1, 40))]
    times, values = arrays(levels)
    result = robust_slope(times, values, end_us=int(times[-1]), width=HALF_HOUR, interval_s=60)
    assert result is not None
    assert result.excluded is None


@pytest.mark.parametrize(
    ("count", "interval_s", "step_min", "valid"),
    [
        # 30 min at 60 s: ⌊0.75 · 30⌋ = 22 readings needed — 22 is enough
        (22, 60, 1, True),
        # …21 is not
        (21, 60, 1, False),
        # 30 min at 600 s: ⌊0.75 · 3⌋ = 2 readings, and a slope needs 2 anyway
        (2, 600, 10, True),
        # one reading never makes a slope (spec minimum of 1 is raised to 2)
        (1, 3600, 10, False),
    ],
)
def test_rise_rate_completeness(count: int, interval_s: float, step_min: int, valid: bool) -> None:
    times, values = arrays(ramp(3.0, 0.6, count * step_min)[::step_min], step_min)
    result = robust_slope(
        times, values, end_us=int(times[-1]), width=HALF_HOUR, interval_s=interval_s
    )
    assert (result is not None) is valid


def test_window_is_half_open() -> None:
    # a reading exactly at t − 30 min is outside (t − w, t]: 31 one-minute readings → 30 used
    times, values = arrays(ramp(3.0, 0.6, 31))
    result = robust_slope(times, values, end_us=int(times[-1]), width=HALF_HOUR, interval_s=60)
    assert result is not None
    assert result.n == 30


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        # steady: no drop
        ([3.0, 3.0, 3.0], 0.0),
        # 0.5 m in 5 min
        ([3.0, 2.9, 2.8, 2.7, 2.6, 2.5], 0.5),
        # a drop that partly recovered still counts (max drawdown, not first − last)
        ([3.0, 2.6, 2.8], 0.4),
        # a rise is no drop
        ([2.0, 2.5, 3.0], 0.0),
        # 3.0 − 2.7 is 0.2999… in binary; the drop must still be 0.3
        ([3.0, 2.7], 0.3),
        # one reading: no drop can be measured
        ([3.0], None),
    ],
)
def test_max_drop(levels: list[float], expected: float | None) -> None:
    times, values = arrays(levels)
    assert max_drop(times, values, end_us=int(times[-1]), width=TEN_MIN) == expected


def test_max_drop_only_within_the_window() -> None:
    # the high reading 10 min before the end is outside (t − 10 min, t]
    times, values = arrays([3.5] + [3.0] * 10)
    assert max_drop(times, values, end_us=int(times[-1]), width=TEN_MIN) == 0.0


def test_peak_drop_holds_an_earlier_drop() -> None:
    # 0.5 m fell 40 min ago; the 10-min drop is 0 now but the 1 h peak still shows it
    levels = [3.0] * 20 + [2.5] * 41
    times, values = arrays(levels)
    end = int(times[-1])
    assert max_drop(times, values, end_us=end, width=TEN_MIN) == 0.0
    assert peak_drop(times, values, end_us=end, width=TEN_MIN, hold=HOUR) == 0.5
    # 80 min later it has left the hold period
    later = [3.0] * 20 + [2.5] * 81
    t2, v2 = arrays(later)
    assert peak_drop(t2, v2, end_us=int(t2[-1]), width=TEN_MIN, hold=HOUR) == 0.0


@pytest.mark.parametrize(
    ("count", "per_reading", "expected"),
    [
        # 60 reports of 0.1 mm in the hour: 6 mm/h
        (60, 0.1, 6.0),
        # 45 of 60 (75 %) is still valid: the sum, 4.5 mm/h (a lower bound)
        (45, 0.1, 4.5),
        # 44 is not
        (44, 0.1, None),
        # dry hour
        (60, 0.0, 0.0),
    ],
)
def test_rainfall_intensity(count: int, per_reading: float, expected: float | None) -> None:
    times, values = arrays([per_reading] * count)
    # the window ends at the 60th minute whatever the count: fewer reports, same hour
    result = window_sum_rate(times, values, end_us=us(59), width=HOUR, interval_s=60)
    assert result == (None if expected is None else pytest.approx(expected))


@pytest.mark.parametrize(
    ("minutes", "valid"),
    [
        # [at − 1 h, at): the reading at at − 1 h (minute 0) counts, making the 45 needed
        ([0, *range(16, 60)], True),
        # without it, 44 readings: incomplete
        (list(range(16, 60)), False),
        # the reading at `at` itself is not in its own baseline: still 44, still incomplete
        (list(range(16, 61)), False),
    ],
)
def test_baseline_is_the_hour_before(minutes: list[int], valid: bool) -> None:
    times = np.array([us(m) for m in minutes], dtype=np.int64)
    values = np.where(times == us(60), 9.0, 1.0)
    result = baseline_median(times, values, at_us=us(60), width=HOUR, interval_s=60)
    assert result == (1.0 if valid else None)


@pytest.mark.parametrize(
    ("discharges", "expected_ratio"),
    [
        # a doubling of discharge: exactly 2
        ([1.2] * 60 + [2.4], 2.0),
        # steady
        ([1.2] * 60 + [1.2], 1.0),
        # near-dry channel: the 0.1 m³/s floor keeps noise from being a 20× surge
        ([0.005] * 60 + [0.1], 1.0),
        # incomplete baseline (44 of the 45 needed)
        ([1.0] * 44 + [3.0], None),
    ],
)
def test_surge_ratio(discharges: list[float], expected_ratio: float | None) -> None:
    times, values = arrays(discharges)
    ratio, _ = surge_ratio(
        times, values, index=len(discharges) - 1, baseline=HOUR, interval_s=60, floor=0.1
    )
    assert ratio == expected_ratio


def test_peak_surge_ratio_holds() -> None:
    # a 3× surge 30 min ago that has receded is still the hour's peak
    flows = [1.0] * 60 + [3.0] * 5 + [1.0] * 30
    times, values = arrays(flows)
    peak = peak_surge_ratio(
        times, values, end_us=int(times[-1]), hold=HOUR, baseline=HOUR, interval_s=60, floor=0.1
    )
    assert peak == 3.0
