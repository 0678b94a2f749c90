"""Incoming MQTT messages: a queue that stops reading the socket instead of discarding."""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

import aiomqtt

if TYPE_CHECKING:
    import paho.mqtt.client as paho

logger = logging.getLogger(__name__)

# One received PUBLISH: topic, payload, packet id, QoS.
Incoming: TypeAlias = tuple[str, bytes, int, int]


class ReadGate:
    """The incoming queue of one connection; pauses reading its socket above a mark.

    aiomqtt can bound its incoming queue only by discarding on overflow, and a discarded
    QoS 1 message is never acknowledged: the broker resends it on the next connection,
    all at once, into the same overflow. Instead the queue is unbounded and this gate
    takes the socket out of the event loop at `high` queued messages and puts it back at
    `low`; the backlog then waits in the broker's session queue and TCP window, where it
    belongs. Writes (PUBACKs, pings) keep flowing while reads are paused.

    The queue is this gate's own deque, filled by paho's `on_message` callback: aiomqtt's
    message iterator costs a Task, an `asyncio.wait` and a `Message`/`Topic` per message,
    about a tenth of the daemon's CPU per single-reading message (docs/performance.md).

    Reading paused for longer than about twice the keepalive loses the connection (no
    PINGRESP is read); the client reconnects and the broker redelivers what was not
    acknowledged, which the database deduplicates.
    """

    def __init__(self, high: int, on_pause: Callable[[], None] = lambda: None) -> None:
        if high < 2:  # noqa: PLR2004 - the low mark must be below the high one
            raise ValueError("high-water mark must be at least 2")
        self.high = high
        self.low = high // 2
        self._on_pause = on_pause
        self._client: aiomqtt.Client | None = None
        self._paused_fd: int | None = None
        self._pending: collections.deque[Incoming] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        """Messages received and not yet taken."""
        return len(self._pending)

    @property
    def paused(self) -> bool:
        """Whether socket reads are paused now."""
        return self._paused_fd is not None

    def attach(self, client: aiomqtt.Client) -> None:
        """Take over `client`'s incoming messages (aiomqtt's own queue stays empty)."""
        self._client = client
        # aiomqtt 2.x has no hook for this; its paho client is the documented escape hatch
        # (the same one used for manual acknowledgements).
        client._client.on_message = self._on_message

    def _on_message(self, _client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
        """Queue a message (paho's callback, from a socket read); pause when full."""
        # bytes() returns a bytes payload itself; only a bytearray is copied.
        payload = bytes(message.payload)
        self._pending.append((message.topic, payload, message.mid, message.qos))
        if len(self._pending) >= self.high:
            self.pause()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def take(self) -> Incoming | None:
        """The oldest queued message, or None; reading resumes at the low mark."""
        if not self._pending:
            return None
        item = self._pending.popleft()
        if self._paused_fd is not None and len(self._pending) <= self.low:
            self.resume()
        return item

    async def wait(self, disconnected: asyncio.Future[None]) -> None:
        """Return once a message is queued or `disconnected` is done."""
        if self._pending or disconnected.done():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        try:
            await asyncio.wait((waiter, disconnected), return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._waiter = None
            waiter.cancel()

    def _paho(self) -> paho.Client | None:
        # aiomqtt 2.x exposes no flow control either: the paho client again.
        return self._client._client if self._client is not None else None

    def pause(self) -> None:
        """Stop reading the socket (called from paho's read, via `_on_message`)."""
        inner = self._paho()
        sock = inner.socket() if inner is not None else None
        if self.paused or sock is None:
            return
        fd = sock.fileno()
        if fd < 0:
            return
        asyncio.get_running_loop().remove_reader(fd)
        self._paused_fd = fd
        self._on_pause()
        logger.debug("MQTT reads paused at %d queued messages", self.high)

    def resume(self) -> None:
        """Read the socket again, if the connection still exists."""
        fd, self._paused_fd = self._paused_fd, None
        inner = self._paho()
        sock = inner.socket() if inner is not None else None
        if fd is None or sock is None or sock.fileno() != fd:
            return  # closed meanwhile: aiomqtt already unregistered it
        loop = asyncio.get_running_loop()
        loop.add_reader(fd, self._read)
        # A TLS socket may hold decrypted bytes the selector cannot see: read once now.
        loop.call_soon(self._read)

    def _read(self) -> None:
        """Read the socket as aiomqtt's callback (Client._on_socket_open) does; used on resume."""
        inner = self._paho()
        if inner is None or self._client is None or self.paused:
            return
        try:
            while True:
                inner.loop_read()
                sock = inner.socket()
                pending = getattr(sock, "pending", None)
                if self.paused or pending is None or pending() <= 0:
                    break
        except Exception as exc:  # noqa: BLE001 - handed to aiomqtt, which ends the session
            disconnected = self._client._disconnected
            if not disconnected.done():
                disconnected.set_exception(exc)
