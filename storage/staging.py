"""Readings written with binary COPY into per-connection staging tables, then merged in SQL."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import pq
from psycopg.rows import TupleRow

from collector.models import AirReading, LakeReading, SeismicPacket
from storage.migrate import Mode


class CopyRefusedError(Exception):
    """The server refused `COPY … FROM STDIN` (e.g. pglite): write with INSERT … unnest."""


# Temporary tables live as long as the server session, so they are created once per
# connection (not per batch: that was a round trip and a catalog lookup per transaction).
# ON COMMIT DELETE ROWS empties them at the end of each batch transaction, and a rolled-back
# batch takes its staged rows with it. Staging columns are float8 like the unnest path's
# parameters, so the server casts to the tables' types exactly as before.
_STAGE_DDL = (
    """
    CREATE TEMP TABLE IF NOT EXISTS kuzet_air_stage
        (time timestamptz, station_id text, pm25 float8, pm10 float8, no2 float8,
         temp float8, rh float8, received_at timestamptz) ON COMMIT DELETE ROWS
    """,
    """
    CREATE TEMP TABLE IF NOT EXISTS kuzet_lake_stage
        (time timestamptz, station_id text, level_m float8, water_temp float8,
         precip_mm float8, discharge_m3s float8, received_at timestamptz) ON COMMIT DELETE ROWS
    """,
    """
    CREATE TEMP TABLE IF NOT EXISTS kuzet_seismic_stage
        (LIKE kuzet.seismic_packets INCLUDING DEFAULTS) ON COMMIT DELETE ROWS
    """,
)

_AIR_COPY = (
    "COPY kuzet_air_stage (time, station_id, pm25, pm10, no2, temp, rh, received_at)"
    " FROM STDIN (FORMAT BINARY)"
)
_AIR_TYPES = (
    "timestamptz",
    "text",
    "float8",
    "float8",
    "float8",
    "float8",
    "float8",
    "timestamptz",
)

# Same key and order as the unnest path (storage.readings._LOCK_STATIONS): both paths, and
# several replicas, serialise rollup maintenance per station on the same advisory locks.
_AIR_LOCK = """
SELECT pg_advisory_xact_lock(k)
FROM (SELECT DISTINCT hashtextextended(station_id, 20250101) AS k
      FROM kuzet_air_stage ORDER BY 1) AS keys
"""

_AIR_MERGE = """
INSERT INTO kuzet.air_readings (time, station_id, pm25, pm10, no2, temp, rh, received_at)
SELECT time, station_id, pm25, pm10, no2, temp, rh, received_at FROM kuzet_air_stage
ON CONFLICT (station_id, time) DO NOTHING
"""

# storage.readings._AIR_HOURLY_REFRESH with the touched (station, hour) keys taken from the
# staging table instead of array parameters.
_AIR_HOURLY_REFRESH = """
INSERT INTO kuzet.air_hourly
    (bucket, station_id, pm25_avg, pm10_avg, no2_avg, n, n_pm25, n_pm10, n_no2)
SELECT k.bucket, k.station_id, avg(r.pm25), avg(r.pm10), avg(r.no2),
       count(*), count(r.pm25), count(r.pm10), count(r.no2)
