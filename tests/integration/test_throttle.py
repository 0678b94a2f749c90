"""Per-station rate limits: a station flooding at 50× cannot starve another station."""

from __future__ import annotations

import asyncio
import json
import re
import time

import pytest

from tests.integration.harness import (
    count,
    http_get,
    make_settings,
    publisher,
    running_daemon,
    wait_for,
)

pytestmark = pytest.mark.integration

RATE = 5.0
BURST = 20
VICTIM_INTERVAL = 0.5  # the well-behaved station: 2 messages/s, below the rate
FLOOD_INTERVAL = VICTIM_INTERVAL / 50  # the flooding station: 50× as many
VICTIM_MESSAGES = 12
MAX_VICTIM_LATENCY = 2.0


def _now_reading(value: float) -> str:
    # Wall-clock timestamps, as a sensor stuck in a loop would send: no catch-up credit.
    return json.dumps({"ts": time.time(), "pm25": value})


def _sample(metrics: str, name: str) -> float:
    found = re.search(rf'{name}\{{feed="air"\}} (\S+)', metrics)
    assert found is not None, name
    return float(found.group(1))


async def test_flooding_station_is_throttled_and_others_are_not(
    database_url: str, mqtt_url: str, topic_prefix: str
) -> None:
    settings = make_settings(
        database_url,
        mqtt_url,
        topic_prefix,
        ingest={"station_rate": RATE, "station_burst": BURST},
    )
    flooder, victim = f"{topic_prefix}/air/AIR-01", f"{topic_prefix}/air/AIR-02"
    stop = asyncio.Event()
    flood_sent = 0
    async with running_daemon(settings) as daemon, publisher(mqtt_url) as mqtt:

        async def flood() -> None:
            nonlocal flood_sent
            while not stop.is_set():
                await mqtt.publish(flooder, _now_reading(1.0), qos=1)
                flood_sent += 1
                await asyncio.sleep(FLOOD_INTERVAL)

        started = time.monotonic()
        flood_task = asyncio.create_task(flood())
        latencies = []
        try:
            for i in range(VICTIM_MESSAGES):
                sent = time.monotonic()
                await mqtt.publish(victim, _now_reading(float(i)), qos=1)

                async def stored(n: int = i + 1) -> bool:
                    where = "station_id = 'AIR-02'"
                    return await count(database_url, "kuzet.air_readings", where) == n

                await wait_for(stored, timeout=10, what=f"victim reading {i}")
                latencies.append(time.monotonic() - sent)
                await asyncio.sleep(max(0.0, VICTIM_INTERVAL - latencies[-1]))
        finally:
            stop.set()
            await flood_task
        flood_seconds = time.monotonic() - started
        flood_stored = 0
        metrics = ""

        async def settled() -> bool:
            # every flood message the daemon received was stored or throttled, never rejected
            nonlocal flood_stored, metrics
            flood_stored = await count(database_url, "kuzet.air_readings", "station_id = 'AIR-01'")
            metrics = (await http_get(daemon, "/metrics"))[1]
            received = _sample(metrics, "kuzet_messages_received_total")
            throttled = _sample(metrics, "kuzet_messages_throttled_total")
            sent = flood_sent + VICTIM_MESSAGES
            return received == sent == throttled + flood_stored + VICTIM_MESSAGES

        await wait_for(settled, what="every flood message stored or throttled")

    assert max(latencies) < MAX_VICTIM_LATENCY, latencies
    # the flooder got its burst plus the rate, nothing like what it sent
    assert flood_sent > 5 * (BURST + RATE * flood_seconds)
    assert flood_stored <= BURST + RATE * (flood_seconds + 1)
    assert 'kuzet_messages_throttled_total{feed="lake"} 0.0' in metrics
