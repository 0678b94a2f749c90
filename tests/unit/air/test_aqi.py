"""US EPA AQI (EPA-454/B-24-002, May 2024, Table 6): breakpoint edges, truncation, beyond 500."""

from __future__ import annotations

import math

import pytest

from collector.air import (
    AqiCategory,
    Pollutant,
    aqi,
    aqi_from_ugm3,
    category_for,
    no2_ppb_to_ugm3,
    no2_ugm3_to_ppb,
)
from collector.air._base import round_half_up

PM25, PM10, NO2 = Pollutant.PM25, Pollutant.PM10, Pollutant.NO2
GOOD = AqiCategory.GOOD
MODERATE = AqiCategory.MODERATE
USG = AqiCategory.UNHEALTHY_FOR_SENSITIVE_GROUPS
UNHEALTHY = AqiCategory.UNHEALTHY
VERY_UNHEALTHY = AqiCategory.VERY_UNHEALTHY
HAZARDOUS = AqiCategory.HAZARDOUS

EDGES = [
    # --- PM2.5, µg/m³, 2024 breakpoints ---
    # the bottom of the scale is AQI 0
    (PM25, 0.0, 0, GOOD),
    # 9.0 is the 2024 top of Good (was 12.0 before May 2024)
    (PM25, 9.0, 50, GOOD),
    # 9.1 starts Moderate at 51
    (PM25, 9.1, 51, MODERATE),
    # 35.4 tops Moderate at 100
    (PM25, 35.4, 100, MODERATE),
    # 35.5 starts Unhealthy for Sensitive Groups at 101
    (PM25, 35.5, 101, USG),
    # 55.4 tops USG at 150
    (PM25, 55.4, 150, USG),
    # 55.5 starts Unhealthy at 151
    (PM25, 55.5, 151, UNHEALTHY),
    # 125.4 (2024; was 150.4) tops Unhealthy at 200
    (PM25, 125.4, 200, UNHEALTHY),
    # 125.5 starts Very Unhealthy at 201
    (PM25, 125.5, 201, VERY_UNHEALTHY),
    # 225.4 (2024; was 250.4) tops Very Unhealthy at 300
    (PM25, 225.4, 300, VERY_UNHEALTHY),
    # 225.5 starts Hazardous at 301
    (PM25, 225.5, 301, HAZARDOUS),
    # 325.4 is the top breakpoint, AQI 500
    (PM25, 325.4, 500, HAZARDOUS),
    # --- PM10, µg/m³ ---
    # the bottom of the scale is AQI 0
    (PM10, 0, 0, GOOD),
    # 54 tops Good at 50
    (PM10, 54, 50, GOOD),
    # 55 starts Moderate at 51
    (PM10, 55, 51, MODERATE),
    # 154 tops Moderate at 100
    (PM10, 154, 100, MODERATE),
    # 155 starts USG at 101
    (PM10, 155, 101, USG),
    # 254 tops USG at 150
    (PM10, 254, 150, USG),
    # 255 starts Unhealthy at 151
    (PM10, 255, 151, UNHEALTHY),
    # 354 tops Unhealthy at 200
    (PM10, 354, 200, UNHEALTHY),
    # 355 starts Very Unhealthy at 201
    (PM10, 355, 201, VERY_UNHEALTHY),
    # 424 tops Very Unhealthy at 300
    (PM10, 424, 300, VERY_UNHEALTHY),
    # 425 starts Hazardous at 301
    (PM10, 425, 301, HAZARDOUS),
    # 604 is the top breakpoint, AQI 500
    (PM10, 604, 500, HAZARDOUS),
    # --- NO2, 1-hour ppb ---
    # the bottom of the scale is AQI 0
    (NO2, 0, 0, GOOD),
    # 53 ppb tops Good at 50
    (NO2, 53, 50, GOOD),
    # 54 ppb starts Moderate at 51
    (NO2, 54, 51, MODERATE),
    # 100 ppb tops Moderate at 100
    (NO2, 100, 100, MODERATE),
    # 101 ppb starts USG at 101
    (NO2, 101, 101, USG),
    # 360 ppb tops USG at 150
    (NO2, 360, 150, USG),
    # 361 ppb starts Unhealthy at 151
    (NO2, 361, 151, UNHEALTHY),
    # 649 ppb tops Unhealthy at 200
    (NO2, 649, 200, UNHEALTHY),
    # 650 ppb starts Very Unhealthy at 201
    (NO2, 650, 201, VERY_UNHEALTHY),
    # 1249 ppb tops Very Unhealthy at 300
    (NO2, 1249, 300, VERY_UNHEALTHY),
    # 1250 ppb starts Hazardous at 301
    (NO2, 1250, 301, HAZARDOUS),
    # 2049 ppb is the top breakpoint, AQI 500
    (NO2, 2049, 500, HAZARDOUS),
]


