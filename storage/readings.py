"""Batched, idempotent writes of readings and rejected input (one transaction per batch)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg
from psycopg.rows import TupleRow

from collector.models import AirReading, LakeReading, SeismicPacket
from storage.migrate import Mode
from storage.staging import (
    copy_air,
    copy_lake,
    copy_seismic,
    ensure_stages,
    forget_stages,
)

# Without COPY (store_batch(copy=False)), column arrays go through unnest(): one statement
# and one round trip per table and batch, ON CONFLICT absorbs QoS 1 redeliveries, and it
# works where COPY does not (pglite). Rejected messages and new stations always go this way.
_AIR_INSERT = """
INSERT INTO kuzet.air_readings (time, station_id, pm25, pm10, no2, temp, rh, received_at)
SELECT * FROM unnest(%s::timestamptz[], %s::text[], %s::float8[], %s::float8[],
                     %s::float8[], %s::float8[], %s::float8[], %s::timestamptz[])
ON CONFLICT (station_id, time) DO NOTHING
"""

_LAKE_INSERT = """
INSERT INTO kuzet.lake_readings
    (time, station_id, level_m, water_temp, precip_mm, discharge_m3s, received_at)
SELECT * FROM unnest(%s::timestamptz[], %s::text[], %s::float8[], %s::float8[],
                     %s::float8[], %s::float8[], %s::timestamptz[])
ON CONFLICT (station_id, time) DO NOTHING
"""

_REJECTED_INSERT = """
INSERT INTO kuzet.rejected_messages (received_at, topic, feed, reason, detail, payload)
SELECT * FROM unnest(%s::timestamptz[], %s::text[], %s::text[], %s::text[], %s::text[],
                     %s::bytea[])
"""

_STATION_INSERT = """
INSERT INTO kuzet.stations (station_id, kind, from_file)
SELECT s, k, false FROM unnest(%s::text[], %s::text[]) AS t(s, k)
ON CONFLICT (station_id) DO NOTHING
"""

# Serialise rollup maintenance per station: with READ COMMITTED, the aggregate below then
# sees every reading committed before it, even with several writers or replicas.
_LOCK_STATIONS = """
SELECT pg_advisory_xact_lock(k)
FROM (SELECT DISTINCT hashtextextended(s, 20250101) AS k
      FROM unnest(%s::text[]) AS s ORDER BY 1) AS keys
"""

# Plain mode: recompute the touched (station, hour) rows of air_hourly from the raw table.
# date_bin with a fixed origin gives the same buckets as TimescaleDB's time_bucket.
_AIR_HOURLY_REFRESH = """
INSERT INTO kuzet.air_hourly
    (bucket, station_id, pm25_avg, pm10_avg, no2_avg, n, n_pm25, n_pm10, n_no2)
SELECT k.bucket, k.station_id, avg(r.pm25), avg(r.pm10), avg(r.no2),
       count(*), count(r.pm25), count(r.pm10), count(r.no2)
