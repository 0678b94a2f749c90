"""Every dashboard SQL query runs on a real database, in both storage modes, and agrees with
the daemon's own NowCast and AQI. Integration tests: they need PostgreSQL (and node for the
TimescaleDB mode), started by the fixtures of tests/fixtures when not given."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest
from psycopg.types.json import Jsonb

from collector.air import Pollutant, aqi, clock_hour_means, nowcast
from collector.models import Feed
from collector.stations import load_stations
from provisioning.grafana_model import TIMESCALEDB
from provisioning.sql import aqi_expr, nowcast_ctes
from storage.migrate import migrate
from storage.readings import _AIR_HOURLY_REFRESH
from storage.stations import sync_stations
from tests.unit.provisioning.checks import PROVISIONING, dashboard_queries

pytestmark = pytest.mark.integration

# The end of the dashboards' time range ($__timeTo) and its start ($__timeFrom).
NOW = datetime(2026, 1, 10, 12, 30, tzinfo=UTC)
START = NOW - timedelta(hours=24)
STATIONS = load_stations(None)
AIR = [s for s in STATIONS.of_kind(Feed.AIR) if s.lat is not None]
LAKES = [s for s in STATIONS.of_kind(Feed.LAKE) if s.warning_level_m is not None]
SEISMIC = STATIONS.of_kind(Feed.SEISMIC)
VARIABLES = {
    "district": sorted({s.district for s in AIR}),
    "station": [s.id for s in SEISMIC],
    "lake": [s.id for s in LAKES[:2]],
    "kind": ["air", "seismic", "lake", "system"],
    "severity": ["info", "warning", "critical"],
}


def _sql_queries() -> list[tuple[str, str]]:
    queries = []
    for path in sorted((PROVISIONING / "grafana" / "dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        queries += [
            (f"{path.stem}: {where}", text)
            for where, uid, text in dashboard_queries(dashboard)
            if uid == TIMESCALEDB.uid
        ]
    return queries


SQL_QUERIES = _sql_queries()


def expand(sql: str) -> str:
    """Grafana's macros and variables as the PostgreSQL datasource expands them."""

    def ts(t: datetime) -> str:
        return f"'{t.isoformat()}'"

    sql = re.sub(r"\$__timeFilter\(([^)]*)\)", rf"(\1 BETWEEN {ts(START)} AND {ts(NOW)})", sql)
    sql = sql.replace("$__timeFrom()", ts(START)).replace("$__timeTo()", ts(NOW))
    sql = sql.replace("$__interval_ms", str(5 * 60 * 1000))
    for name, values in VARIABLES.items():
        sql = re.sub(rf"\${name}\b", ", ".join(f"'{v}'" for v in values), sql)
    assert not re.search(r"\$\w", sql), sql
    return sql


# Air, by clock hour: station 0 reports every minute for 14 h; station 1 sends 50 readings an
# hour (valid: >= 45) except two older hours with 30 (invalid, for the daemon and the SQL
# alike); station 2 has only the last 50 minutes (no NowCast). The current hour is partial.
def _air_readings() -> list[tuple[str, datetime, float]]:
    rng = np.random.default_rng(7)
    sparse_hours = {(NOW - timedelta(hours=h)).hour for h in (3, 6)}
    rows = []
    for minute in range(14 * 60):
        t = NOW - timedelta(minutes=minute)
        age_h = minute // 60
        rows.append((AIR[0].id, t, float(20 + 8 * age_h + rng.uniform(0, 5))))
        if t.minute < (30 if t.hour in sparse_hours else 50):
            rows.append((AIR[1].id, t, float(60 - 3 * age_h + rng.uniform(0, 2))))
        if minute < 50:
            rows.append((AIR[2].id, t, 12.5))
    return rows


async def _seed(conn: psycopg.AsyncConnection, *, plain: bool) -> list[tuple[str, datetime, float]]:
    await sync_stations(conn, STATIONS)
    air = _air_readings()
    ids, times, pm25 = (list(col) for col in zip(*air, strict=True))
    await conn.execute(
        "INSERT INTO kuzet.air_readings (station_id, time, pm25, pm10, no2)"
        " SELECT s, t, v, v * 1.6, v * 0.8 FROM unnest(%s::text[], %s::timestamptz[],"
        " %s::float8[]) AS u(s, t, v)",
        (ids, times, pm25),
    )
    if plain:  # TimescaleDB's continuous aggregate answers in real time instead
        await conn.execute(_AIR_HOURLY_REFRESH, (ids, times))
    lake = LAKES[0]
    await conn.execute(
        "INSERT INTO kuzet.lake_readings (station_id, time, level_m, precip_mm, discharge_m3s)"
        " SELECT %s, %s::timestamptz - i * INTERVAL '5 minutes', %s - i * 0.02, 0.1, 2 + i"
        " FROM generate_series(0, 200) AS i",
        (lake.id, NOW, (lake.critical_level_m or 5.0) + 0.1),
    )
    await conn.execute(
        "INSERT INTO kuzet.seismic_packets (time, station_id, sr, x, y, z)"
        " VALUES (%s, %s, 100, '{0.1}', '{0.2}', '{0.3}')",
        (NOW - timedelta(seconds=5), SEISMIC[0].id),
    )
    await conn.execute(
        "INSERT INTO kuzet.seismic_picks (time, station_id, pga_gal, sta_lta)"
        " VALUES (%s, %s, 31.5, 6.2), (%s, %s, 12.0, 4.0)",
        (NOW - timedelta(hours=1), SEISMIC[0].id, NOW - timedelta(hours=1), SEISMIC[1].id),
    )
    await conn.execute(
        "INSERT INTO kuzet.seismic_events (event_id, detected_at, origin_time, lat, lon,"
        " depth_km, magnitude, intensity_city, station_count, details)"
        " VALUES ('ev-1', %s, %s, 43.1, 77.2, 12, 4.6, 4.4, 7, %s)",
        (NOW - timedelta(minutes=59), NOW - timedelta(hours=1), Jsonb({})),
    )
    cur = await conn.execute(
        "INSERT INTO kuzet.alerts (key, rule, kind, severity, state, station_id, area, value,"
        " threshold, unit, started_at, acked_at, acked_by, created_at)"
        " VALUES ('lake_level:L', 'lake_level', 'lake', 'critical', 'firing', %s, 'Malaya',"
        " 5.2, 5.0, 'm', %s, %s, 'duty', %s) RETURNING id",
        (lake.id, NOW - timedelta(hours=2), NOW - timedelta(hours=1), NOW - timedelta(hours=2)),
    )
    row = await cur.fetchone()
    assert row is not None
    await conn.execute(
        "INSERT INTO kuzet.notifications (alert_id, channel, event, status, attempts,"
        " created_at, last_error, payload) VALUES (%s, 'webhook', 'firing', 'dead', 9, %s,"
        " 'HTTP 410', %s), (%s, 'webhook', 'firing', 'sent', 1, %s, NULL, %s)",
        (row[0], NOW - timedelta(hours=2), Jsonb({})) * 2,
    )
    return air


