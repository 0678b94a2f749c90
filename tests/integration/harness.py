"""Run the real daemon in-process against the test broker and database; publish and poll."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import aiomqtt
import psycopg

from collector.config import Settings
from collector.daemon import Daemon
from collector.stations import load_stations

DATA = Path(__file__).resolve().parent.parent / "data"
TEST_STATIONS = DATA / "stations_test.toml"


def make_settings(
    database_url: str, mqtt_url: str, topic_prefix: str, **sections: dict[str, Any]
) -> Settings:
    """Settings for a test daemon: its own topics, client id, HTTP port and database."""
    data: dict[str, Any] = {
        "topic_prefix": topic_prefix,
        "stations_file": str(TEST_STATIONS),
        "log_level": "debug",
        "mqtt": {"url": mqtt_url, "client_id": f"kuzet-{topic_prefix}"},
        "database": {"url": database_url, "timescaledb": "off"},
        "http": {"listen": "127.0.0.1:0"},
        "ingest": {"linger": "0s"},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return Settings.model_validate(data)


async def wait_for(
    condition: Callable[[], Awaitable[bool]], *, timeout: float = 15.0, what: str = "condition"
) -> None:
    """Poll `condition` until it holds; fail the test with `what` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@contextlib.asynccontextmanager
async def running_daemon(settings: Settings) -> AsyncIterator[Daemon]:
    """Start the daemon, wait until it is consuming, stop it cleanly on exit."""
    daemon = Daemon(settings, load_stations(settings.stations_file))
    task = asyncio.create_task(daemon.run())

    async def ready() -> bool:
        if task.done():
            task.result()  # re-raise the start-up failure
        return daemon.started.is_set() and daemon.readiness.mqtt_connected

    try:
        # 30 s: against a broker that silently drops MQTT 5 (amqtt) the first attempt
        # times out before the fallback to 3.1.1.
        await wait_for(ready, timeout=30, what="daemon start")
        # Subscriptions are sent right after the connection: give the SUBACKs a moment.
        await asyncio.sleep(0.2)
        yield daemon
    finally:
        daemon.stop.set()
        await asyncio.wait_for(task, timeout=40)


@contextlib.asynccontextmanager
async def publisher(mqtt_url: str) -> AsyncIterator[aiomqtt.Client]:
    """An MQTT client for the test side."""
    parts = urlsplit(mqtt_url)
    async with aiomqtt.Client(parts.hostname or "127.0.0.1", parts.port or 1883) as client:
        yield client


async def fetch_all(
    database_url: str, sql: str, params: tuple[Any, ...] = ()
) -> list[tuple[Any, ...]]:
    """Rows of a query, on a fresh connection."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        cur = await conn.execute(sql, params)
        return list(await cur.fetchall())


async def count(
    database_url: str, table: str, where: str = "true", params: tuple[Any, ...] = ()
) -> int:
    """Row count of a table."""
    rows = await fetch_all(database_url, f"SELECT count(*) FROM {table} WHERE {where}", params)
    return int(rows[0][0])


async def http_get(daemon: Daemon, path: str) -> tuple[int, Any]:
    """GET from the daemon's HTTP server: (status, parsed JSON or text)."""
    url = f"http://127.0.0.1:{daemon.http_port}{path}"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


def numbered_reading(i: int) -> str:
    """An air payload whose PM2.5 is `i`, `i` seconds after a time 6 h ago (distinct, fresh)."""
    t = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6) + timedelta(seconds=i)
    return json.dumps({"ts": t.isoformat(), "pm25": float(i)})
