"""Grid-search location against exact synthetic arrivals at the bundled stations."""

from __future__ import annotations

import pytest

from collector.seismic import Hypocentre, Locator, SearchGrid, epicentral_km
from tests.unit.seismic._support import arrival, at, sites

LOCATOR = Locator()


def _locate(ids: list[str], source: tuple[float, float, float], shift_s: float = 0.0) -> Hypocentre:
    s = sites()
    origin = at(100)
    times = [(arrival(s[i], source, origin) - origin).total_seconds() + shift_s for i in ids]
    return LOCATOR.locate(
        [s[i].lat for i in ids],
        [s[i].lon for i in ids],
        times,
        [s[i].elevation_m / 1000 for i in ids],
    )


@pytest.mark.parametrize(
    ("ids", "source"),
    [
        # under the city, ringed by city stations
        (["SEIS-01", "SEIS-04", "SEIS-06", "SEIS-09", "SEIS-05"], (43.26, 76.93, 10.0)),
        # Chilik zone, east of the city, between Shelek, Bartogai, Saty and Zhalanash
        (["SEIS-18", "SEIS-19", "SEIS-20", "SEIS-21"], (43.25, 78.45, 15.0)),
        # Kastek zone, west, from Kaskelen, Uzynagash, Kastek and the pass
        (["SEIS-10", "SEIS-11", "SEIS-12", "SEIS-13"], (43.10, 76.25, 5.0)),
        # Kemin zone, south, from the mountain stations (2.3–3.5 km up: elevations matter)
        (["SEIS-24", "SEIS-26", "SEIS-27", "SEIS-28", "SEIS-25"], (42.98, 77.35, 20.0)),
    ],
)
def test_exact_arrivals_locate_the_source(
    ids: list[str], source: tuple[float, float, float]
) -> None:
    hypo = _locate(ids, source, shift_s=12.5)
    # exact arrivals: within the fine grid's reach of the true epicentre, depth on its level
    assert float(epicentral_km(hypo.lat, hypo.lon, source[0], source[1])) < 1.0
    assert hypo.depth_km == source[2]
    # the origin time is solved on the input's time base (arrivals shifted by 12.5 s)
    assert hypo.origin_s == pytest.approx(12.5, abs=0.1)
    assert hypo.rms_s < 0.05
    assert max(abs(r) for r in hypo.residuals_s) < 0.1
    assert not hypo.on_edge


def test_source_outside_the_region_is_flagged() -> None:
    # a source in the Issyk-Kul basin, south of the grid: the best node lies on its edge
    hypo = _locate(["SEIS-24", "SEIS-27", "SEIS-28", "SEIS-13", "SEIS-22"], (41.0, 77.5, 10.0))
    assert hypo.on_edge


def test_without_refinement_the_coarse_grid_is_used() -> None:
    # refine=1: the answer is a coarse node, 0.05° apart
    coarse = Locator(SearchGrid(refine=1))
    s = sites()
    ids = ["SEIS-18", "SEIS-19", "SEIS-20", "SEIS-21"]
    origin = at(0)
    source = (43.25, 78.45, 15.0)
    times = [(arrival(s[i], source, origin) - origin).total_seconds() for i in ids]
    hypo = coarse.locate(
        [s[i].lat for i in ids],
        [s[i].lon for i in ids],
        times,
        [s[i].elevation_m / 1000 for i in ids],
    )
    assert round(hypo.lat / 0.05, 6) % 1 == 0
    assert round(hypo.lon / 0.05, 6) % 1 == 0


@pytest.mark.parametrize(
    "n",
    [
        # two arrivals cannot fix four unknowns
        2,
        # nor can none
        0,
    ],
)
def test_too_few_arrivals(n: int) -> None:
    with pytest.raises(ValueError, match="at least 3"):
        LOCATOR.locate([43.0] * n, [77.0] * n, [0.0] * n)


def test_search_grid_must_not_be_empty() -> None:
    # a region whose north edge is south of its south edge is a configuration error
    with pytest.raises(ValueError, match="empty"):
        SearchGrid(lat_min=44.0, lat_max=43.0)
