"""Moraine-lake and river-gauge generator: level, water temperature, precipitation, discharge.

The model (coefficients in `LakeParams`):

* Two kinds of station. A river gauge (a station with `downstream_of`, or below
  `gauge_max_elevation_m`) reports stage and discharge; a lake station reports its level.
  Levels are scaled to each station's `warning_level_m`, so normal conditions stay well
  below it (≤ ~0.8 × warning with the defaults, even in a storm at the melt peak).
* Seasonal melt: glacier and snow melt rises from mid-May, peaks at the end of July and ends
  in mid-October (a raised-cosine bump), with an afternoon/evening daily melt peak. Lakes are
  frozen and low in winter; rivers fall to winter baseflow (a quarter of summer discharge).
* Gauges: a power-law rating curve Q = Q_s · (h / h_s)^1.6, the usual form for natural
  channels (WMO-No. 1044, Manual on Stream Gauging); the published discharge is computed from
  the measured stage, as a real station does.
* Rain: storms (`RainEvent`) add precipitation and, through a linear reservoir (lakes 6 h,
  rivers 2 h), raise levels and discharge; in the cold season they fall as snow (precipitation
  without a level response).
* Outburst (`Glof`): the lake drains exponentially (1.5 m, time constant 4 min: ~1.4 m within
  10 min); the flood wave reaches the `downstream_of` gauge after the valley travel time (path
  1.3 × straight distance at 10 m/s, typical debris-flow front speeds in the Zailiysky Alatau
  are 5–15 m/s) and multiplies its discharge by up to ~7 within minutes, receding over ~1 h.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from collector.models import Feed
from collector.simulate.common import (
    DAY_S,
    HOUR_S,
    BoolArray,
    FloatArray,
    TsStyle,
    as_array,
    day_of_year,
    distance_km,
    local_hour,
    rounded,
    ts_style_for,
)
from collector.stations import Station

_WARMEST_DOY: Final = 200.0


@dataclass(frozen=True, slots=True)
class LakeParams:
    """Coefficients of the lake model (m, m³/s, mm, °C)."""

    gauge_max_elevation_m: float = 1500.0
    # Lake level as a fraction of warning_level_m: winter low and melt-season high.
    lake_low: float = 0.45
    lake_high: float = 0.72
    # Gauge stage at the summer discharge, as a fraction of warning_level_m.
    gauge_stage: float = 0.55
    winter_flow: float = 0.25
    rating_exponent: float = 1.6
    summer_flow_median_m3s: float = 8.0
    summer_flow_sigma: float = 0.5
    melt_peak_doy: float = 210.0
    melt_half_width_days: float = 75.0
    lake_diurnal_m: float = 0.02
    gauge_diurnal: float = 0.25
    melt_peak_h: float = 18.0
    # Rain response (steady state, per mm/h): lake level in m, gauge discharge × summer flow.
    rain_lake_m: float = 0.03
    rain_lake_tau_h: float = 6.0
    rain_gauge: float = 0.12
    rain_gauge_tau_h: float = 2.0
    rain_per_day: float = 0.4
    rain_median_mm_h: float = 1.5
    rain_max_mm_h: float = 5.0
    # Chance that a storm reaches a given valley.
    rain_coverage: float = 0.6
    noise_level_m: float = 0.005
    noise_temp_c: float = 0.1
    dropout: float = 0.005


@dataclass(frozen=True, slots=True)
class RainEvent:
    """A storm: `intensity_mm_h` times each valley's factor, from `start` to `end`."""

    start: float
    end: float
    intensity_mm_h: float
    valleys: tuple[tuple[str, float], ...]

    def factor(self, valley: str) -> float:
        """This storm's intensity multiplier in a valley (0 where it does not rain)."""
        return next((f for v, f in self.valleys if v == valley), 0.0)


@dataclass(frozen=True, slots=True)
class Glof:
    """A glacial-lake outburst: the lake drains from `onset`, the gauge surges `travel_s` later."""

    lake_id: str
    gauge_id: str
    onset: float
    travel_s: float
    drop_m: float = 1.5
    drain_tau_s: float = 240.0
    surge_factor: float = 8.0
    rise_tau_s: float = 180.0
    recession_tau_s: float = 2400.0

    @property
    def arrival(self) -> float:
        """When the flood wave reaches the gauge (event time)."""
        return self.onset + self.travel_s

    def drop(self, t: FloatArray) -> FloatArray:
        """How far the lake has fallen by `t` (m, ≥ 0)."""
        tau = np.maximum(as_array(t) - self.onset, 0.0)
        return np.asarray(self.drop_m * (1 - np.exp(-tau / self.drain_tau_s)))

    def surge(self, t: FloatArray) -> FloatArray:
        """Extra discharge at the gauge, as a multiple of its normal discharge (≥ 0)."""
        tau = np.maximum(as_array(t) - self.arrival, 0.0)
        shape = (1 - np.exp(-tau / self.rise_tau_s)) * np.exp(-tau / self.recession_tau_s)
        return np.asarray(self.surge_factor * shape)


