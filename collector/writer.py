"""Per-feed batching writer: bounded queue in, one transaction per batch, acks after commit."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from itertools import repeat
from typing import Any, Final

import psycopg
from prometheus_client import Histogram
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool
from tenacity import AsyncRetrying, retry_if_exception, wait_exponential_jitter

from collector.ingest import Unit
from collector.metrics import Metrics
from collector.models import AirReading, Feed, LakeReading, SeismicPacket
from storage.errors import StorageError, is_retryable, translate
from storage.migrate import Mode
from storage.readings import StoreResult, WriteBatch, store_batch
from storage.staging import CopyRefusedError

logger = logging.getLogger(__name__)

_STOP: Final = object()

StoreFn = Callable[[WriteBatch], Awaitable[StoreResult]]


def pool_store(
    pool: AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]], mode: Mode, *, copy: bool = True
) -> StoreFn:
    """A store function that runs each batch on a pooled connection.

    With `copy` it writes readings by binary COPY until the server first refuses COPY FROM
    STDIN (pglite, some proxies); from then on it uses INSERT … unnest, and says so once.
    """
    use_copy = copy

    async def store(batch: WriteBatch) -> StoreResult:
        nonlocal use_copy
        try:
            async with pool.connection() as conn:
                try:
                    return await store_batch(conn, batch, mode, copy=use_copy)
                except CopyRefusedError as exc:
                    use_copy = False
                    logger.warning("COPY refused (%s): writing readings with INSERT instead", exc)
                    return await store_batch(conn, batch, mode, copy=False)
        except psycopg.Error as exc:
            raise translate(exc, "storing a batch") from None

    return store


class Writer:
    """Collects units from a bounded queue into batches and commits them.

    Overflow policy: `put` waits while the queue is full. Nothing has been acknowledged
    to the broker at that point, so the backlog stays in the broker's session queue:
    bounded memory here, no loss. A batch that fails for a transient reason (connection,
    deadlock, shutdown of the server) is retried with capped, jittered backoff until it
    succeeds; one that fails permanently is retried unit by unit so one poisoned message
    cannot hold the rest.
    """

    def __init__(
        self,
        feed: Feed | None,
        store: StoreFn,
        metrics: Metrics,
        *,
        queue_size: int,
        batch_max_rows: int,
        linger: float,
        on_db_state: Callable[[bool], None] = lambda _up: None,
        retry_initial: float = 0.5,
        retry_max: float = 30.0,
    ) -> None:
        self._feed = feed
        self._store = store
        self._metrics = metrics
        self._queue: asyncio.Queue[Unit | object] = asyncio.Queue(maxsize=queue_size)
        self._batch_max = batch_max_rows
        self._linger = linger
        self._on_db_state = on_db_state
        self._wait = wait_exponential_jitter(
            multiplier=retry_initial, max=retry_max, jitter=retry_initial
        )
        # The latency histogram's children, bound once per feed (`labels()` per unit costs).
        self._latency: dict[Feed, Histogram] = {}
        if feed is not None:
            metrics.watch_queue(feed.value, self._queue.qsize)

    async def put(self, unit: Unit) -> None:
        """Queue a unit, waiting while the queue is full (backpressure)."""
        await self._queue.put(unit)

    async def close(self) -> None:
        """Ask the writer to finish: everything queued before this call is still written."""
        await self._queue.put(_STOP)

    async def run(self) -> None:
        """Write batches until `close` is called and the queue is drained."""
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is _STOP:
                return
            units: list[Unit] = [first]  # type: ignore[list-item]
            rows = _rows(units[0])
            stopping = await self._gather(units, rows)
            await self._commit(units)

    async def _gather(self, units: list[Unit], rows: int) -> bool:
        """Add queued units to the batch; returns True when the stop marker was reached."""
        lingered = False
        while rows < self._batch_max:
            if self._queue.empty():
                if lingered or self._linger <= 0:
                    break
                # Give a burst a moment to complete: fewer, larger transactions.
                lingered = True
                await asyncio.sleep(self._linger)
                continue
            item = self._queue.get_nowait()
            if item is _STOP:
                return True
            units.append(item)  # type: ignore[arg-type]
            rows += _rows(item)  # type: ignore[arg-type]
        return False

    async def _commit(self, units: list[Unit]) -> None:
        batch = _to_batch(units)
        result = await self._store_with_retry(batch, units)
        if result is None:
            return
        self._account(units, result)

    async def _store_with_retry(self, batch: WriteBatch, units: list[Unit]) -> StoreResult | None:
        retrying = AsyncRetrying(
            retry=retry_if_exception(is_retryable),
            wait=self._wait,
            before_sleep=lambda state: self._failed(
                state.outcome.exception() if state.outcome else None
            ),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    started = time.perf_counter()
                    result = await self._store(batch)
                    self._metrics.db_write_seconds.observe(time.perf_counter() - started)
                    self._on_db_state(True)
                    return result
        except StorageError as exc:
            # Permanent: the same batch will never go in. Isolate the unit that breaks it.
            self._metrics.db_write_errors.labels("false").inc()
            logger.error("batch of %d messages failed permanently: %s", len(units), exc)  # noqa: TRY400
            if len(units) > 1:
                for unit in units:
                    await self._commit([unit])
            else:
                logger.error("dropping message on %s: %s", units[0].topic, exc)  # noqa: TRY400
                units[0].done()
        return None

    def _failed(self, exc: BaseException | None) -> None:
        self._metrics.db_write_errors.labels("true").inc()
        self._on_db_state(False)
        logger.warning("database write failed, retrying: %s", exc)

    def _account(self, units: list[Unit], result: StoreResult) -> None:
        now = time.monotonic()
        stored = {Feed.AIR: result.air, Feed.LAKE: result.lake, Feed.SEISMIC: result.seismic}
        for feed, count in stored.items():
            if count:
                self._metrics.readings_stored.labels(feed.value).inc(count)
        latency = self._latency
        for unit in units:
            unit.done()
            if unit.feed is not None:
                child = latency.get(unit.feed)
                if child is None:
                    child = self._metrics.ingest_latency.labels(unit.feed.value)
                    latency[unit.feed] = child
                child.observe(now - unit.received_mono)


def _rows(unit: Unit) -> int:
    return len(unit.readings) + len(unit.rejected)


# The `WriteBatch` list that takes the readings of each type.
_TARGETS: Final[dict[type, str]] = {
    AirReading: "air",
    LakeReading: "lake",
    SeismicPacket: "seismic",
}


def _to_batch(units: list[Unit]) -> WriteBatch:
    batch = WriteBatch()
    seen_stations: set[str] = set()
    for unit in units:
        if unit.new_station is not None and unit.new_station[0] not in seen_stations:
            seen_stations.add(unit.new_station[0])
            batch.new_stations.append(unit.new_station)
        kinds = set(map(type, unit.readings))
        if len(kinds) == 1 and kinds <= _TARGETS.keys():
            # One message, one feed: pair its readings with the receive time in one step.
            target: list[Any] = getattr(batch, _TARGETS[kinds.pop()])
            target.extend(zip(unit.readings, repeat(unit.received_at)))
            batch.rejected.extend(unit.rejected)
            continue
        for reading in unit.readings:
            if isinstance(reading, AirReading):
                batch.air.append((reading, unit.received_at))
            elif isinstance(reading, LakeReading):
                batch.lake.append((reading, unit.received_at))
            elif isinstance(reading, SeismicPacket):
                batch.seismic.append((reading, unit.received_at))
        batch.rejected.extend(unit.rejected)
    return batch
