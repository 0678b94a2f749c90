"""At-least-once ingest, stored once: kill -9 mid-stream, restart, nothing lost or doubled."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from collector.embedded.processes import free_port
from tests.integration.harness import TEST_STATIONS, count, publisher, wait_for

pytestmark = pytest.mark.integration

MESSAGES = 600


async def _start(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "collector.cli",
        "run",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _ready(port: int) -> bool:
    try:
        async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/readyz") as r:
            return r.status == 200
    except aiohttp.ClientError:
        return False


async def test_kill_minus_9_loses_nothing_and_stores_once(
    database_url: str, mqtt_url: str, topic_prefix: str
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUZET_")}
    env.update(
        {
            "KUZET_DATABASE_URL": database_url,
            "KUZET_MQTT_URL": mqtt_url,
            "KUZET_TOPIC_PREFIX": topic_prefix,
            "KUZET_MQTT_CLIENT_ID": f"kuzet-crash-{topic_prefix}",
            "KUZET_HTTP_LISTEN": f"127.0.0.1:{port}",
            "KUZET_STATIONS": str(TEST_STATIONS),
            "KUZET_LOG_LEVEL": "warning",
        }
    )
    proc = await _start(env)
    try:
        await wait_for(lambda: _ready(port), timeout=30, what="daemon ready")
        t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=12)
        async with publisher(mqtt_url) as mqtt:
            for i in range(MESSAGES):
                ts = (t0 + timedelta(seconds=i)).isoformat()
                await mqtt.publish(
                    f"{topic_prefix}/air/AIR-01", f'{{"ts": "{ts}", "pm25": {i}}}', qos=1
                )
                if i == MESSAGES // 3:
                    # no flush, no goodbye: whatever was taken but not committed is unacked
                    proc.send_signal(signal.SIGKILL)
                    await proc.wait()
        stored_at_crash = await count(database_url, "kuzet.air_readings")
        assert stored_at_crash < MESSAGES
        # the broker kept the persistent session's queue; the new process catches up
        proc = await _start(env)

        async def complete() -> bool:
            return await count(database_url, "kuzet.air_readings") == MESSAGES

        await wait_for(complete, timeout=60, what="every reading after the restart")
        await asyncio.sleep(1.0)
        assert await count(database_url, "kuzet.air_readings") == MESSAGES
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 40)