def travel_time_s(
    lake: Station, gauge: Station, *, sinuosity: float = 1.3, celerity_m_s: float = 10.0
) -> float:
    """Flood-wave travel time from a lake to a gauge down the valley."""
    if None in (lake.lat, lake.lon, gauge.lat, gauge.lon):
        raise ValueError(f"{lake.id} and {gauge.id} need positions for a travel time")
    km = float(distance_km(lake.lat, lake.lon, gauge.lat, gauge.lon))  # type: ignore[arg-type]
    return km * 1000 * sinuosity / celerity_m_s


@dataclass(frozen=True, slots=True)
class LakeSite:
    """The static, per-station part of the model."""

    station_id: str
    valley: str
    gauge: bool
    interval_s: float
    low_m: float
    high_m: float
    summer_flow_m3s: float
    ts_style: TsStyle


@dataclass(frozen=True, slots=True, eq=False)
class LakeBlock:
    """Readings of one station at `times`; `discharge_m3s` is NaN at lake stations."""

    station_id: str
    times: FloatArray
    level_m: FloatArray
    water_temp: FloatArray
    precip_mm: FloatArray
    discharge_m3s: FloatArray
    present: BoolArray


def rain_events(
    rng: np.random.Generator,
    valleys: Sequence[str],
    start: float,
    end: float,
    params: LakeParams | None = None,
) -> tuple[RainEvent, ...]:
    """Random storms between `start` and `end` (a Poisson process; each covers some valleys)."""
    p = params or LakeParams()
    count = int(rng.poisson(p.rain_per_day * max(end - start, 0.0) / DAY_S))
    events = []
    for _ in range(count):
        begin = float(rng.uniform(start, end))
        hours = float(rng.uniform(1.0, 6.0))
        intensity = float(min(rng.lognormal(np.log(p.rain_median_mm_h), 0.6), p.rain_max_mm_h))
        covered = tuple(
            (v, float(min(rng.lognormal(0.0, 0.3), 1.5)))
            for v in valleys
            if rng.random() < p.rain_coverage
        )
        events.append(RainEvent(begin, begin + hours * HOUR_S, intensity, covered))
    return tuple(sorted(events, key=lambda e: e.start))