@pytest.mark.parametrize(("pollutant", "concentration", "expected", "category"), EDGES)
def test_breakpoint_edges(
    pollutant: Pollutant, concentration: float, expected: int, category: AqiCategory
) -> None:
    result = aqi(pollutant, concentration)
    assert (result.aqi, result.category, result.beyond_index) == (expected, category, False)


@pytest.mark.parametrize(
    ("pollutant", "concentration", "truncated", "expected"),
    [
        # PM2.5 is truncated to 0.1, never rounded: 9.09 stays Good (50), not Moderate
        (PM25, 9.09, 9.0, 50),
        # 35.49 truncates to 35.4, the top of Moderate, not 35.5 (USG)
        (PM25, 35.49, 35.4, 100),
        # 55.45 truncates to 55.4, still USG
        (PM25, 55.45, 55.4, 150),
        # floating-point noise just under 35.4 must not cost a whole 0.1
        (PM25, math.nextafter(35.4, 0.0), 35.4, 100),
        # interior point: 49/26.3 · (12.0 − 9.1) + 51 = 56.40 → 56
        (PM25, 12.0, 12.0, 56),
        # the EPA NowCast example's 17.4 µg/m³ under the 2024 table: 66.46 → 66
        (PM25, 17.4, 17.4, 66),
        # PM10 is truncated to 1 µg/m³: 54.9 → 54 stays Good
        (PM10, 54.9, 54.0, 50),
        # 154.99 → 154 stays Moderate
        (PM10, 154.99, 154.0, 100),
        # NO2 is truncated to 1 ppb: 53.9 → 53 stays Good
        (NO2, 53.9, 53.0, 50),
        # 100.99 → 100 stays Moderate
        (NO2, 100.99, 100.0, 100),
        # an exact tie (23 · 49/46 + 51 = 75.5) rounds half up to 76
        (NO2, 77, 77.0, 76),
    ],
)
def test_truncation_and_rounding(
    pollutant: Pollutant, concentration: float, truncated: float, expected: int
) -> None:
    result = aqi(pollutant, concentration)
    assert (result.concentration, result.aqi) == (truncated, expected)


@pytest.mark.parametrize(
    ("pollutant", "concentration", "expected", "beyond"),
    [
        # just above the top PM2.5 breakpoint the Hazardous line gives 500.2 → 500: not beyond
        (PM25, 325.5, 500, False),
        # 500 µg/m³ continues the 225.5–325.4 → 301–500 line: 199/99.9 · 274.5 + 301 = 847.8
        (PM25, 500.0, 848, True),
        # PM10 605 continues 425–604 → 301–500: 199/179 · 180 + 301 = 501.1 → beyond the AQI
        (PM10, 605, 501, True),
        # PM10 1000 on the same line: 940.3 → 940, never capped at 500
        (PM10, 1000, 940, True),
        # NO2 2100 ppb continues 1250–2049 → 301–500: 199/799 · 850 + 301 = 512.7 → 513
        (NO2, 2100, 513, True),
    ],
)
def test_above_the_top_breakpoint(
    pollutant: Pollutant, concentration: float, expected: int, beyond: bool
) -> None:
    result = aqi(pollutant, concentration)
    assert (result.aqi, result.category, result.beyond_index) == (expected, HAZARDOUS, beyond)


