"""Event-time rolling means (spec §6): the pure function and the per-station StationWindows."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from collector.air import (
    StationWindows,
    clock_hour_means,
    required_readings,
    rolling_mean,
)

T0 = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(hours=24)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def series(count: int, step_s: float = 60, start_s: float = 0) -> list[datetime]:
    """`count` reading times `step_s` apart, the last one at T0 + start_s + (count−1)·step_s."""
    return [at(start_s + i * step_s) for i in range(count)]


@pytest.mark.parametrize(
    ("width", "interval_s", "expected"),
    [
        # 1 h at 60 s implies 60 readings; 75 % → 45
        (HOUR, 60, 45),
        # 24 h at 60 s implies 1440; 75 % → exactly 1080 (no off-by-one from float division)
        (DAY, 60, 1080),
        # 1 h at 120 s: ⌊0.75 · 30⌋ = ⌊22.5⌋ = 22
        (HOUR, 120, 22),
        # 1 h at 80 s: ⌊0.75 · 45⌋ = ⌊33.75⌋ = 33
        (HOUR, 80, 33),
        # 24 h at 3600 s: ⌊0.75 · 24⌋ = 18
        (DAY, 3600, 18),
        # 1 h at 7200 s: ⌊0.375⌋ = 0 → at least 1
        (HOUR, 7200, 1),
        # 10 min at 3600 s: ⌊0.125⌋ = 0 → at least 1
        (timedelta(minutes=10), 3600, 1),
    ],
)
def test_required_readings(width: timedelta, interval_s: float, expected: int) -> None:
    assert required_readings(width, interval_s) == expected


@pytest.mark.parametrize(
    ("times", "values", "window", "expected"),
    [
        # a reading exactly at t − w is outside (t − w, t]: 10 is excluded, mean of 20 and 30
        pytest.param(
            [at(0), at(1800), at(3600)], [10.0, 20.0, 30.0], (at(3600), HOUR, 3600), 25.0, id="open"
        ),
        # one microsecond after t − w is inside
        pytest.param(
            [at(0) + timedelta(microseconds=1)], [10.0], (at(3600), HOUR, 3600), 10.0, id="open+1us"
        ),
        # a reading exactly at t is inside (t − w, t]
        pytest.param([at(3600)], [30.0], (at(3600), HOUR, 3600), 30.0, id="closed-end"),
        # a reading after t is outside
        pytest.param([at(3601)], [30.0], (at(3600), HOUR, 3600), None, id="after-end"),
        # exactly ⌊0.75 · 3600/60⌋ = 45 readings in the hour: valid
        pytest.param(series(45, start_s=60), [2.0] * 45, (at(2700), HOUR, 60), 2.0, id="45"),
        # 44 readings, one below the threshold: None
        pytest.param(series(44, start_s=60), [2.0] * 44, (at(2700), HOUR, 60), None, id="44"),
        # 45 readings of which the oldest sits exactly on t − w: only 44 count → None
        pytest.param(series(45, start_s=0), [2.0] * 45, (at(3600), HOUR, 60), None, id="edge"),
        # 24 h at 60 s: 1080 readings are enough
        pytest.param(series(1080), [5.0] * 1080, (at(1079 * 60), DAY, 60), 5.0, id="1080"),
        # … 1079 are not
        pytest.param(series(1079), [5.0] * 1079, (at(1078 * 60), DAY, 60), None, id="1079"),
        # NaN/None values are not readings of this metric: 45 entries, 44 values → None
        pytest.param(
            series(45, start_s=60), [None] + [2.0] * 44, (at(2700), HOUR, 60), None, id="none"
        ),
        # the mean is the plain sample mean of the values inside
        pytest.param(
            [at(600), at(1200), at(1800)], [1.0, 2.0, 6.0], (at(1800), HOUR, 3600), 3.0, id="mean"
        ),
        # order does not matter for the pure function
        pytest.param(
            [at(1800), at(600), at(1200)], [6.0, 1.0, 2.0], (at(1800), HOUR, 3600), 3.0, id="order"
        ),
        # no readings at all: None, not 0
        pytest.param([], [], (at(0), HOUR, 60), None, id="empty"),
    ],
)
def test_rolling_mean(
    times: list[datetime],
    values: list[float | None],
    window: tuple[datetime, timedelta, float],
    expected: float | None,
) -> None:
    end, width, interval_s = window
    result = rolling_mean(times, values, at=end, width=width, interval_s=interval_s)
    assert result == (None if expected is None else pytest.approx(expected))


def test_rolling_mean_datetime64() -> None:
    # datetime64 arrays are taken as UTC and give the same result as aware datetimes
    times = np.array(["2026-01-10T08:10", "2026-01-10T08:20"], dtype="datetime64[us]")
    result = rolling_mean(times, np.array([1.0, 3.0]), at=at(1200), width=HOUR, interval_s=1800)
    assert result == 2.0


# --- StationWindows ----------------------------------------------------------------------------


def filled(count: int) -> StationWindows:
    """A 60 s buffer with `count` readings 60 s apart from T0 holding pm25 = 10 and no2 = 20."""
    windows = StationWindows(interval_s=60)
    for t in series(count):
        assert windows.add(t, {"pm25": 10.0, "no2": 20.0})
    return windows


def test_empty_buffer() -> None:
    # no reading yet: no newest time, every mean None, every hour None
    windows = StationWindows(interval_s=60)
    assert (len(windows), windows.newest, windows.mean("pm25", HOUR)) == (0, None, None)
    assert windows.hourly_means("pm25", T0) == [None] * 12


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        # 45 readings in the last hour: valid (threshold ⌊0.75 · 60⌋)
        (45, 10.0),
        # 44: one short, None
        (44, None),
    ],
)
def test_station_threshold(count: int, expected: float | None) -> None:
    assert filled(count).mean("pm25", HOUR) == expected


def test_station_window_is_half_open() -> None:
    # at = newest = T0 + 3600 s: the reading at T0 (= t − w) is out, the one at t is in
    windows = StationWindows(interval_s=3600)
    for seconds, value in [(0, 100.0), (1800, 20.0), (3600, 30.0)]:
        windows.add(at(seconds), {"pm25": value})
    assert windows.mean("pm25", HOUR) == 25.0
    assert windows.count("pm25", HOUR) == 2


@pytest.mark.parametrize(
    ("second_value", "expected_mean"),
    [
        # an exact redelivery is ignored: one reading, not two
        (10.0, 10.0),
        # a different value at the same timestamp is still a duplicate: the first one wins
        (99.0, 10.0),
    ],
)
def test_duplicate_timestamp_ignored(second_value: float, expected_mean: float) -> None:
    windows = StationWindows(interval_s=3600)
    assert windows.add(at(0), {"pm25": 10.0})
    assert not windows.add(at(0), {"pm25": second_value})
    assert (len(windows), windows.mean("pm25", HOUR)) == (1, expected_mean)


def test_duplicate_of_an_older_reading_ignored() -> None:
    # a redelivery of a reading that is not the newest is found by binary search too
    windows = filled(10)
    assert not windows.add(at(120), {"pm25": 99.0})
    assert len(windows) == 10


def test_late_reading_inserted_in_order() -> None:
    # a reading arriving late lands in its time slot and counts in the windows that contain it
    windows = StationWindows(interval_s=600)
    for seconds in (0, 1200, 2400, 3000):
        windows.add(at(seconds), {"pm25": 10.0})
    assert windows.add(at(600), {"pm25": 40.0})  # late, between 0 and 1200
    assert windows.newest == at(3000)
    # (3000 − 3600, 3000] holds 0, 600, 1200, 2400, 3000 → (10 + 40 + 10 + 10 + 10) / 5
    assert windows.mean("pm25", HOUR) == 16.0
    # a window ending at 900 s sees the late reading and the one at 0
    assert windows.mean("pm25", timedelta(minutes=20), at=at(900)) == 25.0


def test_eviction_relative_to_newest() -> None:
    # the buffer keeps (newest − max_window, newest]: a newer reading pushes the oldest out
    windows = StationWindows(interval_s=600, max_window=HOUR)
    windows.add(at(0), {"pm25": 1.0})
    windows.add(at(1800), {"pm25": 2.0})
    assert len(windows) == 2
    windows.add(at(3600), {"pm25": 3.0})  # at(0) is now exactly newest − 1 h: evicted
    assert len(windows) == 2
    # a reading at or before newest − max_window is refused: it would be evicted at once
    assert not windows.add(at(0), {"pm25": 1.0})
    assert windows.add(at(1), {"pm25": 1.0})


def test_per_metric_completeness() -> None:
    # every reading has pm25, only every other one no2: pm25's hour is complete, no2's is not
    windows = StationWindows(interval_s=60)
    for i, t in enumerate(series(60)):
        values: dict[str, float | None] = {"pm25": 10.0}
        if i % 2 == 0:
            values["no2"] = 30.0
        windows.add(t, values)
    assert windows.mean("pm25", HOUR) == 10.0
    assert windows.count("no2", HOUR) == 30
    assert windows.mean("no2", HOUR) is None  # 30 < 45
    # pm10 was never sent
    assert windows.mean("pm10", HOUR) is None


def test_untracked_and_missing_values() -> None:
    # temp is not kept, None and NaN are "metric missing"; the reading still moves `newest`
    windows = StationWindows(interval_s=3600)
    assert windows.add(at(0), {"temp": -3.2, "pm25": None, "no2": math.nan})
    assert (len(windows), windows.newest, windows.count("pm25", HOUR)) == (1, at(0), 0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        # an unknown metric is a programming error
        (lambda w: w.mean("o3", HOUR), "unknown metric"),
        # a window longer than the kept history cannot be answered
        (lambda w: w.mean("pm25", timedelta(hours=26)), "longer than the kept history"),
        # nor one that reaches before it (evicted readings would be missing)
        (lambda w: w.mean("pm25", DAY, at=at(-2 * 3600)), "before the kept history"),
        # NowCast hours before the kept history likewise
        (lambda w: w.hourly_means("pm25", at(-20 * 3600)), "before the kept history"),
        # an infinite value is refused rather than poisoning every mean
        (lambda w: w.add(at(10**6), {"pm25": math.inf}), "finite"),
        # a zero-width window is meaningless
        (lambda w: w.mean("pm25", timedelta(0)), "positive"),
    ],
)
def test_station_rejects(call: Callable[[StationWindows], object], message: str) -> None:
    windows = filled(1500)
    with pytest.raises(ValueError, match=message):
        call(windows)


def test_daily_rule_window() -> None:
    # a 24 h mean at 60 s needs 1080 readings: with 1080 it is valid, one fewer it is not
    assert filled(1080).mean("no2", DAY) == 20.0
    assert filled(1079).mean("no2", DAY) is None


def test_matches_pure_function_under_churn() -> None:
    # random order, duplicates, gaps and late readings over 3 days: the incremental buffer
    # (growing from a tiny capacity, compacting as it slides) agrees with the pure function
    rng = random.Random(20260110)
    windows = StationWindows(interval_s=60, initial_capacity=8)
    kept_t: dict[datetime, float] = {}
    for i in range(3 * 1440):
        t = at(i * 60)
        if rng.random() < 0.1:
            continue  # a gap
        value = round(rng.uniform(0, 300), 1)
        windows.add(t, {"pm25": value})
        kept_t.setdefault(t, value)
        if rng.random() < 0.05:  # a redelivery, sometimes with another value
            windows.add(t, {"pm25": value + 1})
        if rng.random() < 0.05 and i > 30:  # a late reading from up to 30 min ago
            late = at((i - rng.randint(1, 30)) * 60 + 30)
            late_value = round(rng.uniform(0, 300), 1)
            windows.add(late, {"pm25": late_value})
            kept_t.setdefault(late, late_value)
        if i % 97 == 0:
            times = sorted(kept_t)
            values = [kept_t[x] for x in times]
            for width in (HOUR, DAY):
                expected = rolling_mean(times, values, at=t, width=width, interval_s=60)
                got = windows.mean("pm25", width)
                assert (got is None) == (expected is None)
                if expected is not None:
                    assert got == pytest.approx(expected, abs=1e-3)
            assert windows.hourly_means("pm25", t) == pytest.approx(
                clock_hour_means(times, values, now=t, interval_s=60)
            )
    # the history is 3 days but the buffer only holds 25 h of it
    assert len(windows) <= 25 * 60 * 1.2


def test_memory_is_bounded_by_the_window() -> None:
    # after a day of sliding, a week more of readings does not grow the buffers
    windows = filled(1)
    for i in range(1, 2 * 1440):
        windows.add(at(i * 60), {"pm25": 1.0})
    size = windows.nbytes
    for i in range(2 * 1440, 9 * 1440):
        windows.add(at(i * 60), {"pm25": 1.0})
    assert windows.nbytes == size
    # 25 h at 60 s = 1500 live readings; (8 + 3 · 4) B each with 20 % headroom ≈ 36 KB
    assert len(windows) == 1500
    assert size <= 40_000


def test_hourly_means_feed_nowcast() -> None:
    # the buffer's hourly means equal the pure helper's on the same readings
    windows = StationWindows(interval_s=60)
    times = series(13 * 60)
    values = [float(i // 60) for i in range(13 * 60)]  # hour k holds value k
    for t, v in zip(times, values, strict=True):
        windows.add(t, {"pm25": v})
    now = times[-1]
    expected = clock_hour_means(times, values, now=now, interval_s=60)
    assert windows.hourly_means("pm25", now) == expected
    assert expected[:3] == [12.0, 11.0, 10.0]


def _noisy(rng: random.Random) -> float | None:
    # Gaps, and large and tiny values: float32 values of similar size sum exactly in float64
    # in any order, these do not, so a change of summation order would show. Rounded to
    # float32 as StationWindows stores them, so the pure functions see the same numbers.
    if rng.random() < 0.1:
        return None
    scale = 500.0 if rng.random() < 0.5 else 1e-4
    return float(np.float32(rng.uniform(0, scale) / 3))


@pytest.mark.parametrize(
    ("late_s", "end_offset_s"),
    [
        # in-order readings only: the closed hours come from the cache
        (None, 0),
        # a late reading lands in a closed hour: that hour (and the cache) is recomputed
        (-5 * 3600 - 30, 0),
        # a late reading in the current hour only
        (-30, 0),
        # evaluated at a later wall-clock time (the API): hours after the newest reading
        (None, 3 * 3600 + 600),
    ],
)
def test_hourly_means_and_means_are_bit_identical_to_the_pure_functions(
    late_s: float | None, end_offset_s: float
) -> None:
    # PERF caches the closed hours and sums without copies: results must stay exactly equal
    rng = random.Random(11)
    windows = StationWindows(interval_s=60)
    times: list[datetime] = []
    values: list[float | None] = []
    for i in range(14 * 60):
        t, v = at(i * 60 + 7), _noisy(rng)
        windows.add(t, {"pm25": v})
        times.append(t)
        values.append(v)
        if i % 50 == 0 or i > 12 * 60:
            # evaluate as the stage does, warming the cache as readings arrive
            assert windows.hourly_means("pm25", t) == clock_hour_means(
                times, values, now=t, interval_s=60
            )
    if late_s is not None:
        t, v = times[-1] + timedelta(seconds=late_s), float(np.float32(499.9))
        assert windows.add(t, {"pm25": v})
        times.append(t)
        values.append(v)
    end = max(times) + timedelta(seconds=end_offset_s)
    assert windows.hourly_means("pm25", end) == clock_hour_means(
        times, values, now=end, interval_s=60
    )
    newest = max(times)
    for width in (HOUR, timedelta(hours=8)):
        expected = rolling_mean(times, values, at=newest, width=width, interval_s=60)
        if expected is not None:
            # StationWindows sums its float32 values in float64 (numpy's pairwise order over
            # the window, as before PERF), which may differ from rolling_mean's float64 array
            # in the last bit: the reference is that same sum
            inside = [v for t, v in sorted(zip(times, values, strict=True)) if newest - width < t]
            present = np.array([v for v in inside if v is not None], dtype=np.float32)
            expected = float(present.sum(dtype=np.float64) / present.size)
        assert windows.mean("pm25", width) == expected
