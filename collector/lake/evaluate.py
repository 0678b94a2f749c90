"""Per-station lake analyser: screened readings in event time → rule inputs and an API state.

`LakeAnalyser` is fed `LakeReading`s in any order (event time decides) and returns, at the
station's newest reading, the inputs of the spec §6 lake rules plus a display `state`. It
knows nothing of the alert engine: the caller maps the values to rules.

Criteria, defaults (`LakeConfig`, all per station where the caller wants) and their origin.
The *kinds* of criterion are those of operational glacial-lake early warning; the numbers are
the spec §6 defaults, which no single published system prescribes (each system sets marks
for its own lake and gauge), so they are configuration, not constants:

* `lake_level` — absolute marks per lake, `warning_level_m` / `critical_level_m` from the
  stations file. Kazselezashchita and the Almaty emergency department report moraine lakes
  against their "critical marks" and filling percentage and lower them with siphons and
  channels before they reach them (https://informburo.kz/novosti/v-gorax-almaty-iz-za-opasnosti-selei-vystavili-posty-dlya-nablyudeniya-za-morennymi-ozyorami,
  https://kazlenta.kz/amp/83006-akim-goroda-erbolat-dosaev-oznakomilsya-s-situaciey-na-morennyh-ozerah-v-gorah-almaty.html,
  https://rus.baq.kz/morennye-ozyora-kazahstana-pereshli-v-zimniy-rezhim_300025935/); the
  Imja (2017: radar and water-level sensors, sirens) and Tsho Rolpa (2015: SMS when the lake
  level rises) systems warn on lake level (https://www.np.undp.org/content/nepal/en/home/presscenter/articles/2020/on-the-alert.html,
  http://www.nepalenergyforum.com/tsho-rolpa-lake-gets-advanced-early-warning-system/).
* `lake_rise` — least-squares rise rate over 30 min ≥ 0.5 m/h: warning. A moraine lake fills
  over a season by centimetres a day (the 0.05 m/h test scenario is already a fast day); half
  a metre an hour means an abnormal inflow (a blocked outlet channel, an ice or rock fall
  into the lake) and leaves hours, not days, before a critical mark.
* `lake_outburst` — on an `outburst_hazard` lake, a drop of ≥ 0.3 m within 10 min (1.8 m/h
  of sustained lowering, far outside outflow variation: the dam or an englacial channel is
  releasing water); or, at a river gauge `downstream_of` a lake, discharge ≥ 2 × its median
  of the previous hour. Watching the lake *and* the river below it is how the Tsho Rolpa
  system is laid out (level stations at the outlet and at Beding and Na downstream,
  https://kathmandupost.ekantipur.com/news/2018-07-31/lack-of-telecom-network-drops-tsho-rolpa-lake-level-updates.html);
  at Lake 513, Peru, lake-side sensors and cameras relay to the town below
  (https://public.wmo.int/en/resources/bulletin/glacier-lake-513-peru-lessons-early-warning-service-development).
  The Imja design confirms a GLOF with more than one sensor (see `collector.lake.quality`):
  here the lake's drop and the gauge's surge are independent confirmations for the caller.
  A non-hazardous lake reports its drop but never enters `outburst`.
* Hysteresis — each condition clears below `hysteresis` × its threshold (spec §6 default
  0.9). The outburst signals are *held*: `drop_peak_m` / `discharge_ratio_peak` are the
  largest values over the trailing `outburst_hold` (1 h), because a 10-min drop returns to
  zero ten minutes after the lake stops falling while the flood wave is still travelling
  the tens of kilometres down to the city. The hold is a Kuzet choice, not a cited value.

Data quality (`collector.lake.quality`) runs before all of this: suspect and pending values
never reach a rule input, so a one-sample spike or an impossible jump cannot look like an
outburst. Cost per `evaluate` is bounded by the kept history (≈ 150 readings at 60 s).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from collector.air._base import duration_us, from_us, to_us
from collector.lake import trend
from collector.lake.quality import Quality, QualityConfig, Reason, Ruling, Screener
from collector.lake.series import DEFAULT_MAX_WINDOW, LakeSeries, Metric
from collector.models import LakeReading
from collector.stations import Station


class LakeState(enum.StrEnum):
    """The display state of a lake station (spec §7), worst condition first."""

    NORMAL = "normal"
    WARNING = "warning"
    CRITICAL = "critical"
    OUTBURST = "outburst"


@dataclass(frozen=True, slots=True)
class LakeConfig:
    """Thresholds and windows of the lake analysis (level marks come from the station)."""

    rise_warning_m_h: float = 0.5
    rise_window: timedelta = timedelta(minutes=30)
    drop_critical_m: float = 0.3
    drop_window: timedelta = timedelta(minutes=10)
    surge_ratio: float = 2.0
    surge_baseline: timedelta = timedelta(hours=1)
    precip_window: timedelta = timedelta(hours=1)
    outburst_hold: timedelta = timedelta(hours=1)
    hysteresis: float = 0.9
    outlier_k: float = 3.5
    outlier_floor_m: float = 0.02
    max_window: timedelta = DEFAULT_MAX_WINDOW
    quality: QualityConfig = field(default_factory=QualityConfig)

    def __post_init__(self) -> None:
        if not 0 < self.hysteresis <= 1:
            raise ValueError("hysteresis must be in (0, 1]")
        if min(self.rise_warning_m_h, self.drop_critical_m) <= 0 or self.surge_ratio <= 1:
            raise ValueError("thresholds must be positive and surge_ratio above 1")
        needed = max(
            self.rise_window,
            self.precip_window,
            self.outburst_hold + max(self.drop_window, self.surge_baseline),
        )
        if duration_us(self.max_window) < duration_us(needed):
            raise ValueError(f"max_window must cover {needed} of history")


@dataclass(frozen=True, slots=True)
class LakeStatus:
    """Rule inputs and display state of one lake station at its newest reading.

    Values are None where the data are insufficient (incomplete window, metric not reported).

    Attributes:
        station_id: The station.
        time: Newest reading's event time (the evaluation time t of spec §6).
        level_m: Latest accepted level (`lake_level` input), at `level_time`.
        level_time: Event time of `level_m`.
        rise_rate_m_h: Robust 30-min least-squares slope (`lake_rise` input).
        drop_10min_m: Largest fall of accepted level within (t − 10 min, t].
        drop_peak_m: Largest `drop_10min_m` over the hold period (held `lake_outburst` input).
        discharge_m3s: Latest accepted discharge.
        discharge_median_m3s: Its median over the previous hour.
        discharge_ratio: discharge_m3s / discharge_median_m3s (median floored).
        discharge_ratio_peak: Largest ratio over the hold period (held `lake_outburst` input).
        discharge_rate_m3s_h: Least-squares discharge trend over the rise window.
        precip_mm_h: Rainfall intensity over the last hour.
        state: The display state, with hysteresis.
        conditions: Active conditions: `level_warning`, `level_critical`, `rise`, `drop`, `surge`.
        level_quality: Classification of the newest level value received (its reading may be
            older than `time` when later readings carried no level); `pending` while a large
            step waits for the next reading.
        level_quality_reason: Why it is not plainly ok.
        suspect_counts: Suspect values so far by `metric.reason` (and `level_m.level_shift`).
    """

    station_id: str
    time: datetime | None
    level_m: float | None = None
    level_time: datetime | None = None
    rise_rate_m_h: float | None = None
    drop_10min_m: float | None = None
    drop_peak_m: float | None = None
    discharge_m3s: float | None = None
    discharge_median_m3s: float | None = None
    discharge_ratio: float | None = None
    discharge_ratio_peak: float | None = None
    discharge_rate_m3s_h: float | None = None
    precip_mm_h: float | None = None
    state: LakeState = LakeState.NORMAL
    conditions: tuple[str, ...] = ()
    level_quality: Quality | None = None
    level_quality_reason: Reason | None = None
    suspect_counts: Mapping[str, int] = field(default_factory=dict)


class _Latch:
    """A threshold with hysteresis: on at ≥ threshold, off below factor × threshold."""

    __slots__ = ("factor", "on", "threshold")

    def __init__(self, threshold: float, factor: float) -> None:
        self.threshold = threshold
        self.factor = factor
        self.on = False

    def update(self, value: float | None) -> bool:
        # No data changes nothing, as in the alert engine (station_stale reports gaps).
        if value is not None:
            if value >= self.threshold:
                self.on = True
            elif value < self.factor * self.threshold:
                self.on = False
        return self.on


class LakeAnalyser:
    """Screens the readings of one lake station and computes its rule inputs and state.

    Mutable, owned by one task. Call `add` for each reading (any order; duplicates are
    ignored), then `evaluate` once per batch: the hysteresis latches advance on `evaluate`.

    Args:
        station: The station (kind lake): interval, level marks, hazard, `downstream_of`.
        config: Thresholds and windows; defaults are the spec §6 values.
    """

    def __init__(self, station: Station, config: LakeConfig | None = None) -> None:
        self.station = station
        self.config = config or LakeConfig()
        cfg = self.config
        self._series = LakeSeries(interval_s=station.interval_s, max_window=cfg.max_window)
        self._screeners = {m: Screener(m, cfg.quality) for m in (Metric.LEVEL, Metric.DISCHARGE)}
        self._segment_start: dict[Metric, int] = {}
        self._counts: dict[str, int] = {}
        self._newest_level: Ruling | None = None
        h = cfg.hysteresis
        self._level_latches = {
            name: _Latch(mark, h)
            for name, mark in (
                ("level_warning", station.warning_level_m),
                ("level_critical", station.critical_level_m),
            )
            if mark is not None
        }
        self._rise = _Latch(cfg.rise_warning_m_h, h)
        self._drop = _Latch(cfg.drop_critical_m, h) if station.outburst_hazard else None
        self._surge = _Latch(cfg.surge_ratio, h) if station.downstream_of else None

    @property
    def series(self) -> LakeSeries:
        """The stored readings (read-only use)."""
        return self._series

    def add(self, reading: LakeReading) -> tuple[Ruling, ...] | None:
        """Store and screen one reading.

        Returns:
            The quality rulings it caused (its own values and earlier ones decided now),
            or None when it was not stored (duplicate, or older than the kept history).

        Raises:
            ValueError: The reading belongs to another station, or a value is infinite.
        """
        if reading.station_id != self.station.id:
            raise ValueError(f"reading of {reading.station_id} fed to {self.station.id}")
        values: dict[str, float | None] = {
            Metric.LEVEL: reading.level_m,
            Metric.PRECIP: reading.precip_mm,
            Metric.DISCHARGE: reading.discharge_m3s,
        }
        t = to_us(reading.time)
        if not self._series.add(t, values):
            return None
        rulings: list[Ruling] = []
        for metric, screener in self._screeners.items():
            value = values[metric]
            if value is None or math.isnan(value):
                continue
            before, after = self._series.neighbours(metric, t)
            for ruling in screener.screen(t, value, before=before, after=after):
                self._apply(ruling)
                rulings.append(ruling)
        return tuple(rulings)

    def _apply(self, ruling: Ruling) -> None:
        metric = ruling.metric
        self._series.set_accepted(metric, ruling.t_us, accepted=ruling.quality is Quality.OK)
        # Classifications are counted when made: the readings of a run that later turns
        # out to be a level shift stay counted as impossible_rate, the shift once more.
        if ruling.quality is Quality.SUSPECT and ruling.reason is not None:
            self._count(f"{metric.value}.{ruling.reason.value}")
        if ruling.reason is Reason.LEVEL_SHIFT:
            self._count(f"{metric.value}.{ruling.reason.value}")
            self._segment_start[metric] = ruling.t_us
        if metric is Metric.LEVEL and (
            self._newest_level is None or ruling.t_us >= self._newest_level.t_us
        ):
            self._newest_level = ruling

    def _count(self, key: str) -> None:
        self._counts[key] = self._counts.get(key, 0) + 1

    def evaluate(self) -> LakeStatus:
        """Rule inputs and state at the newest reading; advances the hysteresis latches."""
        end = self._series.newest_us
        if end is None:
            return LakeStatus(self.station.id, None)
        cfg = self.config
        interval = self.station.interval_s
        lt, lv = self._recent(Metric.LEVEL, end)
        last_level = self._series.last_accepted(Metric.LEVEL)
        rise = trend.robust_slope(
            lt,
            lv,
            end_us=end,
            width=cfg.rise_window,
            interval_s=interval,
            outlier_k=cfg.outlier_k,
            outlier_floor=cfg.outlier_floor_m,
        )
        drop = trend.max_drop(lt, lv, end_us=end, width=cfg.drop_window)
        drop_peak = trend.peak_drop(
            lt, lv, end_us=end, width=cfg.drop_window, hold=cfg.outburst_hold
        )
        qt, qv = self._recent(Metric.DISCHARGE, end)
        ratio = median = ratio_peak = q_rate = None
        if qt.size:
            floor = cfg.quality.discharge_floor_m3s
            ratio, median = trend.surge_ratio(
                qt,
                qv,
                index=qt.size - 1,
                baseline=cfg.surge_baseline,
                interval_s=interval,
                floor=floor,
            )
            ratio_peak = trend.peak_surge_ratio(
                qt,
                qv,
                end_us=end,
                hold=cfg.outburst_hold,
                baseline=cfg.surge_baseline,
                interval_s=interval,
                floor=floor,
            )
            slope = trend.robust_slope(
                qt,
                qv,
                end_us=end,
                width=cfg.rise_window,
                interval_s=interval,
                outlier_k=cfg.outlier_k,
                outlier_floor=floor,
            )
            q_rate = slope.per_hour if slope else None
        pt, pv = self._series.window(Metric.PRECIP, end - duration_us(cfg.precip_window), end)
        precip = trend.window_sum_rate(
            pt, pv, end_us=end, width=cfg.precip_window, interval_s=interval
        )
        rise_rate = rise.per_hour if rise else None
        level = last_level.value if last_level else None
        conditions = self._conditions(level, rise_rate, drop_peak, ratio_peak)
        newest_level = self._newest_level
        return LakeStatus(
            station_id=self.station.id,
            time=from_us(end),
            level_m=level,
            level_time=last_level.time if last_level else None,
            rise_rate_m_h=rise_rate,
            drop_10min_m=drop,
            drop_peak_m=drop_peak,
            discharge_m3s=float(qv[-1]) if qv.size else None,
            discharge_median_m3s=median,
            discharge_ratio=ratio,
            discharge_ratio_peak=ratio_peak,
            discharge_rate_m3s_h=q_rate,
            precip_mm_h=precip,
            state=_state(conditions),
            conditions=conditions,
            level_quality=newest_level.quality if newest_level else None,
            level_quality_reason=newest_level.reason if newest_level else None,
            suspect_counts={k: v for k, v in self._counts.items() if v},
        )

    def _recent(self, metric: Metric, end: int) -> tuple[trend.Times, trend.Values]:
        """Accepted values over the longest window any rule needs, from the segment start."""
        cfg = self.config
        span = max(cfg.rise_window, cfg.outburst_hold + max(cfg.drop_window, cfg.surge_baseline))
        start = end - duration_us(span)
        segment = self._segment_start.get(metric)
        if segment is not None:
            start = max(start, segment - 1)
        return self._series.window(metric, start, end)

    def _conditions(
        self,
        level: float | None,
        rise_rate: float | None,
        drop_peak: float | None,
        ratio_peak: float | None,
    ) -> tuple[str, ...]:
        active = [name for name, latch in self._level_latches.items() if latch.update(level)]
        if self._rise.update(rise_rate):
            active.append("rise")
        if self._drop is not None and self._drop.update(drop_peak):
            active.append("drop")
        if self._surge is not None and self._surge.update(ratio_peak):
            active.append("surge")
        return tuple(active)


def _state(conditions: tuple[str, ...]) -> LakeState:
    if "drop" in conditions or "surge" in conditions:
        return LakeState.OUTBURST
    if "level_critical" in conditions:
        return LakeState.CRITICAL
    if conditions:
        return LakeState.WARNING
    return LakeState.NORMAL
