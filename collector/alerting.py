"""Wiring of the alert path: channels, outbox dispatcher, engine and the analytics stages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp
import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from alerts.channels import ChannelSettings, build_channels
from alerts.channels.mqtt import Publisher
from alerts.channels.webpush import PushSubscriptions
from alerts.config import DEFAULT_RULES, AlertSettings
from alerts.dispatch import Dispatcher, SilenceCheck
from alerts.engine import AlertEngine
from alerts.model import Alert, Event, Severity
from alerts.payload import PayloadBuilder
from collector.air import DEFAULT_MAX_WINDOW
from collector.airstage import AirStage
from collector.config import Settings
from collector.lake import DEFAULT_MAX_WINDOW as LAKE_WINDOW
from collector.lakestage import LakeStage
from collector.metrics import Metrics
from collector.seismicstage import SeismicStage
from collector.stations import Stations
from storage.readings import recent_air, recent_lake

logger = logging.getLogger(__name__)

Pool = AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]
AlertHook = Callable[[Alert, Event], None]
# How often firing alerts are checked for a due `repeat` notice.
REPEAT_CHECK_S = 60.0


@dataclass(slots=True)
class Alerting:
    """The running alert path."""

    engine: AlertEngine
    dispatcher: Dispatcher
    air: AirStage
    lake: LakeStage
    seismic: SeismicStage
    alerts: AlertSettings
    # the public Web Push side (subscriptions endpoint), None when Web Push is off
    push: PushSubscriptions | None

    async def repeat_loop(self) -> None:
        """Re-notify long-firing alerts every `repeat_interval` (wall clock)."""
        interval = self.alerts.repeat_interval.total_seconds()
        while True:
            await asyncio.sleep(min(REPEAT_CHECK_S, interval))
            try:
                await self.engine.repeat_due(interval)
            except psycopg.Error as exc:
                logger.warning("repeat check failed: %s", exc)


@contextlib.asynccontextmanager
async def alerting(
    settings: Settings,
    stations: Stations,
    *,
    alerts: AlertSettings,
    channels: ChannelSettings,
    pool: Pool,
    metrics: Metrics,
    publisher: Publisher,
    silenced: SilenceCheck | None = None,
    on_alert: AlertHook | None = None,
) -> AsyncIterator[Alerting]:
    """Build the alert path, load its state from the database, close the HTTP session after."""
    async with aiohttp.ClientSession() as session:
        built = build_channels(
            channels,
            session=session,
            publisher=publisher,
            topic_prefix=settings.topic_prefix,
            external_url=settings.http.base_url,
            pool=pool,
            registry=metrics.registry,
        )
        metrics.known_channels(built.by_name)
        metrics.known_alert_labels(
            (kind, severity.value)
            for kind in {k for k, _ in DEFAULT_RULES.values()} | {"seismic", "lake", "system"}
            for severity in Severity
        )
        dispatcher = Dispatcher(
            pool,
            built.by_name,
            metrics,
            dead_after=alerts.dead_after,
            retry_initial=alerts.retry_initial.total_seconds(),
            retry_max=alerts.retry_max.total_seconds(),
            silenced=silenced or (lambda _alert, _now: False),
        )
        payload = PayloadBuilder(
            stations, base_url=settings.http.base_url, exercise=alerts.exercise
        )
        engine = AlertEngine(
            pool,
            metrics,
            targets=built.targets_for,
            payload=payload,
            on_queued=dispatcher.wake,
            on_transition=on_alert or (lambda _a, _e: None),
        )
        await engine.load()
        air = AirStage(stations, alerts, engine, queue_size=settings.ingest.queue_size)
        lake = LakeStage(stations, alerts, engine, queue_size=settings.ingest.queue_size)
        async with pool.connection() as conn:
            loaded = air.preload(await recent_air(conn, DEFAULT_MAX_WINDOW))
            loaded += lake.preload(await recent_lake(conn, LAKE_WINDOW))
        logger.info("analytics state rebuilt from %d stored readings", loaded)
        seismic = SeismicStage(
            stations, alerts, engine, pool, metrics, queue_size=settings.ingest.queue_size
        )
        yield Alerting(
            engine=engine,
            dispatcher=dispatcher,
            air=air,
            lake=lake,
            seismic=seismic,
            alerts=alerts,
            push=built.push,
        )
