"""Distances and travel times of the uniform-crust model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from collector.seismic import EARTH_RADIUS_KM, VelocityModel, epicentral_km, hypocentral_km

DEG_KM = 2 * math.pi * EARTH_RADIUS_KM / 360  # 111.195 km per degree of a great circle


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # one degree of latitude is 1/360 of a great circle
        ((43.0, 77.0), (44.0, 77.0), DEG_KM),
        # one degree of longitude on the equator, likewise
        ((0.0, 76.0), (0.0, 77.0), DEG_KM),
        # a point is at distance 0 from itself
        ((43.238, 76.889), (43.238, 76.889), 0.0),
        # half a circumference between antipodes (the haversine clip keeps arcsin defined)
        ((0.0, 0.0), (0.0, 180.0), math.pi * EARTH_RADIUS_KM),
    ],
)
def test_epicentral_km(a: tuple[float, float], b: tuple[float, float], expected: float) -> None:
    assert float(epicentral_km(*a, *b)) == pytest.approx(expected, rel=1e-12, abs=1e-9)


def test_longitude_shrinks_with_latitude() -> None:
    # at 43° N a short east–west step is cos(43°) of the equatorial one (within 0.01 %)
    step = float(epicentral_km(43.0, 76.9, 43.0, 77.0))
    assert step == pytest.approx(0.1 * DEG_KM * math.cos(math.radians(43.0)), rel=1e-4)


def test_epicentral_km_broadcasts() -> None:
    # one station against a row of nodes, as the locator uses it
    d = epicentral_km(43.0, 77.0, np.array([43.0, 44.0, 45.0]), np.array([77.0, 77.0, 77.0]))
    np.testing.assert_allclose(d, [0.0, DEG_KM, 2 * DEG_KM], rtol=1e-12)


@pytest.mark.parametrize(
    ("epi", "depth", "elevation", "hypo"),
    [
        # a 30-40-50 triangle
        (30.0, 40.0, 0.0, 50.0),
        # straight down: the depth
        (0.0, 10.0, 0.0, 10.0),
        # a station 2 km up lengthens the vertical leg to 12 km
        (0.0, 10.0, 2.0, 12.0),
    ],
)
def test_hypocentral_km(epi: float, depth: float, elevation: float, hypo: float) -> None:
    assert float(hypocentral_km(epi, depth, elevation)) == pytest.approx(hypo)


@pytest.mark.parametrize(
    ("epi", "depth", "p", "s"),
    [
        # 50 km path: 50/6.0 and 50/3.5 seconds
        (30.0, 40.0, 50 / 6.0, 50 / 3.5),
        # 100 km along the surface from a 10 km deep source: √10100 km
        (100.0, 10.0, math.sqrt(10100) / 6.0, math.sqrt(10100) / 3.5),
    ],
)
def test_p_and_s_times(epi: float, depth: float, p: float, s: float) -> None:
    model = VelocityModel()
    assert float(model.p_time(epi, depth)) == pytest.approx(p)
    assert float(model.s_time(epi, depth)) == pytest.approx(s)


def test_model_refuses_s_faster_than_p() -> None:
    # Vs must be below Vp: anything else is a typo in the configuration
    with pytest.raises(ValueError, match="vs_km_s"):
        VelocityModel(vp_km_s=3.0, vs_km_s=3.5)
