"""Air-quality generator: PM2.5, PM10, NO2, temperature and humidity per station and event time.

The model (coefficients in `AirParams`, the smog episode in `SmogEpisode`):

* Level by elevation. Almaty slopes from ~1000 m in the south to ~650 m in the north; cold air
  and smoke drain downhill and the northern districts (Alatau, Zhetysu, Turksib) burn coal in
  private houses, so pollution grows towards the low north. `lowness` is 1 at `low_m` and 0 at
  `high_m`; every base level is `a + b · lowness`.
* Heating season 15 October – 15 April (the city's heating season): an extra PM2.5 term from
  coal heating, with an evening stove peak around 20:00.
* Diurnal cycle: the boundary layer is deepest in the early afternoon, so concentrations peak
  at night (~01:00) and bottom out around 13:00.
* NO2 from traffic: peaks in the rush hours 8–10 and 18–20 local time (UTC+5), weaker at
  weekends.
* The smog scenario: a multi-day winter temperature inversion multiplies PM2.5 by up to
  1 + `strength` below the inversion top (lowest stations most), deepens the night peak,
  cools the low city and raises humidity. With the defaults the northern stations average
  ~130 µg/m³ and pass 160 µg/m³ for several hours each night; the high south stays ~30.
* Sensor noise: mean-preserving multiplicative lognormal (low-cost optical sensors scatter
  ~10–15 %); temperature and humidity get additive Gaussian noise; ~1 % of readings drop out.

Magnitudes follow published descriptions of Almaty's winter smog (AQI/IQAir station data and
the city's 2023 Voluntary Local Review); they are plausible, not fitted to data.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
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
    gaussian,
    in_season,
    is_weekend,
    local_hour,
    rounded,
    smoothstep,
    ts_style_for,
)
from collector.stations import Station

# The city's heating season, as MMDD (inclusive).
HEATING_SEASON: Final = (1015, 415)
# Day of the year of the warmest weather (about 19 July).
_WARMEST_DOY: Final = 200.0


class AirForm(enum.Enum):
    """How a station's messages look on the wire (all are spec §3 forms)."""

    NATIVE = "native"
    SENSOR_COMMUNITY = "sensor.community"
    BATCH = "batch"


@dataclass(frozen=True, slots=True)
class AirParams:
    """Coefficients of the air model (µg/m³, °C, %RH, hours local time)."""

    low_m: float = 650.0
    high_m: float = 1050.0
    # PM2.5 outside the heating season and the heating-season extra: a + b · lowness.
    pm25_background: tuple[float, float] = (4.0, 6.0)
    pm25_heating: tuple[float, float] = (3.0, 9.0)
    # Station-to-station spread (street canyon, nearby stoves): lognormal sigma.
    pm_site_sigma: float = 0.15
    mixing_amplitude: float = 0.35
    mixing_peak_h: float = 1.0
    stove_peak_h: float = 20.0
    stove_amplitude: float = 0.25
    no2_base: tuple[float, float] = (8.0, 12.0)
    no2_site_sigma: float = 0.2
    rush_hours: tuple[float, float] = (9.0, 19.0)
    rush_width_h: float = 0.7
    rush_amplitude: float = 1.6
    weekend_rush: float = 0.5
    # PM10/PM2.5: combustion smoke is fine (winter), road dust is coarse (summer).
    pm10_ratio: tuple[float, float] = (1.5, 2.0)
    pm10_coarse: tuple[float, float] = (3.0, 8.0)
    noise_pm: float = 0.12
    noise_no2: float = 0.08
    noise_temp_c: float = 0.3
    noise_rh: float = 3.0
    # Almaty climate normals: ~−5 °C in January, ~24.5 °C in July at ~850 m.
    temp_mean_c: float = 10.0
    temp_annual_c: float = 14.5
    temp_diurnal_c: tuple[float, float] = (3.5, 6.0)
    temp_peak_h: float = 15.0
    temp_reference_m: float = 850.0
    lapse_c_per_km: float = -6.5
    # Passing weather systems: a slow swing shared by the whole city.
    synoptic_c: float = 3.0
    synoptic_days: float = 5.0
    rh_mean: tuple[float, float] = (76.0, 45.0)
    rh_diurnal: float = 12.0
    dropout: float = 0.01
    # Stations reporting this slowly are low-cost optical sensors (PM, T, RH; no NO2) that
    # publish the Sensor.Community form.
    low_cost_interval_s: float = 120.0
    # Every n-th other station is a data logger that sends `batch_size` readings per message.
    batch_every: int = 6
    batch_size: int = 5