@pytest.mark.parametrize(
    "concentration",
    [
        # a negative concentration is a data error, not AQI 0
        -0.1,
        # NaN has no index
        math.nan,
        # neither has infinity
        math.inf,
    ],
)
def test_invalid_concentration(concentration: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        aqi(PM25, concentration)


@pytest.mark.parametrize(
    ("aqi_value", "category"),
    [
        # 0–50 Good
        (0, GOOD),
        # 50 is still Good
        (50, GOOD),
        # 51–100 Moderate
        (51, MODERATE),
        # 100 is still Moderate
        (100, MODERATE),
        # 101–150 Unhealthy for Sensitive Groups
        (101, USG),
        # 150 is still USG
        (150, USG),
        # 151–200 Unhealthy (the Kuzet `aqi` rule fires here)
        (151, UNHEALTHY),
        # 200 is still Unhealthy
        (200, UNHEALTHY),
        # 201–300 Very Unhealthy (the `aqi` rule goes critical here)
        (201, VERY_UNHEALTHY),
        # 300 is still Very Unhealthy
        (300, VERY_UNHEALTHY),
        # 301 and above Hazardous
        (301, HAZARDOUS),
        # beyond the AQI keeps the Hazardous advice
        (848, HAZARDOUS),
    ],
)
def test_category_for(aqi_value: int, category: AqiCategory) -> None:
    assert category_for(aqi_value) is category


@pytest.mark.parametrize(
    ("category", "key", "label"),
    [
        # machine key and EPA name of each category
        (GOOD, "good", "Good"),
        # the key is stable for labels and JSON; the label is EPA's wording
        (MODERATE, "moderate", "Moderate"),
        # the long EPA name keeps its capitalisation
        (USG, "unhealthy_for_sensitive_groups", "Unhealthy for Sensitive Groups"),
        # Unhealthy
        (UNHEALTHY, "unhealthy", "Unhealthy"),
        # Very Unhealthy
        (VERY_UNHEALTHY, "very_unhealthy", "Very Unhealthy"),
        # Hazardous
        (HAZARDOUS, "hazardous", "Hazardous"),
    ],
)
def test_category_keys_and_labels(category: AqiCategory, key: str, label: str) -> None:
    assert (category.value, category.label) == (key, label)


@pytest.mark.parametrize(
    ("ugm3", "ppb"),
    [
        # one molar mass in µg/m³ is one molar volume in ppb (46.0055 µg/m³ = 24.45 ppb)
        (46.0055, 24.45),
        # the Kazakhstan one-time limit, 200 µg/m³ ≈ 106.29 ppb
        (200.0, 106.2916),
        # the Kazakhstan daily limit, 40 µg/m³ ≈ 21.26 ppb
        (40.0, 21.2583),
        # zero is zero
        (0.0, 0.0),
    ],
)
def test_no2_conversion(ugm3: float, ppb: float) -> None:
    assert no2_ugm3_to_ppb(ugm3) == pytest.approx(ppb, abs=1e-4)
    assert no2_ppb_to_ugm3(no2_ugm3_to_ppb(ugm3)) == pytest.approx(ugm3)


@pytest.mark.parametrize(
    ("pollutant", "ugm3", "table_concentration", "expected"),
    [
        # NO2 µg/m³ is converted to ppb before truncation: 200 µg/m³ → 106.29 → 106 ppb → 102
        (NO2, 200.0, 106.0, 102),
        # 40 µg/m³ → 21.26 → 21 ppb → 50/53 · 21 = 19.8 → 20
        (NO2, 40.0, 21.0, 20),
        # PM is already in the table unit: 35 µg/m³ → 99
        (PM25, 35.0, 35.0, 99),
        # PM10 likewise: 100 µg/m³ → 73
        (PM10, 100.0, 100.0, 73),
    ],
)
def test_aqi_from_ugm3(
    pollutant: Pollutant, ugm3: float, table_concentration: float, expected: int
) -> None:
    result = aqi_from_ugm3(pollutant, ugm3)
    assert (result.concentration, result.aqi) == (table_concentration, expected)


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        # EPA rounds the index to the nearest whole number with halves up: 74.5 → 75
        # (Python's round() would give 74)
        (74.5, 75),
        # 0.5 → 1 (round() gives 0)
        (0.5, 1),
        # below the half goes down
        (74.49, 74),
        # a half that binary arithmetic delivers a hair short still rounds up
        (math.nextafter(74.5, 0.0), 75),
    ],
)
def test_index_rounds_half_up(index: float, expected: int) -> None:
    assert round_half_up(index) == expected
