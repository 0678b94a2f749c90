"""Air generator: elevation gradient, heating season, rush hours, the smog episode, noise."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from collector.models import Feed
from collector.simulate.air import AirForm, AirModel, SmogEpisode
from collector.simulate.common import ALMATY_TZ, DAY_S, HOUR_S, FloatArray
from tests.unit.simulate._support import (
    SUMMER_WEDNESDAY,
    WINTER_SATURDAY,
    WINTER_WEDNESDAY,
    minutes,
    network,
    of_kind,
)

# Full strength over the whole test Wednesday and the two days after it.
SMOG = SmogEpisode(onset=WINTER_WEDNESDAY - 2 * DAY_S, end=WINTER_WEDNESDAY + 3 * DAY_S)
NORTH = ("Alatau", "Zhetysu", "Turksib")
SOUTH = ("Bostandyk", "Medeu")


def _model(smog: SmogEpisode | None = None, seed: int = 7) -> AirModel:
    return AirModel(network(), rng=np.random.default_rng(seed), smog=smog)


def _daily_pm25(model: AirModel, station_id: str, day: float) -> float:
    return float(model.levels(station_id, minutes(day)).pm25.mean())


def _hourly(values: FloatArray) -> FloatArray:
    return np.asarray(values.reshape(24, 60).mean(axis=1), dtype=np.float64)


def _district_mean(model: AirModel, districts: tuple[str, ...], day: float) -> float:
    ids = [s.id for s in of_kind(Feed.AIR) if s.district in districts]
    return float(np.mean([_daily_pm25(model, i, day) for i in ids]))


@pytest.mark.parametrize(
    ("station_id", "min_ratio"),
    [
        # Kokkainar, 650 m, the low north: the inversion traps the most smoke there.
        ("AIR-24", 4.0),
        # Kulager, 690 m, Zhetysu: still deep inside the inversion.
        ("AIR-12", 3.0),
        # Kargaly, 1030 m, near the inversion top: dirtier than on a calm day, but far less.
        ("AIR-52", 1.2),
    ],
)
def test_smog_raises_pm25_most_at_low_stations(station_id: str, min_ratio: float) -> None:
    ratio = _daily_pm25(_model(SMOG), station_id, WINTER_WEDNESDAY) / _daily_pm25(
        _model(), station_id, WINTER_WEDNESDAY
    )
    assert ratio >= min_ratio


@pytest.mark.parametrize(
    ("day", "smog", "min_ratio"),
    [
        # Calm winter day: coal heating and cold-air drainage make the low north dirtier.
        (WINTER_WEDNESDAY, None, 1.3),
        # Summer, no heating: the gradient remains (lower terrain, traffic).
        (SUMMER_WEDNESDAY, None, 1.2),
        # Under the inversion the gap widens.
        (WINTER_WEDNESDAY, SMOG, 2.0),
    ],
)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_lower_northern_districts_are_dirtier(
    day: float, smog: SmogEpisode | None, min_ratio: float, seed: int
) -> None:
    model = _model(smog, seed)
    assert _district_mean(model, NORTH, day) / _district_mean(model, SOUTH, day) >= min_ratio


@pytest.mark.parametrize(
    ("smog", "day", "min_over_35", "max_over_35", "min_hours_160"),
    [
        # Calm winter: no station's 24 h mean breaks the 35 µg/m³ daily limit, no hour 160.
        (None, WINTER_WEDNESDAY, 0, 0, 0),
        # Smog, each of three days: most stations well above 35, the worst > 160 for hours.
        (SMOG, WINTER_WEDNESDAY, 40, 52, 6),
        (SMOG, WINTER_WEDNESDAY + DAY_S, 40, 52, 6),
        (SMOG, WINTER_WEDNESDAY + 2 * DAY_S, 40, 52, 6),
    ],
)
def test_smog_episode_breaks_the_limits_for_days(
    smog: SmogEpisode | None, day: float, min_over_35: int, max_over_35: int, min_hours_160: int
) -> None:
    model = _model(smog)
    means = [_daily_pm25(model, sid, day) for sid in model.sites]
    hours = [
        int((_hourly(model.levels(sid, minutes(day)).pm25) > 160).sum()) for sid in model.sites
    ]
    assert min_over_35 <= sum(m > 35 for m in means) <= max_over_35
    assert max(hours) >= min_hours_160
    if min_hours_160 == 0:
        assert max(hours) == 0
    else:
        # "Some hours at the worst stations", not the whole day everywhere.
        assert max(hours) < 24
        assert sum(h > 0 for h in hours) < len(hours) / 2


def test_noisy_smog_readings_pass_160_at_the_worst_station() -> None:
    # The daemon sees the noisy readings: their hourly means must cross 160 too.
    model = _model(SMOG)
    worst = max(model.sites, key=lambda sid: _daily_pm25(model, sid, WINTER_WEDNESDAY))
    block = model.sample(worst, minutes(WINTER_WEDNESDAY), np.random.default_rng(3))
    assert (_hourly(block.pm25) > 160).sum() >= 4


@pytest.mark.parametrize(
    ("day", "peak_hour", "quiet_hour", "min_ratio"),
    [
        # Weekday morning rush (8–10) against the small hours.
        (WINTER_WEDNESDAY, 9, 4, 1.5),
        # Weekday evening rush (18–20) against the early afternoon.
        (WINTER_WEDNESDAY, 19, 14, 2.0),
        # Morning rush against midday.
        (WINTER_WEDNESDAY, 9, 12, 1.8),
        # Summer weekdays have the same rush hours.
        (SUMMER_WEDNESDAY, 19, 14, 2.0),
    ],
)
def test_no2_peaks_in_rush_hours(
    day: float, peak_hour: int, quiet_hour: int, min_ratio: float
) -> None:
    model = _model()
    for sid in model.sites:
        hourly = _hourly(model.levels(sid, minutes(day)).no2)
        assert hourly[peak_hour] / hourly[quiet_hour] >= min_ratio, sid
        assert int(np.argmax(hourly)) in (8, 9, 10, 18, 19, 20), sid


def test_no2_rush_is_weaker_at_weekends() -> None:
    # Saturday traffic: the 9 o'clock peak is well below a weekday's.
    model = _model()
    weekday = _hourly(model.levels("AIR-01", minutes(WINTER_WEDNESDAY)).no2)
    saturday = _hourly(model.levels("AIR-01", minutes(WINTER_SATURDAY)).no2)
    assert saturday[9] < 0.85 * weekday[9]


def _local(month: int, day: int, year: int = 2026) -> float:
    return datetime(year, month, day, tzinfo=ALMATY_TZ).timestamp()


@pytest.mark.parametrize(
    ("heating_day", "other_day", "min_ratio"),
    [
        # The heating season starts on 15 October: the 16th is dirtier than the 14th.
        (_local(10, 16), _local(10, 14), 1.3),
        # It ends on 15 April: the 14th is dirtier than the 16th.
        (_local(4, 14), _local(4, 16), 1.3),
        # Mid-winter against mid-summer.
        (_local(1, 14), _local(7, 15), 1.5),
    ],
)
def test_heating_season_raises_pm25(heating_day: float, other_day: float, min_ratio: float) -> None:
    model = _model()
    ids = list(model.sites)
    heating = np.mean([_daily_pm25(model, i, heating_day) for i in ids])
    other = np.mean([_daily_pm25(model, i, other_day) for i in ids])
    assert heating / other >= min_ratio


@pytest.mark.parametrize(
    ("day", "low", "high"),
    [
        # January in Almaty: a few degrees below zero on average.
        (WINTER_WEDNESDAY, -12.0, 2.0),
        # July: warm, mid-twenties.
        (SUMMER_WEDNESDAY, 18.0, 32.0),
    ],
)
def test_temperature_follows_the_climate(day: float, low: float, high: float) -> None:
    model = _model()
    temps = [float(model.levels(sid, minutes(day)).temp.mean()) for sid in model.sites]
    assert low <= min(temps) and max(temps) <= high


@pytest.mark.parametrize(
    ("smog", "warmer_high"),
    [
        # Normal lapse rate: the high south is colder than the low north.
        (None, False),
        # Inversion: warmer up the slope, cold air pooled in the north.
        (SMOG, True),
    ],
)
def test_inversion_reverses_the_temperature_gradient(
    smog: SmogEpisode | None, warmer_high: bool
) -> None:
    model = _model(smog)
    night = WINTER_WEDNESDAY + 3 * HOUR_S + np.arange(0.0, HOUR_S, 60.0)
    high = float(model.levels("AIR-52", night).temp.mean())  # 1030 m
    low = float(model.levels("AIR-24", night).temp.mean())  # 650 m
    assert (high > low) is warmer_high


@pytest.mark.parametrize(
    ("field", "sigma"),
    [
        # Optical PM2.5: ~12 % lognormal scatter.
        ("pm25", 0.12),
        # PM10 shares the PM2.5 error (same sensor) plus half as much of its own.
        ("pm10", float(np.hypot(0.12, 0.06))),
        # NO2 electrochemical/reference analyser: ~8 %.
        ("no2", 0.08),
    ],
)
def test_noise_keeps_the_mean_and_about_one_percent_drops_out(field: str, sigma: float) -> None:
    # Multiplicative lognormal noise is mean-preserving; ~1 % of readings are missing.
    model = _model()
    times = minutes(WINTER_WEDNESDAY, days=20)
    block = model.sample("AIR-01", times, np.random.default_rng(11))
    truth = getattr(model.levels("AIR-01", times), field)
    noisy = getattr(block, field)
    assert abs(noisy.mean() / truth.mean() - 1) < 0.03
    assert np.std(np.log(noisy / truth)) == pytest.approx(sigma, rel=0.2)
    assert 0.006 < 1 - block.present.mean() < 0.014


def test_station_forms_cover_every_spec_form() -> None:
    # Low-cost sensors (interval >= 120 s) speak Sensor.Community and have no NO2 channel;
    # every 6th other station batches; all three forms occur in the bundled network.
    sites = _model().sites
    forms = {site.form for site in sites.values()}
    assert forms == set(AirForm)
    for site in sites.values():
        assert site.measures_no2 is (site.form is not AirForm.SENSOR_COMMUNITY)
        assert (site.batch_size > 1) is (site.form is AirForm.BATCH)
    block = _model().sample("AIR-14", minutes(WINTER_WEDNESDAY, 0.1), np.random.default_rng(1))
    assert np.isnan(block.no2).all()
