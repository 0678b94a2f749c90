"""The MQTT connection: persistent session, QoS 1 subscriptions, reconnect, acks after commit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiomqtt
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from collector.acks import Ack, AckSequencer
from collector.config import MqttSettings
from collector.mqttflow import ReadGate

logger = logging.getLogger(__name__)

Handler = Callable[[str, bytes, Ack], Awaitable[None]]
# Messages handled in a row before the pump yields to the event loop: aiomqtt's iterator
# yielded after every one (a Task per message); this bounds how long an analytics stage or
# a writer waits behind a burst (~10 ms of single-reading messages).
YIELD_EVERY = 32


class MqttUnavailableError(Exception):
    """Publishing is impossible right now (not connected); retry later."""


class _SessionLostError(Exception):
    """An established session ended; reconnect at once, with a fresh backoff."""


def _unsupported_protocol(exc: MqttConnectError) -> bool:
    # CONNACK 0x84 (MQTT 5 "Unsupported Protocol Version") or 1 (3.1.1 "unacceptable
    # protocol version").
    rc = exc.rc
    value = rc.value if isinstance(rc, ReasonCode) else rc
    return value in (1, 0x84)


@contextlib.asynccontextmanager
async def _connected(client: aiomqtt.Client) -> AsyncIterator[aiomqtt.Client]:
    """Leave an already-entered client (aiomqtt's context manager, split for the fallback)."""
    try:
        yield client
    finally:
        await client.__aexit__(None, None, None)


class MqttSource:
    """Consumes the feeds and publishes alert transitions over one broker connection.

    Messages are acknowledged (PUBACK) only when the handler's `done` callback runs, i.e.
    after the writer committed them, in arrival order. With the persistent session
    (clean start off, session expiry) the broker keeps unacknowledged and new messages
    while we are away and sends them again on reconnect; the database drops the repeats.
    """

    def __init__(
        self,
        settings: MqttSettings,
        subscriptions: list[str],
        handler: Handler,
        *,
        on_state: Callable[[bool], None] = lambda _connected: None,
        on_pause: Callable[[], None] = lambda: None,
        unsubscriptions: list[str] | None = None,
    ) -> None:
        self._settings = settings
        self._subscriptions = subscriptions
        # Filters a persistent session may still hold from an earlier configuration (a
        # shard's other subscription mode or station set); dropped after subscribing.
        self._unsubscriptions = unsubscriptions or []
        self._handler = handler
        self._on_state = on_state
        self._on_pause = on_pause
        self._client: aiomqtt.Client | None = None
        self._gate: ReadGate | None = None
        self._generation = 0
        self._protocol = (
            aiomqtt.ProtocolVersion.V311
            if settings.protocol == "3.1.1"
            else aiomqtt.ProtocolVersion.V5
        )
        self._protocol_settled = settings.protocol != "auto"

    @property
    def connected(self) -> bool:
        """Whether a session is established right now."""
        return self._client is not None

    @property
    def incoming_depth(self) -> int:
        """Messages received from the broker and not yet taken by the handler."""
        gate = self._gate
        return len(gate) if gate is not None and self._client is not None else 0

    def _new_client(self) -> aiomqtt.Client:
        s = self._settings
        session: dict[str, Any]
        if self._protocol is aiomqtt.ProtocolVersion.V5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = int(s.session_expiry.total_seconds())
            props.ReceiveMaximum = s.receive_maximum
            session = {"clean_start": False, "properties": props}
        else:
            # MQTT 3.1.1: a persistent session is "clean session" off; the broker decides
            # how long it lives (Mosquitto: persistent_client_expiration).
            session = {"clean_session": False}
        tls_context = None
        if s.tls:
            tls_context = ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
            if s.tls_insecure:
                tls_context.check_hostname = False
                tls_context.verify_mode = ssl.CERT_NONE
        gate = ReadGate(s.incoming_buffer, self._on_pause)
        client = aiomqtt.Client(
            s.host,
            s.port,
            username=s.username,
            password=s.password,
            identifier=s.client_id,
            protocol=self._protocol,
            keepalive=int(s.keepalive.total_seconds()),
            **session,
            tls_context=tls_context,
            # Never discarding (aiomqtt's queue stays unused: the gate queues the messages
            # and pauses socket reads instead, see ReadGate).
            max_queued_incoming_messages=0,
            timeout=10,
        )
        # aiomqtt 2.x has no manual-ack option of its own; paho's is the documented switch
        # (paho Client.manual_ack_set): PUBACK only when we call ack() after the commit.
        client._client.manual_ack_set(True)
        gate.attach(client)
        self._gate = gate
        return client

    async def run(self, stop: asyncio.Event, drained: asyncio.Event) -> None:
        """Consume until `stop`; keep the session open until `drained` (acks sent), then leave."""
        while not stop.is_set():
            retrying = AsyncRetrying(
                retry=retry_if_exception_type(aiomqtt.MqttError),
                wait=wait_exponential_jitter(
                    multiplier=self._settings.reconnect_initial.total_seconds(),
                    max=self._settings.reconnect_max.total_seconds(),
                    jitter=self._settings.reconnect_initial.total_seconds(),
                ),
                before_sleep=self._log_retry,
            )
            try:
                async for attempt in retrying:
                    with attempt:
                        await self._session(stop, drained)
            except _SessionLostError:
                # Reconnect at once, but never spin if sessions keep dropping right away.
                await asyncio.sleep(self._settings.reconnect_initial.total_seconds())

    def _maybe_switch_protocol(self, exc: aiomqtt.MqttError) -> None:
        """In `auto` mode, try the other protocol version after a failed first connection.

        Some brokers answer an MQTT 5 CONNECT with "unsupported protocol version"; others
        (amqtt) just drop it, which looks like a timeout. Until one version has worked,
        failed attempts alternate between 5 and 3.1.1; afterwards the working one is kept.
        """
        if self._settings.protocol != "auto" or self._protocol_settled:
            return
        refused = isinstance(exc, MqttConnectError) and _unsupported_protocol(exc)
        if isinstance(exc, MqttConnectError) and not refused:
            return  # refused for another reason (credentials): the version is not the issue
        v5 = aiomqtt.ProtocolVersion.V5
        self._protocol = aiomqtt.ProtocolVersion.V311 if self._protocol is v5 else v5
        logger.warning("MQTT connect failed (%s); trying MQTT %s", exc, self._protocol_name)

    @property
    def _protocol_name(self) -> str:
        return "5" if self._protocol is aiomqtt.ProtocolVersion.V5 else "3.1.1"

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        logger.warning(
            "MQTT broker %s:%d unreachable (%s); retrying in %.1fs",
            self._settings.host,
            self._settings.port,
            exc,
            delay,
        )

    async def _session(self, stop: asyncio.Event, drained: asyncio.Event) -> None:
        client = self._new_client()
        try:
            await client.__aenter__()
        except aiomqtt.MqttError as exc:
            self._maybe_switch_protocol(exc)
            raise
        self._protocol_settled = True
        async with _connected(client):
            self._generation += 1
            self._client = client
            self._on_state(True)
            logger.info(
                "connected to MQTT broker %s:%d (MQTT %s)",
                self._settings.host,
                self._settings.port,
                self._protocol_name,
            )
            try:
                for topic in self._subscriptions:
                    await client.subscribe(topic, qos=1)
                if self._unsubscriptions:
                    await client.unsubscribe(self._unsubscriptions)
                await self._consume(client, stop)
                # Stopping: keep the connection until the writers committed and acked
                # what was taken, so nothing is redelivered needlessly.
                await drained.wait()
            except aiomqtt.MqttError as exc:
                logger.warning("MQTT session lost: %s", exc)
                raise _SessionLostError from exc
            finally:
                self._client = None
                self._on_state(False)

    async def _consume(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        sequencer = AckSequencer()
        generation = self._generation
        assert self._gate is not None  # noqa: S101 - set with the client by _new_client
        consumer = asyncio.create_task(self._pump(client, self._gate, sequencer, generation))
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({consumer, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not consumer.done():
                # A message whose handling is interrupted was not acknowledged: the broker
                # sends it again on the next connection.
                consumer.cancel()
            await asyncio.gather(consumer, stopper, return_exceptions=True)
        if consumer.done() and not consumer.cancelled() and consumer.exception() is not None:
            raise consumer.exception()  # type: ignore[misc]

    async def _pump(
        self, client: aiomqtt.Client, gate: ReadGate, sequencer: AckSequencer, gen: int
    ) -> None:
        """Hand every queued message to the handler, in order, until the connection ends."""
        disconnected: asyncio.Future[None] = client._disconnected
        handler = self._handler
        since_yield = 0
        while True:
            item = gate.take()
            if item is None:
                # As aiomqtt's iterator: what was received is handled before the end.
                if disconnected.done():
                    msg = "Disconnected during message iteration"
                    raise aiomqtt.MqttError(msg) from disconnected.exception()
                since_yield = 0
                await gate.wait(disconnected)
                continue
            topic, payload, mid, qos = item
            await handler(topic, payload, sequencer.issue(self._ack_for(client, mid, qos, gen)))
            since_yield += 1
            if since_yield >= YIELD_EVERY:
                # The handler rarely suspends: let the stages and writers run in between.
                since_yield = 0
                await asyncio.sleep(0)

    def _ack_for(self, client: aiomqtt.Client, mid: int, qos: int, gen: int) -> Ack:
        def ack() -> None:
            # An ack for a message of an earlier connection must not be sent on this one:
            # the message id may have been reused. The broker redelivers it instead.
            if qos > 0 and gen == self._generation and self._client is client:
                client._client.ack(mid, qos)

        return ack

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1) -> None:
        """Publish one message (not retained).

        Raises:
            MqttUnavailableError: not connected, or the broker did not take it.
        """
        client = self._client
        if client is None:
            raise MqttUnavailableError("not connected to the MQTT broker")
        try:
            await client.publish(topic, payload, qos=qos, retain=False)
        except aiomqtt.MqttError as exc:
            raise MqttUnavailableError(str(exc)) from exc
