"""An adopted shard index: its MQTT session consumed here, its stations' state rebuilt."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from collector.acks import Ack
from collector.air import DEFAULT_MAX_WINDOW
from collector.alerting import Alerting
from collector.config import Settings
from collector.ingest import Ingest
from collector.lake import DEFAULT_MAX_WINDOW as LAKE_WINDOW
from collector.metrics import Metrics
from collector.mqtt import MqttSource
from collector.shard import Shard, exchange_sender, shard_of
from collector.sharding import shard_mqtt, shard_subscriptions, shard_unsubscriptions
from collector.stations import Stations
from collector.takeover import Adoption, OwnLease, Takeover, lease_key
from collector.tracker import LastSeenTracker, Seen
from storage.readings import recent_air, recent_lake
from storage.stations import last_readings

logger = logging.getLogger(__name__)

# At a hand-back, messages taken from the adopted session get this long to be committed
# and acknowledged; what is still pending after it is redelivered to the owner (and
# deduplicated by the database).
FLUSH_S = 10.0


@dataclass(slots=True)
class AdoptedShard:
    """Consumes shard `index`'s persistent session with its client id, through `ingest`."""

    index: int
    ingest: Ingest
    prefix: str
    on_hand_back: Callable[[], None]
    source: MqttSource | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    drained: asyncio.Event = field(default_factory=asyncio.Event)
    pending: int = 0
    # set while nothing taken from the session awaits its commit
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.idle.set()

    async def handle(self, topic: str, payload: bytes, done: Ack) -> None:
        """Feed messages to the adopted index's ingest; exchange ones are dropped.

        This process receives the exchange on its own session already.
        """
        if exchange_sender(topic, self.prefix) is not None:
            done()
            return
        self.pending += 1
        self.idle.clear()
        open_ = [True]

        def settle() -> None:
            if open_[0]:
                open_[0] = False
                self.pending -= 1
                if self.pending == 0:
                    self.idle.set()

        def ack() -> None:
            settle()
            done()

        try:
            await self.ingest.handle(topic, payload, ack)
        except BaseException:
            settle()  # interrupted: the broker redelivers it, nothing to wait for
            raise

    async def run(self) -> None:
        """Consume until handed back."""
        assert self.source is not None  # noqa: S101 - set by adopt_index
        await self.source.run(self.stop, self.drained)

    async def hand_back(self) -> None:
        """Stop taking messages, wait for the taken ones to commit, then let the session go."""
        self.stop.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FLUSH_S):
                await self.idle.wait()
        if self.pending:
            logger.warning("shard %d: %d messages left to redeliver", self.index, self.pending)
        self.drained.set()
        self.on_hand_back()


@dataclass(frozen=True, slots=True)
class AdoptionDeps:
    """What adopting an index needs from the running daemon."""

    settings: Settings
    stations: Stations
    metrics: Metrics
    pool: Any  # the daemon's AsyncConnectionPool
    path: Alerting
    tracker: LastSeenTracker
    make_ingest: Callable[[Shard], Ingest]


def station_ids_of(stations: Stations, index: int, count: int) -> set[str]:
    """The known stations of shard `index`."""
    return {s.id for s in stations if shard_of(s.id, count) == index}


async def adopt_index(deps: AdoptionDeps, index: int) -> AdoptedShard:
    """Warm-start shard `index`'s stations as its own restart would, then its consumer.

    The windows and lake series are rebuilt from the database (what the dead shard stored
    is there), the firing alerts reloaded (so this process resolves what it fired), the
    last-seen times seeded; then the MQTT client with the shard's client id resumes its
    persistent session: what the shard had not acknowledged, and what arrived since.
    """
    settings = deps.settings
    count = settings.shard.count
    ids = station_ids_of(deps.stations, index, count)
    async with deps.pool.connection() as conn:
        air = [r for r in await recent_air(conn, DEFAULT_MAX_WINDOW) if r.station_id in ids]
        lake = [r for r in await recent_lake(conn, LAKE_WINDOW) if r.station_id in ids]
        last = await last_readings(conn)
    deps.path.air.forget(ids)
    deps.path.lake.forget(ids)
    loaded = deps.path.air.preload(air) + deps.path.lake.preload(lake)
    deps.tracker.seed({k: Seen(v.time, v.received_at) for k, v in last.items() if k in ids})
    await deps.path.engine.load()
    logger.info("shard %d: %d stations rebuilt from %d readings", index, len(ids), loaded)
    theirs = settings.model_copy(
        update={"shard": settings.shard.model_copy(update={"index": index})}
    )

    def handed_back() -> None:
        # their state here would go stale: the owner evaluates them again
        deps.path.air.hand_back(ids)
        deps.path.lake.forget(ids)
        deps.metrics.shard_takeovers.labels("handed_back").inc()

    adopted = AdoptedShard(
        index, deps.make_ingest(Shard(index, count)), settings.topic_prefix, handed_back
    )
    adopted.source = MqttSource(
        shard_mqtt(theirs),
        shard_subscriptions(theirs, deps.stations),
        adopted.handle,
        unsubscriptions=shard_unsubscriptions(theirs, deps.stations),
    )
    deps.metrics.shard_takeovers.labels("adopted").inc()
    return adopted


def own_lease(settings: Settings) -> OwnLease | None:
    """This shard's lease when takeover is on (sharded, shard.takeover_after > 0)."""
    shard = settings.shard
    if not shard.shard.sharded or shard.takeover_after.total_seconds() <= 0:
        return None
    key = lease_key(settings.topic_prefix, shard.shard.index)
    return OwnLease(settings.database.url, key, poll_s=shard.leader_poll.total_seconds())


def takeover(deps: AdoptionDeps) -> Takeover | None:
    """The watcher of the other shards' leases when takeover is on."""
    settings = deps.settings
    shard = settings.shard
    if not shard.shard.sharded or shard.takeover_after.total_seconds() <= 0:
        return None

    async def adopt(index: int) -> Adoption:
        return await adopt_index(deps, index)

    def changed(adopted: frozenset[int]) -> None:
        deps.metrics.shard_adopted.set(len(adopted))

    return Takeover(
        settings.database.url,
        shard.shard.index,
        {i: lease_key(settings.topic_prefix, i) for i in range(shard.count)},
        adopt,
        grace_s=shard.takeover_after.total_seconds(),
        poll_s=shard.leader_poll.total_seconds(),
        on_change=changed,
    )
