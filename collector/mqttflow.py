"""Flow control for incoming MQTT messages: stop reading the socket instead of discarding."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import aiomqtt

if TYPE_CHECKING:
    import paho.mqtt.client as paho

logger = logging.getLogger(__name__)


class ReadGate:
    """Pauses reading one connection's socket while its incoming queue is above a mark.

    aiomqtt can bound its incoming queue only by discarding on overflow, and a discarded
    QoS 1 message is never acknowledged: the broker resends it on the next connection,
    all at once, into the same overflow. Instead the queue is unbounded and this gate
    takes the socket out of the event loop at `high` queued messages and puts it back at
    `low`; the backlog then waits in the broker's session queue and TCP window, where it
    belongs. Writes (PUBACKs, pings) keep flowing while reads are paused.

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

    @property
    def paused(self) -> bool:
        """Whether socket reads are paused now."""
        return self._paused_fd is not None

    def queue_type(self) -> type[asyncio.Queue[aiomqtt.Message]]:
        """An asyncio.Queue subclass reporting its depth to this gate (aiomqtt `queue_type`)."""
        gate = self

        class _GatedQueue(asyncio.Queue[aiomqtt.Message]):
            def put_nowait(self, item: aiomqtt.Message) -> None:
                super().put_nowait(item)
                if self.qsize() >= gate.high:
                    gate.pause()

            def get_nowait(self) -> aiomqtt.Message:
                # asyncio.Queue.get() ends in get_nowait(), so this sees every removal.
                item = super().get_nowait()
                if self.qsize() <= gate.low:
                    gate.resume()
                return item

        return _GatedQueue

    def attach(self, client: aiomqtt.Client) -> None:
        """Control `client` (created with `queue_type()`)."""
        self._client = client

    def _paho(self) -> paho.Client | None:
        # aiomqtt 2.x exposes no flow control; its paho client is the documented escape hatch
        # (the same one used for manual acknowledgements).
        return self._client._client if self._client is not None else None

    def pause(self) -> None:
        """Stop reading the socket (called from aiomqtt's read callback via the queue)."""
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
