"""What shards tell each other over MQTT: seismic picks, data extents and air-rule flags."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from collector.acks import Ack
from collector.metrics import Metrics
from collector.mqtt import MqttUnavailableError
from collector.seismic.picks import Pick, from_us, to_us
from collector.shard import Shard, exchange_sender, exchange_topic

logger = logging.getLogger(__name__)

WIRE_VERSION = 1
# Messages waiting for the broker (while it is away). Picks older than the associator's
# pick window are useless anyway, so the oldest go first.
OUTBOX_SIZE = 10_000
RETRY_S = 0.2

Publish = Callable[[str, bytes, int], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class AirFlags:
    """One shard's stations: rule → station → whether the latest value crosses the rule."""

    flags: Mapping[str, Mapping[str, bool]]
    # the newest reading time behind them (the `at` of a city-wide observation)
    at: datetime


@dataclass(frozen=True, slots=True)
class ShardMessage:
    """One exchange message. Receivers apply `seen` before `picks`, as the sender did."""

    shard: int
    picks: tuple[Pick, ...] = ()
    # station → time of its last processed sample (the associator's silent-station check)
    seen: Mapping[str, datetime] = field(default_factory=dict)
    air: AirFlags | None = None
    # the sender's wall clock when it queued the message: how old a redelivered backlog is
    sent_at: datetime | None = None


def encode_message(message: ShardMessage) -> bytes:
    """The JSON wire form (times as integer microseconds: exact round trip)."""
    data: dict[str, Any] = {"v": WIRE_VERSION, "shard": message.shard}
    if message.sent_at is not None:
        data["sent_us"] = to_us(message.sent_at)
    if message.picks:
        data["picks"] = [
            {
                "station_id": p.station_id,
                "time_us": to_us(p.time),
                "sta_lta": p.sta_lta,
                "pga_gal": p.pga_gal,
                "pd_cm": p.pd_cm,
                "window_s": p.window_s,
                "component": p.component,
                "final": p.final,
            }
            for p in message.picks
        ]
    if message.seen:
        data["seen"] = {k: to_us(v) for k, v in message.seen.items()}
    if message.air is not None:
        data["air"] = {
            "flags": {rule: dict(flags) for rule, flags in message.air.flags.items()},
            "at_us": to_us(message.air.at),
        }
    return json.dumps(data, separators=(",", ":")).encode()


def decode_message(payload: bytes) -> ShardMessage:
    """Parse an exchange message.

    Raises:
        ValueError: not an exchange message of this version.
    """
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise ValueError(f"malformed exchange message: {exc!r}") from exc
    if not isinstance(data, dict) or data.get("v") != WIRE_VERSION:
        raise ValueError(f"not a version {WIRE_VERSION} exchange message")
    try:
        picks = tuple(
            Pick(
                station_id=str(p["station_id"]),
                time=from_us(int(p["time_us"])),
                sta_lta=float(p["sta_lta"]),
                pga_gal=float(p["pga_gal"]),
                pd_cm=float(p["pd_cm"]),
                window_s=float(p["window_s"]),
                component=str(p["component"]),
                final=bool(p["final"]),
            )
            for p in data.get("picks", ())
        )
        seen = {str(k): from_us(int(v)) for k, v in data.get("seen", {}).items()}
        air = None
        if "air" in data:
            flags = {
                str(rule): {str(s): bool(v) for s, v in stations.items()}
                for rule, stations in data["air"]["flags"].items()
            }
            air = AirFlags(flags, from_us(int(data["air"]["at_us"])))
        sent = data.get("sent_us")
        sent_at = from_us(int(sent)) if sent is not None else None
        return ShardMessage(int(data["shard"]), picks, seen, air, sent_at)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ValueError(f"malformed exchange message: {exc!r}") from exc


Receiver = Callable[[ShardMessage], Awaitable[None]]


class ShardExchange:
    """Publishes this shard's picks at once and its extents and air flags every `interval_s`.

    One task sends, in order, so a receiver never sees a station's data extent before the
    picks found in that data (the associator would count the station as silent). Picks go
    QoS 1 and are kept in the persistent session; periodic messages go QoS 0, since the
    next one supersedes them.
    """

    def __init__(
        self,
        shard: Shard,
        topic_prefix: str,
        publish: Publish,
        metrics: Metrics,
        *,
        interval_s: float,
        air_flags: Callable[[], AirFlags | None] = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._clock = clock
        self._shard = shard
        self._prefix = topic_prefix
        self._topic = exchange_topic(topic_prefix, shard.index)
        self._publish = publish
        self._metrics = metrics
        self._interval_s = interval_s
        self.air_flags = air_flags
        self._seen: dict[str, datetime] = {}
        self._outbox: asyncio.Queue[tuple[ShardMessage, int]] = asyncio.Queue(OUTBOX_SIZE)
        self._receiver: Receiver | None = None

    def set_receiver(self, receiver: Receiver) -> None:
        """Where the other shards' messages go."""
        self._receiver = receiver

    def picks(self, picks: Sequence[Pick]) -> None:
        """Send picks now, with the extents noted so far (which they precede in the data)."""
        if picks:
            message = ShardMessage(
                self._shard.index, tuple(picks), self._take_seen(), sent_at=self._clock()
            )
            self._queue(message, qos=1)

    def seen(self, station_id: str, until: datetime) -> None:
        """Note that a station's data was processed up to `until` (sent with the next message)."""
        self._seen[station_id] = until

    def _take_seen(self) -> dict[str, datetime]:
        seen, self._seen = self._seen, {}
        return seen

    def _queue(self, message: ShardMessage, *, qos: int) -> None:
        if self._outbox.full():
            self._outbox.get_nowait()
            logger.warning("shard exchange outbox full: dropped its oldest message")
        self._outbox.put_nowait((message, qos))

    async def run(self) -> None:
        """Send until cancelled."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._tick())
            tg.create_task(self._send())

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            air = self.air_flags()
            seen = self._take_seen()
            if seen or air is not None:
                message = ShardMessage(self._shard.index, (), seen, air, sent_at=self._clock())
                self._queue(message, qos=0)

    async def _send(self) -> None:
        while True:
            message, qos = await self._outbox.get()
            payload = encode_message(message)
            while True:
                try:
                    await self._publish(self._topic, payload, qos)
                    break
                except MqttUnavailableError:
                    await asyncio.sleep(RETRY_S)
            self._metrics.shard_exchanged.labels("sent").inc()

    def is_exchange_topic(self, topic: str) -> bool:
        """Whether a received message is another shard's exchange message."""
        return exchange_sender(topic, self._prefix) is not None

    async def handle(self, topic: str, payload: bytes, done: Ack) -> None:
        """Take another shard's message: hand it to the receiver, then acknowledge it."""
        try:
            message = decode_message(payload)
        except ValueError as exc:
            logger.warning("ignored message on %s: %s", topic, exc)
            done()
            return
        self._metrics.shard_exchanged.labels("received").inc()
        if message.shard != self._shard.index and self._receiver is not None:
            await self._receiver(message)
        done()
