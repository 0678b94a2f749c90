"""Seismic products: picks and associated events (upserts, as estimates improve)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import TupleRow, dict_row
from psycopg.types.json import Jsonb

from collector.seismic import Event, Pick

# A pick is reported again while its amplitude window fills: the last report wins.
_PICK_UPSERT = """
INSERT INTO kuzet.seismic_picks (time, station_id, pga_gal, sta_lta)
VALUES (%s, %s, %s, %s)
ON CONFLICT (station_id, time) DO UPDATE SET pga_gal = EXCLUDED.pga_gal, sta_lta = EXCLUDED.sta_lta
"""

_EVENT_UPSERT = """
INSERT INTO kuzet.seismic_events (event_id, detected_at, origin_time, lat, lon, depth_km,
    magnitude, intensity_city, station_count, details, updated_at)
VALUES (%(event_id)s, %(detected_at)s, %(origin_time)s, %(lat)s, %(lon)s, %(depth_km)s,
    %(magnitude)s, %(intensity_city)s, %(station_count)s, %(details)s, now())
ON CONFLICT (event_id) DO UPDATE SET origin_time = EXCLUDED.origin_time, lat = EXCLUDED.lat,
    lon = EXCLUDED.lon, depth_km = EXCLUDED.depth_km, magnitude = EXCLUDED.magnitude,
    intensity_city = EXCLUDED.intensity_city, station_count = EXCLUDED.station_count,
    details = EXCLUDED.details, updated_at = now()
"""


def event_details(event: Event, *, ended: bool = False) -> dict[str, Any]:
    """What `seismic_events.details` keeps beyond the contract's columns."""
    return {
        "rms_s": event.rms_s,
        "on_edge": event.on_edge,
        "station_ids": list(event.station_ids),
        "residuals_s": list(event.residuals_s),
        "magnitude_stations": event.magnitude_stations,
        "city_pga_gal": event.city.pga_gal,
        "city_epicentral_km": event.city.epicentral_km,
        "city_s_arrival": event.city.s_arrival.isoformat(),
        "city_lead_time_s": event.city.lead_time_s,
        "ended": ended,
    }


async def upsert_picks(conn: psycopg.AsyncConnection[TupleRow], picks: Sequence[Pick]) -> None:
    """Store picks (one transaction)."""
    async with conn.transaction(), conn.cursor() as cur:
        await cur.executemany(
            _PICK_UPSERT, [(p.time, p.station_id, p.pga_gal, p.sta_lta) for p in picks]
        )


async def upsert_event(
    conn: psycopg.AsyncConnection[TupleRow], event: Event, *, ended: bool = False
) -> None:
    """Store an event as it now stands."""
    await conn.execute(
        _EVENT_UPSERT,
        {
            "event_id": event.event_id,
            "detected_at": event.detected_at,
            "origin_time": event.origin_time,
            "lat": event.lat,
            "lon": event.lon,
            "depth_km": event.depth_km,
            "magnitude": event.magnitude,
            "intensity_city": event.intensity_city,
            "station_count": event.station_count,
            "details": Jsonb(event_details(event, ended=ended)),
        },
    )


async def recent_events(
    conn: psycopg.AsyncConnection[TupleRow], *, limit: int, since: datetime | None = None
) -> list[Mapping[str, Any]]:
    """Events newest first."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT event_id, detected_at, origin_time, lat, lon, depth_km, magnitude,"
            " intensity_city, station_count, details, updated_at FROM kuzet.seismic_events"
            " WHERE %(since)s::timestamptz IS NULL OR detected_at >= %(since)s"
            " ORDER BY detected_at DESC LIMIT %(limit)s",
            {"since": since, "limit": limit},
        )
        return list(await cur.fetchall())
