"""Daily and annual means over air_hourly (plain mode) against hand-computed values."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from storage.airstats import Mean, annual_means, daily_means
from storage.migrate import migrate
from storage.readings import _AIR_HOURLY_REFRESH

pytestmark = pytest.mark.integration

Reading = tuple[str, datetime, float | None, float | None, float | None]

_INSERT = """
INSERT INTO kuzet.air_readings (station_id, time, pm25, pm10, no2)
SELECT * FROM unnest(%s::text[], %s::timestamptz[], %s::float8[], %s::float8[], %s::float8[])
"""


def utc(text: str) -> datetime:
    """An aware UTC datetime from 'YYYY-MM-DD HH:MM'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def refresh_hourly(conn: psycopg.AsyncConnection) -> None:
    """Rebuild air_hourly for every stored reading with the daemon's own rollup statement."""
    cur = await conn.execute(
        "SELECT array_agg(station_id), array_agg(time) FROM kuzet.air_readings"
    )
    row = await cur.fetchone()
    assert row is not None
    await conn.execute(_AIR_HOURLY_REFRESH, row)


async def insert_air(conn: psycopg.AsyncConnection, readings: Sequence[Reading]) -> None:
    """Insert readings with SQL, then roll them up as the plain-mode writer does."""
    await conn.execute(_INSERT, [list(col) for col in zip(*readings, strict=True)])
    await refresh_hourly(conn)


async def insert_series(
    conn: psycopg.AsyncConnection,
    station_id: str,
    first: datetime,
    count: int,
    step: timedelta,
    *,
    pm25: float | None,
    pm10: float | None = None,
) -> None:
    """`count` readings every `step` from `first`, constant values (bulk, without a refresh)."""
    await conn.execute(
        "INSERT INTO kuzet.air_readings (station_id, time, pm25, pm10)"
        " SELECT %s, %s::timestamptz + i * %s::interval, %s, %s FROM generate_series(0, %s - 1) i",
        (station_id, first, step, pm25, pm10, count),
    )


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[psycopg.AsyncConnection]:
    await migrate(database_url, timescaledb="off")
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as c:
        yield c


@pytest.mark.parametrize(
    ("tz", "readings", "first", "after", "expected"),
    [
        # Almaty is UTC+5 in 2025: 18:30Z is 23:30 on the 10th, 19:30Z is 00:30 on the 11th
        (
            "Asia/Almaty",
            [("2025-01-10 18:30", 10.0), ("2025-01-10 19:30", 30.0)],
            date(2025, 1, 10),
            date(2025, 1, 12),
            [
                (date(2025, 1, 10), 10.0, 1, "2025-01-09 19:00", "2025-01-10 19:00"),
                (date(2025, 1, 11), 30.0, 1, "2025-01-10 19:00", "2025-01-11 19:00"),
            ],
        ),
        # the same readings by UTC days share one day: the zone is a real parameter
        (
            "UTC",
            [("2025-01-10 18:30", 10.0), ("2025-01-10 19:30", 30.0)],
            date(2025, 1, 10),
            date(2025, 1, 12),
            [(date(2025, 1, 10), 20.0, 2, "2025-01-10 00:00", "2025-01-11 00:00")],
        ),
        # +6 → +5 at 2024-03-01 00:00 local: 29 Feb lasts 25 h (18:00Z to 19:00Z next day)
        # and its last hour, 23:00–24:00, happens twice (17:30Z and 18:30Z both count)
        (
            "Asia/Almaty",
            [
                ("2024-02-28 17:30", 1.0),
                ("2024-02-28 18:30", 2.0),
                ("2024-02-29 17:30", 4.0),
                ("2024-02-29 18:30", 6.0),
                ("2024-02-29 19:30", 8.0),
            ],
            date(2024, 2, 28),
            date(2024, 3, 2),
            [
                (date(2024, 2, 28), 1.0, 1, "2024-02-27 18:00", "2024-02-28 18:00"),
                (date(2024, 2, 29), 4.0, 3, "2024-02-28 18:00", "2024-02-29 19:00"),
                (date(2024, 3, 1), 8.0, 1, "2024-02-29 19:00", "2024-03-01 19:00"),
            ],
        ),
        # UTC+5:30: local midnight cuts the 18:00Z hour in two; the means come from the raw
        # readings (23:50 and 00:10 local) since no hourly bucket fits either day
        (
            "Asia/Kolkata",
            [("2025-01-10 18:20", 10.0), ("2025-01-10 18:40", 30.0)],
            date(2025, 1, 10),
            date(2025, 1, 12),
            [
                (date(2025, 1, 10), 10.0, 1, "2025-01-09 18:30", "2025-01-10 18:30"),
                (date(2025, 1, 11), 30.0, 1, "2025-01-10 18:30", "2025-01-11 18:30"),
            ],
        ),
        # days outside [first, after) are left out, and so are days without readings
        (
            "Asia/Almaty",
            [("2025-01-10 18:30", 10.0), ("2025-01-12 12:00", 50.0)],
            date(2025, 1, 11),
            date(2025, 1, 12),
            [],
        ),
    ],
)
async def test_daily_means_split_at_local_midnight(
    conn: psycopg.AsyncConnection,
    tz: str,
    readings: list[tuple[str, float]],
    first: date,
    after: date,
    expected: list[tuple[date, float, int, str, str]],
) -> None:
    await insert_air(conn, [("AIR-01", utc(t), v, None, None) for t, v in readings])
    days = await daily_means(conn, "AIR-01", first, after, tz=tz)
    got = [(d.day, d.pm25.value, d.pm25.n, d.start, d.end) for d in days]
    assert got == [(day, pytest.approx(v), n, utc(s), utc(e)) for day, v, n, s, e in expected]


