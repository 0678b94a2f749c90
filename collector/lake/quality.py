"""Data-quality screening of lake readings: impossible values, spikes that return, level shifts.

A lake level changes through physics with inertia: a moraine lake of 10⁴–10⁵ m² cannot gain or
lose metres in a minute, and an outburst lowers it *monotonically over several readings*
while the discharge rises downstream. A faulty sensor (a loose float, a radar echo off a
wave or snow, a pressure transducer out of water, a logger glitch) produces readings that are
*impossible* (beyond the sensor range, metres below the gauge zero, a rate no lake can
sustain) or *transient* (one sample away from consistent neighbours, then back). This module
tells them apart, reading by reading, in event time:

* **Range** (immediate): level below `min_level_m` (negative depth beyond the tolerance
  around the gauge zero) or above `max_level_m` (the sensor's span, when known) → `suspect`.
* **Impossible rate** (immediate): |Δlevel| > `max_rate_m_min` × max(Δt, 1 min) from the last
  accepted level → `suspect`. 1 m/min out of a 0.1 km² lake (large for the Zailiysky Alatau)
  is ≈ 1,700 m³/s of outflow, the order of the largest moraine-dam GLOF peaks on record
  (Dig Tsho 1985, ≈ 2,000 m³/s; Vuichard & Zimmermann 1987). Steps closer than a minute are
  judged as one minute apart, so sub-minute sampling noise is never "impossible".
* **Spike that returns** (one reading later): a step larger than `level_step_m` (or, for
  discharge, a ratio beyond `discharge_step_ratio`) from the last accepted value makes the
  reading `pending`: it is kept out of rule inputs until the next reading decides. If that
  one is back near the last accepted value, the pending reading was a spike → `suspect`; if
  it stays on the same side, the change is sustained → both `ok` (a real surge or drop costs
  one reporting interval of delay, 1 min on the Almaty network, against lead times of tens
  of minutes from the lakes to the city).
* **Level shift**: `reanchor_count` consecutive impossible-rate readings that agree with each
  other mean the old reference was wrong (bad first reading, sensor re-installed with a new
  zero): they are accepted, the first flagged `level_shift`, and rise rates and drops start
  afresh from it (the analyser never computes a drop across a shift). A real catastrophic
  drainage too fast for this screen is still caught by the downstream gauge, which
  is screened independently: that redundancy is why GLOF systems confirm an outburst with
  more than one sensor (Imja EWS design, DHM/CFGORRP:
  http://cfgorrp.dhm.gov.np/accomplishments/identification-design-and-development-of-automatic-imja-glof-early-warning-system-with-the-cost-effective-data-transfer-from-equipment-at-imja-lake-to-local-communicties-and-dhm-web-portal/).

False alarms are not harmless: in 2013 a siren sounded for an ordinary river rise was taken
for a Tsho Rolpa outburst and emptied towns along the Tamakoshi
(http://www.disaster-report.com/2013/08/tsho-rolpa-glacial-lake-outburst-flood.html), and a
high rate of false alarms is cited for the erosion of trust in that early warning system;
hence screening before the rules rather than after.

A late reading (older than the newest accepted value) is judged against its accepted
neighbours on both sides: impossible rate to either, or a jump away from two neighbours that
agree with each other (`spike`). Precipitation is not screened (spec §3 ranges suffice).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime

from collector.air._base import from_us
from collector.lake.series import Metric, Point

US_PER_MIN = 60_000_000


class Quality(enum.StrEnum):
    """Classification of one value."""

    OK = "ok"  # accepted: a rule input
    PENDING = "pending"  # a large step, waiting for the next reading (not a rule input yet)
    SUSPECT = "suspect"  # a data-quality problem: stored and counted, never a rule input


class Reason(enum.StrEnum):
    """Why a value is not plainly `ok`."""

    BELOW_ZERO = "below_zero"
    OUT_OF_RANGE = "out_of_range"
    IMPOSSIBLE_RATE = "impossible_rate"
    SPIKE = "spike"
    JUMP = "jump"  # with PENDING: a large step awaiting confirmation
    LEVEL_SHIFT = "level_shift"  # with OK: first value of a new consistent segment


@dataclass(frozen=True, slots=True)
class QualityConfig:
    """Screening limits; defaults suit moraine lakes and river gauges of the Almaty network.

    Attributes:
        min_level_m: Lowest credible level (m above gauge zero); below it the sensor reads a
            negative depth beyond its noise (pressure transducer out of water, bad zero).
        max_level_m: Top of the sensor's span, when known; None: unchecked.
        max_rate_m_min: Fastest credible level change (see the module docstring).
        level_step_m: A level step larger than this waits one reading for confirmation;
            well above the centimetre-level noise of lake level sensors, and below the 0.3 m
            outburst drop so that a one-sample dip can never fire `lake_outburst` on its own.
        discharge_step_ratio: Same for discharge, as a ratio (rises and falls alike); below
            the 2× surge ratio for the same reason.
        discharge_floor_m3s: Discharges below this count as this in ratios (a near-dry
            channel must not turn noise into huge ratios).
        reanchor_count: Consistent impossible-rate readings that establish a level shift.
    """

    min_level_m: float = -0.10
    max_level_m: float | None = None
    max_rate_m_min: float = 1.0
    level_step_m: float = 0.20
    discharge_step_ratio: float = 1.5
    discharge_floor_m3s: float = 0.1
    reanchor_count: int = 3

    def __post_init__(self) -> None:
        if not (self.max_rate_m_min > 0 and self.level_step_m > 0):
            raise ValueError("max_rate_m_min and level_step_m must be positive")
        if not (self.discharge_step_ratio > 1 and self.discharge_floor_m3s > 0):
            raise ValueError("discharge_step_ratio must exceed 1 and discharge_floor_m3s be > 0")
        if self.reanchor_count < 2:  # noqa: PLR2004 - one reading cannot be "consistent"
            raise ValueError("reanchor_count must be at least 2")
        if self.max_level_m is not None and self.max_level_m <= self.min_level_m:
            raise ValueError("max_level_m must exceed min_level_m")


@dataclass(frozen=True, slots=True)
class Ruling:
    """The classification of one stored value (possibly an earlier one, decided now)."""

    metric: Metric
    t_us: int
    quality: Quality
    reason: Reason | None = None

    @property
    def time(self) -> datetime:
        """The value's event time as an aware UTC datetime."""
        return from_us(self.t_us)


