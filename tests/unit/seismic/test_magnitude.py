"""Magnitude, ground motion and intensity against values worked out by hand from the papers."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from collector.seismic import (
    CITY_LAT,
    CITY_LON,
    FUKUSHIMA_TANAKA_1990,
    KUYUK_ALLEN_2013,
    WU_ZHAO_2006,
    PdRelation,
    city_impact,
    magnitude_from_pd,
    mmi_from_pga,
    network_magnitude,
)
from tests.unit.seismic._support import at


@pytest.mark.parametrize(
    ("pga", "mmi"),
    [
        # log 10 = 1 ≤ 1.57: lower branch, 1.78 + 1.55·1 = 3.33
        (10.0, 3.33),
        # log 100 = 2 > 1.57: upper branch, −1.60 + 3.70·2 = 5.80
        (100.0, 5.80),
        # exactly at the knee, log PGA = 1.57: lower branch, 1.78 + 1.55·1.57 = 4.2135
        (10**1.57, 4.2135),
        # log 1000 = 3: −1.60 + 11.10 = 9.50
        (1000.0, 9.50),
        # log 5000 = 3.699: 12.09 → clipped to 10
        (5000.0, 10.0),
        # log 0.01 = −2: 1.78 − 3.10 = −1.32 → clipped to 1
        (0.01, 1.0),
        # no motion at all is intensity 1
        (0.0, 1.0),
    ],
)
def test_worden_2012_pga_to_mmi(pga: float, mmi: float) -> None:
    assert mmi_from_pga(pga) == pytest.approx(mmi, abs=1e-9)


def test_worden_branches_meet_at_the_knee() -> None:
    # the two segments agree to 0.005 intensity units at log PGA = 1.57 (4.2135 vs 4.209)
    below, above = mmi_from_pga(10**1.5699999), mmi_from_pga(10**1.5700001)
    assert abs(below - above) < 0.005


@pytest.mark.parametrize(
    ("m", "r", "pga"),
    [
        # M 6 at 30 km: 2.46 − log(30 + 0.032·10^2.46 = 39.229) − 0.102 + 1.30 = 2.0644 → 116.0
        (6.0, 30.0, 115.983),
        # M 7 at 10 km: 2.87 − log(10 + 23.722) − 0.034 + 1.30 = 2.6081 → 405.6
        (7.0, 10.0, 405.590),
        # M 5 at 10 km: 2.05 − log(10 + 3.590) − 0.034 + 1.30 = 2.1828 → 152.3
        (5.0, 10.0, 152.323),
        # M 4 at 50 km: 1.64 − log(50 + 1.396) − 0.170 + 1.30 = 1.0591 → 11.46
        (4.0, 50.0, 11.4568),
    ],
)
def test_fukushima_tanaka_1990(m: float, r: float, pga: float) -> None:
    assert FUKUSHIMA_TANAKA_1990.pga_gal(m, r) == pytest.approx(pga, rel=1e-5)


def test_ground_motion_saturates_near_the_source() -> None:
    # the 0.032·10^(0.41 M) term: a M 7 at 0 km is not infinite, and less than double 10 km
    assert FUKUSHIMA_TANAKA_1990.pga_gal(7.0, 0.0) < 2 * FUKUSHIMA_TANAKA_1990.pga_gal(7.0, 10.0)


@pytest.mark.parametrize(
    ("relation", "pd", "r", "m"),
    [
        # Wu & Zhao: (log 0.1 + 3.463 + 1.374·log 20) / 0.729 = (−1 + 3.463 + 1.78762)/0.729
        (WU_ZHAO_2006, 0.1, 20.0, 5.830748),
        # Wu & Zhao: Pd 1 cm at 100 km: (0 + 3.463 + 2.748)/0.729 = 8.5199 (saturated regime)
        (WU_ZHAO_2006, 1.0, 100.0, 8.519890),
        # Kuyuk & Allen: 1.23·(−1) + 1.38·log 20 + 5.39 = −1.23 + 1.79542 + 5.39
        (KUYUK_ALLEN_2013, 0.1, 20.0, 5.955421),
        # distances below 1 km are taken as 1 km (log R = 0): 1.23·0 + 0 + 5.39
        (KUYUK_ALLEN_2013, 1.0, 0.2, 5.39),
    ],
)
def test_magnitude_from_pd(relation: PdRelation, pd: float, r: float, m: float) -> None:
    assert magnitude_from_pd(pd, r, relation) == pytest.approx(m, abs=1e-6)


def test_wu_zhao_inverts_its_forward_relation() -> None:
    # log Pd = −3.463 + 0.729·5.5 − 1.374·log 40: the inverse gives back 5.5
    pd = 10 ** (-3.463 + 0.729 * 5.5 - 1.374 * math.log10(40.0))
    assert magnitude_from_pd(pd, 40.0) == pytest.approx(5.5, abs=1e-12)


def test_pd_must_be_positive() -> None:
    # log of zero: refused rather than −inf magnitude
    with pytest.raises(ValueError, match="positive"):
        magnitude_from_pd(0.0, 10.0)


@pytest.mark.parametrize(
    ("estimates", "expected"),
    [
        # the median resists one station's outlier
        ([5.1, 5.3, 7.9], 5.3),
        # even count: mean of the middle two
        ([5.0, 5.2, 5.4, 9.0], 5.3),
        # nothing measured yet: no magnitude
        ([], None),
    ],
)
def test_network_magnitude(estimates: list[float], expected: float | None) -> None:
    result = network_magnitude(estimates)
    assert result == (None if expected is None else pytest.approx(expected))


def test_city_impact_of_an_event_under_the_centre() -> None:
    origin = at(0)
    impact = city_impact(origin, CITY_LAT, CITY_LON, 10.0, magnitude=5.0, now=at(1))
    # epicentre at the centre, 10 km deep: hypocentral 10 km, S after 10/3.5 = 2.857 s
    assert impact.epicentral_km == pytest.approx(0.0, abs=1e-9)
    assert impact.hypocentral_km == pytest.approx(10.0)
    assert impact.s_arrival == origin + timedelta(seconds=10 / 3.5)
    # lead time counted from `now` (1 s after origin): 1.857 s
    assert impact.lead_time_s == pytest.approx(10 / 3.5 - 1, abs=1e-6)
    # M 5 at 10 km: 152.3 gal (Fukushima & Tanaka) → −1.60 + 3.70·2.18277 = 6.476 (Worden)
    assert impact.pga_gal == pytest.approx(152.323, rel=1e-5)
    assert impact.intensity == pytest.approx(-1.60 + 3.70 * math.log10(152.323), abs=1e-4)


def test_city_impact_of_a_distant_event_and_no_magnitude() -> None:
    # 1° north of the centre (111.2 km), 15 km deep, magnitude not yet known
    origin = at(0)
    impact = city_impact(origin, CITY_LAT + 1, CITY_LON, 15.0, magnitude=None, now=at(40))
    hypo = math.hypot(2 * math.pi * 6371 / 360, 15.0)
    assert impact.hypocentral_km == pytest.approx(hypo, rel=1e-9)
    assert impact.pga_gal is None
    assert impact.intensity is None
    # S after hypo/3.5 = 32.06 s; at 40 s it has passed: negative lead time
    assert impact.lead_time_s == pytest.approx(hypo / 3.5 - 40, abs=1e-6)
