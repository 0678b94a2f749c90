"""SDG 11.6.2 report from a real database: completeness, population weighting, outputs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta

import psycopg
import pytest

from collector.air import Pollutant
from collector.districts import District, Districts
from collector.models import Feed
from collector.sdg import run_sdg_command, sdg_report
from collector.stations import Station, load_stations
from storage.migrate import migrate
from tests.integration.test_airstats import insert_series, refresh_hourly, utc

pytestmark = pytest.mark.integration

HOUR = timedelta(hours=1)
# 1 January 2025 00:00 in Almaty (UTC+5).
YEAR_START = utc("2024-12-31 19:00")
# 240 hours into 2025: an hourly station owes 240 readings.
NOW = YEAR_START + 240 * HOUR

DISTRICTS = Districts(
    (
        District("Alpha", "Альфа", "Альфа", 100_000, 10.0),
        District("Beta", "Бета", "Бета", 300_000, 20.0),
        District("Gamma", "Гамма", "Гамма", 600_000, 30.0),
        District("Delta", "Дельта", "Дельта", 50_000, 40.0),
    ),
    source="test populations",
    as_of=date(2024, 1, 1),
)


def air(station_id: str, district: str, interval_s: float = 3600) -> Station:
    return Station(id=station_id, kind=Feed.AIR, district=district, interval_s=interval_s)


STATIONS = [
    air("A1", "Alpha"),
    air("A2", "Alpha"),
    air("B1", "Beta"),
    air("G1", "Gamma"),
    air("X1", "Elsewhere"),
    # not an air station: never part of the indicator
    Station(id="S1", kind=Feed.SEISMIC, district="Alpha", sr=100),
]


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[psycopg.AsyncConnection]:
    await migrate(database_url, timescaledb="off")
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as c:
        yield c


@pytest.fixture
async def network(conn: psycopg.AsyncConnection) -> psycopg.AsyncConnection:
    """Hourly readings for the first 240 h of 2025 (see each station's comment)."""
    # Alpha: A1 and A2 complete for PM2.5 (10 and 20 → 15); only A1 has PM10 (30)
    await insert_series(conn, "A1", YEAR_START, 240, HOUR, pm25=10.0, pm10=30.0)
    await insert_series(conn, "A2", YEAR_START, 240, HOUR, pm25=20.0, pm10=None)
    # Beta: one complete station (40 / 70)
    await insert_series(conn, "B1", YEAR_START, 240, HOUR, pm25=40.0, pm10=70.0)
    # Gamma: 50 % of the readings, invalid; Delta has no station at all
    await insert_series(conn, "G1", YEAR_START, 120, HOUR, pm25=100.0, pm10=100.0)
    # a station whose district is not in the districts file: never weighted
    await insert_series(conn, "X1", YEAR_START, 240, HOUR, pm25=500.0, pm10=500.0)
    await refresh_hourly(conn)
    return conn


@pytest.mark.parametrize(
    ("pollutant", "city", "district_means", "weights", "who", "kz"),
    [
        # PM2.5: Alpha (15) and Beta (40) weighted 100k : 300k → 0.25·15 + 0.75·40 = 33.75
        (
            "pm25",
            33.75,
            {"Alpha": 15.0, "Beta": 40.0, "Gamma": None, "Delta": None},
            {"Alpha": 0.25, "Beta": 0.75, "Gamma": None, "Delta": None},
            33.75 / 5,
            33.75 / 35,
        ),
        # PM10: A2 has no PM10, so Alpha is A1 alone (30): 0.25·30 + 0.75·70 = 60, 1.0 × ПДК
        (
            "pm10",
            60.0,
            {"Alpha": 30.0, "Beta": 70.0, "Gamma": None, "Delta": None},
            {"Alpha": 0.25, "Beta": 0.75, "Gamma": None, "Delta": None},
            60.0 / 15,
            1.0,
        ),
    ],
)
async def test_city_value_is_population_weighted_over_districts_with_data(
    network: psycopg.AsyncConnection,
    pollutant: str,
    city: float,
    district_means: dict[str, float | None],
    weights: dict[str, float | None],
    who: float,
    kz: float,
) -> None:
    report = await sdg_report(network, year=2025, stations=STATIONS, districts=DISTRICTS, now=NOW)
    result = report.result(Pollutant(pollutant))
    assert result.value == pytest.approx(city)
    assert {d.name: d.mean for d in result.districts} == {
        k: (None if v is None else pytest.approx(v)) for k, v in district_means.items()
    }
    assert {d.name: d.weight for d in result.districts} == {
        k: (None if v is None else pytest.approx(v)) for k, v in weights.items()
    }
    # excluded districts are named and the covered population says how much is represented
    assert result.excluded_districts == ("Gamma", "Delta")
    assert (result.population_covered, result.population_total) == (400_000, 1_050_000)
    assert result.who.multiple == pytest.approx(who)
    assert result.kz.multiple == pytest.approx(kz)
    assert report.unassigned_stations == ("X1",)
    assert [s.station_id for s in result.stations] == ["A1", "A2", "B1", "G1", "X1"]
    assert report.partial
    assert report.covered_fraction == pytest.approx(240 / 8760)


@pytest.mark.parametrize(
    ("interval_s", "now", "readings", "valid"),
    [
        # full year 2025 at 3600 s owes 8760 readings: 6570 is exactly 75 %, valid
        (3600, YEAR_START + 8760 * HOUR + timedelta(days=30), 6570, True),
        # one reading fewer is below 75 %, invalid
        (3600, YEAR_START + 8760 * HOUR + timedelta(days=30), 6569, False),
        # current year: only the 100 h elapsed are owed; 75 of 100 is enough
        (3600, YEAR_START + 100 * HOUR, 75, True),
        # 74 of 100 is not
        (3600, YEAR_START + 100 * HOUR, 74, False),
        # a 60 s station owes 120 readings in 2 h: 90 valid, 89 not
        (60, YEAR_START + 2 * HOUR, 90, True),
        (60, YEAR_START + 2 * HOUR, 89, False),
    ],
)
async def test_completeness_threshold_at_and_below_75_percent(
    conn: psycopg.AsyncConnection, interval_s: float, now: datetime, readings: int, valid: bool
) -> None:
    step = timedelta(seconds=interval_s)
    await insert_series(conn, "A1", YEAR_START, readings, step, pm25=12.0, pm10=None)
    await refresh_hourly(conn)
    stations = [air("A1", "Alpha", interval_s)]
    report = await sdg_report(conn, year=2025, stations=stations, districts=DISTRICTS, now=now)
    pm25 = report.result(Pollutant.PM25)
    (station,) = pm25.stations
    assert station.completeness.received == readings
    assert station.valid is valid
    # an invalid station leaves its district, and here the city, without a value
    assert pm25.value == (pytest.approx(12.0) if valid else None)
    excluded = ("Beta", "Gamma", "Delta") if valid else ("Alpha", "Beta", "Gamma", "Delta")
    assert pm25.excluded_districts == excluded
    # PM10 was never measured: 0 % complete, invalid, whatever the PM2.5 count
    assert not report.result(Pollutant.PM10).stations[0].valid


async def test_json_output(network: psycopg.AsyncConnection, database_url: str) -> None:
    text = await run_sdg_command(
        database_url, 2025, as_json=True, stations=STATIONS, now=NOW, districts=DISTRICTS
    )
    data = json.loads(text)
    assert data["indicator"] == "11.6.2"
    assert data["year"] == 2025
    assert data["time_zone"] == "Asia/Almaty"
    assert data["period"]["start"] == "2024-12-31T19:00:00Z"
    assert data["period"]["partial"] is True
    assert data["population"] == {"source": "test populations", "as_of": "2024-01-01"}
    pm25 = data["pollutants"]["pm25"]
    assert pm25["city"]["value"] == pytest.approx(33.75)
    assert pm25["city"]["excluded_districts"] == ["Gamma", "Delta"]
    assert pm25["city"]["who_annual_guideline"]["limit"] == 5.0
    assert pm25["city"]["kz_daily_pdk"]["limit"] == 35.0
    assert pm25["city"]["kz_daily_pdk"]["exceeded"] is False
    g1 = next(s for s in pm25["stations"] if s["station_id"] == "G1")
    # half of the 240 readings owed by a 3600 s station after 240 h
    assert g1["completeness"] == {"received": 120, "expected": 240.0, "ratio": 0.5, "valid": False}
    assert (g1["district"], g1["interval_s"], g1["mean"], g1["valid"]) == (
        "Gamma",
        3600,
        100.0,
        False,
    )
    alpha = next(d for d in pm25["districts"] if d["name"] == "Alpha")
    assert alpha == {
        "name": "Alpha",
        "population": 100_000,
        "mean": pytest.approx(15.0),
        "valid_stations": ["A1", "A2"],
        "station_count": 2,
        "weight": pytest.approx(0.25),
    }
    assert data["unassigned_stations"] == ["X1"]


async def test_table_output(network: psycopg.AsyncConnection, database_url: str) -> None:
    text = await run_sdg_command(
        database_url, 2025, as_json=False, stations=STATIONS, now=NOW, districts=DISTRICTS
    )
    lines = text.splitlines()
    assert "Population  test populations (as of 2024-01-01)" in lines
    # city rows: value, WHO 2021 annual level and multiple, ПДК and multiple, coverage
    rows = [line.split() for line in lines]
    assert [
        "PM2.5",
        "33.8",
        "5",
        "6.75",
        "35",
        "0.96",
        "2",
        "of",
        "4",
        "400,000",
        "(38.1",
        "%)",
    ] in rows
    assert [
        "PM10",
        "60.0",
        "15",
        "4.00",
        "60",
        "1.00",
        "2",
        "of",
        "4",
        "400,000",
        "(38.1",
        "%)",
    ] in rows
    assert (
        "PM2.5: districts without a valid station, excluded and the weights renormalised:"
        " Gamma, Delta"
    ) in lines
    # fixed width: every row of the district and station tables is as wide as its header
    districts = lines.index(next(line for line in lines if line.startswith("district ")))
    stations = lines.index(next(line for line in lines if line.startswith("station ")))
    for block in (lines[districts : stations - 1], lines[stations:-1]):
        assert len(block) > 1
        assert len({len(line) for line in block}) == 1, block
    assert lines[-1] == "Air stations outside the districts file (not weighted): X1"


async def test_bundled_network_and_districts_on_an_empty_database(
    conn: psycopg.AsyncConnection, database_url: str
) -> None:
    # the CLI's call: bundled districts, no readings yet: every district excluded, no error
    text = await run_sdg_command(
        database_url, 2025, as_json=True, stations=load_stations(None), now=NOW
    )
    data = json.loads(text)
    assert data["population"]["source"].startswith("ESTIMATES")
    assert data["population"]["as_of"] == "2024-01-01"
    for pollutant in ("pm25", "pm10"):
        city = data["pollutants"][pollutant]["city"]
        assert city["value"] is None
        assert len(city["excluded_districts"]) == 8
        assert len(data["pollutants"][pollutant]["stations"]) == 52
