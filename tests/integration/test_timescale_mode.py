"""The TimescaleDB mode of the schema, proven on a real TimescaleDB (2.23, WebAssembly)."""

from __future__ import annotations

import psycopg
import pytest

from storage.migrate import Mode, migrate
from storage.policies import Policies, apply_policies
from storage.status import db_status

pytestmark = [pytest.mark.integration, pytest.mark.timescale]

HYPERTABLES = {
    "air_readings",
    "lake_readings",
    "seismic_packets",
    "seismic_picks",
    "rejected_messages",
}


async def test_migrations_create_hypertables_policies_and_continuous_aggregate(
    timescale_url: str,
) -> None:
    # pglite keeps one database for the whole session: start from a clean schema
    async with await psycopg.AsyncConnection.connect(timescale_url, autocommit=True) as conn:
        await conn.execute("DROP SCHEMA IF EXISTS kuzet CASCADE")
    report = await migrate(timescale_url, timescaledb="require")
    assert report.mode is Mode.TIMESCALE
    again = await migrate(timescale_url, timescaledb="require")
    assert again.applied == ()

    async with await psycopg.AsyncConnection.connect(timescale_url, autocommit=True) as conn:
        await apply_policies(conn, Mode.TIMESCALE, Policies())
        # applying twice replaces the jobs instead of piling them up
        await apply_policies(conn, Mode.TIMESCALE, Policies())
        cur = await conn.execute(
            "SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables"
            " WHERE hypertable_schema = 'kuzet'"
        )
        hyper = dict(await cur.fetchall())
        cur = await conn.execute(
            "SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates"
            " WHERE view_schema = 'kuzet'"
        )
        caggs = dict(await cur.fetchall())
        cur = await conn.execute(
            "SELECT proc_name, hypertable_name FROM timescaledb_information.jobs"
            " WHERE hypertable_schema = 'kuzet' OR hypertable_name LIKE '_materialized%'"
        )
        jobs = sorted((str(p), str(t)) for p, t in await cur.fetchall())
        status = await db_status(conn)

        # the real-time aggregate answers before any refresh job ran (pglite runs no jobs)
        await conn.execute(
            "INSERT INTO kuzet.air_readings (time, station_id, pm25, no2) VALUES"
            " ('2026-01-10 08:05+00', 'AIR-01', 30, 10),"
            " ('2026-01-10 08:35+00', 'AIR-01', 50, NULL)"
        )
        cur = await conn.execute(
            "SELECT bucket, pm25_avg, no2_avg, n, n_no2 FROM kuzet.air_hourly"
            " WHERE station_id = 'AIR-01'"
        )
        hourly = await cur.fetchall()

    assert set(hyper) >= HYPERTABLES
    for table in ("air_readings", "lake_readings", "seismic_packets"):
        assert hyper[table] is True, table
    assert caggs == {"air_hourly": False}
    procs = [p for p, _ in jobs]
    assert procs.count("policy_compression") == 3
    assert procs.count("policy_retention") == 5
    assert procs.count("policy_refresh_continuous_aggregate") == 1
    assert status.mode is Mode.TIMESCALE
    assert status.timescaledb_version is not None and status.timescaledb_version.startswith("2.")
    assert {t.name for t in status.tables if t.kind == "hypertable"} >= HYPERTABLES
    assert len(hourly) == 1
    assert hourly[0][1:] == (40.0, 10.0, 2, 1)
