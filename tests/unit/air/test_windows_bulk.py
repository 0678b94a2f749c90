"""`StationWindows.add_many` leaves exactly the state of `add` called reading by reading."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from collector.air.windows import StationWindows

T0 = datetime(2026, 1, 10, tzinfo=UTC)
Batch = list[tuple[int, float | None, float | None]]  # (minute, pm25, no2)


def minutes(first: int, count: int, step: int = 1) -> Batch:
    return [(first + i * step, 5.0 + (i % 37) / 10, 20.0 + (i % 11) / 3) for i in range(count)]


def columns(batch: Batch) -> dict[str, list[float | None]]:
    return {"pm25": [v for _, v, _ in batch], "no2": [v for _, _, v in batch]}


def times(batch: Batch) -> list[datetime]:
    return [T0 + timedelta(minutes=m) for m, _, _ in batch]


def state(w: StationWindows) -> tuple[object, ...]:
    """Everything a reader can see, plus the live arrays themselves (bit for bit)."""
    live = slice(w._start, w._end)
    seen: list[object] = [len(w), w.newest, w._times[live].tobytes(), w._values[:, live].tobytes()]
    if len(w):
        for metric in w.metrics:
            seen.extend(w.mean(metric, timedelta(hours=h)) for h in (1, 8, 24))
            seen.append(w.hourly_means(metric, w.newest))  # type: ignore[arg-type]
    return tuple(seen)


def one_by_one(before: Batch, batch: Batch, capacity: int | None) -> StationWindows:
    w = StationWindows(interval_s=60, initial_capacity=capacity)
    for reading in before + batch:
        w.add(times([reading])[0], {"pm25": reading[1], "no2": reading[2]})
    return w


def in_bulk(before: Batch, batch: Batch, capacity: int | None) -> StationWindows:
    w = StationWindows(interval_s=60, initial_capacity=capacity)
    w.add_many(times(before), columns(before))
    w.add_many(times(batch), columns(batch))
    return w


CASES = [
    # an empty buffer, one batch
    ([], minutes(0, 100), None),
    # in order after what is kept (the vectorised path)
    (minutes(0, 500), minutes(500, 100), None),
    # a tiny buffer: the batch forces growth, then compaction as the window slides
    ([], minutes(0, 100), 8),
    (minutes(0, 1400, 1), minutes(1400, 300), None),
    # a batch longer than the kept 25 h: its own oldest readings fall out at once
    (minutes(0, 10), minutes(10, 2000), 8),
    # a gap of more than 25 h evicts everything kept
    (minutes(0, 100), minutes(3000, 100), None),
    # missing values (None) and NaN
    ([], [(0, None, 1.0), (1, 2.0, None), (2, math.nan, 3.0), (3, None, None)], None),
    # a duplicate of a kept reading: the first one wins
    (minutes(0, 100), minutes(99, 10), None),
    # a late reading inside the batch
    (minutes(0, 100), [(120, 1.0, 1.0), (110, 2.0, 2.0), (130, 3.0, 3.0)], None),
    # duplicates within the batch
    ([], [(0, 1.0, 1.0), (0, 2.0, 2.0), (1, 3.0, 3.0)], None),
    # a batch entirely older than the kept window: ignored
    (minutes(3000, 100), minutes(0, 50), None),
    # a single reading (handed to `add`)
    (minutes(0, 100), [(100, 7.0, None)], None),
    # nothing
    (minutes(0, 10), [], None),
]


@pytest.mark.parametrize(("before", "batch", "capacity"), CASES)
def test_add_many_equals_add(before: Batch, batch: Batch, capacity: int | None) -> None:
    assert state(in_bulk(before, batch, capacity)) == state(one_by_one(before, batch, capacity))


def test_infinite_value_raises_after_storing_the_readings_before_it() -> None:
    # as with `add` one by one: the readings before the infinite one are kept
    batch = [*minutes(0, 5), (5, math.inf, 1.0), *minutes(6, 5)]
    w = StationWindows(interval_s=60)
    with pytest.raises(ValueError, match="finite"):
        w.add_many(times(batch), columns(batch))
    assert state(w) == state(one_by_one([], batch[:5], None))


@pytest.mark.parametrize(
    "cols",
    [
        # a column shorter than the times
        {"pm25": [1.0]},
        # a column longer than the times
        {"pm25": [1.0, 2.0, 3.0]},
    ],
)
def test_column_length_must_match(cols: dict[str, list[float | None]]) -> None:
    w = StationWindows(interval_s=60)
    with pytest.raises(ValueError, match="values"):
        w.add_many([T0, T0 + timedelta(minutes=1)], cols)


def test_unknown_metrics_are_ignored() -> None:
    # as with `add`: names the buffer does not keep are dropped
    w = StationWindows(interval_s=60)
    w.add_many([T0, T0 + timedelta(minutes=1)], {"pm25": [1.0, 2.0], "ozone": [9.0]})
    assert len(w) == 2
    assert np.isnan(w._values[w._row["no2"], w._start : w._end]).all()
