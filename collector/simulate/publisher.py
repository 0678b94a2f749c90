"""Publishing the simulated network to an MQTT broker (aiomqtt: MQTT 5, else MQTT 3.1.1).

Topics are `<prefix>/air/<id>`, `<prefix>/seismic/<id>` and `<prefix>/lake/<id>` (spec §3),
not retained. QoS 1 on every feed: at-least-once delivery into the daemon's persistent session,
whose database drops the rare duplicate (unique station and time); seismic included, because
a gap in a waveform costs the detector its LTA window, while 28 packets per second are nothing
for a broker to acknowledge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import aiomqtt
import numpy as np
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import ValidationError

from collector.config import Settings
from collector.models import Feed
from collector.simulate.common import DAY_S, HOUR_S, to_datetime
from collector.simulate.scenario import (
    SCENARIOS,
    Plan,
    ScenarioEvent,
    ScenarioOptions,
    make_timeline,
    plan,
)
from collector.simulate.streams import Outgoing, build_streams
from collector.stations import Station, Stations, load_stations

logger = logging.getLogger(__name__)

# CONNACK codes meaning "not this protocol version": 3.1.1's 1 and MQTT 5's 0x84.
_VERSION_REFUSED = frozenset({1, 0x84})


def _qos_1() -> Mapping[Feed, int]:
    return {Feed.AIR: 1, Feed.SEISMIC: 1, Feed.LAKE: 1}


@dataclass(frozen=True, slots=True)
class PublishOptions:
    """How `MqttPublisher` talks to the broker (shared by `kuzet simulate` and `kuzet replay`)."""

    qos: Mapping[Feed, int] = field(default_factory=_qos_1)
    # Publishes awaiting their PUBACK at once; beyond this the caller waits (backpressure).
    max_inflight: int = 256
    connect_timeout_s: float = 5.0
    drain_timeout_s: float = 10.0
    reconnect_max_s: float = 30.0


@dataclass(frozen=True, slots=True)
class SimOptions:
    """Tunables of a run besides the main arguments of `simulate`."""

    scenario: ScenarioOptions = field(default_factory=ScenarioOptions)
    qos: Mapping[Feed, int] = field(default_factory=_qos_1)
    # Wall-clock period of the publishing loop; seismic packets leave within one tick.
    tick_s: float = 0.1
    # Publishes awaiting their PUBACK at once; beyond this the loop waits (backpressure).
    max_inflight: int = 256
    connect_timeout_s: float = 5.0
    drain_timeout_s: float = 10.0
    reconnect_max_s: float = 30.0
    # Unbounded runs: simulated time catches up with the wall clock after this much wall time.
    horizon_s: float = HOUR_S
    max_history_s: float = 29 * DAY_S
    client_id: str | None = None

    @property
    def publish(self) -> PublishOptions:
        """The broker-side tunables, for `MqttPublisher`."""
        return PublishOptions(
            qos=self.qos,
            max_inflight=self.max_inflight,
            connect_timeout_s=self.connect_timeout_s,
            drain_timeout_s=self.drain_timeout_s,
            reconnect_max_s=self.reconnect_max_s,
        )


@dataclass(frozen=True, slots=True)
class SimulationReport:
    """What a run published. `messages` and `readings` count broker-acknowledged messages."""

    scenario: str
    seed: int
    protocol: str
    sim_start: datetime
    sim_end: datetime
    wall_seconds: float
    messages: Mapping[Feed, int]
    readings: Mapping[Feed, int]
    failed: Mapping[Feed, int]
    dropouts: int
    events: tuple[ScenarioEvent, ...]

    def summary(self) -> str:
        """One line for people."""
        parts = ", ".join(
            f"{feed.value} {self.messages[feed]} msgs/{self.readings[feed]} readings"
            for feed in Feed
        )
        return (
            f"scenario {self.scenario} (seed {self.seed}, MQTT {self.protocol}): {parts}; "
            f"{sum(self.failed.values())} failed, {self.dropouts} simulated dropouts; "
            f"simulated {self.sim_start.isoformat()} .. {self.sim_end.isoformat()} "
            f"in {self.wall_seconds:.1f} s"
        )


def _version_refused(exc: MqttConnectError) -> bool:
    rc = exc.rc
    return (rc.value if isinstance(rc, ReasonCode) else rc) in _VERSION_REFUSED


class MqttPublisher:
    """One client connection with the MQTT 5 → 3.1.1 fallback, and the publishing counters.

    Publishes `Outgoing` messages to `<prefix>/<feed>/<station_id>` (not retained), at most
    `max_inflight` unacknowledged at once. After a failed publish it is `broken`: the caller
    drains, reconnects and goes on (messages sent while broken count as `failed`).

    Args:
        settings: broker URL, client id and topic prefix (see `publisher_settings`).
        options: QoS per feed, backpressure and timeouts.
        role: who publishes, for the log lines ("simulator", "replay").
    """

    def __init__(
        self, settings: Settings, options: PublishOptions, *, role: str = "simulator"
    ) -> None:
        self._mqtt = settings.mqtt
        self._prefix = settings.topic_prefix
        self._options = options
        self._role = role
        self._client: aiomqtt.Client | None = None
        self._protocol: aiomqtt.ProtocolVersion | None = None
        self._inflight = asyncio.Semaphore(options.max_inflight)
        self._tasks: set[asyncio.Task[None]] = set()
        self.broken = False
        self.messages = dict.fromkeys(Feed, 0)
        self.readings = dict.fromkeys(Feed, 0)
        self.failed = dict.fromkeys(Feed, 0)

    @property
    def protocol(self) -> str:
        """The MQTT version in use."""
        return "3.1.1" if self._protocol is aiomqtt.ProtocolVersion.V311 else "5"

    def _new_client(self, version: aiomqtt.ProtocolVersion) -> aiomqtt.Client:
        s = self._mqtt
        tls = None
        if s.tls:
            tls = ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
        client = aiomqtt.Client(
            s.host,
            s.port,
            username=s.username,
            password=s.password,
            identifier=s.client_id,
            protocol=version,
            timeout=self._options.connect_timeout_s,
            tls_context=tls,
        )
        # aiomqtt warns above 10 unacknowledged publishes; ours are bounded by max_inflight.
        client.pending_calls_threshold = self._options.max_inflight + 1
        return client

    async def connect(self) -> None:
        """Connect with MQTT 5, falling back to 3.1.1 (then keeping whichever worked).

        Some brokers answer an MQTT 5 CONNECT with "unsupported protocol version"; others
        (amqtt 0.12) hang up, which looks like a timeout: both make us try 3.1.1.

        Raises:
            aiomqtt.MqttError: neither version connects, or the broker refused us for
                another reason (credentials).
        """
        v5, v311 = aiomqtt.ProtocolVersion.V5, aiomqtt.ProtocolVersion.V311
        versions = [self._protocol] if self._protocol is not None else [v5, v311]
        first_error: aiomqtt.MqttError | None = None
        for version in versions:
            client = self._new_client(version)
            try:
                await client.__aenter__()
            except MqttConnectError as exc:
                if not _version_refused(exc):
                    raise
                first_error = first_error or exc
            except aiomqtt.MqttError as exc:
                first_error = first_error or exc
            else:
                self._client, self._protocol, self.broken = client, version, False
                logger.info(
                    "%s connected to %s:%d (MQTT %s)", self._role, *self._where, self.protocol
                )
                return
            if version is v5 and len(versions) > 1:
                logger.info("MQTT 5 connect failed (%s); trying MQTT 3.1.1", first_error)
        assert first_error is not None  # noqa: S101 - the loop ran at least once
        raise first_error

    @property
    def _where(self) -> tuple[str, int]:
        return self._mqtt.host, self._mqtt.port

    async def reconnect(self, stop: asyncio.Event, deadline: float | None) -> bool:
        """Reconnect with capped exponential backoff until it works, `stop` or `deadline`."""
        await self.close()
        delay = 1.0
        while not stop.is_set() and (deadline is None or time.time() < deadline):
            try:
                await self.connect()
            except aiomqtt.MqttError as exc:
                logger.warning("MQTT broker %s:%d unreachable (%s)", *self._where, exc)
            else:
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, self._options.reconnect_max_s)
        return False

    async def send(self, out: Outgoing) -> None:
        """Start publishing one message; waits only when `max_inflight` are unacknowledged."""
        client = self._client
        if client is None or self.broken:
            self.failed[out.feed] += 1
            return
        await self._inflight.acquire()
        task = asyncio.create_task(self._publish(client, out))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, client: aiomqtt.Client, out: Outgoing) -> None:
        topic = f"{self._prefix}/{out.feed.value}/{out.station_id}"
        try:
            await client.publish(topic, out.payload, qos=self._options.qos[out.feed])
        except aiomqtt.MqttError as exc:
            self.failed[out.feed] += 1
            if not self.broken:
                logger.warning("MQTT publish failed (%s); reconnecting", exc)
            self.broken = True
        else:
            self.messages[out.feed] += 1
            self.readings[out.feed] += out.readings
        finally:
            self._inflight.release()

    async def drain(self) -> None:
        """Wait for outstanding acknowledgements (at most `drain_timeout_s`)."""
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=self._options.drain_timeout_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def close(self) -> None:
        """Disconnect (errors on the way out do not matter any more)."""
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError, OSError):
                await client.__aexit__(None, None, None)


def publisher_settings(mqtt_url: str, topic_prefix: str, client_id: str) -> Settings:
    """Validate URL and prefix with the daemon's own settings model (same rules, same parsing).

    Raises:
        ValueError: one line naming every problem.
    """
    try:
        return Settings.model_validate(
            {"topic_prefix": topic_prefix, "mqtt": {"url": mqtt_url, "client_id": client_id}}
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise ValueError(problems) from None


async def simulate(
    mqtt_url: str,
    *,
    topic_prefix: str = "almaty",
    scenario: str = "all",
    speed: float = 1.0,
    duration: float | None = None,
    stations: Stations | list[Station] | None = None,
    seed: int | None = None,
    start: datetime | None = None,
    on_event: Callable[[ScenarioEvent], None] | None = None,
    stop: asyncio.Event | None = None,
    options: SimOptions | None = None,
) -> SimulationReport:
    """Publish a simulated Almaty network until `duration` (wall seconds) or `stop`.

    Args:
        mqtt_url: `mqtt://[user:pass@]host[:port]` or `mqtts://…`.
        topic_prefix: first topic level.
        scenario: `calm`, `smog`, `quake`, `glof` or `all`.
        speed: simulated seconds per wall second for air and lake (seismic stays real time).
        duration: wall-clock seconds to run; None runs until `stop` is set.
        stations: the network (default: the bundled one).
        seed: makes the network reproducible; None draws one (it is in the report).
        start: simulated time of the first air/lake readings (default: see `scenario.py`).
        on_event: called with each scenario event when its time comes.
        stop: set it to end the run cleanly (partial batches sent, acknowledgements awaited).
        options: further tunables.

    Returns:
        What was published.

    Raises:
        ValueError: a bad argument (URL, prefix, scenario, speed, duration, start, stations).
        aiomqtt.MqttError: the broker cannot be reached at the start.
    """
    opts = options or SimOptions()
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r} (one of {', '.join(SCENARIOS)})")
    client_id = opts.client_id or f"kuzet-sim-{secrets.token_hex(4)}"
    settings = publisher_settings(mqtt_url, topic_prefix, client_id)
    network = list(stations if stations is not None else load_stations(None))
    if seed is None:
        # Short enough to retype from the report (`--seed`).
        seed = secrets.randbelow(2**31)
    seq = np.random.SeedSequence(seed)
    wall_start = time.time()
    timeline = make_timeline(
        wall_start,
        speed=speed,
        duration=duration,
        start=start.timestamp() if start is not None else None,
        horizon_s=opts.horizon_s,
        max_history_s=opts.max_history_s,
    )
    plan_seq, streams_seq = seq.spawn(2)
    the_plan = plan(
        SCENARIOS[scenario], timeline, network, np.random.default_rng(plan_seq), opts.scenario
    )
    _log_plan(the_plan)
    streams = build_streams(the_plan, network, streams_seq)
    stop = stop or asyncio.Event()
    broker = MqttPublisher(settings, opts.publish)
    await broker.connect()
    fired: list[ScenarioEvent] = []
    deadline = timeline.wall_end
    sim_now = timeline.sim_start
    try:
        while True:
            now = time.time()
            final = stop.is_set() or (deadline is not None and now >= deadline)
            if deadline is not None:
                now = min(now, deadline)
            sim_now = timeline.sim_time(now)
            for event in streams.events.due(sim_now, now):
                fired.append(event)
                if on_event is not None:
                    on_event(event)
            if broker.broken and not final:
                await broker.drain()
                if not await broker.reconnect(stop, deadline):
                    continue
            outgoing = streams.due(sim_now, now)
            if final:
                outgoing += streams.air.flush()
            for message in outgoing:
                await broker.send(message)
            if final:
                break
            pause = opts.tick_s if deadline is None else min(opts.tick_s, deadline - now)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(pause, 0.0))
        await broker.drain()
    finally:
        await broker.close()
    return SimulationReport(
        scenario=scenario,
        seed=seed,
        protocol=broker.protocol,
        sim_start=to_datetime(timeline.sim_start),
        sim_end=to_datetime(sim_now),
        wall_seconds=time.time() - wall_start,
        messages=broker.messages,
        readings=broker.readings,
        failed=broker.failed,
        dropouts=streams.dropouts,
        events=tuple(fired),
    )


def _log_plan(the_plan: Plan) -> None:
    t = the_plan.timeline
    logger.info(
        "simulating %s: air/lake %s .. %s at speed %g; seismic in real time",
        the_plan.scenario.name,
        to_datetime(t.sim_start).isoformat(),
        to_datetime(t.sim_end).isoformat(),
        t.speed,
    )
    for event in the_plan.events:
        logger.info(
            "scheduled %s at %s (%s clock): %s", event.kind, event.time, event.clock, event.summary
        )
