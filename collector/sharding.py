"""Wiring of one shard among several: its MQTT identity, the leader lock and the exchange."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from collector.alerting import Alerting
from collector.config import MqttSettings, Settings
from collector.exchange import AirFlags, Publish, ShardExchange, ShardMessage
from collector.ingest import topic_filters
from collector.leader import LeaderLock, leader_lock_key
from collector.metrics import Metrics
from collector.seismicstage import RemotePicks
from collector.shard import Shard, exchange_filters, shard_client_id
from collector.stations import Stations

logger = logging.getLogger(__name__)


def shard_mqtt(settings: Settings) -> MqttSettings:
    """The MQTT settings of this shard: its own client id, hence its own persistent session."""
    shard = settings.shard.shard
    client_id = shard_client_id(settings.mqtt.client_id, shard.index, shard.count)
    return settings.mqtt.model_copy(update={"client_id": client_id})


def shard_subscriptions(settings: Settings, stations: Stations) -> list[str]:
    """The feed topics of this shard, then the other shards' exchange topics.

    `wildcard` (and always for one shard): every feed, each shard skipping what it does not
    own. `stations`: only the owned stations of the stations file, on their feed's topic.
    """
    shard = settings.shard.shard
    prefix = settings.topic_prefix
    if not shard.sharded:
        return topic_filters(prefix)
    if settings.shard.subscribe == "stations":
        filters = [
            f"{prefix}/{s.kind.value}/{s.id}" for s in stations if not s.auto and shard.owns(s.id)
        ]
    else:
        filters = topic_filters(prefix)
    return filters + exchange_filters(prefix, shard.index, shard.count)


def shard_unsubscriptions(settings: Settings, stations: Stations) -> list[str]:
    """Feed filters this shard's persistent session may hold but must no longer receive.

    Subscriptions live in the broker's session, across restarts: after a switch to
    `stations`, or a new count, the wildcards and other shards' stations would still arrive.
    """
    shard = settings.shard.shard
    if not shard.sharded or settings.shard.subscribe != "stations":
        return []
    prefix = settings.topic_prefix
    others = [f"{prefix}/{s.kind.value}/{s.id}" for s in stations if not shard.owns(s.id)]
    return topic_filters(prefix) + others


@dataclass(slots=True)
class Sharding:
    """The running cross-shard parts of a sharded daemon."""

    shard: Shard
    leader: LeaderLock
    exchange: ShardExchange
    path: Alerting
    _reloads: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self) -> None:
        """Hold or wait for the lead and exchange messages, until cancelled."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.leader.run())
            tg.create_task(self.exchange.run())

    def lead_changed(self, held: bool) -> None:  # noqa: FBT001 - a callback
        """A new leader adopts the firing alerts, so it resolves what its predecessor fired."""
        if held:
            task = asyncio.get_running_loop().create_task(self.path.engine.load())
            self._reloads.add(task)
            task.add_done_callback(self._reloads.discard)

    async def receive(self, message: ShardMessage) -> None:
        """Another shard's picks to the associator, its air flags to the city-wide rules."""
        now = datetime.now(UTC)
        if message.picks or message.seen:
            await self.path.seismic.put_remote(
                RemotePicks(message.picks, dict(message.seen), message.sent_at), now
            )
        if message.air is not None:
            for obs in self.path.air.remote_flags(message.shard, message.air.flags, message.air.at):
                await self.path.engine.observe(obs)

    def air_flags(self) -> AirFlags | None:
        """This shard's air flags for the others (None before its first air reading)."""
        flags, newest = self.path.air.flags()
        return AirFlags(flags, newest) if newest is not None else None


def sharding(
    settings: Settings, metrics: Metrics, publish: Publish, path: Alerting
) -> Sharding | None:
    """Connect the stages to the other shards; None when there is only one shard."""
    shard = settings.shard.shard
    if not shard.sharded:
        return None
    leader = LeaderLock(
        settings.database.url,
        leader_lock_key(settings.topic_prefix),
        poll_s=settings.shard.leader_poll.total_seconds(),
    )
    exchange = ShardExchange(
        shard,
        settings.topic_prefix,
        publish,
        metrics,
        interval_s=settings.shard.exchange_interval.total_seconds(),
    )
    wired = Sharding(shard, leader, exchange, path)

    def on_change(held: bool) -> None:  # noqa: FBT001 - a callback
        metrics.shard_leader.set(1 if held else 0)
        wired.lead_changed(held)

    leader.on_change = on_change
    exchange.air_flags = wired.air_flags
    exchange.set_receiver(wired.receive)
    path.seismic.share(exchange, lambda: leader.held)
    path.air.lead_city(lambda: leader.held)
    logger.info("shard %d of %d", shard.index, shard.count)
    return wired
