"""Migrations, modes, db status and batched reading writes against a real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from collector.models import AirReading, LakeReading, SeismicPacket
from collector.writer import pool_store
from storage.migrate import MIGRATION_LOCK_ID, Mode, available_migrations, migrate
from storage.readings import RejectedRow, StoreResult, WriteBatch, store_batch
from storage.staging import CopyRefusedError
from storage.status import db_status
from tests.integration.harness import fetch_all

pytestmark = pytest.mark.integration

CONTRACT_TABLES = {
    "stations",
    "air_readings",
    "air_hourly",
    "lake_readings",
    "seismic_packets",
    "seismic_picks",
    "seismic_events",
    "rejected_messages",
}


async def test_migrate_creates_contract_tables_in_plain_mode(database_url: str) -> None:
    report = await migrate(database_url, timescaledb="off")
    assert report.mode is Mode.PLAIN
    assert report.applied == tuple(m.version for m in available_migrations(Mode.PLAIN))
    rows = await fetch_all(
        database_url,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'kuzet'",
    )
    assert {r[0] for r in rows} >= CONTRACT_TABLES


async def test_migrate_is_idempotent_and_safe_concurrently(database_url: str) -> None:
    # three replicas starting at once: each migration is applied exactly once
    reports = await asyncio.gather(*(migrate(database_url, timescaledb="off") for _ in range(3)))
    applied = [v for r in reports for v in r.applied]
    assert sorted(applied) == [m.version for m in available_migrations(Mode.PLAIN)]
    again = await migrate(database_url, timescaledb="off")
    assert again.applied == ()
    assert await fetch_all(database_url, "SELECT count(*) FROM kuzet.schema_migrations") == [
        (len(available_migrations(Mode.PLAIN)),)
    ]


async def test_auto_mode_falls_back_to_plain_without_timescaledb(database_url: str) -> None:
    # the system PostgreSQL has no timescaledb extension: auto picks plain, require fails
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'"
        )
        row = await cur.fetchone()
    if row and row[0]:
        pytest.skip("this server has TimescaleDB; the fallback cannot be observed here")
    report = await migrate(database_url, timescaledb="auto")
    assert report.mode is Mode.PLAIN


async def test_require_timescaledb_fails_clearly(database_url: str) -> None:
    from storage.errors import MigrationError

    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'"
        )
        row = await cur.fetchone()
    if row and row[0]:
        pytest.skip("this server has TimescaleDB")
    with pytest.raises(MigrationError, match="TimescaleDB required"):
        await migrate(database_url, timescaledb="require")


async def test_migration_waits_for_the_advisory_lock(database_url: str) -> None:
    # while another session holds the lock, migrate waits instead of racing
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as holder:
        await holder.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
        task = asyncio.create_task(migrate(database_url, timescaledb="off"))
        await asyncio.sleep(0.5)
        assert not task.done()
        await holder.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))
        report = await asyncio.wait_for(task, 10)
    assert report.applied


async def test_db_status_reports_mode_and_tables(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        before = await db_status(conn)
        assert before.mode is None
        await migrate(database_url, timescaledb="off")
        after = await db_status(conn)
    assert after.mode is Mode.PLAIN
    assert after.pending == []
    assert {t.name for t in after.tables} >= CONTRACT_TABLES


async def test_reader_role_can_select_but_not_write(database_url: str) -> None:
    # HARDEN: the migrations create a read-only role for Grafana
    await migrate(database_url, timescaledb="off")
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("SET ROLE kuzet_reader")
        await conn.execute("SELECT count(*) FROM kuzet.air_readings")
        await conn.execute("SELECT count(*) FROM kuzet.air_hourly")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            await conn.execute("INSERT INTO kuzet.stations (station_id, kind) VALUES ('X', 'air')")


# --- PERF: readings by binary COPY through staging tables, and the INSERT … unnest fallback ---

T0 = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


def _packet(station_id: str, time: datetime) -> SeismicPacket:
    samples = np.arange(100, dtype=np.float32) / 8
    return SeismicPacket(station_id, time, 100.0, samples, -samples, samples * 2)


def _batch(minutes: range, *, stations: tuple[str, ...] = ("AIR-S1", "AIR-S2")) -> WriteBatch:
    """Air readings every minute (pm10 and no2 missing on odd minutes), one lake, one packet."""
    batch = WriteBatch(new_stations=[(s, "air") for s in stations])
    for station in stations:
        for m in minutes:
            odd = m % 2 == 1
            reading = AirReading(
                station,
                T0 + timedelta(minutes=m),
                pm25=10.0 + m,
                pm10=None if odd else 20.5,
                no2=None if odd else 0.1 * m,
                temp=-3.25,
                rh=71.0,
            )
            batch.air.append((reading, RECEIVED))
    batch.lake.append((LakeReading("LAKE-S1", T0, level_m=3.42, discharge_m3s=None), RECEIVED))
    batch.seismic.append((_packet("SEI-S1", T0), RECEIVED))
    batch.rejected.append(RejectedRow(RECEIVED, "almaty/air/X", "air", "schema", "d", b"{}"))
    return batch


async def _air_rows(conn: psycopg.AsyncConnection) -> list[tuple[object, ...]]:
    cur = await conn.execute(
        "SELECT station_id, time, pm25, pm10, no2, temp, rh, received_at"
        " FROM kuzet.air_readings ORDER BY station_id, time"
    )
    return list(await cur.fetchall())


async def _hourly_matches_raw(conn: psycopg.AsyncConnection) -> bool:
    """air_hourly holds exactly the aggregate of the raw readings, bucket by bucket."""
    cur = await conn.execute(
        "SELECT station_id, date_bin('1 hour', time, TIMESTAMPTZ '2000-01-01 00:00+00'),"
        " avg(pm25), avg(pm10), avg(no2), count(*), count(pm25), count(pm10), count(no2)"
        " FROM kuzet.air_readings GROUP BY 1, 2 ORDER BY 1, 2"
    )
    raw = await cur.fetchall()
    cur = await conn.execute(
        "SELECT station_id, bucket, pm25_avg, pm10_avg, no2_avg, n, n_pm25, n_pm10, n_no2"
        " FROM kuzet.air_hourly ORDER BY 1, 2"
    )
    return bool(raw) and raw == await cur.fetchall()


@pytest.mark.parametrize(
    "copy",
    [
        # binary COPY into per-connection staging tables (the default)
        True,
        # INSERT … unnest, the path for servers that refuse COPY FROM STDIN (pglite)
        False,
    ],
)
async def test_store_batch_stores_every_feed_once_and_rolls_up(
    database_url: str, copy: bool
) -> None:
    await migrate(database_url, timescaledb="off")
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        # a 90-minute batch spans two clock hours; both buckets must be rolled up
        first = await store_batch(conn, _batch(range(90)), Mode.PLAIN, copy=copy)
        # a redelivery overlapping it by 30 minutes stores only the 30 new minutes
        second = await store_batch(conn, _batch(range(60, 120)), Mode.PLAIN, copy=copy)
        rows = await _air_rows(conn)
        rolled_up = await _hourly_matches_raw(conn)
        cur = await conn.execute(
            "SELECT station_id, level_m, discharge_m3s FROM kuzet.lake_readings"
        )
        lake = await cur.fetchall()
        cur = await conn.execute("SELECT x, y, z FROM kuzet.seismic_packets")
        packets = await cur.fetchall()

    assert first == StoreResult(air=180, lake=1, seismic=1, rejected=1)
    assert second == StoreResult(air=60, lake=0, seismic=0, rejected=1)
    assert len(rows) == 240
    # None stays NULL, values and received_at arrive unchanged
    assert rows[1] == ("AIR-S1", T0 + timedelta(minutes=1), 11.0, None, None, -3.25, 71.0, RECEIVED)
    assert rows[2][2:5] == (12.0, 20.5, pytest.approx(0.2))
    assert rolled_up
    assert lake == [("LAKE-S1", 3.42, None)]
    samples = (np.arange(100, dtype=np.float32) / 8).tolist()
    assert packets == [(samples, [-s for s in samples], [s * 2 for s in samples])]


async def test_copy_staging_survives_rolled_back_batches_and_lost_temp_tables(
    database_url: str,
) -> None:
    await migrate(database_url, timescaledb="off")
    poisoned = _batch(range(10))
    # NUL cannot go into text: the batch fails after its readings were staged and merged
    poisoned.rejected.append(RejectedRow(RECEIVED, "bad\x00topic", "air", "schema", "", b""))
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        with pytest.raises(psycopg.DataError):
            await store_batch(conn, poisoned, Mode.PLAIN)
        nothing = await _air_rows(conn)
        # the same connection: staging tables still there, and empty (nothing left over)
        after_rollback = await store_batch(conn, _batch(range(5)), Mode.PLAIN)
        # a session that lost its temp tables (DISCARD TEMP) gets them back
        await conn.execute("DISCARD TEMP")
        after_discard = await store_batch(conn, _batch(range(5, 8)), Mode.PLAIN)
        rolled_up = await _hourly_matches_raw(conn)

    assert nothing == []
    assert after_rollback == StoreResult(air=10, lake=1, seismic=1, rejected=1)
    assert after_discard == StoreResult(air=6, lake=0, seismic=0, rejected=1)
    assert rolled_up


async def test_concurrent_copy_and_unnest_writers_keep_air_hourly_exact(
    database_url: str,
) -> None:
    # Both paths take the same per-station advisory locks: writers (or replicas) racing on
    # one station and hour must not leave a rollup that misses the other's readings.
    await migrate(database_url, timescaledb="off")
    conns = [await psycopg.AsyncConnection.connect(database_url, autocommit=True) for _ in range(4)]
    try:
        results = await asyncio.gather(
            *(
                store_batch(conn, _batch(range(i, 60, 4)), Mode.PLAIN, copy=i % 2 == 0)
                for i, conn in enumerate(conns)
            )
        )
        rolled_up = await _hourly_matches_raw(conns[0])
        cur = await conns[0].execute("SELECT sum(n) FROM kuzet.air_hourly")
        total = await cur.fetchone()
    finally:
        for conn in conns:
            await conn.close()
    assert sum(r.air for r in results) == 120
    assert rolled_up
    assert total == (120,)


@pytest.mark.timescale
async def test_pool_store_falls_back_to_unnest_where_copy_is_refused(
    timescale_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # pglite's TimescaleDB refuses COPY FROM STDIN: the TimescaleDB mode must still store
    async with await psycopg.AsyncConnection.connect(timescale_url, autocommit=True) as conn:
        await conn.execute("DROP SCHEMA IF EXISTS kuzet CASCADE")
    await migrate(timescale_url, timescaledb="require")
    async with await psycopg.AsyncConnection.connect(timescale_url, autocommit=True) as conn:
        with pytest.raises(CopyRefusedError):
            await store_batch(conn, _batch(range(3)), Mode.TIMESCALE)
    async with AsyncConnectionPool(
        timescale_url, min_size=1, max_size=1, kwargs={"autocommit": True}, open=False
    ) as pool:
        store = pool_store(pool, Mode.TIMESCALE)
        first = await store(_batch(range(90)))
        again = await store(_batch(range(60, 120)))
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT sum(n) FROM kuzet.air_hourly")
            hourly = await cur.fetchone()
            cur = await conn.execute("SELECT count(*) FROM kuzet.seismic_packets")
            packets = await cur.fetchone()

    assert first == StoreResult(air=180, lake=1, seismic=1, rejected=1)
    assert again == StoreResult(air=60, lake=0, seismic=0, rejected=1)
    # the real-time continuous aggregate sees every stored reading
    assert hourly == (240,)
    assert packets == (1,)
    # said once, at the switch, not per batch
    assert sum("COPY refused" in r.getMessage() for r in caplog.records) == 1
