"""Shard leases (PostgreSQL advisory locks) and the takeover of a dead shard's index."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import zlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import psycopg

from collector.leader import CHECK_TIMEOUT_S, CONNECT_TIMEOUT_S

logger = logging.getLogger(__name__)

Conn = psycopg.AsyncConnection[tuple[object, ...]]


def lease_key(topic_prefix: str, index: int) -> int:
    """The advisory lock id of shard `index` of a deployment: stable, fits a bigint."""
    return zlib.crc32(f"kuzet-shard-lease:{topic_prefix}:{index}".encode())


@dataclass(frozen=True, slots=True)
class LeaseState:
    """What pg_locks says about one shard's lease."""

    held: bool  # a session holds it (the shard, or its adopter)
    waiting: bool  # a session waits for it (the shard, back and asking for its index)


class Decision(enum.Enum):
    """What to do about another shard's index."""

    NOTHING = "nothing"
    ADOPT = "adopt"  # try the lease and run the index here
    HAND_BACK = "hand_back"  # flush, stop running the index, release the lease


def decide(
    state: LeaseState, *, adopted: bool, free_since: float | None, now: float, grace: float
) -> tuple[Decision, float | None]:
    """The decision about one other shard's index, and since when its lease is free.

    Pure: `now` is a monotonic clock reading, `grace` the seconds a lease must stay free
    (shard.takeover_after) before a live shard adopts the index.
    """
    if adopted:
        return (Decision.HAND_BACK if state.waiting else Decision.NOTHING), None
    if state.held or state.waiting:
        # alive, or coming back this moment (a waiter gets a free lock at once)
        return Decision.NOTHING, None
    since = now if free_since is None else free_since
    return (Decision.ADOPT if now - since >= grace else Decision.NOTHING), since


# Session-level advisory locks on one bigint key below 2^32: classid 0, objid the key,
# objsubid 1 (PostgreSQL's pg_locks layout). Only this database's locks count.
_STATES = """
SELECT objid::bigint, bool_or(granted), bool_or(NOT granted) FROM pg_locks
WHERE locktype = 'advisory' AND classid = 0 AND objsubid = 1
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND objid::bigint = ANY(%s)
GROUP BY objid
"""


async def lease_states(conn: Conn, keys: Sequence[int]) -> dict[int, LeaseState]:
    """The state of each lease key (free when pg_locks has no row for it)."""
    cur = await conn.execute(_STATES, (list(keys),))
    found = {int(str(k)): LeaseState(bool(h), bool(w)) for k, h, w in await cur.fetchall()}
    return {key: found.get(key, LeaseState(held=False, waiting=False)) for key in keys}


async def _connect(url: str) -> Conn:
    return await psycopg.AsyncConnection.connect(
        url,
        autocommit=True,
        connect_timeout=CONNECT_TIMEOUT_S,
    )


class OwnLease:
    """This shard's lease, taken before it consumes anything and held while it runs.

    While an adopter runs the index, taking it waits, and waiting in `pg_advisory_lock` is
    itself the return request: the adopter sees a waiter in pg_locks, flushes, disconnects
    its MQTT client and releases the lease.
    """

    def __init__(self, database_url: str, key: int, *, poll_s: float) -> None:
        self._url = database_url
        self._key = key
        self._poll_s = poll_s
        self._conn: Conn | None = None

    async def acquire(self) -> None:
        """Block until the lease is ours (retrying while the database is away)."""
        while True:
            try:
                conn = await _connect(self._url)
            except psycopg.Error as exc:
                logger.warning("shard lease: database unavailable (%r); retrying", exc)
                await asyncio.sleep(self._poll_s)
                continue
            try:
                cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,))
                row = await cur.fetchone()
                if not (row and row[0]):
                    logger.warning("shard lease held by an adopter: asking for it back, waiting")
                    await conn.execute("SELECT pg_advisory_lock(%s)", (self._key,))
            except psycopg.Error as exc:
                logger.warning("shard lease: %r; retrying", exc)
                with contextlib.suppress(psycopg.Error):
                    await conn.close()
                await asyncio.sleep(self._poll_s)
                continue
            except BaseException:
                with contextlib.suppress(psycopg.Error):
                    await conn.close()
                raise
            logger.info("shard lease taken")
            self._conn = conn
            return

    async def keep(self, on_lost: Callable[[], None]) -> None:
        """Check the session every poll; re-take the lease after a database outage.

        If another shard took it meanwhile (the outage outlasted the grace), `on_lost` is
        called: this process must stop consuming, its index now runs elsewhere.
        """
        failing = False
        while True:
            await asyncio.sleep(self._poll_s)
            try:
                async with asyncio.timeout(CHECK_TIMEOUT_S):
                    if self._conn is None or self._conn.closed:
                        self._conn = await _connect(self._url)
                        cur = await self._conn.execute(
                            "SELECT pg_try_advisory_lock(%s)", (self._key,)
                        )
                        row = await cur.fetchone()
                        if not (row and row[0]):
                            logger.error("shard lease lost to an adopter: stopping")
                            on_lost()
                            return
                        logger.info("shard lease taken again")
                    else:
                        await self._conn.execute("SELECT 1")
                failing = False
            except (psycopg.Error, TimeoutError) as exc:
                (logger.debug if failing else logger.warning)("shard lease check: %r", exc)
                failing = True
                await self.close()

    async def close(self) -> None:
        """Release the lease (closing the session)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                await conn.close()


class Adoption(Protocol):
    """One adopted index while it runs here (collector.adopt builds it)."""

    async def run(self) -> None:
        """Consume the index's MQTT session until `hand_back`."""

    async def hand_back(self) -> None:
        """Stop consuming and flush what was taken; `run` then leaves the session."""


