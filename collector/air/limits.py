"""Reference limits for PM2.5, PM10 and NO2 as data, and the multiple of a limit a value is.

Sources:
  * Kazakhstan: Order of the Minister of Health of the Republic of Kazakhstan of 2 August 2022
    No. ҚР ДСМ-70 «Об утверждении Гигиенических нормативов к атмосферному воздуху в городских и
    сельских населенных пунктах, на территориях промышленных организаций» (state registration
    No. 29011, https://adilet.zan.kz/rus/docs/V2200029011), annex 1, maximum permissible
    concentrations (ПДК) in mg/m³: PM2.5 0.16 one-time / 0.035 daily, PM10 0.3 / 0.06,
    NO2 0.2 / 0.04. These are the limits Kazhydromet reports exceedances against («… ПДК»).
    The maximum one-time ПДК (м.р.) is defined on a 20–30-minute sample; Kuzet compares it with
    the 1-hour mean (spec §6, rules pm25_1h and no2_1h), the shortest mean it computes.
  * WHO global air quality guidelines, 2021 (ISBN 978-92-4-003422-8,
    https://www.who.int/publications/i/item/9789240034228), recommended AQG levels in µg/m³:
    PM2.5 annual 5, 24-hour 15; PM10 annual 15, 24-hour 45; NO2 annual 10, 24-hour 25.
    The 1-hour NO2 guideline of 200 µg/m³ is the 2005 one, which the 2021 guidelines keep as
    still valid. WHO's 24-hour levels are 99th percentiles (3–4 exceedance days a year); a
    multiple of one day's mean is a screening figure, not a compliance statement.

All values here are µg/m³ (the ПДК in mg/m³ × 1000).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from collector.air._base import Pollutant

UNIT = "µg/m³"


class Authority(enum.StrEnum):
    """Who sets the limit."""

    KZ = "kz"  # Kazakhstan ПДК, order ҚР ДСМ-70 (binding)
    WHO = "who"  # WHO air quality guideline levels, 2021 (advisory)


class AveragingPeriod(enum.StrEnum):
    """The averaging period a limit applies to."""

    ONE_TIME = "one_time"  # ПДК м.р.: 20–30 min sample, applied to the 1 h mean in Kuzet
    HOUR = "1h"
    DAY = "24h"
    YEAR = "annual"


@dataclass(frozen=True, slots=True)
class Limit:
    """One reference limit.

    Attributes:
        authority: Who sets it.
        pollutant: What it limits.
        period: The averaging period it applies to.
        value_ugm3: The limit in µg/m³.
        reference: A short citation of the legal act or guideline.
    """

    authority: Authority
    pollutant: Pollutant
    period: AveragingPeriod
    value_ugm3: float
    reference: str


_KZ_REF = "Order of the Minister of Health of RK No. ҚР ДСМ-70 of 2 Aug 2022, annex 1"
_WHO_REF = "WHO global air quality guidelines (2021)"
_WHO_2005_REF = "WHO air quality guidelines 2005, kept valid by the 2021 guidelines"

_ALL: tuple[Limit, ...] = (
    # Kazakhstan ПДК: 0.16 / 0.035 mg/m³ (PM2.5), 0.3 / 0.06 (PM10), 0.2 / 0.04 (NO2).
    Limit(Authority.KZ, Pollutant.PM25, AveragingPeriod.ONE_TIME, 160.0, _KZ_REF),
    Limit(Authority.KZ, Pollutant.PM25, AveragingPeriod.DAY, 35.0, _KZ_REF),
    Limit(Authority.KZ, Pollutant.PM10, AveragingPeriod.ONE_TIME, 300.0, _KZ_REF),
    Limit(Authority.KZ, Pollutant.PM10, AveragingPeriod.DAY, 60.0, _KZ_REF),
    Limit(Authority.KZ, Pollutant.NO2, AveragingPeriod.ONE_TIME, 200.0, _KZ_REF),
    Limit(Authority.KZ, Pollutant.NO2, AveragingPeriod.DAY, 40.0, _KZ_REF),
    # WHO 2021 AQG levels.
    Limit(Authority.WHO, Pollutant.PM25, AveragingPeriod.YEAR, 5.0, _WHO_REF),
    Limit(Authority.WHO, Pollutant.PM25, AveragingPeriod.DAY, 15.0, _WHO_REF),
    Limit(Authority.WHO, Pollutant.PM10, AveragingPeriod.YEAR, 15.0, _WHO_REF),
    Limit(Authority.WHO, Pollutant.PM10, AveragingPeriod.DAY, 45.0, _WHO_REF),
    Limit(Authority.WHO, Pollutant.NO2, AveragingPeriod.YEAR, 10.0, _WHO_REF),
    Limit(Authority.WHO, Pollutant.NO2, AveragingPeriod.DAY, 25.0, _WHO_REF),
    Limit(Authority.WHO, Pollutant.NO2, AveragingPeriod.HOUR, 200.0, _WHO_2005_REF),
)

LIMITS: Mapping[tuple[Authority, Pollutant, AveragingPeriod], Limit] = MappingProxyType(
    {(lim.authority, lim.pollutant, lim.period): lim for lim in _ALL}
)


def limit_for(
    pollutant: Pollutant, period: AveragingPeriod, authority: Authority = Authority.KZ
) -> Limit:
    """The limit an authority sets for a pollutant and averaging period.

    Raises:
        KeyError: That authority sets no limit for this pollutant and period (e.g. there is no
            Kazakhstan 1-hour limit: the one-time ПДК is `AveragingPeriod.ONE_TIME`).
    """
    try:
        return LIMITS[(authority, pollutant, period)]
    except KeyError:
        raise KeyError(f"no {authority} limit for {pollutant} over {period}") from None


def limit_multiple(
    value_ugm3: float,
    pollutant: Pollutant,
    period: AveragingPeriod,
    authority: Authority = Authority.KZ,
) -> float:
    """How many times the limit a mean concentration is (value / limit; 1.0 = at the limit).

    Args:
        value_ugm3: The mean over `period`, in µg/m³.
        pollutant: What it measures.
        period: The averaging period of the mean.
        authority: Whose limit to compare with.

    Returns:
        value / limit, e.g. 2.4 for "2.4 ПДК".

    Raises:
        KeyError: No such limit (see `limit_for`).
    """
    return value_ugm3 / limit_for(pollutant, period, authority).value_ugm3