@pytest.mark.parametrize(
    ("readings", "pm25", "pm10", "no2", "n"),
    [
        # 3 readings of 10 in one hour, 1 of 50 in the next: 20, not the 30 of the hour means
        (
            [
                ("10:05", 10.0, None),
                ("10:25", 10.0, None),
                ("10:45", 10.0, None),
                ("11:05", 50.0, None),
            ],
            Mean(20.0, 4),
            Mean(None, 0),
            Mean(None, 0),
            4,
        ),
        # a pollutant missing from some readings is weighted by its own count (n_pm10)
        (
            [("10:05", 10.0, None), ("10:25", 10.0, 40.0), ("11:05", 50.0, 80.0)],
            Mean(70.0 / 3, 3),
            Mean(60.0, 2),
            Mean(None, 0),
            3,
        ),
        # a reading with no pollutant counts in n only
        (
            [("10:05", None, None), ("11:05", 50.0, 80.0)],
            Mean(50.0, 1),
            Mean(80.0, 1),
            Mean(None, 0),
            2,
        ),
    ],
)
async def test_daily_means_weight_hours_by_their_counts(
    conn: psycopg.AsyncConnection,
    readings: list[tuple[str, float | None, float | None]],
    pm25: Mean,
    pm10: Mean,
    no2: Mean,
    n: int,
) -> None:
    await insert_air(conn, [("AIR-01", utc(f"2025-01-10 {t}"), a, b, None) for t, a, b in readings])
    cur = await conn.execute("SELECT count(*) FROM kuzet.air_hourly")
    assert await cur.fetchone() == (2,)  # the means really go through two hourly rows
    (day,) = await daily_means(conn, "AIR-01", date(2025, 1, 10), date(2025, 1, 11))
    assert day.n == n
    for got, want in ((day.pm25, pm25), (day.pm10, pm10), (day.no2, no2)):
        assert got.n == want.n
        assert got.value == (None if want.value is None else pytest.approx(want.value))


@pytest.mark.parametrize(
    ("year", "station_ids", "bounds", "expected"),
    [
        # 19:30Z on 31 Dec 2024 is 00:30 on 1 Jan 2025 in Almaty (UTC+5): it belongs to 2025
        (
            2025,
            None,
            ("2024-12-31 19:00", "2025-12-31 19:00"),
            {"AIR-01": (30.0, 2), "AIR-02": (7.0, 1)},
        ),
        # 18:30Z on 31 Dec 2024 is 23:30 local: still 2024, which began at UTC+6
        (2024, None, ("2023-12-31 18:00", "2024-12-31 19:00"), {"AIR-01": (10.0, 1)}),
        # requested stations are all reported, n = 0 without readings; others are left out
        (
            2025,
            ["AIR-09", "AIR-02"],
            ("2024-12-31 19:00", "2025-12-31 19:00"),
            {"AIR-02": (7.0, 1), "AIR-09": (None, 0)},
        ),
    ],
)
async def test_annual_means_use_local_year_bounds(
    conn: psycopg.AsyncConnection,
    year: int,
    station_ids: list[str] | None,
    bounds: tuple[str, str],
    expected: dict[str, tuple[float | None, int]],
) -> None:
    await insert_air(
        conn,
        [
            ("AIR-01", utc("2024-12-31 18:30"), 10.0, None, None),
            ("AIR-01", utc("2024-12-31 19:30"), 20.0, None, None),
            ("AIR-01", utc("2025-12-31 18:59"), 40.0, None, None),
            ("AIR-01", utc("2025-12-31 19:00"), 99.0, None, None),  # 00:00 on 1 Jan 2026
            ("AIR-02", utc("2025-06-01 00:00"), 7.0, None, None),
        ],
    )
    result = await annual_means(conn, year, station_ids)
    assert (result.start, result.end) == (utc(bounds[0]), utc(bounds[1]))
    got = {s.station_id: (s.pm25.value, s.pm25.n) for s in result.stations}
    assert got == {
        k: (None if v is None else pytest.approx(v), n) for k, (v, n) in expected.items()
    }
    assert [s.station_id for s in result.stations] == sorted(expected)


