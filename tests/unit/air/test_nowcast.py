"""PM NowCast as US EPA/AirNow defines it, and the clock-hour means it is computed from.

Sources of the expected values:
  * EPA's worked example "Computing the NowCast" (AirNow FAQ slide, formerly
    http://www.epa.gov/airnow/faq/Nowcast-formula.pptx; transcript at
    https://cdn.slideserve.com/brina/computing-the-nowcast): the 12 hourly PM2.5 values
    50 80 75 90 82 53 64 74 21 10 16 13 (oldest → newest) have range 90 − 10 = 80, scaled rate
    80/90, weight factor 1 − 80/90 = 0.11 < 0.5 so 0.5, and NowCast 17.4 µg/m³.
  * EPA fact sheet "PM NowCast" (https://nepis.epa.gov/Exe/ZyPURL.cgi?Dockey=P100X0J6.txt): the
    eight steps, including the 0.5 floor on the weight factor.
  * AirNow, "The NowCast for PM2.5 and PM10"
    (https://forum.airnowtech.org/t/the-nowcast-for-pm2-5-and-pm10/172): "2 of the past 3 hourly
    data points must be valid"; raw hourly means in, NowCast truncated to 0.1 (PM2.5) / 1 (PM10).
Cases marked "derived" are hand computations from those rules, not published figures.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from collector.air import Pollutant, aqi, clock_hour_means, nowcast, weight_factor

# EPA example, newest first.
EPA_EXAMPLE = [13.0, 16.0, 10.0, 21.0, 74.0, 64.0, 53.0, 82.0, 90.0, 75.0, 80.0, 50.0]


def with_missing(*ages: int) -> list[float | None]:
    """The EPA example with the hours of the given ages (0 = newest) missing."""
    return [None if i in ages else v for i, v in enumerate(EPA_EXAMPLE)]


@pytest.mark.parametrize(
    ("hourly", "pollutant", "expected"),
    [
        # EPA worked example: w = 0.11 is floored to 0.5, NowCast 17.4 µg/m³
        pytest.param(EPA_EXAMPLE, Pollutant.PM25, 17.4, id="epa-example"),
        # same hours as PM10: 17.41 truncates to whole µg/m³
        pytest.param(EPA_EXAMPLE, Pollutant.PM10, 17.0, id="epa-example-pm10"),
        # derived: c3 missing still leaves 2 of 3 recent hours; its term drops out,
        # older hours keep their exponents: 18.47 → 18.4
        pytest.param(with_missing(2), Pollutant.PM25, 18.4, id="c3-missing"),
        # derived: c1 missing with c2, c3 valid is still 2 of 3; 21.83 → 21.8
        pytest.param(with_missing(0), Pollutant.PM25, 21.8, id="c1-missing"),
        # derived: older gaps never invalidate; hours 4–12 missing leave 13, 16, 10, 21
        # weighted 1, .5, .25, .125 (w = 10/21 → 0.5): 26.125/1.875 = 13.93 → 13.9
        pytest.param(
            with_missing(*range(4, 12)), Pollutant.PM25, 13.9, id="only-four-recent-hours"
        ),
        # stable air: c_min = c_max gives w = 1, the plain 12-hour average
        pytest.param([20.0] * 12, Pollutant.PM25, 20.0, id="stable-average"),
        # w above the floor: w = 30/40 = 0.75, (40 + 0.75 · 30) / 1.75 = 35.71 → 35.7
        pytest.param([40.0, 30.0], Pollutant.PM25, 35.7, id="w-above-floor"),
        # w below the floor: 10/100 = 0.1 → 0.5, (100 + 5) / 1.5 = 70.0 (unfloored: 91.8)
        pytest.param([100.0, 10.0], Pollutant.PM25, 70.0, id="w-floored"),
        # truncation, not rounding: a steady 17.99 reports 17.9
        pytest.param([17.99, 17.99, 17.99], Pollutant.PM25, 17.9, id="truncated"),
        # all-zero hours have no range: w = 1 and the NowCast is 0
        pytest.param([0.0] * 12, Pollutant.PM25, 0.0, id="all-zero"),
        # NaN is a missing hour like None: same as c3 missing
        pytest.param(
            [math.nan if v is None else v for v in with_missing(2)],
            Pollutant.PM25,
            18.4,
            id="nan-is-missing",
        ),
    ],
)
def test_nowcast(hourly: list[float | None], pollutant: Pollutant, expected: float) -> None:
    assert nowcast(hourly, pollutant) == expected


@pytest.mark.parametrize(
    "hourly",
    [
        # c1 and c2 missing: only 1 of the 3 most recent hours
        pytest.param(with_missing(0, 1), id="c1-c2-missing"),
        # c1 and c3 missing: only 1 of 3
        pytest.param(with_missing(0, 2), id="c1-c3-missing"),
        # c2 and c3 missing: only 1 of 3, even with c1 and nine older hours
        pytest.param(with_missing(1, 2), id="c2-c3-missing"),
        # a single hour of history is 1 of 3
        pytest.param([25.0], id="one-hour"),
        # no data at all
        pytest.param([], id="empty"),
    ],
)
def test_nowcast_needs_two_of_three_recent_hours(hourly: list[float | None]) -> None:
    assert nowcast(hourly) is None


@pytest.mark.parametrize(
    ("hourly", "expected"),
    [
        # EPA example: 1 − 80/90 = 0.11 is raised to the 0.5 floor
        (EPA_EXAMPLE, 0.5),
        # w = c_min / c_max when above the floor
        ([40.0, 30.0], 0.75),
        # missing hours do not enter c_min / c_max
        ([40.0, None, 30.0], 0.75),
        # no variation → 1
        ([20.0, 20.0], 1.0),
        # nothing available → no weight
        ([None, None, None], None),
    ],
)
def test_weight_factor(hourly: list[float | None], expected: float | None) -> None:
    assert weight_factor(hourly) == expected


def test_epa_example_aqi_2024() -> None:
    # the 17.4 µg/m³ NowCast converts with the 2024 table: 49/26.3 · 8.3 + 51 = 66.5 → 66
    value = nowcast(EPA_EXAMPLE)
    assert value is not None
    assert aqi(Pollutant.PM25, value).aqi == 66


@pytest.mark.parametrize(
    ("hourly", "pollutant", "message"),
    [
        # 13 hours is more than the NowCast window
        ([10.0] * 13, Pollutant.PM25, "12 hours"),
        # EPA defines no NowCast for NO2
        ([10.0, 10.0], Pollutant.NO2, "not no2"),
        # a negative mean is a data error
        ([10.0, -1.0], Pollutant.PM25, "finite and >= 0"),
        # so is an infinite one
        ([math.inf, 1.0], Pollutant.PM25, "finite and >= 0"),
    ],
)
def test_nowcast_rejects(hourly: list[float | None], pollutant: Pollutant, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        nowcast(hourly, pollutant)


# --- clock-hour means from raw readings -------------------------------------------------------

T0 = datetime(2026, 1, 10, 0, 0, tzinfo=UTC)  # a clock-hour boundary


def minutes(hour: int, first: int, count: int) -> list[datetime]:
    """`count` readings one minute apart from HH:first of hour `hour` after T0."""
    return [T0 + timedelta(hours=hour, minutes=first + i) for i in range(count)]


@pytest.mark.parametrize(
    ("times", "values", "now", "interval_s", "expected"),
    [
        # a full hour of 60 s readings is valid; its mean is the newest entry
        pytest.param(
            minutes(0, 0, 60), [10.0] * 60, T0 + timedelta(minutes=59), 60, [10.0, None], id="full"
        ),
        # exactly ⌊0.75 · 3600/60⌋ = 45 readings: valid
        pytest.param(
            minutes(0, 0, 45), [8.0] * 45, T0 + timedelta(minutes=59), 60, [8.0, None], id="45"
        ),
        # 44 readings: one below the threshold, invalid
        pytest.param(
            minutes(0, 0, 44), [8.0] * 44, T0 + timedelta(minutes=59), 60, [None, None], id="44"
        ),
        # at 120 s the threshold is ⌊0.75 · 30⌋ = 22: 22 readings are valid
        pytest.param(
            minutes(0, 0, 22), [6.0] * 22, T0 + timedelta(minutes=59), 120, [6.0, None], id="22"
        ),
        # … and 21 are not
        pytest.param(
            minutes(0, 0, 21), [6.0] * 21, T0 + timedelta(minutes=59), 120, [None, None], id="21"
        ),
        # the partial current hour needs 45 readings like any hour: at HH:30 it is missing
        # while the previous, complete hour is valid
        pytest.param(
            minutes(0, 0, 60) + minutes(1, 0, 31),
            [10.0] * 60 + [50.0] * 31,
            T0 + timedelta(hours=1, minutes=30),
            60,
            [None, 10.0],
            id="partial-current-hour",
        ),
        # from its 45th reading (HH:44 here) the current hour counts
        pytest.param(
            minutes(0, 0, 60) + minutes(1, 0, 45),
            [10.0] * 60 + [50.0] * 45,
            T0 + timedelta(hours=1, minutes=44),
            60,
            [50.0, 10.0],
            id="current-hour-complete",
        ),
        # readings after `now` are ignored even inside the current hour
        pytest.param(
            minutes(0, 0, 60),
            [10.0] * 45 + [99.0] * 15,
            T0 + timedelta(minutes=44),
            60,
            [10.0, None],
            id="future-ignored",
        ),
        # a reading at exactly HH:00 belongs to hour HH ([HH:00, HH+1:00)), not to HH−1
        pytest.param(
            [T0 + timedelta(hours=1)],
            [7.0],
            T0 + timedelta(hours=1, minutes=5),
            3600,
            [7.0, None],
            id="hour-start-belongs-to-hour",
        ),
        # a reading at HH:59:59.999999 still belongs to hour HH
        pytest.param(
            [T0 + timedelta(hours=1) - timedelta(microseconds=1)],
            [7.0],
            T0 + timedelta(hours=1, minutes=5),
            3600,
            [None, 7.0],
            id="hour-end-excluded",
        ),
        # missing values (None) are not readings of this pollutant: 45 − 1 = 44 → invalid
        pytest.param(
            minutes(0, 0, 45),
            [None] + [8.0] * 44,
            T0 + timedelta(minutes=59),
            60,
            [None, None],
            id="none-not-counted",
        ),
    ],
)
def test_clock_hour_means(
    times: list[datetime],
    values: list[float | None],
    now: datetime,
    interval_s: float,
    expected: list[float | None],
) -> None:
    assert clock_hour_means(times, values, now=now, interval_s=interval_s, hours=2) == expected


def test_clock_hour_means_slow_station_needs_one_reading() -> None:
    # interval 7200 s implies 0.5 readings an hour: ⌊0.375⌋ = 0, so at least 1
    times = [T0 + timedelta(minutes=10)]
    assert (
        clock_hour_means(times, [4.0], now=T0 + timedelta(minutes=20), interval_s=7200)
        == [4.0] + [None] * 11
    )


def test_clock_hour_means_accepts_datetime64_and_other_offsets() -> None:
    # datetime64 arrays are UTC; an aware datetime in Almaty time (UTC+5) is the same instant
    times = np.array([np.datetime64("2026-01-10T00:10:00")], dtype="datetime64[us]")
    almaty = datetime(2026, 1, 10, 5, 20, tzinfo=timezone(timedelta(hours=5)))
    result = clock_hour_means(times, np.array([3.0]), now=almaty, interval_s=3600, hours=1)
    assert result == [3.0]


def test_readings_to_nowcast_reproduce_epa_example() -> None:
    # 12 complete clock hours whose readings equal the EPA example hours give 17.4 µg/m³
    times: list[datetime] = []
    values: list[float | None] = []
    for age, level in enumerate(EPA_EXAMPLE):
        times += minutes(11 - age, 0, 60)
        values += [level] * 60
    now = T0 + timedelta(hours=11, minutes=59)
    hourly = clock_hour_means(times, values, now=now, interval_s=60)
    assert hourly == EPA_EXAMPLE
    assert nowcast(hourly) == 17.4


def test_clock_hour_means_rejects_naive_now() -> None:
    # a naive evaluation time is ambiguous and refused
    with pytest.raises(ValueError, match="naive"):
        clock_hour_means([], [], now=datetime(2026, 1, 10), interval_s=60)  # noqa: DTZ001
