"""An in-process amqtt broker for tests, served from its own thread and event loop.

Used when mosquitto is not on PATH (or KUZET_TEST_BROKER=amqtt). amqtt 0.12 speaks MQTT 3.1.1
only: an MQTT 5 CONNECT is refused with "unsupported protocol version".
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from amqtt.broker import Broker
from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session

from collector.embedded.mqtt import MqttBroker, MqttEndpoint, supports_v5
from collector.embedded.processes import (
    LOOPBACK,
    PortInUseError,
    ServiceStartError,
    start_on_free_port,
)

logger = logging.getLogger(__name__)


# amqtt ships no type information, so its classes are Any to mypy.
class AcceptAllAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]
    """Accept every client *without* marking its session anonymous.

    amqtt's own AnonymousAuthPlugin flags sessions as anonymous, and amqtt neither keeps
    anonymous sessions nor queues QoS 1 messages for them while offline. The daemon relies on
    a persistent session (clean session off), as mosquitto with ``allow_anonymous`` provides.
    """

    @dataclass
    class Config:
        """No options."""

    async def authenticate(self, *, session: Session) -> bool:
        """Accept the client.

        Args:
            session: The connecting client's session.

        Returns:
            Always True.
        """
        return True


def _config(port: int) -> dict[str, object]:
    """Return the broker configuration: one TCP listener on loopback, everyone admitted."""
    plugin = f"{AcceptAllAuthPlugin.__module__}.{AcceptAllAuthPlugin.__qualname__}"
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{LOOPBACK}:{port}"}},
        # Only our auth plugin: the default set adds $SYS publishing and packet logging.
        "plugins": {plugin: {}},
    }


class ThreadedAmqtt:
    """An amqtt broker running in a daemon thread with its own event loop.

    Tests get a new event loop per test function; a broker bound to one of those loops
    would die with it, so it lives in a thread of its own for the whole session.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name=f"amqtt-{port}", daemon=True)

    def start(self, timeout: float) -> None:
        """Start the broker and wait until it listens.

        Args:
            timeout: Seconds to wait.

        Raises:
            PortInUseError: The port was taken meanwhile.
            ServiceStartError: The broker failed or did not start in time.
        """
        self._thread.start()
        if not self._ready.wait(timeout):
            raise ServiceStartError(f"amqtt did not start within {timeout:.0f} s")
        if self._error is not None:
            cause = self._error.__cause__
            if isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE:
                raise PortInUseError("amqtt: port already in use") from self._error
            raise ServiceStartError(f"amqtt failed to start: {self._error}") from self._error

    def stop(self, timeout: float = 20.0) -> None:
        """Shut the broker down and join its thread.

        Args:
            timeout: Seconds to wait for the thread.
        """
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop closed between the check and the call
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("amqtt thread did not stop within %.0f s", timeout)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        broker = Broker(_config(self.port))
        await broker.start()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await broker.shutdown()


@contextlib.contextmanager
def private_amqtt(*, timeout: float = 30.0) -> Iterator[MqttBroker]:
    """Run an amqtt broker on 127.0.0.1 and a free port for the duration of the block.

    Args:
        timeout: Seconds it may take to listen.

    Yields:
        The running broker.
    """

    def start(port: int) -> ThreadedAmqtt:
        server = ThreadedAmqtt(port)
        try:
            server.start(timeout)
        except ServiceStartError:
            server.stop()
            raise
        return server

    server = start_on_free_port(start, what="amqtt")
    try:
        endpoint = MqttEndpoint(LOOPBACK, server.port)
        yield MqttBroker(
            url=f"mqtt://{LOOPBACK}:{server.port}",
            endpoint=endpoint,
            kind="amqtt",
            supports_v5=supports_v5(endpoint),
        )
    finally:
        server.stop()