Adopt = Callable[[int], Awaitable[Adoption]]


@dataclass(slots=True)
class _Held:
    conn: Conn
    adoption: Adoption
    task: asyncio.Task[None]


@dataclass(slots=True)
class Takeover:
    """Watches the other shards' leases; adopts an index free for `grace_s`, hands it back."""

    database_url: str
    own: int
    keys: Mapping[int, int]  # index → lease key, every shard of the deployment
    adopt: Adopt
    grace_s: float
    poll_s: float
    clock: Callable[[], float] = field(default=lambda: asyncio.get_running_loop().time())
    on_change: Callable[[frozenset[int]], None] = lambda _adopted: None
    _held: dict[int, _Held] = field(default_factory=dict)
    _free_since: dict[int, float] = field(default_factory=dict)

    def adopted(self) -> frozenset[int]:
        """The indices run here besides this shard's own."""
        return frozenset(self._held)

    async def run(self) -> None:
        """Watch until cancelled; hand every adopted index back on the way out."""
        try:
            while True:
                try:
                    conn = await _connect(self.database_url)
                    try:
                        while True:
                            await self._tick(conn)
                            await asyncio.sleep(self.poll_s)
                    finally:
                        with contextlib.suppress(psycopg.Error):
                            await conn.close()
                except (psycopg.Error, TimeoutError) as exc:
                    logger.warning("takeover watch: %r", exc)
                except Exception:
                    # a failed adoption must not take this shard down too: it keeps its own
                    # stations, and the watch starts over
                    logger.exception("takeover watch failed")
                self._free_since.clear()  # an outage says nothing about a lease
                await asyncio.sleep(self.poll_s)
        finally:
            for index in list(self._held):
                await asyncio.shield(self._release(index))

    async def _tick(self, conn: Conn) -> None:
        others = {i: k for i, k in self.keys.items() if i != self.own}
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            states = await lease_states(conn, list(others.values()))
        now = self.clock()
        for index, key in others.items():
            held = self._held.get(index)
            if held is not None and not await self._alive(held):
                # the adopted consumer or its lease session ended: stop running the index,
                # someone else may hold its lease now
                await self._release(index)
                held = None
            decision, since = decide(
                states[key],
                adopted=held is not None,
                free_since=self._free_since.get(index),
                now=now,
                grace=self.grace_s,
            )
            if since is None:
                self._free_since.pop(index, None)
            else:
                self._free_since[index] = since
            if decision is Decision.ADOPT:
                await self._take(index, key)
            elif decision is Decision.HAND_BACK:
                logger.info("shard %d is back: handing its index back", index)
                await self._release(index)

    async def _alive(self, held: _Held) -> bool:
        if held.task.done():
            return False
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                await held.conn.execute("SELECT 1")
        except (psycopg.Error, TimeoutError) as exc:
            logger.warning("adopted shard lease session lost: %r", exc)
            return False
        return True

    async def _take(self, index: int, key: int) -> None:
        conn = await _connect(self.database_url)
        cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (key,))
        row = await cur.fetchone()
        if not (row and row[0]):
            await conn.close()  # another live shard was quicker
            return
        logger.warning("shard %d's lease expired: adopting its index", index)
        try:
            adoption = await self.adopt(index)
        except BaseException:
            await conn.close()
            raise
        task = asyncio.get_running_loop().create_task(adoption.run())
        self._held[index] = _Held(conn, adoption, task)
        self._free_since.pop(index, None)
        self.on_change(self.adopted())

    async def _release(self, index: int) -> None:
        held = self._held.pop(index, None)
        if held is None:
            return
        try:
            await held.adoption.hand_back()
            done, _ = await asyncio.wait({held.task}, timeout=CHECK_TIMEOUT_S)
            if not done:
                held.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await held.task
            elif not held.task.cancelled() and held.task.exception() is not None:
                logger.error("shard %d's consumer failed: %r", index, held.task.exception())
        finally:
            # only now may the owner (or another adopter) consume the index's session
            with contextlib.suppress(psycopg.Error):
                await held.conn.close()
            self.on_change(self.adopted())
            logger.info("shard %d's index handed back", index)
