"""Bounded per-station event-time buffer of lake readings: level, precipitation, discharge.

Like `collector.air.windows.StationWindows`, it keeps the readings whose time lies in
(newest − max_window, newest], sorted by event time, duplicates ignored and late readings
inserted in place, and reuses the air package's time helpers (int64 microseconds since the
epoch: exact, so window edges and duplicate detection never depend on floating-point rounding).

Two differences justify a separate class rather than reusing StationWindows: the values are
float64 (least-squares slopes on levels of a few metres need more than float32's seven
digits to match `numpy.polyfit`), and each value carries an *accepted* flag set by the
data-quality screening (`collector.lake.quality`): rule inputs are computed from accepted
values only, while suspect and pending ones stay stored (and visible to late-reading checks).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from collector.air._base import US_PER_S, TimeLike, duration_us, from_us, required_count, to_us


class Metric(enum.StrEnum):
    """Lake metrics the analyser keeps; the value is the MQTT field and column name (spec §3)."""

    LEVEL = "level_m"
    PRECIP = "precip_mm"
    DISCHARGE = "discharge_m3s"


LAKE_METRICS: tuple[Metric, ...] = tuple(Metric)
# 1 h discharge baseline + 1 h outburst hold + the 10 min drop window = 2 h 10 min of history
# for the held peaks (see evaluate.py); the rest absorbs readings up to ~20 min late.
DEFAULT_MAX_WINDOW = timedelta(hours=2, minutes=30)
# Spare capacity over the expected count: compaction (not growth) absorbs the sliding window.
_HEADROOM = 1.2
_MIN_CAPACITY = 8


class Point(NamedTuple):
    """One stored value: event time in µs since the epoch and the value."""

    t_us: int
    value: float

    @property
    def time(self) -> datetime:
        """The event time as an aware UTC datetime."""
        return from_us(self.t_us)


class LakeSeries:
    """The recent readings of one lake station, each metric with an accepted flag.

    Mutable and owned by one task. Storage is one sorted, unique int64 time array and, per
    metric, a float64 row (NaN = the reading lacks the metric) and a bool row (accepted),
    used as a sliding region [start, end) of preallocated arrays. In-order `add` is amortised
    O(1); a late reading costs O(n) moves, n ≤ the readings of max_window (≈ 150 at 60 s).

    Args:
        interval_s: The station's expected reporting period in seconds (sizes the arrays).
        max_window: History kept, relative to the newest reading.
        initial_capacity: Preallocated slots; defaults to 1.2 × max_window / interval_s + 8.
    """

    __slots__ = ("_accepted", "_end", "_max_us", "_start", "_times", "_values")

    def __init__(
        self,
        *,
        interval_s: float,
        max_window: timedelta = DEFAULT_MAX_WINDOW,
        initial_capacity: int | None = None,
    ) -> None:
        required_count(US_PER_S, interval_s)  # validates interval_s
        self._max_us = duration_us(max_window)
        if initial_capacity is None:
            initial_capacity = math.ceil(_HEADROOM * self._max_us / US_PER_S / interval_s) + 8
        capacity = max(int(initial_capacity), _MIN_CAPACITY)
        self._times: npt.NDArray[np.int64] = np.zeros(capacity, dtype=np.int64)
        self._values: npt.NDArray[np.float64] = np.full(
            (len(LAKE_METRICS), capacity), np.nan, dtype=np.float64
        )
        self._accepted: npt.NDArray[np.bool_] = np.zeros((len(LAKE_METRICS), capacity), dtype=bool)
        self._start = 0
        self._end = 0

    def __len__(self) -> int:
        """Number of readings currently kept."""
        return self._end - self._start

    @property
    def newest_us(self) -> int | None:
        """Time of the newest reading (any metric, any quality) in µs, or None when empty."""
        return int(self._times[self._end - 1]) if len(self) else None

    @property
    def newest(self) -> datetime | None:
        """Time of the newest reading as an aware UTC datetime, or None when empty."""
        newest = self.newest_us
        return None if newest is None else from_us(newest)

    def add(self, time: TimeLike | int, values: Mapping[str, float | None]) -> bool:
        """Store one reading, every present value provisionally accepted.

        A reading with the exact timestamp of a stored one is an MQTT redelivery and is
        ignored (the first one wins, as in the database); one at or before newest − max_window
        is ignored, as it would be evicted at once. A newer reading evicts what falls out of
        (newest − max_window, newest].

        Args:
            time: The reading's event time (an int is µs since the epoch, as `newest_us`).
            values: Metric name → value; None or NaN when absent; unknown names are ignored.

        Returns:
            True if stored, False for a duplicate or a reading older than the kept window.

        Raises:
            ValueError: A value is infinite.
        """
        t = time if isinstance(time, int) else to_us(time)
        column = np.full(len(LAKE_METRICS), np.nan, dtype=np.float64)
        for row, metric in enumerate(LAKE_METRICS):
            value = values.get(metric.value)
            if value is None:
                continue
            if math.isinf(value):
                raise ValueError(f"{metric.value} must be finite, got {value}")
            column[row] = value
        newest = self.newest_us
        if newest is not None and t <= newest:
            if t <= newest - self._max_us:
                return False
            pos = self._find(t)
            if pos < self._end and self._times[pos] == t:
                return False
            self._insert(pos, t, column)
            return True
        self._insert(self._end, t, column)
        cutoff = t - self._max_us
        if self._times[self._start] <= cutoff:
            live = self._times[self._start : self._end]
            self._start += int(np.searchsorted(live, cutoff, side="right"))
        return True

    def set_accepted(self, metric: Metric, t_us: int, *, accepted: bool) -> bool:
        """Mark one stored value accepted or not; False when the reading is no longer kept."""
        pos = self._find(t_us)
        if pos >= self._end or self._times[pos] != t_us:
            return False
        row = LAKE_METRICS.index(metric)
        self._accepted[row, pos] = accepted and not math.isnan(self._values[row, pos])
        return True

    def is_accepted(self, metric: Metric, t_us: int) -> bool:
        """Whether the reading at `t_us` holds an accepted value of `metric`."""
        pos = self._find(t_us)
        if pos >= self._end or self._times[pos] != t_us:
            return False
        return bool(self._accepted[LAKE_METRICS.index(metric), pos])

    def window(
        self, metric: Metric, start_us: int, end_us: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Times and values of the accepted `metric` values with start_us < t ≤ end_us (copies)."""
        live = self._times[self._start : self._end]
        i0 = self._start + int(np.searchsorted(live, start_us, side="right"))
        i1 = self._start + int(np.searchsorted(live, end_us, side="right"))
        row = LAKE_METRICS.index(metric)
        keep = self._accepted[row, i0:i1]
        return self._times[i0:i1][keep], self._values[row, i0:i1][keep]

    def last_accepted(self, metric: Metric) -> Point | None:
        """The newest accepted value of `metric`, or None."""
        return self._accepted_before(LAKE_METRICS.index(metric), self._end)

    def neighbours(self, metric: Metric, t_us: int) -> tuple[Point | None, Point | None]:
        """The nearest accepted values of `metric` strictly before and strictly after `t_us`."""
        row = LAKE_METRICS.index(metric)
        live = self._times[self._start : self._end]
        lo = self._start + int(np.searchsorted(live, t_us, side="left"))
        hi = self._start + int(np.searchsorted(live, t_us, side="right"))
        after_idx = np.flatnonzero(self._accepted[row, hi : self._end])
        after = None
        if after_idx.size:
            pos = hi + int(after_idx[0])
            after = Point(int(self._times[pos]), float(self._values[row, pos]))
        return self._accepted_before(row, lo), after

    def _accepted_before(self, row: int, stop: int) -> Point | None:
        idx = np.flatnonzero(self._accepted[row, self._start : stop])
        if not idx.size:
            return None
        pos = self._start + int(idx[-1])
        return Point(int(self._times[pos]), float(self._values[row, pos]))

    def _find(self, t_us: int) -> int:
        """Absolute index of the first kept reading at or after `t_us`."""
        live = self._times[self._start : self._end]
        return self._start + int(np.searchsorted(live, t_us))

    def _insert(self, pos: int, t: int, column: npt.NDArray[np.float64]) -> None:
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
            self._accepted[:, pos + 1 : end + 1] = self._accepted[:, pos:end]
        self._times[pos] = t
        self._values[:, pos] = column
        self._accepted[:, pos] = ~np.isnan(column)
        self._end = end + 1

    def _make_room(self) -> None:
        """Free the slot after `end`: compact to the front, or grow by half when nearly full."""
        n = len(self)
        capacity = self._times.size
        if self._start > 0 and n <= capacity * 7 // 8:
            # Each compaction frees ≥ 1/8 of the buffer, so appends stay amortised O(1).
            self._times[:n] = self._times[self._start : self._end]
            self._values[:, :n] = self._values[:, self._start : self._end]
            self._accepted[:, :n] = self._accepted[:, self._start : self._end]
        else:
            capacity += max(capacity // 2, _MIN_CAPACITY)
            times = np.zeros(capacity, dtype=np.int64)
            values = np.full((len(LAKE_METRICS), capacity), np.nan, dtype=np.float64)
            accepted = np.zeros((len(LAKE_METRICS), capacity), dtype=bool)
            times[:n] = self._times[self._start : self._end]
            values[:, :n] = self._values[:, self._start : self._end]
            accepted[:, :n] = self._accepted[:, self._start : self._end]
            self._times, self._values, self._accepted = times, values, accepted
        self._start, self._end = 0, n
