"""`kuzet run` started while the database or the broker is down: it waits, then loses nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import aiomqtt
import psycopg
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from collector.embedded.processes import free_port
from tests.fixtures.proxy import TcpProxy, tcp_proxy, via_proxy
from tests.integration.harness import TEST_STATIONS, count, numbered_reading, publisher, wait_for

pytestmark = pytest.mark.integration

MESSAGES = 40


async def _get(port: int, path: str) -> tuple[int, Any]:
    try:
        async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}{path}") as r:
            return r.status, await r.json()
    except aiohttp.ClientError:
        return 0, None


async def _stored(database_url: str) -> int:
    try:
        return await count(database_url, "kuzet.air_readings")
    except psycopg.Error:
        return -1  # the migrations have not created the table yet


async def _earlier_session(mqtt_url: str, client_id: str, prefix: str) -> None:
    """The daemon's persistent session as an earlier run left it (subscribed, offline).

    The broker queues a session's messages only once it exists: a daemon whose first run ever
    starts with the database down receives what is published from its first connection on.
    """
    parts = urlsplit(mqtt_url)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    async with aiomqtt.Client(
        parts.hostname or "127.0.0.1",
        parts.port or 1883,
        identifier=client_id,
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=False,
        properties=props,
    ) as client:
        await client.subscribe(f"{prefix}/air/+", qos=1)


def _env(
    database_url: str, mqtt_url: str, prefix: str, client_id: str, port: int
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUZET_")}
    return env | {
        "KUZET_DATABASE_URL": database_url,
        "KUZET_MQTT_URL": mqtt_url,
        "KUZET_TOPIC_PREFIX": prefix,
        "KUZET_MQTT_CLIENT_ID": client_id,
        "KUZET_HTTP_LISTEN": f"127.0.0.1:{port}",
        "KUZET_STATIONS": str(TEST_STATIONS),
        "KUZET_LOG_LEVEL": "warning",
    }


@asynccontextmanager
async def _kuzet_run(env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    """The production entry point as a subprocess; SIGTERM at the end must exit 0."""
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "collector.cli", "run"),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 40)
    assert proc.returncode == 0


@pytest.mark.parametrize(
    "down",
    [
        # the database is down at start: migrations wait (backoff), MQTT is not consumed yet,
        # so the broker keeps the messages; migrations and start-up finish when it is back
        "database",
        # the broker is down at start: migrations run, the MQTT loop reconnects with backoff
        # and receives what the broker queued for the session meanwhile
        "mqtt",
    ],
)
async def test_started_with_a_service_down_waits_and_loses_nothing(
    down: str, database_url: str, mqtt_url: str, topic_prefix: str
) -> None:
    db, broker = urlsplit(database_url), urlsplit(mqtt_url)
    client_id = f"kuzet-startdown-{topic_prefix}"
    await _earlier_session(mqtt_url, client_id, topic_prefix)
    async with (
        tcp_proxy(db.hostname or "127.0.0.1", db.port or 5432) as db_proxy,
        tcp_proxy(broker.hostname or "127.0.0.1", broker.port or 1883) as mqtt_proxy,
    ):
        cut: TcpProxy = db_proxy if down == "database" else mqtt_proxy
        await cut.cut()
        port = free_port()
        env = _env(
            via_proxy(database_url, db_proxy.port),
            via_proxy(mqtt_url, mqtt_proxy.port),
            topic_prefix,
            client_id,
            port,
        )
        async with _kuzet_run(env) as proc, publisher(mqtt_url) as mqtt:

            async def not_ready() -> bool:
                status, body = await _get(port, "/readyz")
                return status == 503 and any(r.startswith(down) for r in body["reasons"])

            await wait_for(not_ready, timeout=30, what=f"/readyz 503 naming {down}")
            assert await _get(port, "/healthz") == (200, {"status": "ok"})
            for i in range(MESSAGES):
                await mqtt.publish(f"{topic_prefix}/air/AIR-01", numbered_reading(i), qos=1)
            # several retries later it is still up, still answering, still not ready
            await asyncio.sleep(3)
            assert proc.returncode is None
            assert (await _get(port, "/readyz"))[0] == 503
            assert (await _get(port, "/healthz"))[0] == 200
            await cut.restore()

            async def all_stored() -> bool:
                return await _stored(database_url) == MESSAGES

            # the start-up backoff is capped at 30 s (plus jitter)
            await wait_for(all_stored, timeout=90, what="every reading once it is back")

            async def ready() -> bool:
                return (await _get(port, "/readyz"))[0] == 200

            await wait_for(ready, timeout=30, what="/readyz 200")
            # one subscription, not two: a new message is stored once
            await mqtt.publish(f"{topic_prefix}/air/AIR-01", numbered_reading(MESSAGES), qos=1)

            async def one_more() -> bool:
                return await _stored(database_url) == MESSAGES + 1

            await wait_for(one_more, what="a message after the start")
            await asyncio.sleep(1.0)
            assert await _stored(database_url) == MESSAGES + 1


async def test_sigterm_while_waiting_for_the_database_exits_0(
    database_url: str, mqtt_url: str, topic_prefix: str
) -> None:
    db = urlsplit(database_url)
    async with tcp_proxy(db.hostname or "127.0.0.1", db.port or 5432) as db_proxy:
        await db_proxy.cut()
        port = free_port()
        env = _env(via_proxy(database_url, db_proxy.port), mqtt_url, topic_prefix, "kuzet-x", port)
        async with _kuzet_run(env) as proc:

            async def not_ready() -> bool:
                return (await _get(port, "/readyz"))[0] == 503

            await wait_for(not_ready, timeout=30, what="/readyz 503 without the database")
            proc.send_signal(signal.SIGTERM)
            # exit status 0 (checked on leaving the block), not killed after a timeout
            await asyncio.wait_for(proc.wait(), 20)
