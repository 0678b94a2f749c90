"""US EPA Air Quality Index (2024 breakpoints) for PM2.5, PM10 and NO2, with its categories.

Sources:
  * U.S. EPA, "Technical Assistance Document for the Reporting of Daily Air Quality – the Air
    Quality Index (AQI)", EPA-454/B-24-002, May 2024, Table 6 and the AQI equation
    (https://nepis.epa.gov/Exe/ZyPURL.cgi?Dockey=P101AP0Q.txt,
    https://document.airnow.gov/technical-assistance-document-for-the-reporting-of-daily-air-quailty.pdf).
    The PM2.5 rows are the February 2024 revision, in force from 6 May 2024 (89 FR 16202).
  * AirNow, "The AQI Equation (2024 – Valid Beginning May 6th, 2024)"
    (https://forum.airnowtech.org/t/the-aqi-equation-2024-valid-beginning-may-6th-2024/453):
    concentrations are truncated (PM2.5 to 0.1 µg/m³, PM10 to 1 µg/m³, NO2 to 1 ppb) before the
    lookup, and the resulting index is rounded to the nearest whole number.

Above the top breakpoint: EPA calls AQI values above 500 "Beyond the AQI" and tells agencies
to report them with the Hazardous category's advice; the TAD's answer on values above 500 keeps
the same linear relationship as the Hazardous band. This module therefore extends the top
segment (PM2.5 225.5–325.4 → 301–500) linearly past 500, keeps the category Hazardous and sets
`AqiResult.beyond_index`. It never caps at 500: a capped index would hide how far beyond the
scale a smoke episode is, and it never returns "no value", which would silence an alert.

Units: PM in µg/m³; NO2 breakpoints are 1-hour mixing ratios in ppb, while Kuzet's readings are
µg/m³ — convert with `no2_ugm3_to_ppb` (EPA reference conditions, see there) or call
`aqi_from_ugm3`, which does it for you.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from collector.air._base import Pollutant, round_half_up, truncate

# NO2 conversion at EPA's reference conditions, 25 °C and 1 atm: one mole of ideal gas occupies
# 24.45 L, so ppb = µg/m³ · 24.45 / M with M = 46.0055 g/mol. Sensors that report µg/m³ at
# another temperature would shift the ppb value by a few per cent (Almaty winter air at −10 °C is
# ~12 % denser); the AQI is defined on the mixing ratio, so we keep EPA's convention.
NO2_MOLAR_MASS_G_PER_MOL = 46.0055
MOLAR_VOLUME_L_AT_25C_1ATM = 24.45

# The scale EPA defines; anything above is "Beyond the AQI".
AQI_SCALE_MAX = 500


@dataclass(frozen=True, slots=True)
class Breakpoint:
    """One row of TAD Table 6: concentrations [c_lo, c_hi] map linearly onto AQI [i_lo, i_hi]."""

    c_lo: float
    c_hi: float
    i_lo: int
    i_hi: int


def _rows(*rows: tuple[float, float, int, int]) -> tuple[Breakpoint, ...]:
    return tuple(Breakpoint(*row) for row in rows)


# EPA-454/B-24-002 Table 6. PM2.5 and PM10 are 24-hour (NowCast in real time), NO2 is 1-hour.
BREAKPOINTS: Mapping[Pollutant, tuple[Breakpoint, ...]] = MappingProxyType(
    {
        Pollutant.PM25: _rows(
            (0.0, 9.0, 0, 50),
            (9.1, 35.4, 51, 100),
            (35.5, 55.4, 101, 150),
            (55.5, 125.4, 151, 200),
            (125.5, 225.4, 201, 300),
            (225.5, 325.4, 301, 500),
        ),
        Pollutant.PM10: _rows(
            (0, 54, 0, 50),
            (55, 154, 51, 100),
            (155, 254, 101, 150),
            (255, 354, 151, 200),
            (355, 424, 201, 300),
            (425, 604, 301, 500),
        ),
        Pollutant.NO2: _rows(
            (0, 53, 0, 50),
            (54, 100, 51, 100),
            (101, 360, 101, 150),
            (361, 649, 151, 200),
            (650, 1249, 201, 300),
            (1250, 2049, 301, 500),
        ),
    }
)

# Decimal places kept before the lookup (the precision of each column of Table 6).
TRUNCATION_DECIMALS: Mapping[Pollutant, int] = MappingProxyType(
    {Pollutant.PM25: 1, Pollutant.PM10: 0, Pollutant.NO2: 0}
)

# Unit of the concentrations in BREAKPOINTS and AqiResult.concentration.
AQI_UNITS: Mapping[Pollutant, str] = MappingProxyType(
    {Pollutant.PM25: "µg/m³", Pollutant.PM10: "µg/m³", Pollutant.NO2: "ppb"}
)


class AqiCategory(enum.StrEnum):
    """The six AQI categories; the value is the stable machine key (labels, metrics, JSON)."""

    GOOD = "good"
    MODERATE = "moderate"
    UNHEALTHY_FOR_SENSITIVE_GROUPS = "unhealthy_for_sensitive_groups"
    UNHEALTHY = "unhealthy"
    VERY_UNHEALTHY = "very_unhealthy"
    HAZARDOUS = "hazardous"

    @property
    def label(self) -> str:
        """The EPA category name, e.g. "Unhealthy for Sensitive Groups"."""
        return _LABELS[self]

    @property
    def aqi_low(self) -> int:
        """The lowest AQI value of the category (Hazardous is open-ended above 301)."""
        return _LOWER_BOUNDS[self]


_LABELS: Mapping[AqiCategory, str] = MappingProxyType(
    {
        AqiCategory.GOOD: "Good",
        AqiCategory.MODERATE: "Moderate",
        AqiCategory.UNHEALTHY_FOR_SENSITIVE_GROUPS: "Unhealthy for Sensitive Groups",
        AqiCategory.UNHEALTHY: "Unhealthy",
        AqiCategory.VERY_UNHEALTHY: "Very Unhealthy",
        AqiCategory.HAZARDOUS: "Hazardous",
    }
)
_LOWER_BOUNDS: Mapping[AqiCategory, int] = MappingProxyType(
    dict(zip(AqiCategory, (0, 51, 101, 151, 201, 301), strict=True))
)


@dataclass(frozen=True, slots=True)
class AqiResult:
    """An AQI sub-index for one pollutant.

    Attributes:
        pollutant: Which pollutant the index is for.
        concentration: The truncated concentration that was looked up, in `AQI_UNITS`.
        aqi: The index, rounded half up; may exceed 500 (see `beyond_index`).
        category: The EPA category of `aqi` (Hazardous for everything from 301 up).
        beyond_index: True when `aqi` > 500, EPA's "Beyond the AQI".
    """

    pollutant: Pollutant
    concentration: float
    aqi: int
    category: AqiCategory
    beyond_index: bool


def category_for(aqi_value: int) -> AqiCategory:
    """The category of an AQI value (0–50 Good … 301 and above Hazardous)."""
    if aqi_value < 0:
        raise ValueError(f"AQI cannot be negative, got {aqi_value}")
    for category in reversed(AqiCategory):
        if aqi_value >= category.aqi_low:
            return category
    raise AssertionError("unreachable: Good starts at 0")  # pragma: no cover


def aqi(pollutant: Pollutant, concentration: float) -> AqiResult:
    """The AQI sub-index of a concentration given in the table's unit (PM µg/m³, NO2 ppb).

    Args:
        pollutant: PM2.5, PM10 or NO2.
        concentration: The averaged concentration (PM: 24 h or NowCast; NO2: 1 h), not yet
            truncated; must be finite and non-negative.

    Returns:
        The sub-index, its category and the truncated concentration used.

    Raises:
        ValueError: The concentration is negative or not finite.
    """
    return _aqi(pollutant, concentration)


# Pure; NowCasts are truncated to 0.1 µg/m³, so the same few values come back again and again.
@functools.lru_cache(maxsize=4096)
def _aqi(pollutant: Pollutant, concentration: float) -> AqiResult:
    if not math.isfinite(concentration) or concentration < 0:
        raise ValueError(f"{pollutant} concentration must be finite and >= 0, got {concentration}")
    c = truncate(concentration, TRUNCATION_DECIMALS[pollutant])
    rows = BREAKPOINTS[pollutant]
    # After truncation c has the table's precision, so it lies in exactly one row (no gaps); a
    # value above the last row stays on the last (Hazardous) segment, extended linearly.
    row = next((r for r in rows if c <= r.c_hi), rows[-1])
    index = round_half_up((row.i_hi - row.i_lo) / (row.c_hi - row.c_lo) * (c - row.c_lo) + row.i_lo)
    return AqiResult(
        pollutant=pollutant,
        concentration=c,
        aqi=index,
        category=category_for(index),
        beyond_index=index > AQI_SCALE_MAX,
    )


def no2_ugm3_to_ppb(ugm3: float) -> float:
    """NO2 µg/m³ → ppb at 25 °C and 1 atm (ppb = µg/m³ · 24.45 / 46.0055)."""
    return ugm3 * MOLAR_VOLUME_L_AT_25C_1ATM / NO2_MOLAR_MASS_G_PER_MOL


def no2_ppb_to_ugm3(ppb: float) -> float:
    """NO2 ppb → µg/m³ at 25 °C and 1 atm (µg/m³ = ppb · 46.0055 / 24.45)."""
    return ppb * NO2_MOLAR_MASS_G_PER_MOL / MOLAR_VOLUME_L_AT_25C_1ATM


def aqi_from_ugm3(pollutant: Pollutant, ugm3: float) -> AqiResult:
    """The AQI sub-index of a concentration in µg/m³, the unit of Kuzet's readings.

    NO2 is converted to ppb first (`no2_ugm3_to_ppb`); PM is passed through unchanged.

    Args:
        pollutant: PM2.5, PM10 or NO2.
        ugm3: The averaged concentration in µg/m³.

    Returns:
        As `aqi`; `AqiResult.concentration` is in the table unit (ppb for NO2).
    """
    if pollutant is Pollutant.NO2:
        return aqi(pollutant, no2_ugm3_to_ppb(ugm3))
    return aqi(pollutant, ugm3)
