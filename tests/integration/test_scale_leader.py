"""The shard leader lock against a real PostgreSQL: one holder, fast handover, step-down."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from collector.leader import LeaderLock, leader_lock_key
from tests.integration.harness import fetch_all, wait_for

pytestmark = pytest.mark.integration

POLL_S = 0.1


@contextlib.asynccontextmanager
async def running(lock: LeaderLock) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(lock.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_one_leader_and_handover_when_it_stops(database_url: str, topic_prefix: str) -> None:
    key = leader_lock_key(topic_prefix)
    changes: list[tuple[str, bool]] = []
    locks = {
        name: LeaderLock(
            database_url,
            key,
            poll_s=POLL_S,
            on_change=lambda held, name=name: changes.append((name, held)),
        )
        for name in ("a", "b")
    }
    async with running(locks["a"]) as task_a, running(locks["b"]) as task_b:

        async def one_leads() -> bool:
            return locks["a"].held != locks["b"].held

        await wait_for(one_leads, timeout=10, what="a leader")
        # stable: the standby keeps polling but never gets it while the leader lives
        await asyncio.sleep(10 * POLL_S)
        assert locks["a"].held != locks["b"].held
        leader, standby = ("a", "b") if locks["a"].held else ("b", "a")
        # a clean stop closes the session: the standby leads within a few polls
        task = task_a if leader == "a" else task_b
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

        async def standby_leads() -> bool:
            return locks[standby].held and not locks[leader].held

        await wait_for(standby_leads, timeout=5, what="the standby to take over")
    assert changes[0] == (leader, True)
    assert (leader, False) in changes
    assert (standby, True) in changes
    assert changes[-1] == (standby, False)  # released on exit


async def test_leader_steps_down_when_its_session_is_lost(
    database_url: str, topic_prefix: str
) -> None:
    key = leader_lock_key(topic_prefix)
    a = LeaderLock(database_url, key, poll_s=POLL_S)
    async with running(a):

        async def leads() -> bool:
            return a.held

        await wait_for(leads, timeout=10, what="the lock")
        # the database ends the session (a failover, a network cut, an admin): the lock is
        # gone on the server, so the holder must not go on believing it leads
        rows = await fetch_all(
            database_url,
            "SELECT pg_terminate_backend(pid) FROM pg_locks"
            " WHERE locktype = 'advisory' AND objid = %s AND granted",
            (key,),
        )
        assert rows == [(True,)]

        async def stepped_down() -> bool:
            return not a.held

        await wait_for(stepped_down, timeout=5, what="the holder to step down")
        # and it competes again: alone, it takes the lock back on a new session
        await wait_for(leads, timeout=10, what="the lock again")
