"""Shard leases and takeover on a real PostgreSQL: adopt after the grace, hand back on return.

The adoption here is a recorder of the calls the watcher makes (the real one, an MQTT
consumer, is exercised by test_scale_takeover.py); the leases and pg_locks are real.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from collector.takeover import Adoption, OwnLease, Takeover, lease_key
from tests.integration.harness import fetch_all, wait_for

pytestmark = pytest.mark.integration

POLL_S = 0.1
GRACE_S = 0.5


class Recorded:
    """An adoption that runs until handed back, and says what happened to it."""

    def __init__(self, index: int, log: list[str]) -> None:
        self.index = index
        self.log = log
        self.back = asyncio.Event()

    async def run(self) -> None:
        self.log.append(f"run {self.index}")
        await self.back.wait()

    async def hand_back(self) -> None:
        self.log.append(f"hand back {self.index}")
        self.back.set()


@contextlib.asynccontextmanager
async def watching(takeover: Takeover) -> AsyncIterator[None]:
    task = asyncio.create_task(takeover.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def watcher(database_url: str, prefix: str, log: list[str]) -> Takeover:
    """Shard 0 of 2, watching shard 1's lease."""

    async def adopt(index: int) -> Adoption:
        log.append(f"adopt {index}")
        return Recorded(index, log)

    keys = {i: lease_key(prefix, i) for i in range(2)}
    return Takeover(database_url, 0, keys, adopt, grace_s=GRACE_S, poll_s=POLL_S)


async def test_adopt_after_the_grace_and_hand_back_when_the_owner_returns(
    database_url: str, topic_prefix: str
) -> None:
    log: list[str] = []
    takeover = watcher(database_url, topic_prefix, log)
    owner = OwnLease(database_url, lease_key(topic_prefix, 1), poll_s=POLL_S)
    await owner.acquire()
    async with watching(takeover):
        # the owner holds its lease: never adopted, however long
        await asyncio.sleep(GRACE_S * 3)
        assert takeover.adopted() == frozenset()
        # the owner dies: its session ends, the lease is free; adopted after the grace
        loop = asyncio.get_running_loop()
        died = loop.time()
        await owner.close()

        async def adopted() -> bool:
            return takeover.adopted() == {1} and "run 1" in log

        await wait_for(adopted, timeout=10, what="the index to be adopted")
        assert loop.time() - died >= GRACE_S
        # the owner returns: it waits for the lease, and that wait makes the adopter hand back
        returning = OwnLease(database_url, lease_key(topic_prefix, 1), poll_s=POLL_S)
        await asyncio.wait_for(returning.acquire(), timeout=10)
        assert takeover.adopted() == frozenset()
        await asyncio.sleep(GRACE_S * 3)
        await returning.close()
    # handed back before the owner got the lease: never two holders
    assert log == ["adopt 1", "run 1", "hand back 1"]


async def test_a_shard_whose_lease_was_adopted_meanwhile_is_told_to_stop(
    database_url: str, topic_prefix: str
) -> None:
    log: list[str] = []
    takeover = watcher(database_url, topic_prefix, log)
    # the owner checks its session rarely (a long database outage, from its point of view)
    owner = OwnLease(database_url, lease_key(topic_prefix, 1), poll_s=GRACE_S * 4)
    await owner.acquire()
    lost = asyncio.Event()
    keeping = asyncio.create_task(owner.keep(lost.set))
    try:
        async with watching(takeover):
            # the database ends the owner's session; the adopter gets the lease first
            rows = await fetch_all(
                database_url,
                "SELECT pg_terminate_backend(pid) FROM pg_locks"
                " WHERE locktype = 'advisory' AND objid = %s AND granted",
                (lease_key(topic_prefix, 1),),
            )
            assert rows == [(True,)]
            await asyncio.wait_for(lost.wait(), timeout=10)
            assert takeover.adopted() == {1}
    finally:
        keeping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeping
        await owner.close()


async def test_a_stopping_adopter_hands_back_and_frees_the_lease(
    database_url: str, topic_prefix: str
) -> None:
    log: list[str] = []
    takeover = watcher(database_url, topic_prefix, log)
    async with watching(takeover):
        # nobody holds shard 1's lease: adopted after the grace

        async def adopted() -> bool:
            return takeover.adopted() == {1}

        await wait_for(adopted, timeout=10, what="the index to be adopted")
    # the adopter stopped (SIGTERM: the watcher is cancelled): handed back, lease free at once
    assert log == ["adopt 1", "run 1", "hand back 1"]
    owner = OwnLease(database_url, lease_key(topic_prefix, 1), poll_s=POLL_S)
    await asyncio.wait_for(owner.acquire(), timeout=2)
    await owner.close()
