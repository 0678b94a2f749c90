"""Lake generator: seasonal melt, rain, normal levels, and the outburst's drop and surge."""

from __future__ import annotations

import numpy as np
import pytest

from collector.models import Feed
from collector.simulate.common import DAY_S, HOUR_S
from collector.simulate.lake import Glof, LakeModel, RainEvent, rain_events, travel_time_s
from collector.stations import Station
from tests.unit.simulate._support import (
    SUMMER_WEDNESDAY,
    WINTER_WEDNESDAY,
    minutes,
    network,
    of_kind,
    station,
)

ONSET = SUMMER_WEDNESDAY + 14 * HOUR_S
PAIRS = [(s.downstream_of, s.id) for s in of_kind(Feed.LAKE) if s.downstream_of is not None]


def _model(glof: Glof | None = None, rain: tuple[RainEvent, ...] = (), seed: int = 4) -> LakeModel:
    return LakeModel(network(), rng=np.random.default_rng(seed), rain=rain, glof=glof)


def _glof(lake_id: str, gauge_id: str) -> Glof:
    travel = travel_time_s(station(lake_id), station(gauge_id))
    return Glof(lake_id=lake_id, gauge_id=gauge_id, onset=ONSET, travel_s=travel)


@pytest.mark.parametrize(("lake_id", "gauge_id"), PAIRS)
def test_outburst_drops_the_lake_within_ten_minutes(lake_id: str, gauge_id: str) -> None:
    # Every lake/gauge pair of the bundled network: >= 0.5 m down within 10 min of the onset,
    # as the 60 s readings show it, and untouched before the onset.
    glof = _glof(lake_id, gauge_id)
    normal, burst = _model(), _model(glof)
    before = ONSET - HOUR_S + np.arange(0.0, HOUR_S, 60.0)
    np.testing.assert_array_equal(
        burst.levels(lake_id, before).level_m, normal.levels(lake_id, before).level_m
    )
    window = ONSET + np.arange(0.0, 601.0, 60.0)
    readings = burst.sample(lake_id, window, np.random.default_rng(2)).level_m
    assert readings[0] - readings[-1] >= 0.5
    assert readings[0] - readings[-1] <= glof.drop_m


@pytest.mark.parametrize(("lake_id", "gauge_id"), PAIRS)
def test_outburst_surges_the_gauge_after_the_travel_time(lake_id: str, gauge_id: str) -> None:
    # The flood wave reaches each downstream_of gauge after the valley travel time.
    glof = _glof(lake_id, gauge_id)
    normal, burst = _model(), _model(glof)

    def ratio(t: float) -> float:
        times = np.array([t])
        return float(
            burst.levels(gauge_id, times).discharge_m3s[0]
            / normal.levels(gauge_id, times).discharge_m3s[0]
        )

    # Nothing reaches the gauge before the flood wave.
    assert ratio(glof.arrival - 1) == pytest.approx(1.0)
    # A few minutes after it arrives, at least three times the normal discharge.
    assert ratio(glof.arrival + 180) >= 3.0
    assert ratio(glof.arrival + 600) >= 3.0
    # The gauge's stage passes its warning level: the surge is visible on the level too.
    peak = burst.levels(gauge_id, glof.arrival + np.arange(0.0, 3600.0, 60.0)).level_m.max()
    assert peak > (station(gauge_id).warning_level_m or np.inf)


@pytest.mark.parametrize(
    ("north_km", "expected_s"),
    [
        # 10 km straight, 13 km along the valley at 10 m/s.
        (10.0, 1300.0),
        # 20 km straight.
        (20.0, 2600.0),
    ],
)
def test_travel_time(north_km: float, expected_s: float) -> None:
    lake = Station(id="L", kind=Feed.LAKE, lat=43.0, lon=77.0)
    gauge = Station(id="G", kind=Feed.LAKE, lat=43.0 + north_km / 111.195, lon=77.0)
    assert travel_time_s(lake, gauge) == pytest.approx(expected_s, rel=0.001)


@pytest.mark.parametrize(
    ("season_start", "days"),
    [
        # Two summer months of melt and random storms (the highest normal levels).
        (SUMMER_WEDNESDAY - 20 * DAY_S, 60.0),
        # Winter: low, frozen lakes.
        (WINTER_WEDNESDAY, 20.0),
    ],
)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_normal_levels_stay_below_warning(season_start: float, days: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    valleys = sorted({s.downstream for s in of_kind(Feed.LAKE)})
    storms = rain_events(rng, valleys, season_start, season_start + days * DAY_S)
    model = _model(rain=storms, seed=seed)
    times = minutes(season_start, days, step_s=600.0)
    for sid in model.sites:
        levels = model.sample(sid, times, rng).level_m
        assert levels.max() < 0.9 * (station(sid).warning_level_m or 0.0), sid
        assert levels.min() > 0.0, sid


def test_melt_season_raises_lakes_and_rivers() -> None:
    # Melt fills the lakes and raises river discharge; lakes report no discharge at all.
    model = _model()
    for sid, site in model.sites.items():
        summer = model.levels(sid, minutes(SUMMER_WEDNESDAY + 10 * DAY_S))
        winter = model.levels(sid, minutes(WINTER_WEDNESDAY))
        warning = station(sid).warning_level_m or 0.0
        assert summer.level_m.mean() - winter.level_m.mean() >= 0.2 * warning, sid
        if site.gauge:
            assert summer.discharge_m3s.mean() >= 3 * winter.discharge_m3s.mean(), sid
        else:
            assert np.isnan(summer.discharge_m3s).all(), sid


@pytest.mark.parametrize(
    ("day", "min_rise_m", "max_rise_m"),
    [
        # Summer: the storm runs off into the lake (reservoir time constant 6 h).
        (SUMMER_WEDNESDAY, 0.03, 0.15),
        # Winter: it falls as snow, precipitation without a level response.
        (WINTER_WEDNESDAY, 0.0, 0.001),
    ],
)
def test_rain_adds_precipitation_and_raises_the_level(
    day: float, min_rise_m: float, max_rise_m: float
) -> None:
    start = day + 10 * HOUR_S
    storm = RainEvent(start, start + 3 * HOUR_S, 4.0, (("Aksai", 1.0),))
    wet, dry = _model(rain=(storm,)), _model()
    times = minutes(day)
    lake = wet.levels("LAKE-07", times)  # Aksai valley
    # 4 mm/h for 3 h: 12 mm in all, 4/60 mm in each minute of the storm.
    assert lake.precip_mm.sum() == pytest.approx(12.0)
    assert lake.precip_mm.max() == pytest.approx(4.0 / 60)
    rise = lake.level_m - dry.levels("LAKE-07", times).level_m
    assert min_rise_m <= rise.max() <= max_rise_m
    # Another valley stays dry.
    assert wet.levels("LAKE-16", times).precip_mm.sum() == 0.0


def test_gauge_discharge_follows_the_measured_stage() -> None:
    # Discharge is computed from the noisy stage with the rating curve Q = Q_s (h / h_s)^1.6.
    model = _model()
    site = model.sites["LAKE-21"]
    block = model.sample("LAKE-21", minutes(SUMMER_WEDNESDAY, 0.5), np.random.default_rng(1))
    expected = site.summer_flow_m3s * (block.level_m / site.high_m) ** 1.6
    np.testing.assert_allclose(block.discharge_m3s, expected, atol=0.01)