class Screener:
    """Sequential screening of one metric (level or discharge) of one station.

    The caller stores each value first, then passes the nearest *accepted* values before and
    after it (from `LakeSeries.neighbours`) and applies the returned rulings. State kept here:
    the pending value and the run of consistent impossible-rate values.
    """

    __slots__ = ("_cfg", "_metric", "_pending", "_run")

    def __init__(self, metric: Metric, config: QualityConfig) -> None:
        if metric is Metric.PRECIP:
            raise ValueError("precipitation is not screened")
        self._metric = metric
        self._cfg = config
        self._pending: Point | None = None
        self._run: list[Point] = []

    @property
    def pending(self) -> Point | None:
        """The value waiting for confirmation, if any."""
        return self._pending

    def screen(
        self, t_us: int, value: float, *, before: Point | None, after: Point | None
    ) -> tuple[Ruling, ...]:
        """Classify a new value; may also decide the pending one or accept a level shift.

        Args:
            t_us: The value's event time (µs since the epoch).
            value: The value.
            before: The nearest accepted value strictly before `t_us`.
            after: The nearest accepted value strictly after `t_us` (a late reading).

        Returns:
            Rulings for this value and for earlier ones decided by it, oldest first.
        """
        bad = self._out_of_range(value)
        if bad is not None:
            return (self._ruling(t_us, Quality.SUSPECT, bad),)
        pending = self._pending
        if after is not None or (pending is not None and t_us < pending.t_us):
            return (self._screen_late(t_us, value, before, after),)
        rulings: list[Ruling] = []
        if pending is not None:
            self._pending = None
            if before is None:
                # Nothing left to compare with (history evicted): the step stands.
                rulings.append(self._ruling(pending.t_us, Quality.OK))
                before = pending
            elif self._confirms(before, pending, t_us, value):
                rulings.append(self._ruling(pending.t_us, Quality.OK))
                before = pending
            else:
                rulings.append(self._ruling(pending.t_us, Quality.SUSPECT, Reason.SPIKE))
        rulings.extend(self._screen_next(t_us, value, before))
        return tuple(rulings)

    def _confirms(self, base: Point, pending: Point, t_us: int, value: float) -> bool:
        """Whether `value` sustains the pending step: same side of `base`, credible rate."""
        if not self._large_step(base.value, value):
            return False  # back near the reference: the pending value was a spike
        same_side = math.copysign(1.0, value - base.value) == math.copysign(
            1.0, pending.value - base.value
        )
        return same_side and not self._too_fast(pending, t_us, value)

    def _screen_next(self, t_us: int, value: float, before: Point | None) -> list[Ruling]:
        if before is None:  # the first value: nothing to compare with
            self._run.clear()
            return [self._ruling(t_us, Quality.OK)]
        if self._consistent(before, t_us, value):
            self._run.clear()
            return [self._ruling(t_us, Quality.OK)]
        # While impossible values keep agreeing with each other they stay one run, judged
        # against each other: the last accepted value ages meanwhile, and the same step
        # would otherwise look credible by rate a few minutes later.
        if self._run and self._consistent(self._run[-1], t_us, value):
            return self._impossible(t_us, value)
        if self._too_fast(before, t_us, value):
            return self._impossible(t_us, value)
        self._run.clear()
        if self._large_step(before.value, value):
            self._pending = Point(t_us, value)
            return [self._ruling(t_us, Quality.PENDING, Reason.JUMP)]
        return [self._ruling(t_us, Quality.OK)]

    def _impossible(self, t_us: int, value: float) -> list[Ruling]:
        """An impossible-rate value; enough consistent ones in a row make a level shift."""
        if self._run and not self._consistent(self._run[-1], t_us, value):
            self._run.clear()
        self._run.append(Point(t_us, value))
        if len(self._run) < self._cfg.reanchor_count:
            return [self._ruling(t_us, Quality.SUSPECT, Reason.IMPOSSIBLE_RATE)]
        run, self._run = self._run, []
        first = self._ruling(run[0].t_us, Quality.OK, Reason.LEVEL_SHIFT)
        return [first, *(self._ruling(p.t_us, Quality.OK) for p in run[1:])]

    def _screen_late(
        self, t_us: int, value: float, before: Point | None, after: Point | None
    ) -> Ruling:
        here = Point(t_us, value)
        if (before is not None and self._too_fast(before, t_us, value)) or (
            after is not None and self._too_fast(here, after.t_us, after.value)
        ):
            return self._ruling(t_us, Quality.SUSPECT, Reason.IMPOSSIBLE_RATE)
        if (
            before is not None
            and after is not None
            and self._large_step(before.value, value)
            and self._large_step(value, after.value)
            and not self._large_step(before.value, after.value)
        ):
            return self._ruling(t_us, Quality.SUSPECT, Reason.SPIKE)
        return self._ruling(t_us, Quality.OK)

    def _consistent(self, ref: Point, t_us: int, value: float) -> bool:
        return not self._too_fast(ref, t_us, value) and not self._large_step(ref.value, value)

    def _out_of_range(self, value: float) -> Reason | None:
        if self._metric is not Metric.LEVEL:
            return None  # discharge ranges are enforced at ingest (spec §3)
        if value < self._cfg.min_level_m:
            return Reason.BELOW_ZERO
        if self._cfg.max_level_m is not None and value > self._cfg.max_level_m:
            return Reason.OUT_OF_RANGE
        return None

    def _too_fast(self, ref: Point, t_us: int, value: float) -> bool:
        if self._metric is not Metric.LEVEL:
            return False  # a flood wave may multiply discharge within a minute
        minutes = max(abs(t_us - ref.t_us) / US_PER_MIN, 1.0)
        return abs(value - ref.value) > self._cfg.max_rate_m_min * minutes

    def _large_step(self, a: float, b: float) -> bool:
        if self._metric is Metric.LEVEL:
            return abs(b - a) > self._cfg.level_step_m
        floor = self._cfg.discharge_floor_m3s
        lo, hi = sorted((max(a, floor), max(b, floor)))
        return hi / lo > self._cfg.discharge_step_ratio

    def _ruling(self, t_us: int, quality: Quality, reason: Reason | None = None) -> Ruling:
        return Ruling(self._metric, t_us, quality, reason)