@dataclass(frozen=True, slots=True)
class SmogEpisode:
    """A winter temperature inversion over the city, in event time (Unix seconds).

    It builds up over `ramp_s` from `onset`, holds, and clears over `clear_s` from `end`
    (a cold front mixes the air out faster than the inversion built up).
    """

    onset: float
    end: float
    ramp_s: float = 12 * HOUR_S
    clear_s: float = 6 * HOUR_S
    strength: float = 5.0
    inversion_top_m: float = 1100.0
    no2_strength: float = 1.5
    night_boost: float = 0.3
    cold_c: float = -4.0
    inversion_c_per_km: float = 8.0
    rh_boost: float = 12.0

    def envelope(self, t: float | FloatArray) -> FloatArray:
        """Strength of the episode, 0..1, at event time `t`."""
        t = as_array(t)
        return np.asarray(
            smoothstep((t - self.onset) / self.ramp_s)
            * (1.0 - smoothstep((t - self.end) / self.clear_s))
        )


@dataclass(frozen=True, slots=True)
class AirSite:
    """The static, per-station part of the model."""

    station_id: str
    interval_s: float
    elevation_m: float
    lowness: float
    pm_factor: float
    no2_factor: float
    form: AirForm
    ts_style: TsStyle
    measures_no2: bool
    batch_size: int = 1


@dataclass(frozen=True, slots=True, eq=False)
class AirBlock:
    """Readings of one station at `times`; `no2` is NaN where the sensor has no NO2 channel.

    `present` is False for a dropout: the sensor sent nothing for that time.
    """

    station_id: str
    times: FloatArray
    pm25: FloatArray
    pm10: FloatArray
    no2: FloatArray
    temp: FloatArray
    rh: FloatArray
    present: BoolArray