FROM (SELECT DISTINCT s AS station_id,
             date_bin(INTERVAL '1 hour', t, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket
      FROM unnest(%s::text[], %s::timestamptz[]) AS u(s, t)) AS k
JOIN kuzet.air_readings AS r
  ON r.station_id = k.station_id
 AND r.time >= k.bucket AND r.time < k.bucket + INTERVAL '1 hour'
GROUP BY k.bucket, k.station_id
ON CONFLICT (station_id, bucket) DO UPDATE SET
    pm25_avg = EXCLUDED.pm25_avg, pm10_avg = EXCLUDED.pm10_avg, no2_avg = EXCLUDED.no2_avg,
    n = EXCLUDED.n, n_pm25 = EXCLUDED.n_pm25, n_pm10 = EXCLUDED.n_pm10, n_no2 = EXCLUDED.n_no2
"""

# Fallback for servers that refuse COPY FROM STDIN: unnest() would flatten real[][] into
# one array, so packets go one row each, in one pipelined executemany.
_SEISMIC_INSERT = """
INSERT INTO kuzet.seismic_packets (time, station_id, sr, x, y, z, received_at)
VALUES (%s, %s, %s, %s::real[], %s::real[], %s::real[], %s)
ON CONFLICT (station_id, time) DO NOTHING
"""


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """One row of `kuzet.rejected_messages`."""

    received_at: datetime
    topic: str
    feed: str
    reason: str
    detail: str
    payload: bytes


@dataclass(slots=True)
class WriteBatch:
    """Everything one transaction stores; `received_at` per reading, in parallel lists."""

    air: list[tuple[AirReading, datetime]] = field(default_factory=list)
    lake: list[tuple[LakeReading, datetime]] = field(default_factory=list)
    seismic: list[tuple[SeismicPacket, datetime]] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    new_stations: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.air) + len(self.lake) + len(self.seismic) + len(self.rejected)


@dataclass(frozen=True, slots=True)
class StoreResult:
    """Rows actually inserted (redeliveries excluded), per table."""

    air: int = 0
    lake: int = 0
    seismic: int = 0
    rejected: int = 0


async def _insert_air(
    cur: psycopg.AsyncCursor[TupleRow], rows: Sequence[tuple[AirReading, datetime]], mode: Mode
) -> int:
    if mode is Mode.PLAIN:
        await cur.execute(_LOCK_STATIONS, ([r.station_id for r, _ in rows],))
    await cur.execute(
        _AIR_INSERT,
        (
            [r.time for r, _ in rows],
            [r.station_id for r, _ in rows],
            [r.pm25 for r, _ in rows],
            [r.pm10 for r, _ in rows],
            [r.no2 for r, _ in rows],
            [r.temp for r, _ in rows],
            [r.rh for r, _ in rows],
            [received for _, received in rows],
        ),
    )
    inserted = max(cur.rowcount, 0)
    if mode is Mode.PLAIN and inserted:
        await cur.execute(
            _AIR_HOURLY_REFRESH, ([r.station_id for r, _ in rows], [r.time for r, _ in rows])
        )
    return inserted


async def _insert_lake(
    cur: psycopg.AsyncCursor[TupleRow], rows: Sequence[tuple[LakeReading, datetime]]
) -> int:
    await cur.execute(
        _LAKE_INSERT,
        (
            [r.time for r, _ in rows],
            [r.station_id for r, _ in rows],
            [r.level_m for r, _ in rows],
            [r.water_temp for r, _ in rows],
            [r.precip_mm for r, _ in rows],
            [r.discharge_m3s for r, _ in rows],
            [received for _, received in rows],
        ),
    )
    return max(cur.rowcount, 0)


async def _insert_seismic(
    cur: psycopg.AsyncCursor[TupleRow], rows: Sequence[tuple[SeismicPacket, datetime]]
) -> int:
    await cur.executemany(
        _SEISMIC_INSERT,
        [
            (p.time, p.station_id, p.sr, p.x.tolist(), p.y.tolist(), p.z.tolist(), received)
            for p, received in rows
        ],
    )
    return max(cur.rowcount, 0)


async def _insert_rejected(cur: psycopg.AsyncCursor[TupleRow], rows: Sequence[RejectedRow]) -> int:
    await cur.execute(
        _REJECTED_INSERT,
        (
            [r.received_at for r in rows],
            [r.topic for r in rows],
            [r.feed for r in rows],
            [r.reason for r in rows],
            [r.detail for r in rows],
            [r.payload for r in rows],
        ),
    )
    return max(cur.rowcount, 0)


async def store_batch(
    conn: psycopg.AsyncConnection[TupleRow], batch: WriteBatch, mode: Mode, *, copy: bool = True
) -> StoreResult:
    """Store a batch in one transaction; a reading already stored is skipped.

    With `copy`, readings go by binary COPY through staging tables (storage.staging), about
    15× less client CPU per row than array parameters; without it, by INSERT … unnest, for
    servers that refuse COPY FROM STDIN (pglite).

    Raises:
        storage.staging.CopyRefusedError: `copy` was set and the server refused COPY (the
            transaction was rolled back: retry without `copy`).
        psycopg.Error: the transaction failed and was rolled back (the caller classifies).
    """
    if not copy or not (batch.air or batch.lake or batch.seismic):
        return await _store(conn, batch, mode, copy=False)
    await ensure_stages(conn)
    try:
        return await _store(conn, batch, mode, copy=True)
    except psycopg.errors.UndefinedTable:
        # The session lost its temp tables (DISCARD, a pooler swapping server sessions):
        # create them again once rather than fail the batch as permanent.
        if not forget_stages(conn):
            raise
    await ensure_stages(conn)
    return await _store(conn, batch, mode, copy=True)


async def _store(
    conn: psycopg.AsyncConnection[TupleRow], batch: WriteBatch, mode: Mode, *, copy: bool
) -> StoreResult:
    air = lake = seismic = rejected = 0
    async with conn.transaction(), conn.cursor() as cur:
        if batch.new_stations:
            await cur.execute(
                _STATION_INSERT,
                ([s for s, _ in batch.new_stations], [k for _, k in batch.new_stations]),
            )
        if batch.air:
            air = await (
                copy_air(cur, batch.air, mode) if copy else _insert_air(cur, batch.air, mode)
            )
        if batch.lake:
            lake = await (copy_lake(cur, batch.lake) if copy else _insert_lake(cur, batch.lake))
        if batch.seismic:
            seismic = await (
                copy_seismic(cur, batch.seismic) if copy else _insert_seismic(cur, batch.seismic)
            )
        if batch.rejected:
            rejected = await _insert_rejected(cur, batch.rejected)
    return StoreResult(air=air, lake=lake, seismic=seismic, rejected=rejected)


_RECENT = """
SELECT r.station_id, r.time, {columns}
FROM kuzet.stations AS s
CROSS JOIN LATERAL (
    SELECT max(time) AS newest FROM {table} WHERE station_id = s.station_id
) AS m
JOIN {table} AS r ON r.station_id = s.station_id AND r.time > m.newest - %s::interval
WHERE s.kind = %s
ORDER BY r.station_id, r.time
"""


async def recent_air(
    conn: psycopg.AsyncConnection[TupleRow], window: timedelta
) -> list[AirReading]:
    """Each air station's readings within `window` of its own newest one (window rebuild).

    Relative to each station's newest reading, not to the wall clock: windows are on event
    time, so a restart during a replay of old data rebuilds the same state.
    """
    sql = _RECENT.format(columns="r.pm25, r.pm10, r.no2, r.temp, r.rh", table="kuzet.air_readings")
    cur = await conn.execute(sql, (window, "air"))
    return [AirReading(*row) for row in await cur.fetchall()]


async def recent_lake(
    conn: psycopg.AsyncConnection[TupleRow], window: timedelta
) -> list[LakeReading]:
    """Each lake station's readings within `window` of its own newest one."""
    sql = _RECENT.format(
        columns="r.level_m, r.water_temp, r.precip_mm, r.discharge_m3s",
        table="kuzet.lake_readings",
    )
    cur = await conn.execute(sql, (window, "lake"))
    return [LakeReading(*row) for row in await cur.fetchall()]