class LakeModel:
    """The lake network: static sites from a seed, readings as pure functions of event time."""

    def __init__(
        self,
        stations: Iterable[Station],
        *,
        rng: np.random.Generator,
        rain: Sequence[RainEvent] = (),
        glof: Glof | None = None,
        season_shift_days: int = 0,
        params: LakeParams | None = None,
    ) -> None:
        """Build the sites.

        Args:
            stations: the network; only `lake` stations are used.
            rng: draws each gauge's summer discharge (not the noise).
            rain: storms over the simulated period.
            glof: the outburst, or None.
            season_shift_days: added to event time for the seasonal melt cycle.
            params: model coefficients.
        """
        self.params = p = params or LakeParams()
        self.rain = tuple(rain)
        self.glof = glof
        self.season_shift_s = season_shift_days * DAY_S
        self.sites: dict[str, LakeSite] = {}
        for index, s in enumerate(st for st in stations if st.kind is Feed.LAKE):
            warning = s.warning_level_m if s.warning_level_m is not None else 3.0
            elevation = s.elevation_m if s.elevation_m is not None else 3000.0
            gauge = s.downstream_of is not None or elevation < p.gauge_max_elevation_m
            flow = float(rng.lognormal(np.log(p.summer_flow_median_m3s), p.summer_flow_sigma))
            self.sites[s.id] = LakeSite(
                station_id=s.id,
                valley=s.downstream or s.district,
                gauge=gauge,
                interval_s=s.interval_s,
                low_m=p.lake_low * warning,
                high_m=(p.gauge_stage if gauge else p.lake_high) * warning,
                summer_flow_m3s=flow,
                ts_style=ts_style_for(index),
            )

    def _melt(self, t: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Melt intensity (0..1) and liquid-precipitation fraction (0..1) at event time."""
        p = self.params
        doy = day_of_year(t + self.season_shift_s)
        x = np.clip((doy - p.melt_peak_doy) / p.melt_half_width_days, -1.0, 1.0)
        melt = 0.5 + 0.5 * np.cos(np.pi * x)
        warm = 0.5 + 0.5 * np.cos(2 * np.pi * (doy - _WARMEST_DOY) / 365.0)
        return np.asarray(melt), np.asarray(np.clip((warm - 0.3) / 0.4, 0.0, 1.0))

    def _routed_rain(self, valley: str, t: FloatArray, tau_h: float) -> FloatArray:
        """Rain rate routed through a linear reservoir of time constant `tau_h` (mm/h)."""
        routed = np.zeros_like(t)
        tau = tau_h * HOUR_S
        for event in self.rain:
            rate = event.intensity_mm_h * event.factor(valley)
            if rate == 0.0:
                continue
            # Reservoir output for a rectangular input, in closed form: pure in t.
            since_end = np.maximum(t - np.clip(t, event.start, event.end), 0.0)
            since_start = np.maximum(t - event.start, 0.0)
            routed += rate * (np.exp(-since_end / tau) - np.exp(-since_start / tau))
        return routed

    def precipitation(self, valley: str, t: FloatArray, interval_s: float) -> FloatArray:
        """Precipitation (mm, water equivalent) in the interval (t − interval_s, t]."""
        total = np.zeros_like(t)
        for event in self.rain:
            rate = event.intensity_mm_h * event.factor(valley)
            if rate == 0.0:
                continue
            overlap = np.clip(
                np.minimum(t, event.end) - np.maximum(t - interval_s, event.start), 0.0, None
            )
            total += rate * overlap / HOUR_S
        return total

    def levels(self, station_id: str, times: FloatArray) -> LakeBlock:
        """The noise-free model at `times` (all present)."""
        p, site = self.params, self.sites[station_id]
        t = as_array(times)
        hour = local_hour(t)
        melt, liquid = self._melt(t)
        daily = np.cos(2 * np.pi * (hour - p.melt_peak_h) / 24)
        precip = self.precipitation(site.valley, t, site.interval_s)
        if site.gauge:
            routed = self._routed_rain(site.valley, t, p.rain_gauge_tau_h)
            q_summer = site.summer_flow_m3s
            base = q_summer * (p.winter_flow + (1 - p.winter_flow) * melt)
            flow = base * (1 + p.gauge_diurnal * melt * daily)
            flow = flow + q_summer * p.rain_gauge * routed * liquid
            if self.glof is not None and self.glof.gauge_id == station_id:
                flow = flow * (1 + self.glof.surge(t))
            level = site.high_m * (flow / q_summer) ** (1 / p.rating_exponent)
            discharge = flow
            water = 1.5 + 7.0 * melt + 1.0 * melt * np.cos(2 * np.pi * (hour - 16) / 24)
        else:
            routed = self._routed_rain(site.valley, t, p.rain_lake_tau_h)
            level = site.low_m + (site.high_m - site.low_m) * melt
            level = level + p.lake_diurnal_m * melt * daily + p.rain_lake_m * routed * liquid
            if self.glof is not None and self.glof.lake_id == station_id:
                level = level - self.glof.drop(t)
            discharge = np.full(t.shape, np.nan)
            water = 0.3 + 4.5 * melt + 0.5 * melt * np.cos(2 * np.pi * (hour - 16) / 24)
        return LakeBlock(
            station_id=station_id,
            times=t,
            level_m=np.asarray(level),
            water_temp=np.asarray(water),
            precip_mm=precip,
            discharge_m3s=np.asarray(discharge),
            present=np.ones(t.shape, dtype=np.bool_),
        )

    def sample(self, station_id: str, times: FloatArray, rng: np.random.Generator) -> LakeBlock:
        """Noisy readings at `times`, as the station reports them.

        Args:
            station_id: a lake station of the model.
            times: event times (Unix seconds).
            rng: the station's own noise generator.
        """
        p, site = self.params, self.sites[station_id]
        mean = self.levels(station_id, times)
        n = mean.times.shape
        level = mean.level_m + rng.normal(0.0, p.noise_level_m, n)
        water = np.clip(mean.water_temp + rng.normal(0.0, p.noise_temp_c, n), 0.0, 40.0)
        present = rng.random(n) >= p.dropout
        discharge = mean.discharge_m3s
        if site.gauge:
            # Discharge comes from the measured stage through the rating curve, noise included.
            stage = np.maximum(level, 0.0) / site.high_m
            discharge = site.summer_flow_m3s * stage**p.rating_exponent
        return LakeBlock(
            station_id=station_id,
            times=mean.times,
            level_m=rounded(level, 3, -50.0, 500.0),
            water_temp=rounded(water, 2, -5.0, 40.0),
            precip_mm=rounded(mean.precip_mm, 2, 0.0, 500.0),
            discharge_m3s=rounded(discharge, 2, 0.0, 10_000.0),
            present=present,
        )
