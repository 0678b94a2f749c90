"""Migrations, modes and db status against a real PostgreSQL."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from storage.migrate import MIGRATION_LOCK_ID, Mode, available_migrations, migrate
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
