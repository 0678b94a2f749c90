"""The `kuzet.stations` table: synchronised from the stations file, read by the API."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from collector.stations import Station

_UPSERT = """
INSERT INTO kuzet.stations
    (station_id, kind, name, lat, lon, elevation_m, district, meta, from_file, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, true, now())
ON CONFLICT (station_id) DO UPDATE SET
    kind = EXCLUDED.kind, name = EXCLUDED.name, lat = EXCLUDED.lat, lon = EXCLUDED.lon,
    elevation_m = EXCLUDED.elevation_m, district = EXCLUDED.district, meta = EXCLUDED.meta,
    from_file = true, updated_at = now()
WHERE (kuzet.stations.kind, kuzet.stations.name, kuzet.stations.lat, kuzet.stations.lon,
       kuzet.stations.elevation_m, kuzet.stations.district, kuzet.stations.meta,
       kuzet.stations.from_file)
      IS DISTINCT FROM
      (EXCLUDED.kind, EXCLUDED.name, EXCLUDED.lat, EXCLUDED.lon, EXCLUDED.elevation_m,
       EXCLUDED.district, EXCLUDED.meta, true)
"""

# The newest reading per station, one index probe each on the (station_id, time) key.
_LAST_TIMES = {
    "air": "kuzet.air_readings",
    "lake": "kuzet.lake_readings",
    "seismic": "kuzet.seismic_packets",
}


async def sync_stations(
    conn: psycopg.AsyncConnection[TupleRow], stations: Iterable[Station]
) -> None:
    """Upsert every station of the file (rows auto-registered from traffic are kept)."""
    rows = [
        (
            s.id,
            s.kind.value,
            s.name,
            s.lat,
            s.lon,
            s.elevation_m,
            s.district,
            Jsonb(s.meta()),
        )
        for s in stations
        if not s.auto
    ]
    async with conn.transaction(), conn.cursor() as cur:
        await cur.executemany(_UPSERT, rows)


@dataclass(frozen=True, slots=True)
class LastSeen:
    """A station's newest reading: event time and when it was received."""

    time: datetime
    received_at: datetime


async def last_readings(conn: psycopg.AsyncConnection[TupleRow]) -> dict[str, LastSeen]:
    """Newest reading of every station in `kuzet.stations`, for staleness after a restart."""
    result: dict[str, LastSeen] = {}
    for kind, table in _LAST_TIMES.items():
        cur = await conn.execute(
            f"""
            SELECT s.station_id, r.time, r.received_at
            FROM kuzet.stations AS s
            CROSS JOIN LATERAL (
                SELECT time, received_at FROM {table}
                WHERE station_id = s.station_id ORDER BY time DESC LIMIT 1
            ) AS r
            WHERE s.kind = %s
            """,
            (kind,),
        )
        for station_id, time, received_at in await cur.fetchall():
            result[str(station_id)] = LastSeen(time=time, received_at=received_at)
    return result


async def auto_registered(conn: psycopg.AsyncConnection[TupleRow]) -> list[tuple[str, str]]:
    """Stations registered from traffic earlier, as (station_id, kind)."""
    cur = await conn.execute(
        "SELECT station_id, kind FROM kuzet.stations WHERE NOT from_file ORDER BY station_id"
    )
    return [(str(s), str(k)) for s, k in await cur.fetchall()]
