"""LakeSeries: event-time order, duplicates, late readings, eviction, accepted flags."""

from __future__ import annotations

import random
from datetime import timedelta

import numpy as np
import pytest

from collector.lake import LakeSeries, Metric, Point
from tests.unit.lake._synthetic import minute, us

LEVEL = Metric.LEVEL


def stored(series: LakeSeries, metric: Metric = LEVEL) -> list[tuple[int, float]]:
    times, values = series.window(metric, us(-10_000), us(10_000))
    return list(zip(times.tolist(), values.tolist(), strict=True))


@pytest.mark.parametrize(
    ("arrivals", "expected_minutes", "expected_stored"),
    [
        # in order: every reading kept
        ([0, 1, 2], [0, 1, 2], [True, True, True]),
        # an MQTT redelivery (same timestamp) is ignored, the first value wins
        ([0, 1, 1, 2], [0, 1, 2], [True, True, False, True]),
        # a late reading is inserted in event-time order
        ([0, 2, 3, 1], [0, 1, 2, 3], [True, True, True, True]),
        # a late duplicate is still a duplicate
        ([0, 2, 3, 2], [0, 2, 3], [True, True, True, False]),
        # at or before newest − max_window (2 h here): ignored, it would be evicted at once
        ([200, 81, 80], [81, 200], [True, True, False]),
    ],
)
def test_order_and_duplicates(
    arrivals: list[int], expected_minutes: list[int], expected_stored: list[bool]
) -> None:
    series = LakeSeries(interval_s=60, max_window=timedelta(hours=2))
    results = [series.add(minute(m), {"level_m": float(m)}) for m in arrivals]
    assert results == expected_stored
    assert [t for t, _ in stored(series)] == [us(m) for m in expected_minutes]
    # the value follows its time (first value wins for duplicates)
    assert [v for _, v in stored(series)] == [float(m) for m in expected_minutes]


def test_eviction_keeps_the_window() -> None:
    # readings fall out once they are max_window or more older than the newest one
    series = LakeSeries(interval_s=60, max_window=timedelta(minutes=30))
    for m in range(100):
        series.add(minute(m), {"level_m": 1.0})
    assert len(series) == 30
    assert stored(series)[0][0] == us(70)
    assert series.newest == minute(99)


def test_growth_and_compaction_match_a_reference() -> None:
    # a small initial capacity forces both compaction and growth; shuffled near-order
    # arrivals (late by up to 5 min) must end up exactly as a sorted, deduplicated list
    rng = random.Random(7)
    arrivals = [m + rng.randint(0, 5) for m in range(400)]
    series = LakeSeries(interval_s=60, max_window=timedelta(hours=1), initial_capacity=8)
    for m in arrivals:
        series.add(minute(m), {"level_m": m / 100, "precip_mm": 0.1})
    newest = max(arrivals)
    expected = sorted({m for m in arrivals if m > newest - 60})
    assert [t for t, _ in stored(series)] == [us(m) for m in expected]
    assert [v for _, v in stored(series)] == [m / 100 for m in expected]
    assert len(series) == len(expected)


def test_metrics_are_independent() -> None:
    # a reading may carry any subset; absent metrics are not values (and never accepted)
    series = LakeSeries(interval_s=60)
    series.add(minute(0), {"level_m": 3.0})
    series.add(minute(1), {"discharge_m3s": 1.5, "water_temp": 4.0})
    assert stored(series, LEVEL) == [(us(0), 3.0)]
    assert stored(series, Metric.DISCHARGE) == [(us(1), 1.5)]
    assert stored(series, Metric.PRECIP) == []


def test_accepted_flags_and_neighbours() -> None:
    # rejected values leave rule windows and neighbour look-ups but stay stored
    series = LakeSeries(interval_s=60)
    for m, level in enumerate([3.0, 3.1, 8.0, 3.2]):
        series.add(minute(m), {"level_m": level})
    assert series.set_accepted(LEVEL, us(2), accepted=False)
    assert not series.is_accepted(LEVEL, us(2))
    assert [v for _, v in stored(series)] == [3.0, 3.1, 3.2]
    assert series.neighbours(LEVEL, us(2)) == (Point(us(1), 3.1), Point(us(3), 3.2))
    assert series.neighbours(LEVEL, us(3)) == (Point(us(1), 3.1), None)
    assert series.last_accepted(LEVEL) == Point(us(3), 3.2)
    # a time that is not stored cannot be flagged
    assert not series.set_accepted(LEVEL, us(1.5), accepted=True)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # (start, end]: the reading at start is out, the one at end is in
        (1, 3, [2, 3]),
        # an empty interval
        (3, 3, []),
        # beyond the newest reading
        (3, 100, [4]),
    ],
)
def test_window_edges(start: int, end: int, expected: list[int]) -> None:
    series = LakeSeries(interval_s=60)
    for m in range(5):
        series.add(minute(m), {"level_m": float(m)})
    times, values = series.window(LEVEL, us(start), us(end))
    assert times.tolist() == [us(m) for m in expected]
    assert values.dtype == np.float64


@pytest.mark.parametrize(
    ("values", "error"),
    [
        # infinities are refused (ingest rejects them too; this guards direct use)
        ({"level_m": float("inf")}, "finite"),
    ],
)
def test_rejects_infinite(values: dict[str, float], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        LakeSeries(interval_s=60).add(minute(0), values)


def test_int_times_are_microseconds() -> None:
    # the analyser passes µs ints; they mean the same instant as the datetime
    series = LakeSeries(interval_s=60)
    assert series.add(us(0), {"level_m": 1.0})
    assert not series.add(minute(0), {"level_m": 2.0})
    assert series.newest_us == us(0)
