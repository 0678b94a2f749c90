"""The shard leader: whoever holds a PostgreSQL advisory lock, with standbys polling for it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Callable

import psycopg

logger = logging.getLogger(__name__)

# Seconds libpq waits for the database when (re)connecting the lock session.
CONNECT_TIMEOUT_S = 5
# A lock check slower than this counts as a lost session: a leader behind a dead network
# path must step down instead of waiting for TCP to notice.
CHECK_TIMEOUT_S = 5.0


def leader_lock_key(topic_prefix: str) -> int:
    """The advisory lock id of a deployment (its topic prefix): stable, fits a bigint."""
    return zlib.crc32(f"kuzet-shard-leader:{topic_prefix}".encode())


class LeaderLock:
    """Holds, or waits for, a session-level advisory lock on a connection of its own.

    PostgreSQL releases the lock when the session ends, so the lead passes on when the
    leader exits, is killed, or loses the database: the standbys try the lock every
    `poll_s` and the first to get it leads. The leader checks its session as often and
    steps down the moment the check fails (it may not know whether it still holds the
    lock). The database stays the arbiter of every alert transition, so a moment with two
    leaders cannot notify twice; it can at most duplicate an upsert.
    """

    def __init__(
        self,
        database_url: str,
        key: int,
        *,
        poll_s: float,
        on_change: Callable[[bool], None] = lambda _held: None,
    ) -> None:
        self._url = database_url
        self._key = key
        self._poll_s = poll_s
        self.on_change = on_change
        self._held = False
        self._failing = False

    @property
    def held(self) -> bool:
        """Whether this replica leads right now."""
        return self._held

    def _set(self, held: bool) -> None:  # noqa: FBT001 - internal state switch
        if held != self._held:
            self._held = held
            logger.info("shard lead %s", "taken" if held else "released")
            self.on_change(held)

    async def run(self) -> None:
        """Keep trying for the lock, and keep checking it once held, until cancelled."""
        try:
            while True:
                try:
                    await self._session()
                except (psycopg.Error, TimeoutError) as exc:
                    # once per outage, not once per poll
                    log = logger.debug if self._failing else logger.warning
                    log("leader lock session failed: %r", exc)
                    self._failing = True
                self._set(False)
                await asyncio.sleep(self._poll_s)
        finally:
            self._set(False)

    async def _session(self) -> None:
        conn = await psycopg.AsyncConnection.connect(
            self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
        )
        try:
            while True:
                async with asyncio.timeout(CHECK_TIMEOUT_S):
                    if self._held:
                        await conn.execute("SELECT 1")
                    else:
                        cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,))
                        row = await cur.fetchone()
                        self._set(bool(row and row[0]))
                self._failing = False
                await asyncio.sleep(self._poll_s)
        finally:
            # Closing the session releases the lock at once (a clean stop hands over fast).
            with contextlib.suppress(psycopg.Error):
                await conn.close()
