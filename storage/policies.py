"""Retention, compression and rollup-refresh policies, applied from the configuration."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import psycopg
from psycopg.rows import TupleRow

from storage.migrate import Mode

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Policies:
    """How long raw data lives and when it is compressed."""

    compress_after: timedelta = timedelta(days=7)
    retention: timedelta = timedelta(days=730)
    seismic_retention: timedelta = timedelta(days=30)
    rejected_retention: timedelta = timedelta(days=30)
    # How far back late readings may land (ingest max_age): the rollup refresh must reach it.
    max_age: timedelta = timedelta(days=30)

    def retention_by_table(self) -> dict[str, tuple[str, timedelta]]:
        """Table → (time column, retention)."""
        return {
            "kuzet.air_readings": ("time", self.retention),
            "kuzet.lake_readings": ("time", self.retention),
            "kuzet.seismic_picks": ("time", self.retention),
            "kuzet.seismic_packets": ("time", self.seismic_retention),
            "kuzet.rejected_messages": ("received_at", self.rejected_retention),
        }


COMPRESSED_TABLES = ("kuzet.air_readings", "kuzet.lake_readings", "kuzet.seismic_packets")


async def apply_timescale_policies(conn: psycopg.AsyncConnection[TupleRow], p: Policies) -> None:
    """(Re)create the TimescaleDB jobs so they match the configuration.

    Jobs are replaced rather than kept with `if_not_exists`, which would silently keep an
    old interval after the operator changed the configuration.
    """
    async with conn.transaction():
        for table in COMPRESSED_TABLES:
            await conn.execute(
                "SELECT remove_compression_policy(%s::regclass, if_exists => true)", (table,)
            )
            await conn.execute(
                "SELECT add_compression_policy(%s::regclass, compress_after => %s::interval)",
                (table, p.compress_after),
            )
        for table, (_column, keep) in p.retention_by_table().items():
            await conn.execute(
                "SELECT remove_retention_policy(%s::regclass, if_exists => true)", (table,)
            )
            await conn.execute(
                "SELECT add_retention_policy(%s::regclass, drop_after => %s::interval)",
                (table, keep),
            )
        await conn.execute(
            "SELECT remove_continuous_aggregate_policy('kuzet.air_hourly', if_exists => true)"
        )
        # Invalidation tracking means a refresh only recomputes hours that changed, so a
        # window as deep as the oldest accepted reading stays cheap.
        await conn.execute(
            "SELECT add_continuous_aggregate_policy('kuzet.air_hourly',"
            " start_offset => %s::interval, end_offset => INTERVAL '1 hour',"
            " schedule_interval => INTERVAL '1 minute')",
            (p.max_age + timedelta(days=1),),
        )


async def enforce_plain_retention(conn: psycopg.AsyncConnection[TupleRow], p: Policies) -> int:
    """Delete raw rows past their retention (plain mode has no background jobs).

    Returns:
        The number of rows deleted.
    """
    deleted = 0
    for table, (column, keep) in p.retention_by_table().items():
        cur = await conn.execute(
            f"DELETE FROM {table} WHERE {column} < now() - %s::interval", (keep,)
        )
        deleted += max(cur.rowcount, 0)
    cur = await conn.execute(
        "DELETE FROM kuzet.air_hourly WHERE bucket < now() - %s::interval", (p.retention,)
    )
    deleted += max(cur.rowcount, 0)
    if deleted:
        logger.info("retention removed %d rows", deleted)
    return deleted


async def apply_policies(conn: psycopg.AsyncConnection[TupleRow], mode: Mode, p: Policies) -> None:
    """Apply the policies of `mode` (TimescaleDB jobs, or an immediate plain-mode sweep)."""
    if mode is Mode.TIMESCALE:
        await apply_timescale_policies(conn, p)
    else:
        await enforce_plain_retention(conn, p)