class AirModel:
    """The air network: static sites drawn once from a seed, readings as pure functions of time."""

    def __init__(
        self,
        stations: Iterable[Station],
        *,
        rng: np.random.Generator,
        smog: SmogEpisode | None = None,
        season_shift_days: int = 0,
        params: AirParams | None = None,
    ) -> None:
        """Build the sites.

        Args:
            stations: the network; only `air` stations are used.
            rng: draws the per-station factors and the weather phase (not the noise).
            smog: the inversion episode, or None.
            season_shift_days: added to event time for everything seasonal (heating, climate),
                so a scenario can play winter smog in any month while readings keep real time.
            params: model coefficients.
        """
        self.params = params or AirParams()
        self.smog = smog
        self.season_shift_s = season_shift_days * DAY_S
        self.sites: dict[str, AirSite] = {}
        native = 0
        p = self.params
        for index, station in enumerate(s for s in stations if s.kind is Feed.AIR):
            elevation = station.elevation_m if station.elevation_m is not None else p.high_m
            low_cost = station.interval_s >= p.low_cost_interval_s
            form = AirForm.SENSOR_COMMUNITY if low_cost else AirForm.NATIVE
            if not low_cost:
                native += 1
                if native % p.batch_every == 0:
                    form = AirForm.BATCH
            self.sites[station.id] = AirSite(
                station_id=station.id,
                interval_s=station.interval_s,
                elevation_m=elevation,
                lowness=float(np.clip((p.high_m - elevation) / (p.high_m - p.low_m), 0, 1)),
                pm_factor=float(rng.lognormal(0.0, p.pm_site_sigma)),
                no2_factor=float(rng.lognormal(0.0, p.no2_site_sigma)),
                form=form,
                ts_style=ts_style_for(index),
                measures_no2=not low_cost,
                batch_size=p.batch_size if form is AirForm.BATCH else 1,
            )
        self._synoptic_phase = float(rng.uniform(0.0, 2 * np.pi))

    def levels(self, station_id: str, times: FloatArray) -> AirBlock:
        """The noise-free model at `times` (all present; `no2` is given for every station)."""
        p, site = self.params, self.sites[station_id]
        t = as_array(times)
        hour = local_hour(t)
        season_t = t + self.season_shift_s
        heating = in_season(season_t, *HEATING_SEASON).astype(np.float64)
        summer = 0.5 + 0.5 * np.cos(2 * np.pi * (day_of_year(season_t) - _WARMEST_DOY) / 365.0)
        episode = self.smog.envelope(t) if self.smog is not None else np.zeros_like(t)
        trap = 0.0
        if self.smog is not None:
            top = self.smog.inversion_top_m
            trap = float(np.clip((top - site.elevation_m) / (top - p.low_m), 0.0, 1.0))
        night = p.mixing_amplitude + (self.smog.night_boost * episode if self.smog else 0.0)
        mixing = (
            1.0
            + night * np.cos(2 * np.pi * (hour - p.mixing_peak_h) / 24)
            + heating * p.stove_amplitude * gaussian(hour, p.stove_peak_h, 1.5)
        )
        low = site.lowness
        base = p.pm25_background[0] + p.pm25_background[1] * low
        heat = p.pm25_heating[0] + p.pm25_heating[1] * low
        strength = self.smog.strength if self.smog else 0.0
        pm25 = (base + heating * heat) * site.pm_factor * mixing * (1 + strength * episode * trap)
        ratio = p.pm10_ratio[0] + (p.pm10_ratio[1] - p.pm10_ratio[0]) * (1 - heating)
        pm10 = pm25 * ratio + (p.pm10_coarse[0] + p.pm10_coarse[1] * low) * (1 - 0.5 * episode)
        rush = gaussian(hour, p.rush_hours[0], p.rush_width_h) + gaussian(
            hour, p.rush_hours[1], p.rush_width_h
        )
        rush = rush * np.where(is_weekend(t), p.weekend_rush, 1.0)
        no2_smog = self.smog.no2_strength if self.smog else 0.0
        no2 = (
            (p.no2_base[0] + p.no2_base[1] * low)
            * site.no2_factor
            * (1 + p.rush_amplitude * rush)
            * (1 + 0.15 * np.cos(2 * np.pi * (hour - p.mixing_peak_h) / 24))
            * (1 + no2_smog * episode * trap)
        )
        return AirBlock(
            station_id=station_id,
            times=t,
            pm25=pm25,
            pm10=pm10,
            no2=no2,
            temp=self._temperature(site, t, hour, summer, episode),
            rh=(
                p.rh_mean[0]
                + (p.rh_mean[1] - p.rh_mean[0]) * summer
                - p.rh_diurnal * np.cos(2 * np.pi * (hour - p.temp_peak_h) / 24)
                + (self.smog.rh_boost * episode if self.smog else 0.0)
            ),
            present=np.ones(t.shape, dtype=np.bool_),
        )

    def _temperature(
        self,
        site: AirSite,
        t: FloatArray,
        hour: FloatArray,
        summer: FloatArray,
        episode: FloatArray,
    ) -> FloatArray:
        p = self.params
        above_km = (site.elevation_m - p.temp_reference_m) / 1000
        diurnal = p.temp_diurnal_c[0] + (p.temp_diurnal_c[1] - p.temp_diurnal_c[0]) * summer
        temp = (
            p.temp_mean_c
            + p.temp_annual_c * (2 * summer - 1)
            + diurnal * np.cos(2 * np.pi * (hour - p.temp_peak_h) / 24)
            + p.lapse_c_per_km * above_km
            + p.synoptic_c
            * np.sin(2 * np.pi * t / (p.synoptic_days * DAY_S) + self._synoptic_phase)
        )
        if self.smog is not None:
            # Inside the inversion temperature rises with height instead of falling.
            swap = (self.smog.inversion_c_per_km - p.lapse_c_per_km) * above_km
            temp = temp + episode * (self.smog.cold_c + swap)
        return np.asarray(temp)

    def sample(self, station_id: str, times: FloatArray, rng: np.random.Generator) -> AirBlock:
        """Noisy readings at `times`, as the station's sensors would report them.

        Args:
            station_id: an air station of the model.
            times: event times (Unix seconds).
            rng: the station's own noise generator (consumed in a fixed order per call).
        """
        p, site = self.params, self.sites[station_id]
        mean = self.levels(station_id, times)
        n = mean.times.shape

        def lognormal(sigma: float) -> FloatArray:
            # Mean-preserving: E[exp(N(−σ²/2, σ))] = 1.
            return rng.lognormal(-0.5 * sigma**2, sigma, n)

        pm_noise = lognormal(p.noise_pm)
        pm25 = mean.pm25 * pm_noise
        # One optical sensor measures both fractions: PM10 shares the PM2.5 error, plus its own.
        pm10 = np.maximum(mean.pm10 * pm_noise * lognormal(p.noise_pm / 2), pm25)
        no2 = mean.no2 * lognormal(p.noise_no2)
        temp = mean.temp + rng.normal(0.0, p.noise_temp_c, n)
        rh = mean.rh + rng.normal(0.0, p.noise_rh, n)
        present = rng.random(n) >= p.dropout
        return AirBlock(
            station_id=station_id,
            times=mean.times,
            pm25=rounded(pm25, 1, 0.0, 2000.0),
            pm10=rounded(pm10, 1, 0.0, 2000.0),
            no2=rounded(no2, 1, 0.0, 5000.0) if site.measures_no2 else np.full(n, np.nan),
            temp=rounded(temp, 1, -60.0, 60.0),
            rh=rounded(rh, 1, 5.0, 100.0),
            present=present,
        )