FROM (SELECT DISTINCT station_id,
             date_bin(INTERVAL '1 hour', time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket
      FROM kuzet_air_stage) AS k
JOIN kuzet.air_readings AS r
  ON r.station_id = k.station_id
 AND r.time >= k.bucket AND r.time < k.bucket + INTERVAL '1 hour'
GROUP BY k.bucket, k.station_id
ON CONFLICT (station_id, bucket) DO UPDATE SET
    pm25_avg = EXCLUDED.pm25_avg, pm10_avg = EXCLUDED.pm10_avg, no2_avg = EXCLUDED.no2_avg,
    n = EXCLUDED.n, n_pm25 = EXCLUDED.n_pm25, n_pm10 = EXCLUDED.n_pm10, n_no2 = EXCLUDED.n_no2
"""

_PLAIN_AIR_MERGE = ";".join((_AIR_LOCK, _AIR_MERGE, _AIR_HOURLY_REFRESH))

_LAKE_COPY = (
    "COPY kuzet_lake_stage"
    " (time, station_id, level_m, water_temp, precip_mm, discharge_m3s, received_at)"
    " FROM STDIN (FORMAT BINARY)"
)
_LAKE_TYPES = ("timestamptz", "text", "float8", "float8", "float8", "float8", "timestamptz")
_LAKE_MERGE = """
INSERT INTO kuzet.lake_readings
    (time, station_id, level_m, water_temp, precip_mm, discharge_m3s, received_at)
SELECT time, station_id, level_m, water_temp, precip_mm, discharge_m3s, received_at
FROM kuzet_lake_stage
ON CONFLICT (station_id, time) DO NOTHING
"""

_SEISMIC_COPY = (
    "COPY kuzet_seismic_stage (time, station_id, sr, x, y, z, received_at)"
    " FROM STDIN (FORMAT BINARY)"
)
_SEISMIC_TYPES = (
    "timestamptz",
    "text",
    "float8",
    "float4[]",
    "float4[]",
    "float4[]",
    "timestamptz",
)
_SEISMIC_MERGE = """
INSERT INTO kuzet.seismic_packets (time, station_id, sr, x, y, z, received_at)
SELECT time, station_id, sr, x, y, z, received_at FROM kuzet_seismic_stage
ON CONFLICT (station_id, time) DO NOTHING
"""

# Connections whose session holds the staging tables (weak: a closed connection drops out).
_READY: weakref.WeakSet[psycopg.AsyncConnection[Any]] = weakref.WeakSet()

Cursor = psycopg.AsyncCursor[TupleRow]


async def ensure_stages(conn: psycopg.AsyncConnection[TupleRow]) -> None:
    """Create the staging tables in this connection's session, once.

    Call outside the batch transaction: the DDL then commits on its own, and a batch that
    rolls back cannot take the tables with it. Inside a caller's transaction the tables are
    created but not remembered, since that transaction may still roll back.
    """
    if conn in _READY:
        return
    idle = conn.info.transaction_status is pq.TransactionStatus.IDLE
    async with conn.transaction(), conn.cursor() as cur:
        for ddl in _STAGE_DDL:
            await cur.execute(ddl)
    if idle:
        _READY.add(conn)


def forget_stages(conn: psycopg.AsyncConnection[TupleRow]) -> bool:
    """Drop the memo for a session that lost its temp tables; True if it was remembered."""
    if conn in _READY:
        _READY.discard(conn)
        return True
    return False


async def _copy(cur: Cursor, statement: str, types: Sequence[str], rows: Sequence[Any]) -> None:
    try:
        async with cur.copy(statement) as copy:
            copy.set_types(list(types))
            for row in rows:
                await copy.write_row(row)
    except psycopg.errors.FeatureNotSupported as exc:
        raise CopyRefusedError(str(exc).strip()) from exc


async def copy_air(cur: Cursor, rows: Sequence[tuple[AirReading, datetime]], mode: Mode) -> int:
    """Stage, lock (plain mode), merge and roll up air readings; returns rows inserted."""
    await _copy(
        cur,
        _AIR_COPY,
        _AIR_TYPES,
        [(r.time, r.station_id, r.pm25, r.pm10, r.no2, r.temp, r.rh, rec) for r, rec in rows],
    )
    if mode is not Mode.PLAIN:
        await cur.execute(_AIR_MERGE)
        return max(cur.rowcount, 0)
    # Lock, merge and roll up in one round trip (no parameters: the simple query protocol
    # takes several statements); a redelivery-only batch recomputes unchanged buckets.
    await cur.execute(_PLAIN_AIR_MERGE)
    cur.nextset()
    inserted = max(cur.rowcount, 0)
    cur.nextset()
    return inserted


async def copy_lake(cur: Cursor, rows: Sequence[tuple[LakeReading, datetime]]) -> int:
    """Stage and merge lake readings; returns rows inserted."""
    await _copy(
        cur,
        _LAKE_COPY,
        _LAKE_TYPES,
        [
            (r.time, r.station_id, r.level_m, r.water_temp, r.precip_mm, r.discharge_m3s, rec)
            for r, rec in rows
        ],
    )
    await cur.execute(_LAKE_MERGE)
    return max(cur.rowcount, 0)


async def copy_seismic(cur: Cursor, rows: Sequence[tuple[SeismicPacket, datetime]]) -> int:
    """Stage and merge seismic packets (arrays of floats are the bulk of the bytes)."""
    await _copy(
        cur,
        _SEISMIC_COPY,
        _SEISMIC_TYPES,
        [
            (p.time, p.station_id, p.sr, p.x.tolist(), p.y.tolist(), p.z.tolist(), rec)
            for p, rec in rows
        ],
    )
    await cur.execute(_SEISMIC_MERGE)
    return max(cur.rowcount, 0)
