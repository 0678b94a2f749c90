"""Event-time rolling means (spec §6): the per-station incremental buffer `StationWindows`.

`collector.air.rolling` holds the same rule as a pure array function. A rolling window of length
w at time t is the sample mean of the readings whose timestamps lie in (t − w, t]; it is valid
only with at least ⌊0.75 · w / interval_s⌋ readings of that metric (and at least 1), else None.
Times are reading timestamps, never arrival times, so replays agree.

Time representation: the public API takes aware `datetime`s (any offset; converted to UTC) or
numpy `datetime64` values (taken as UTC) and `timedelta` widths. Internally every time is an int64
count of microseconds since the Unix epoch: exact (a datetime has microsecond resolution), so the
open/closed window edges and duplicate detection never depend on floating-point rounding.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from collector.air._base import (
    US_PER_HOUR,
    Pollutant,
    TimeLike,
    clock_hour_means_us,
    duration_us,
    from_us,
    required_count,
    to_us,
)

# The metrics an air station's buffer keeps by default (the pollutant columns of air_readings).
AIR_METRICS: tuple[str, ...] = tuple(p.value for p in Pollutant)
# 24 h for the daily rules plus 1 h margin, so a reading up to an hour late still lands in range.
DEFAULT_MAX_WINDOW = timedelta(hours=25)

# Spare capacity over the expected number of readings: compaction (not growth) then absorbs the
# sliding window, and a station reporting up to ~5 % faster than declared still fits.
_HEADROOM = 1.2
# Compact in place while the live readings fill at most 7/8 of the buffer: each compaction frees
# at least 1/8 of it, so appends cost O(1) amortised (at most 7 element moves each).
_COMPACT_FILL = 7 / 8
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


class StationWindows:
    """The recent readings of one station, for rolling means and NowCast hourly means.

    Mutable and owned by one task (not thread-safe). It keeps the readings whose time lies in
    (newest − max_window, newest] for a fixed set of metrics, each reading holding any subset of
    them (completeness is counted per metric). Storage is one int64 time array (µs since the
    epoch, sorted, unique) and one float32 row per metric (NaN = the reading lacks the metric),
    used as a sliding region [start, end) of preallocated arrays:

    * in-order `add` is amortised O(1) (append; compaction when the region reaches the end);
      a late reading is placed by binary search and costs O(n) element moves, n ≤ the window;
    * `mean` is two binary searches plus a vectorised sum over the window's readings, bounded by
      max_window whatever the station's history.

    Values are stored as float32: its 7 significant digits resolve far finer than the data's
    0.1 µg/m³ over the accepted ranges (≤ 5000), at half the memory; sums are taken in float64.

    Memory: 8 B (time) + 4 B per metric and reading. With the defaults (3 metrics, 25 h) and a
    60 s station: 1,500 live readings, capacity ⌈1.2 · 1,500⌉ + 8 = 1,808 slots × 20 B ≈ 36 KB,
    plus < 1 KB of Python objects, so ≈ 37 KB per station (measured: 36.7 KB). 10,000 such
    stations take ≈ 370 MB, of which the live data itself (15 M readings × 20 B) is 300 MB.

    Args:
        interval_s: The station's expected reporting period in seconds (stations file).
        metrics: Names of the metrics kept; other keys passed to `add` are ignored.
        max_window: How much history to keep, relative to the newest reading; also the
            longest width `mean` accepts.
        initial_capacity: Preallocated slots; defaults to 1.2 × max_window / interval_s + 8.
    """

    __slots__ = (
        "_end",
        "_interval_s",
        "_max_us",
        "_older",
        "_row",
        "_start",
        "_times",
        "_values",
    )

    def __init__(
        self,
        *,
        interval_s: float,
        metrics: Sequence[str] = AIR_METRICS,
        max_window: timedelta = DEFAULT_MAX_WINDOW,
        initial_capacity: int | None = None,
    ) -> None:
        required_count(US_PER_HOUR, interval_s)  # validates interval_s
        if not metrics or len(set(metrics)) != len(metrics):
            raise ValueError(f"metrics must be non-empty and distinct, got {list(metrics)}")
        self._interval_s = float(interval_s)
        self._max_us = duration_us(max_window)
        self._row: Mapping[str, int] = {m: i for i, m in enumerate(metrics)}
        if initial_capacity is None:
            expected = self._max_us / 1_000_000 / self._interval_s
            initial_capacity = math.ceil(_HEADROOM * expected) + 8
        capacity = max(int(initial_capacity), 8)
        self._times: npt.NDArray[np.int64] = np.zeros(capacity, dtype=np.int64)
        self._values: npt.NDArray[np.float32] = np.full(
            (len(self._row), capacity), np.nan, dtype=np.float32
        )
        self._start = 0
        self._end = 0
        # metric row → (start of the current clock hour, hours, means of the older hours):
        # closed hours do not change until a late reading lands in one, so NowCast recomputes
        # only the current hour per reading (it was 8 % of the daemon's CPU).
        self._older: dict[int, tuple[int, int, tuple[float | None, ...]]] = {}

    def __len__(self) -> int:
        """Number of readings currently kept."""
        return self._end - self._start

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metric names kept, in storage order."""
        return tuple(self._row)

    @property
    def newest(self) -> datetime | None:
        """Time of the newest reading (UTC), or None before the first one."""
        return from_us(int(self._times[self._end - 1])) if len(self) else None

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffers (capacity, not just live readings)."""
        return self._times.nbytes + self._values.nbytes

    def add(self, time: TimeLike, values: Mapping[str, float | None]) -> bool:
        """Store one reading; returns False when it was ignored.

        A reading with the exact timestamp of a stored one is an MQTT redelivery and is ignored
        (the first one wins, as in the database). Late readings are inserted in time order;
        one at or before newest − max_window is ignored, as it would be evicted at once. A newer
        reading evicts what falls out of (newest − max_window, newest].

        Args:
            time: The reading's timestamp.
            values: Metric name → value; None or NaN for a missing value; names this buffer does
                not keep are ignored.

        Returns:
            True if stored, False for a duplicate or a reading older than the kept window.

        Raises:
            ValueError: A value is infinite.
        """
        t = to_us(time)
        row_values = self._row_values(values)
        n = len(self)
        if n and t <= self._times[self._end - 1]:
            if t <= int(self._times[self._end - 1]) - self._max_us:
                return False
            pos = self._start + int(np.searchsorted(self._times[self._start : self._end], t))
            if self._times[pos] == t:
                return False
            self._insert(pos, t, row_values)
            # A late reading may change a closed hour: drop the cached ones.
            self._older.clear()
            return True
        self._insert(self._end, t, row_values)
        cutoff = t - self._max_us
        if self._times[self._start] <= cutoff:
            live = self._times[self._start : self._end]
            self._start += int(np.searchsorted(live, cutoff, side="right"))
        return True

    def add_many(
        self, times: Sequence[TimeLike], columns: Mapping[str, Sequence[float | None]]
    ) -> None:
        """Store readings given column-wise, exactly as `add` would one after the other.

        A batch message's readings are in order and newer than the kept ones (the common
        case): they are appended in one vectorised step, one numpy call per metric instead of
        several per reading. Anything else (a duplicate, a late or unordered reading, an
        infinite value) goes through `add` reading by reading, so the result never differs.

        Args:
            times: The readings' timestamps.
            columns: Metric name → one value per reading (None or NaN when missing); names
                this buffer does not keep are ignored.

        Raises:
            ValueError: A column's length differs from `times`, or a value is infinite.
        """
        count = len(times)
        kept = {name: col for name, col in columns.items() if name in self._row}
        if any(len(col) != count for col in kept.values()):
            raise ValueError(f"every column needs {count} values")
        if count <= 1:
            # One reading: `add` is cheaper than setting up the vectorised step.
            if count:
                self.add(times[0], {name: col[0] for name, col in kept.items()})
            return
        stamps = _stamps(times)
        block = np.full((len(self._row), count), np.nan, dtype=np.float64)
        for name, col in kept.items():
            block[self._row[name]] = col
        in_order = bool(np.all(stamps[1:] > stamps[:-1]))
        newer = not len(self) or stamps[0] > self._times[self._end - 1]
        if not (in_order and newer) or np.isinf(block).any():
            for i, t in enumerate(times):
                self.add(t, {name: col[i] for name, col in kept.items()})
            return
        # One after the other, each in-order `add` appends and then evicts what falls out of
        # the window of its own time; the last one's cut-off is the strictest, so applying it
        # once (old readings, then the new ones it would evict at once) leaves the same state.
        cutoff = int(stamps[-1]) - self._max_us
        live = self._times[self._start : self._end]
        self._start += int(np.searchsorted(live, cutoff, side="right"))
        first = int(np.searchsorted(stamps, cutoff, side="right"))
        self._append(stamps[first:], block[:, first:].astype(np.float32))

    def mean(self, metric: str, width: timedelta, at: TimeLike | None = None) -> float | None:
        """Mean of `metric` over (at − width, at], or None when incomplete (spec §6).

        Args:
            metric: One of `metrics`.
            width: The window length; at most max_window.
            at: The window end; defaults to the newest reading's time (spec §6).

        Returns:
            The mean, or None with fewer than ⌊0.75 · width / interval_s⌋ (min. 1) readings
            of this metric, including when no reading was added yet.

        Raises:
            ValueError: Unknown metric, or a window reaching before the kept history.
        """
        if at is None and len(self):
            # The rules' case (window ending at the newest reading): one binary search, and
            # the bounds checks `_window` makes for an arbitrary end cannot fail here.
            row = self._metric_row(metric)
            w = duration_us(width)
            if w > self._max_us:
                raise ValueError(f"window {width} is longer than the kept history")
            live = self._times[self._start : self._end]
            i0 = int(np.searchsorted(live, int(live[-1]) - w, side="right"))
            seg = self._values[row, self._start + i0 : self._end]
        else:
            seg = self._window(metric, width, at)
        return _mean_if_complete(seg, required_count(duration_us(width), self._interval_s))

    def count(self, metric: str, width: timedelta, at: TimeLike | None = None) -> int:
        """Number of readings of `metric` in (at − width, at] (arguments as for `mean`)."""
        seg = self._window(metric, width, at)
        return int(np.count_nonzero(~np.isnan(seg)))

    def hourly_means(self, metric: str, end: TimeLike, hours: int = 12) -> list[float | None]:
        """Means of the clock hours up to the one containing `end`, newest first (NowCast input).

        Same rules as `collector.air.nowcast.clock_hour_means` (UTC clock hours, readings after
        `end` ignored, each hour valid with ≥ 75 % of the readings interval_s implies).

        Raises:
            ValueError: Unknown metric, or the oldest hour starts before the kept history.
        """
        row = self._metric_row(metric)
        end_us = to_us(end)
        current = end_us // US_PER_HOUR * US_PER_HOUR
        oldest = current - (hours - 1) * US_PER_HOUR
        self._check_retained(oldest)
        cached = self._older.get(row)
        if hours > 1 and cached is not None and cached[:2] == (current, hours):
            return [self._hour_mean(row, current, end_us), *cached[2]]
        live = self._times[self._start : self._end]
        i0 = int(np.searchsorted(live, oldest))
        i1 = int(np.searchsorted(live, end_us, side="right"))
        seg = slice(self._start + i0, self._start + i1)
        means = clock_hour_means_us(
            self._times[seg], self._values[row, seg], end_us, self._interval_s, hours
        )
        # The older hours are closed once the newest reading is in or past the current hour:
        # an in-order reading can then only land in the current hour or later.
        if hours > 1 and len(self) and int(self._times[self._end - 1]) >= current:
            self._older[row] = (current, hours, tuple(means[1:]))
        return means

    def _hour_mean(self, row: int, hour_us: int, end_us: int) -> float | None:
        """The mean of one clock hour up to `end_us`, as `clock_hour_means_us` computes it.

        That function sums an hour's values with `np.bincount`, one after the other in time
        order, in float64; a cumulative sum adds them in the same order, so the result is
        bit-for-bit the same (the NaN-free values, then one float64 division).
        """
        live = self._times[self._start : self._end]
        i0 = int(np.searchsorted(live, hour_us))
        i1 = int(np.searchsorted(live, end_us, side="right"))
        seg = self._values[row, self._start + i0 : self._start + i1]
        present = seg[~np.isnan(seg)]
        if present.size < required_count(US_PER_HOUR, self._interval_s):
            return None
        return float(np.cumsum(present, dtype=np.float64)[-1] / present.size)

    def _window(
        self, metric: str, width: timedelta, at: TimeLike | None
    ) -> npt.NDArray[np.float32]:
        row = self._metric_row(metric)
        w = duration_us(width)
        if w > self._max_us:
            raise ValueError(f"window {width} is longer than the kept history")
        if not len(self):
            return np.empty(0, dtype=np.float32)
        end = int(self._times[self._end - 1]) if at is None else to_us(at)
        self._check_retained(end - w + 1)
        live = self._times[self._start : self._end]
        i0 = int(np.searchsorted(live, end - w, side="right"))
        i1 = int(np.searchsorted(live, end, side="right"))
        return self._values[row, self._start + i0 : self._start + i1]

    def _check_retained(self, first_us: int) -> None:
        """Raise unless every time from `first_us` on is still inside the kept history."""
        if len(self) and first_us <= int(self._times[self._end - 1]) - self._max_us:
            raise ValueError(
                f"window starting {from_us(first_us).isoformat()} reaches before the kept history"
            )

    def _metric_row(self, metric: str) -> int:
        try:
            return self._row[metric]
        except KeyError:
            raise ValueError(f"unknown metric {metric!r}; kept: {list(self._row)}") from None

    def _row_values(self, values: Mapping[str, float | None]) -> npt.NDArray[np.float32]:
        column = [math.nan] * len(self._row)
        for name, value in values.items():
            row = self._row.get(name)
            if row is None or value is None:
                continue
            if math.isinf(value):
                raise ValueError(f"{name} must be finite, got {value}")
            column[row] = value
        # One conversion of the whole column: the same float32 rounding as item by item.
        return np.array(column, dtype=np.float32)

    def _append(self, stamps: npt.NDArray[np.int64], block: npt.NDArray[np.float32]) -> None:
        """Put sorted readings, all newer than the kept ones, after `end`."""
        count = stamps.size
        if self._end + count > self._times.size:
            self._make_room(count)
        end = self._end
        self._times[end : end + count] = stamps
        self._values[:, end : end + count] = block
        self._end = end + count

    def _insert(self, pos: int, t: int, column: npt.NDArray[np.float32]) -> None:
        """Put a reading at absolute index `pos` (≤ end), shifting later ones right by one."""
        if self._end == self._times.size:
            offset = self._start
            self._make_room()
            pos -= offset - self._start
        end = self._end
        if pos < end:
            # numpy copes with the overlapping source and destination.
            self._times[pos + 1 : end + 1] = self._times[pos:end]
            self._values[:, pos + 1 : end + 1] = self._values[:, pos:end]
        self._times[pos] = t
        self._values[:, pos] = column
        self._end = end + 1

    def _make_room(self, slots: int = 1) -> None:
        """Free `slots` slots after `end`: compact to the front, or grow by halves when full."""
        n = len(self)
        capacity = self._times.size
        if self._start > 0 and n + slots - 1 <= capacity * _COMPACT_FILL:
            self._times[:n] = self._times[self._start : self._end]
            self._values[:, :n] = self._values[:, self._start : self._end]
        else:
            while capacity < n + slots or capacity == self._times.size:
                capacity += max(capacity // 2, 8)
            times = np.zeros(capacity, dtype=np.int64)
            values = np.full((len(self._row), capacity), np.nan, dtype=np.float32)
            times[:n] = self._times[self._start : self._end]
            values[:, :n] = self._values[:, self._start : self._end]
            self._times, self._values = times, values
        self._start, self._end = 0, n


def _stamps(times: Sequence[TimeLike]) -> npt.NDArray[np.int64]:
    """`to_us` of every time; aware datetimes (the readings' case) at half the cost."""
    if set(map(type, times)) == {datetime}:
        try:
            return np.array([(t - _EPOCH) // _ONE_US for t in times], dtype=np.int64)
        except TypeError:
            pass  # a naive datetime: `to_us` names it
    return np.fromiter((to_us(t) for t in times), dtype=np.int64, count=len(times))


def _mean_if_complete(seg: npt.NDArray[np.float32], need: int) -> float | None:
    if seg.size < need:
        return None
    missing = np.isnan(seg)
    # Without gaps the window itself is summed: the same values in the same order as the
    # compacted copy, so the same float64 result, without the copy.
    present = seg[~missing] if missing.any() else seg
    if present.size < need:
        return None
    return float(present.sum(dtype=np.float64) / present.size)
