"""Streaming reads of stored readings for `kuzet export`: server-side cursors, in time order.

Each feed is read through its own named (server-side) cursor, `batch_rows` rows per round
trip, so memory stays flat whatever the period; the feeds are merged by time on the client.
All cursors live in one read-only REPEATABLE READ transaction: the export is one consistent
snapshot even while the daemon keeps writing. Plain SQL only, the same in both storage modes
(compressed TimescaleDB chunks are decompressed by the server as they are read).
"""

from __future__ import annotations

import heapq
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
import psycopg
from psycopg.rows import TupleRow

from collector.models import (
    AIR_FIELDS,
    LAKE_FIELDS,
    AirReading,
    Feed,
    LakeReading,
    Reading,
    SeismicPacket,
)

# Ties in time are broken by feed and station, so the same data always exports identically.
_FEED_ORDER: Final = {feed: rank for rank, feed in enumerate(Feed)}

_WHERE: Final = """
WHERE time >= %(start)s AND time < %(end)s
  AND (%(ids)s::text[] IS NULL OR station_id = ANY(%(ids)s::text[]))
ORDER BY time, station_id
"""

_SQL: Final = {
    Feed.AIR: f"SELECT time, station_id, {', '.join(AIR_FIELDS)} FROM kuzet.air_readings" + _WHERE,
    Feed.LAKE: f"SELECT time, station_id, {', '.join(LAKE_FIELDS)} FROM kuzet.lake_readings"
    + _WHERE,
    Feed.SEISMIC: "SELECT time, station_id, sr, x, y, z FROM kuzet.seismic_packets" + _WHERE,
}


@dataclass(frozen=True, slots=True)
class ExportQuery:
    """Which readings to export.

    Attributes:
        start: first time included.
        end: first time excluded (the period is [start, end)).
        feeds: the feeds, merged by time.
        station_ids: only these stations; None for all.
        batch_rows: rows fetched per round trip from each cursor.
    """

    start: datetime
    end: datetime
    feeds: tuple[Feed, ...] = tuple(Feed)
    station_ids: tuple[str, ...] | None = None
    batch_rows: int = 2000

    def __post_init__(self) -> None:
        if self.start.utcoffset() is None or self.end.utcoffset() is None:
            raise ValueError("export period: start and end must be timezone-aware")
        if self.end <= self.start:
            raise ValueError("export period: the end must be after the start")
        if not self.feeds:
            raise ValueError("export: no feed selected")


def stream_readings(conn: psycopg.Connection[TupleRow], query: ExportQuery) -> Iterator[Reading]:
    """Yield the readings of `query` in time order (ties: feed, then station).

    The caller owns `conn` (not in autocommit, no transaction open); this opens a read-only
    snapshot transaction on it and closes it when the iterator is exhausted or closed.

    Raises:
        psycopg.Error: from the server, at any point of the iteration.
    """
    conn.read_only = True
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    params = {
        "start": query.start,
        "end": query.end,
        "ids": list(query.station_ids) if query.station_ids is not None else None,
    }
    with conn.transaction():
        streams = [_stream_feed(conn, feed, params, query.batch_rows) for feed in query.feeds]
        try:
            yield from heapq.merge(
                *streams, key=lambda r: (r.time, _FEED_ORDER[r.feed], r.station_id)
            )
        finally:
            # Close the cursors inside the transaction, also when the caller stops early.
            for stream in streams:
                stream.close()


def _stream_feed(
    conn: psycopg.Connection[TupleRow], feed: Feed, params: dict[str, Any], batch_rows: int
) -> Generator[Reading, None, None]:
    with conn.cursor(name=f"kuzet_export_{feed.value}") as cur:
        cur.itersize = batch_rows
        cur.execute(_SQL[feed], params)
        for row in cur:
            yield row_to_reading(feed, row)


def row_to_reading(feed: Feed, row: Sequence[Any]) -> Reading:
    """A reading from one row of `_SQL[feed]` (time, station_id, then the feed's columns)."""
    time: datetime = row[0].astimezone(UTC)
    station_id: str = row[1]
    if feed is Feed.AIR:
        return AirReading(station_id, time, *row[2:])
    if feed is Feed.LAKE:
        return LakeReading(station_id, time, *row[2:])
    samples = np.array(row[3:6], dtype=np.float32)
    samples.flags.writeable = False
    return SeismicPacket(
        station_id=station_id, time=time, sr=float(row[2]), x=samples[0], y=samples[1], z=samples[2]
    )
