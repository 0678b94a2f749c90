"""`ReadGate` as the incoming queue: order, depth, wake-up, and the end of a connection."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from collector.mqttflow import ReadGate


@dataclass
class FakeMessage:
    """The fields of paho's MQTTMessage that the gate reads."""

    topic: str
    payload: bytes | bytearray
    mid: int
    qos: int = 1


def deliver(gate: ReadGate, *messages: FakeMessage) -> None:
    for message in messages:
        gate._on_message(None, None, message)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        # bytes are queued as they are
        (b'{"pm25": 1}', b'{"pm25": 1}'),
        # a bytearray becomes bytes (the handler's type)
        (bytearray(b"[1]"), b"[1]"),
        # an empty payload stays empty
        (b"", b""),
    ],
)
def test_messages_come_out_in_order_as_tuples(payload: bytes | bytearray, expected: bytes) -> None:
    gate = ReadGate(high=10)
    deliver(gate, FakeMessage("kuzet/air/A", payload, 1), FakeMessage("kuzet/air/B", b"x", 2, 0))
    assert len(gate) == 2
    first = gate.take()
    assert first == ("kuzet/air/A", expected, 1, 1)
    assert first is not None
    assert type(first[1]) is bytes
    assert gate.take() == ("kuzet/air/B", b"x", 2, 0)
    assert gate.take() is None
    assert len(gate) == 0


def test_wait_returns_when_a_message_arrives() -> None:
    # the pump sleeps on one future while the queue is empty; a message wakes it
    async def scenario() -> None:
        gate = ReadGate(high=10)
        disconnected: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = asyncio.create_task(gate.wait(disconnected))
        await asyncio.sleep(0)
        assert not waiter.done()
        deliver(gate, FakeMessage("kuzet/air/A", b"{}", 7))
        await asyncio.wait_for(waiter, 1.0)
        assert gate.take() == ("kuzet/air/A", b"{}", 7, 1)

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "queued",
    [
        # the connection ended with nothing queued
        0,
        # the connection ended with messages still queued: wait returns at once
        2,
    ],
)
def test_wait_returns_when_the_connection_ends(queued: int) -> None:
    async def scenario() -> None:
        gate = ReadGate(high=10)
        deliver(gate, *(FakeMessage("kuzet/air/A", b"{}", i) for i in range(queued)))
        disconnected: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = asyncio.create_task(gate.wait(disconnected))
        await asyncio.sleep(0)
        disconnected.set_result(None)
        await asyncio.wait_for(waiter, 1.0)
        assert len(gate) == queued

    asyncio.run(scenario())


def test_wait_leaves_no_waiter_behind_when_cancelled() -> None:
    # a cancelled pump (shutdown) must not leave a future that a later message resolves
    async def scenario() -> None:
        gate = ReadGate(high=10)
        disconnected: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = asyncio.create_task(gate.wait(disconnected))
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert gate._waiter is None
        deliver(gate, FakeMessage("kuzet/air/A", b"{}", 1))
        assert len(gate) == 1

    asyncio.run(scenario())
