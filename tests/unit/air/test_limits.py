"""Reference limits: Kazakhstan ПДК (order ҚР ДСМ-70, 2022) and WHO 2021 guideline levels.

Sources: Order of the Minister of Health of RK No. ҚР ДСМ-70 of 2 August 2022 (mg/m³: PM2.5
0.16/0.035, PM10 0.3/0.06, NO2 0.2/0.04, one-time/daily) and WHO global air quality guidelines
2021 (https://www.who.int/publications/i/item/9789240034228).
"""

from __future__ import annotations

import pytest

from collector.air import (
    LIMITS,
    Authority,
    AveragingPeriod,
    Pollutant,
    limit_for,
    limit_multiple,
)

KZ, WHO = Authority.KZ, Authority.WHO
ONE_TIME, HOUR = AveragingPeriod.ONE_TIME, AveragingPeriod.HOUR
DAY, YEAR = AveragingPeriod.DAY, AveragingPeriod.YEAR
PM25, PM10, NO2 = Pollutant.PM25, Pollutant.PM10, Pollutant.NO2


@pytest.mark.parametrize(
    ("authority", "pollutant", "period", "value"),
    [
        # ПДК м.р. PM2.5 0.16 mg/m³ (spec rule pm25_1h: 160)
        (KZ, PM25, ONE_TIME, 160.0),
        # ПДК с.с. PM2.5 0.035 mg/m³ (spec rule pm25_24h: 35)
        (KZ, PM25, DAY, 35.0),
        # ПДК м.р. PM10 0.3 mg/m³
        (KZ, PM10, ONE_TIME, 300.0),
        # ПДК с.с. PM10 0.06 mg/m³
        (KZ, PM10, DAY, 60.0),
        # ПДК м.р. NO2 0.2 mg/m³ (spec rule no2_1h: 200)
        (KZ, NO2, ONE_TIME, 200.0),
        # ПДК с.с. NO2 0.04 mg/m³ (spec rule no2_24h: 40)
        (KZ, NO2, DAY, 40.0),
        # WHO 2021 PM2.5 annual AQG level
        (WHO, PM25, YEAR, 5.0),
        # WHO 2021 PM2.5 24-hour AQG level
        (WHO, PM25, DAY, 15.0),
        # WHO 2021 PM10 annual
        (WHO, PM10, YEAR, 15.0),
        # WHO 2021 PM10 24-hour
        (WHO, PM10, DAY, 45.0),
        # WHO 2021 NO2 annual
        (WHO, NO2, YEAR, 10.0),
        # WHO 2021 NO2 24-hour
        (WHO, NO2, DAY, 25.0),
        # WHO 2005 NO2 1-hour guideline, kept valid in 2021
        (WHO, NO2, HOUR, 200.0),
    ],
)
def test_limit_values(
    authority: Authority, pollutant: Pollutant, period: AveragingPeriod, value: float
) -> None:
    assert limit_for(pollutant, period, authority).value_ugm3 == value


def test_table_is_complete() -> None:
    # exactly the 13 limits above, no stray entries
    assert len(LIMITS) == 13


@pytest.mark.parametrize(
    ("value", "pollutant", "period", "authority", "multiple"),
    [
        # at the limit is 1.0 ПДК
        (35.0, PM25, DAY, KZ, 1.0),
        # Kazhydromet-style "2.4 ПДК": 84 µg/m³ daily PM2.5
        (84.0, PM25, DAY, KZ, 2.4),
        # the default authority is Kazakhstan
        (320.0, PM25, ONE_TIME, KZ, 2.0),
        # the same daily mean against WHO's 15 µg/m³
        (84.0, PM25, DAY, WHO, 5.6),
        # below the limit is a fraction
        (20.0, NO2, DAY, KZ, 0.5),
        # clean air is 0
        (0.0, PM10, DAY, WHO, 0.0),
    ],
)
def test_limit_multiple(
    value: float,
    pollutant: Pollutant,
    period: AveragingPeriod,
    authority: Authority,
    multiple: float,
) -> None:
    assert limit_multiple(value, pollutant, period, authority) == pytest.approx(multiple)


def test_default_authority_is_kazakhstan() -> None:
    # without an authority the Kazakhstan ПДК applies
    assert limit_multiple(70.0, PM25, DAY) == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("pollutant", "period", "authority"),
    [
        # Kazakhstan has no 1-hour limit: the one-time ПДК is ONE_TIME
        (PM25, HOUR, KZ),
        # nor an annual one in this table
        (NO2, YEAR, KZ),
        # WHO has no one-time level
        (PM10, ONE_TIME, WHO),
    ],
)
def test_missing_limit(pollutant: Pollutant, period: AveragingPeriod, authority: Authority) -> None:
    with pytest.raises(KeyError, match="no"):
        limit_for(pollutant, period, authority)
