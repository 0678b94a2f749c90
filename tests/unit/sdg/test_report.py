"""SDG 11.6.2 computations without a database: weighting, district means, outputs."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from collector.air import Pollutant
from collector.districts import District, Districts
from collector.models import Feed
from collector.sdg import (
    SdgReport,
    build_report,
    format_table,
    population_weighted_mean,
)
from collector.stations import Station
from storage.airstats import AnnualMeans, Mean, PeriodMeans

START = datetime(2024, 12, 31, 19, tzinfo=UTC)  # 1 January 2025 00:00 in Almaty
END = datetime(2025, 12, 31, 19, tzinfo=UTC)
DONE = END + timedelta(days=1)  # the year is over
NONE = Mean(None, 0)
DISTRICTS = Districts(
    (
        District("North", "Северный", "Солтүстік", 300_000, 1.0),
        District("South", "Южный", "Оңтүстік", 100_000, 1.0),
    ),
    source="hand-made",
    as_of=date(2024, 1, 1),
)


def station(station_id: str, district: str, interval_s: float) -> Station:
    return Station(id=station_id, kind=Feed.AIR, district=district, interval_s=interval_s)


def means(*rows: tuple[str, Mean, Mean]) -> AnnualMeans:
    return AnnualMeans(
        2025,
        "Asia/Almaty",
        START,
        END,
        tuple(PeriodMeans(s, START, END, max(a.n, b.n), a, b, NONE) for s, a, b in rows),
    )


@pytest.mark.parametrize(
    ("values", "populations", "mean", "weights"),
    [
        # plain weighted mean: 0.25·10 + 0.75·20
        ([10.0, 20.0], [100, 300], 17.5, [0.25, 0.75]),
        # an area without data is excluded and the others' weights renormalised to 1
        ([10.0, None, 30.0], [1, 2, 1], 20.0, [0.5, None, 0.5]),
        # no area with data: no city value
        ([None, None], [1, 2], None, [None, None]),
        # a single area carries the whole weight
        ([42.0], [7], 42.0, [1.0]),
        # an area of population 0 cannot carry weight
        ([10.0, 99.0], [5, 0], 10.0, [1.0, None]),
    ],
)
def test_population_weighted_mean(
    values: list[float | None],
    populations: list[int],
    mean: float | None,
    weights: list[float | None],
) -> None:
    got, got_weights = population_weighted_mean(values, populations)
    assert got == (None if mean is None else pytest.approx(mean))
    assert got_weights == [None if w is None else pytest.approx(w) for w in weights]


def test_population_weighted_mean_needs_one_population_per_value() -> None:
    # mismatched lists are a programming error, not an exclusion
    with pytest.raises(ValueError, match="2 values but 1 populations"):
        population_weighted_mean([1.0, 2.0], [1])


# A full year: 60 s stations owe 525,600 readings, 600 s stations 52,560, 3600 s ones 8,760.
FULL_60, FULL_600 = 525_600, 52_560


@pytest.mark.parametrize(
    ("rows", "network", "pm25", "north", "excluded"),
    [
        # a district is the plain mean of its stations, not weighted by their readings:
        # N1 (60 s, 10) and N2 (600 s, 30) give 20, not the count-weighted 11.8
        (
            [("N1", Mean(10.0, FULL_60), NONE), ("N2", Mean(30.0, FULL_600), NONE)],
            [station("N1", "North", 60), station("N2", "North", 600)],
            20.0,
            20.0,
            ("South",),
        ),
        # South (100k) at 40 joins North (300k) at 20: 0.75·20 + 0.25·40 = 25
        (
            [
                ("N1", Mean(20.0, FULL_60), NONE),
                ("S1", Mean(40.0, FULL_60), NONE),
            ],
            [station("N1", "North", 60), station("S1", "South", 60)],
            25.0,
            20.0,
            (),
        ),
        # an incomplete station (below 75 %) does not count, even with a value
        (
            [("N1", Mean(20.0, FULL_60), NONE), ("S1", Mean(400.0, FULL_60 // 2), NONE)],
            [station("N1", "North", 60), station("S1", "South", 60)],
            20.0,
            20.0,
            ("South",),
        ),
        # a station absent from the means counts as 0 readings (invalid)
        ([], [station("N1", "North", 60)], None, None, ("North", "South")),
        # non-air stations and stations outside the districts file are not weighted
        (
            [("N1", Mean(20.0, FULL_60), NONE), ("Z1", Mean(900.0, FULL_60), NONE)],
            [
                station("N1", "North", 60),
                station("Z1", "Atlantis", 60),
                Station(id="SEIS", kind=Feed.SEISMIC, district="North", sr=100),
            ],
            20.0,
            20.0,
            ("South",),
        ),
    ],
)
def test_build_report(
    rows: list[tuple[str, Mean, Mean]],
    network: list[Station],
    pm25: float | None,
    north: float | None,
    excluded: tuple[str, ...],
) -> None:
    report = build_report(means(*rows), stations=network, districts=DISTRICTS, now=DONE)
    result = report.result(Pollutant.PM25)
    assert result.value == (None if pm25 is None else pytest.approx(pm25))
    assert result.districts[0].mean == (None if north is None else pytest.approx(north))
    assert result.excluded_districts == excluded
    assert not report.partial
    assert "SEIS" not in {s.station_id for s in result.stations}
    # PM10 was never measured: every station invalid, no city value
    assert report.result(Pollutant.PM10).value is None


def test_station_outside_the_districts_is_reported() -> None:
    # the report names air stations it could not place in a district
    network = [station("N1", "North", 60), station("Z1", "Atlantis", 60), station("Q", "", 60)]
    report = build_report(means(), stations=network, districts=DISTRICTS, now=DONE)
    assert report.unassigned_stations == ("Z1", "Q")


@pytest.mark.parametrize(
    ("now", "error"),
    [
        # a year that has not started has nothing to report
        (START - timedelta(seconds=1), "has not started"),
        # the clock must be aware
        (datetime(2025, 6, 1), "naive"),  # noqa: DTZ001
    ],
)
def test_build_report_refuses(now: datetime, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        build_report(means(), stations=[], districts=DISTRICTS, now=now)


def _sample() -> SdgReport:
    rows = [
        ("N1", Mean(20.0, FULL_60), Mean(45.0, FULL_60)),
        ("a-rather-long-station-id", Mean(40.0, FULL_60), NONE),
    ]
    network = [station("N1", "North", 60), station("a-rather-long-station-id", "South", 60)]
    return build_report(means(*rows), stations=network, districts=DISTRICTS, now=DONE)


def test_as_dict_is_json_and_complete() -> None:
    # the JSON carries the indicator, the method, the population source and every level
    data = json.loads(json.dumps(_sample().as_dict(), ensure_ascii=False))
    assert data["indicator"] == "11.6.2"
    assert data["period"] == {
        "start": "2024-12-31T19:00:00Z",
        "end": "2025-12-31T19:00:00Z",
        "generated_at": "2026-01-01T19:00:00Z",
        "covered_fraction": 1.0,
        "partial": False,
    }
    assert data["population"] == {"source": "hand-made", "as_of": "2024-01-01"}
    assert data["method"]["min_completeness"] == 0.75
    pm25, pm10 = data["pollutants"]["pm25"], data["pollutants"]["pm10"]
    assert pm25["city"]["value"] == pytest.approx(25.0)
    assert pm25["city"]["who_annual_guideline"]["multiple"] == pytest.approx(5.0)
    assert pm25["city"]["who_annual_guideline"]["exceeded"] is True
    # PM10: South has no PM10, so North alone (45) stands for 300k of 400k people
    assert pm10["city"]["value"] == pytest.approx(45.0)
    assert pm10["city"]["excluded_districts"] == ["South"]
    assert (pm10["city"]["population_covered"], pm10["city"]["population_total"]) == (
        300_000,
        400_000,
    )
    assert pm10["city"]["kz_daily_pdk"] == {
        "limit": 60.0,
        "period": "24h",
        "reference": "Order of the Minister of Health of RK No. ҚР ДСМ-70 of 2 Aug 2022, annex 1",
        "multiple": pytest.approx(0.75),
        "exceeded": False,
    }


def test_format_table_has_fixed_width_columns() -> None:
    # each table's rows are as wide as its header, even with a long station id
    lines = format_table(_sample()).splitlines()
    assert lines[0].startswith("SDG 11.6.2")
    assert "Population  hand-made (as of 2024-01-01)" in lines
    assert any("complete year" in line for line in lines)
    d = next(i for i, line in enumerate(lines) if line.startswith("district "))
    s = next(i for i, line in enumerate(lines) if line.startswith("station "))
    assert len({len(line) for line in lines[d : s - 1]}) == 1
    assert len({len(line) for line in lines[s:]}) == 1
    assert lines[s + 2].split() == [
        "a-rather-long-station-id", "South", "60", "s",
        "40.0", "525,600", "100.0", "%", "yes",
        "—", "0", "0.0", "%", "no",
    ]  # fmt: skip