async def _check_dashboards(conn: psycopg.AsyncConnection) -> None:
    for where, sql in SQL_QUERIES:
        try:
            await conn.execute(expand(sql))
        except psycopg.Error as exc:
            pytest.fail(f"{where}: {exc}")


def _expected_nowcasts(air: Sequence[tuple[str, datetime, float]]) -> dict[str, float | None]:
    expected = {}
    for station in AIR[:3]:
        rows = [(t, v) for s, t, v in air if s == station.id]
        times = [t for t, _ in rows]
        values = [v for _, v in rows]
        hourly = clock_hour_means(times, values, now=NOW, interval_s=station.interval_s)
        expected[station.id] = nowcast(hourly)
    return expected


async def _check_nowcast(
    conn: psycopg.AsyncConnection, air: Sequence[tuple[str, datetime, float]]
) -> None:
    expected = _expected_nowcasts(air)
    # the data covers a full station, one with invalid hours, and one without a NowCast
    assert expected[AIR[0].id] is not None
    assert expected[AIR[1].id] is not None
    assert expected[AIR[2].id] is None
    cur = await conn.execute(
        expand(f"WITH {nowcast_ctes()} SELECT n.station_id, n.pm25 FROM nowcast AS n")
    )
    got: dict[str, float] = dict(await cur.fetchall())
    for station_id, value in expected.items():
        if value is None:
            assert station_id not in got
        else:
            assert got[station_id] == pytest.approx(value, abs=1e-9), station_id
    # the map shows every air station with a position, AQI -1 where there is no NowCast
    map_sql = next(sql for where, sql in SQL_QUERIES if "Air stations by AQI" in where)
    cur = await conn.execute(expand(map_sql))
    columns = [c.name for c in cur.description or ()]
    rows = {r[0]: dict(zip(columns, r, strict=True)) for r in await cur.fetchall()}
    assert len(rows) == len(AIR)
    for station_id, value in expected.items():
        want = -1 if value is None else aqi(Pollutant.PM25, value).aqi
        assert rows[station_id]["aqi"] == want, station_id


async def test_dashboards_run_in_plain_mode(database_url: str) -> None:
    # every panel, variable and annotation query executes; the NowCast equals the daemon's
    await migrate(database_url, timescaledb="off")
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        air = await _seed(conn, plain=True)
        await _check_dashboards(conn)
        await _check_nowcast(conn, air)


@pytest.mark.timescale
async def test_dashboards_run_in_timescale_mode(timescale_url: str) -> None:
    # the same queries on hypertables and the air_hourly continuous aggregate
    async with await psycopg.AsyncConnection.connect(timescale_url, autocommit=True) as conn:
        await conn.execute("DROP SCHEMA IF EXISTS kuzet CASCADE")
    await migrate(timescale_url, timescaledb="require")
    async with await psycopg.AsyncConnection.connect(timescale_url, autocommit=True) as conn:
        air = await _seed(conn, plain=False)
        await _check_dashboards(conn)
        await _check_nowcast(conn, air)


# Breakpoint edges, values the truncation must not push over an edge, beyond the index.
_EDGES = [
    0.0, 4.5, 9.0, 9.04, 9.05, 9.1, 17.4, 35.4, 35.45, 35.5, 55.4, 55.5, 125.4, 125.5,
    225.4, 225.5, 325.4, 325.5, 500.0, 1000.0, 54.0, 54.9, 55.0, 154.0, 424.9, 605.0,
]  # fmt: skip


@pytest.mark.parametrize("pollutant", [Pollutant.PM25, Pollutant.PM10])
async def test_sql_aqi_equals_the_daemons(database_url: str, pollutant: Pollutant) -> None:
    # the map colours and AQI stats must match the API's AQI for the same concentration
    values = _EDGES + [float(v) for v in np.random.default_rng(3).uniform(0, 700, 300)]
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute(
            f"SELECT t.c, {aqi_expr('t.c', pollutant)} FROM unnest(%s::float8[]) AS t(c)",
            (values,),
        )
        got: dict[float, int] = dict(await cur.fetchall())
    for value in values:
        assert got[value] == aqi(pollutant, value).aqi, value