async def test_annual_means_of_a_full_year(
    conn: psycopg.AsyncConnection,
) -> None:
    # 105,120 readings (every 5 min of local 2025) roll up to 8,760 hours and back to one mean
    await insert_series(
        conn, "AIR-01", utc("2024-12-31 19:00"), 105_120, timedelta(minutes=5), pm25=12.5
    )
    await refresh_hourly(conn)
    cur = await conn.execute("SELECT count(*) FROM kuzet.air_hourly")
    assert await cur.fetchone() == (8_760,)
    result = await annual_means(conn, 2025, ["AIR-01"])
    (station,) = result.stations
    assert (station.n, station.pm25.n, station.pm10.n) == (105_120, 105_120, 0)
    assert station.pm25.value == pytest.approx(12.5)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        # days are local dates: a datetime would hide which zone it means
        (lambda c: daily_means(c, "AIR-01", utc("2025-01-01 00:00"), date(2025, 1, 2)), TypeError),
        # a period cannot end before it starts
        (lambda c: daily_means(c, "AIR-01", date(2025, 1, 2), date(2025, 1, 1)), ValueError),
        # a year must have a following 1 January
        (lambda c: annual_means(c, 9999), ValueError),
        # PostgreSQL refuses a zone it does not know
        (lambda c: annual_means(c, 2025, tz="Asia/Nowhere"), psycopg.Error),
    ],
)
async def test_bad_arguments_are_refused(
    conn: psycopg.AsyncConnection, call: object, error: type[Exception]
) -> None:
    with pytest.raises(error):
        await call(conn)  # type: ignore[operator]


@pytest.mark.timescale
async def test_same_means_from_the_timescaledb_continuous_aggregate(timescale_url: str) -> None:
    # TimescaleDB mode: air_hourly is a real-time continuous aggregate, not a table; the same
    # queries give the same local days and count-weighted means (no refresh needed)
    async with await psycopg.AsyncConnection.connect(timescale_url, autocommit=True) as c:
        await c.execute("DROP SCHEMA IF EXISTS kuzet CASCADE")  # pglite: one shared database
    await migrate(timescale_url, timescaledb="require")
    async with await psycopg.AsyncConnection.connect(timescale_url, autocommit=True) as c:
        await c.execute(
            _INSERT,
            (
                ["AIR-01"] * 5,
                [utc(t) for t in ("2024-02-28 17:30", "2024-02-28 18:30", "2024-02-29 17:10",
                                  "2024-02-29 17:40", "2024-02-29 19:30")],
                [1.0, 2.0, 4.0, 4.0, 8.0],
                [None, None, 10.0, None, None],
                [None] * 5,
            ),
        )  # fmt: skip
        days = await daily_means(c, "AIR-01", date(2024, 2, 28), date(2024, 3, 2))
        year = await annual_means(c, 2024, ["AIR-01", "AIR-02"])
    assert [(d.day, d.pm25, d.pm10, d.n) for d in days] == [
        (date(2024, 2, 28), Mean(1.0, 1), Mean(None, 0), 1),
        (date(2024, 2, 29), Mean(pytest.approx(10.0 / 3), 3), Mean(10.0, 1), 3),
        (date(2024, 3, 1), Mean(8.0, 1), Mean(None, 0), 1),
    ]
    assert days[1].end - days[1].start == timedelta(hours=25)
    assert [(s.station_id, s.n, s.pm25) for s in year.stations] == [
        ("AIR-01", 5, Mean(pytest.approx(19.0 / 5), 5)),
        ("AIR-02", 0, Mean(None, 0)),
    ]
