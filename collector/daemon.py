"""`kuzet run`: wires the stages in one TaskGroup and shuts them down in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from aiohttp import web
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool
from tenacity import AsyncRetrying, retry_if_exception, wait_exponential_jitter

from alerts.cap import CapBuilder, CapSettings, load_cap_settings
from alerts.channels import ChannelSettings, load_channel_settings
from alerts.config import AlertSettings, load_alert_settings
from alerts.silences import SilenceCache
from collector.adopt import AdoptionDeps, own_lease, takeover
from collector.alerting import AlertHook, Alerting, alerting
from collector.api_air import add_air_routes
from collector.api_alerts import add_alert_routes
from collector.api_lakes import add_lake_routes
from collector.api_operator import OperatorConfig, operator_routes
from collector.api_push import PUSH_SERVICE, add_push_routes
from collector.api_seismic import add_seismic_routes
from collector.config import Settings
from collector.http import ApiContext, Readiness, build_app
from collector.ingest import Ingest, Sink
from collector.metrics import Metrics
from collector.models import Feed
from collector.mqtt import MqttSource
from collector.openapi import add_openapi_routes
from collector.shard import Shard
from collector.shardapi import forwarding
from collector.sharding import (
    Sharding,
    shard_mqtt,
    shard_subscriptions,
    shard_unsubscriptions,
    sharding,
)
from collector.shardlist import CLUSTER_SERVICE, ClusterView
from collector.stale import watch_stale
from collector.stations import Stations
from collector.takeover import OwnLease, Takeover
from collector.tracker import LastSeenTracker, Seen
from collector.writer import Writer, pool_store
from storage.errors import StorageError, is_retryable, translate
from storage.migrate import MigrationReport, Mode, migrate
from storage.policies import Policies, apply_policies, enforce_plain_retention
from storage.stations import auto_registered, last_readings, sync_stations

logger = logging.getLogger(__name__)

DB_PROBE_INTERVAL = 5.0
# Silences written through another replica reach this one's dispatcher within this time.
SILENCE_REFRESH_S = 15.0
PLAIN_RETENTION_INTERVAL = 3600.0
# On SIGTERM the writers get this long to commit what is queued before they are cancelled
# (their messages are then unacknowledged and come back from the broker).
SHUTDOWN_GRACE = 30.0

Pool = AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]


@dataclass(slots=True)
class Daemon:
    """A running daemon's parts; tests reach the HTTP address and stop event here."""

    settings: Settings
    stations: Stations
    metrics: Metrics = field(default_factory=Metrics)
    readiness: Readiness = field(default_factory=Readiness)
    tracker: LastSeenTracker = field(default_factory=LastSeenTracker)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    http_port: int = 0
    mode: Mode | None = None
    # called for every alert transition recorded by this process (kuzet demo prints them)
    on_alert: AlertHook | None = None
    # where channel secrets (KUZET_TELEGRAM_TOKEN, …) are read from
    env: Mapping[str, str] = field(default_factory=dict)
    alerts: AlertSettings = field(init=False)
    channels: ChannelSettings = field(init=False)
    cap: CapSettings = field(init=False)
    silences: SilenceCache = field(init=False)
    _ctx: ApiContext = field(init=False)
    _lease: OwnLease | None = field(init=False, default=None)
    _cluster: ClusterView = field(init=False)

    def __post_init__(self) -> None:
        # Validated here, before anything starts: a bad rule is a configuration error.
        self.alerts = load_alert_settings(self.settings.alerts)
        self.channels = load_channel_settings(self.settings.channels, self.env)
        self.cap = load_cap_settings(self.settings.cap)
        self.silences = SilenceCache()
        self._ctx = ApiContext(self.metrics, self.stations, self.tracker, self.readiness)
        shard = self.settings.shard
        # the list endpoints ask the other shards for their stations (collector.shardlist)
        self._cluster = ClusterView(shard.shard, tuple(shard.peers))
        self._ctx.services[CLUSTER_SERVICE] = self._cluster

    def policies(self) -> Policies:
        """Storage policies from the configuration."""
        db = self.settings.database
        return Policies(
            compress_after=db.compress_after,
            retention=db.retention,
            seismic_retention=db.seismic_retention,
            max_age=self.settings.ingest.max_age,
        )

    def _set_db(self, up: bool, error: str = "") -> None:  # noqa: FBT001 - a callback
        self.readiness.db_ok = up
        self.readiness.db_error = "" if up else error or self.readiness.db_error
        self.metrics.db_up.set(1 if up else 0)

    def _set_mqtt(self, connected: bool) -> None:  # noqa: FBT001 - a callback
        self.readiness.mqtt_connected = connected
        self.metrics.mqtt_connected.set(1 if connected else 0)

    async def _migrate(self) -> MigrationReport:
        db = self.settings.database
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(is_retryable),
            wait=wait_exponential_jitter(multiplier=1, max=30, jitter=1),
            before_sleep=lambda s: logger.warning(
                "database unavailable (%s); retrying",
                s.outcome.exception() if s.outcome else None,
            ),
            reraise=True,
        ):
            with attempt:
                try:
                    report = await migrate(db.url, timescaledb=db.timescaledb)
                except StorageError as exc:
                    self._set_db(False, str(exc))
                    raise
        return report

    async def _prepare(self, pool: Pool) -> None:
        async with pool.connection() as conn:
            assert self.mode is not None  # noqa: S101 - set by _migrate before
            await apply_policies(conn, self.mode, self.policies())
            await sync_stations(conn, self.stations)
            for station_id, kind in await auto_registered(conn):
                if self.stations.get(station_id) is None:
                    self.stations.register_auto(station_id, Feed(kind))
            last = await last_readings(conn)
        self.tracker.seed({k: Seen(v.time, v.received_at) for k, v in last.items()})
        self.metrics.known_stations(s.id for s in self.stations if not s.auto)

    async def _probe_db(self, pool: Pool) -> None:
        while True:
            try:
                async with pool.connection(timeout=DB_PROBE_INTERVAL) as conn:
                    await conn.execute("SELECT 1")
                self._set_db(True)
            except psycopg.Error as exc:
                self._set_db(False, str(translate(exc, "probe")))
            await asyncio.sleep(DB_PROBE_INTERVAL)

    async def _plain_retention(self, pool: Pool) -> None:
        while True:
            await asyncio.sleep(PLAIN_RETENTION_INTERVAL)
            try:
                async with pool.connection() as conn:
                    await enforce_plain_retention(conn, self.policies())
            except psycopg.Error as exc:
                logger.warning("retention sweep failed: %s", translate(exc, "retention"))

    async def _serve_http(self) -> web.AppRunner:
        cap = CapBuilder(
            self.stations,
            self.cap,
            base_url=self.settings.http.base_url,
            exercise=self.alerts.exercise,
        )
        operator = OperatorConfig(
            api_token=self.settings.http.api_token, cap=cap, silences=self.silences
        )
        app = build_app(
            self._ctx,
            [
                add_air_routes,
                add_alert_routes,
                add_lake_routes,
                add_seismic_routes,
                add_push_routes,
                operator_routes(operator),
                add_openapi_routes,
                forwarding(
                    self.settings.shard.shard, self.settings.shard.peers, self._cluster.serves
                ),
            ],
        )
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        http = self.settings.http
        site = web.TCPSite(runner, http.host, http.port, reuse_address=True)
        await site.start()
        server = site._server
        if server is not None and server.sockets:  # type: ignore[attr-defined]
            self.http_port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        logger.info("HTTP API on http://%s:%d", http.host, self.http_port)
        return runner

    async def run(self) -> None:
        """Run until `stop` is set; then stop consuming, flush, and return."""
        runner = await self._serve_http()
        try:
            report = await self._migrate()
            self.mode = report.mode
            logger.info("database schema v%d (%s mode)", report.current, report.mode)
            db = self.settings.database
            async with AsyncConnectionPool(
                db.url,
                min_size=db.pool_min,
                max_size=max(db.pool_max, db.pool_min),
                kwargs={"autocommit": True},
                check=AsyncConnectionPool.check_connection,
                timeout=db.connect_timeout.total_seconds(),
                open=False,
            ) as pool:
                await pool.wait(timeout=db.connect_timeout.total_seconds())
                self._set_db(True)
                # Takeover on: the index is ours only with its lease. An adopter running it
                # hands it back first, so its state below is loaded after the hand-back.
                self._lease = own_lease(self.settings)
                if self._lease is not None:
                    await self._lease.acquire()
                await self._prepare(pool)
                with contextlib.suppress(psycopg.Error):
                    await self.silences.refresh(pool)
                self._ctx.services["pool"] = pool
                await self._run_stages(pool)
        finally:
            if self._lease is not None:
                await self._lease.close()
            await runner.cleanup()

    def _writers(self, pool: Pool) -> dict[Feed | None, Writer]:
        ing = self.settings.ingest
        assert self.mode is not None  # noqa: S101
        store = pool_store(pool, self.mode)
        return {
            feed: Writer(
                feed,
                store,
                self.metrics,
                queue_size=ing.queue_size,
                batch_max_rows=ing.batch_max_rows,
                linger=ing.linger.total_seconds(),
                on_db_state=self._set_db,
            )
            for feed in (*Feed, None)
        }

    async def _run_stages(self, pool: Pool) -> None:
        writers = self._writers(pool)
        sinks: dict[Feed | None, Sink] = dict(writers)
        shard = self.settings.shard.shard
        shared: Sharding | None = None

        def handle(topic: str, payload: bytes, done: Callable[[], None]) -> Awaitable[None]:
            # bound late: the ingest stage needs the alert path, which publishes via source
            if shared is not None and shared.exchange.is_exchange_topic(topic):
                return shared.exchange.handle(topic, payload, done)
            return ingest.handle(topic, payload, done)

        source = MqttSource(
            shard_mqtt(self.settings),
            shard_subscriptions(self.settings, self.stations),
            handle,
            on_state=self._set_mqtt,
            on_pause=self.metrics.mqtt_read_pauses.inc,
            unsubscriptions=shard_unsubscriptions(self.settings, self.stations),
        )
        self.metrics.mqtt_incoming_depth.set_function(lambda: source.incoming_depth)
        async with alerting(
            self.settings,
            self.stations,
            alerts=self.alerts,
            channels=self.channels,
            pool=pool,
            metrics=self.metrics,
            publisher=source,
            silenced=self.silences.silenced,
            on_alert=self.on_alert,
        ) as path:
            shared = sharding(
                self.settings,
                self.metrics,
                lambda topic, payload, qos: source.publish(topic, payload, qos=qos),
                path,
            )

            def make_ingest(owner: Shard) -> Ingest:
                return Ingest(
                    settings=self.settings.ingest,
                    topic_prefix=self.settings.topic_prefix,
                    stations=self.stations,
                    metrics=self.metrics,
                    sinks=sinks,
                    listeners=[self.tracker.on_readings],
                    # seismic first: the early-warning path must not queue behind the others
                    stages=[path.seismic.put, path.air.put, path.lake.put],
                    shard=owner,
                )

            ingest = make_ingest(shard)
            deps = AdoptionDeps(
                self.settings, self.stations, self.metrics, pool, path, self.tracker, make_ingest
            )
            adopter = takeover(deps)
            if adopter is not None:
                self._cluster.adopted = adopter.adopted
            self._ctx.services["air"] = path.air
            self._ctx.services["lake"] = path.lake
            self._ctx.services[PUSH_SERVICE] = path.push
            await self._supervise(pool, writers, source, path, shared, adopter=adopter)

    async def _supervise(
        self,
        pool: Pool,
        writers: dict[Feed | None, Writer],
        source: MqttSource,
        path: Alerting,
        shared: Sharding | None,
        *,
        adopter: Takeover | None,
    ) -> None:
        drained = asyncio.Event()
        view = self._cluster
        async with asyncio.TaskGroup() as tg:
            writer_tasks = [tg.create_task(w.run()) for w in writers.values()]
            mqtt_task = tg.create_task(source.run(self.stop, drained))
            background = [
                tg.create_task(self._probe_db(pool)),
                tg.create_task(path.air.run()),
                tg.create_task(path.lake.run()),
                tg.create_task(path.seismic.run()),
                tg.create_task(
                    watch_stale(
                        self.stations,
                        self.tracker,
                        path.engine,
                        # its own stations, and those of the shards it has taken over
                        owns=view.serves,
                    )
                ),
                tg.create_task(self.silences.run(pool, interval_s=SILENCE_REFRESH_S)),
                tg.create_task(path.repeat_loop()),
            ]
            if shared is not None:
                background.append(tg.create_task(shared.run()))
            if self._lease is not None:
                background.append(tg.create_task(self._lease.keep(self._lease_lost)))
            adopting = tg.create_task(adopter.run()) if adopter is not None else None
            dispatcher = tg.create_task(path.dispatcher.run())
            if self.mode is Mode.PLAIN:
                background.append(tg.create_task(self._plain_retention(pool)))
            self.started.set()
            await self.stop.wait()
            if adopting is not None:
                # the adopted indices are handed back (flushed) while the writers still run
                adopting.cancel()
                await asyncio.wait({adopting}, timeout=SHUTDOWN_GRACE)
            logger.info("stopping: no new messages; flushing writers")
            for writer in writers.values():
                await writer.close()
            _, late = await asyncio.wait(writer_tasks, timeout=SHUTDOWN_GRACE)
            for task in late:
                logger.warning(
                    "writer did not finish in %.0fs; its messages will be redelivered",
                    SHUTDOWN_GRACE,
                )
                task.cancel()
            drained.set()
            await _finish(mqtt_task, grace=5.0)
            for task in background:
                task.cancel()
            # Undelivered notifications stay in the outbox for the next start.
            await _finish(dispatcher, grace=2.0)
        logger.info("stopped")

    def _lease_lost(self) -> None:
        # another shard runs this index now: stop consuming; the restart waits for the lease
        self.stop.set()


async def _finish(task: asyncio.Task[None], *, grace: float) -> None:
    done, _ = await asyncio.wait({task}, timeout=grace)
    if not done:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def install_signal_handlers(stop: asyncio.Event) -> Callable[[], None]:
    """SIGTERM/SIGINT set `stop`; returns a function removing the handlers."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def remove() -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)

    return remove


async def serve(settings: Settings, stations: Stations) -> None:
    """The daemon with signal handling: what `kuzet run` executes."""
    daemon = Daemon(settings, stations, env=os.environ)
    remove = install_signal_handlers(daemon.stop)
    try:
        run = asyncio.create_task(daemon.run())
        stop = asyncio.create_task(daemon.stop.wait())
        await asyncio.wait({run, stop}, return_when=asyncio.FIRST_COMPLETED)
        if not run.done() and not daemon.started.is_set():
            # Stopped while still starting (e.g. waiting for the database): nothing is
            # consumed yet, so there is nothing to flush.
            run.cancel()
        stop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
    finally:
        remove()


def run_coroutine(coro: Coroutine[Any, Any, None]) -> None:
    """Run the top-level coroutine (one place to choose the event-loop policy)."""
    asyncio.run(coro)
