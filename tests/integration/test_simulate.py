"""`simulate` against a real broker: all three feeds arrive and decode without rejections."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from urllib.parse import urlsplit

import aiomqtt
import pytest

from collector.embedded.amqtt import private_amqtt
from collector.embedded.mqtt import MqttBroker
from collector.models import Feed
from collector.simulate import SimOptions, SimulationReport, simulate
from tests.unit.simulate._support import decode

pytestmark = pytest.mark.integration


async def _collect(
    mqtt_url: str, prefix: str
) -> tuple[list[tuple[str, bytes, float]], SimulationReport]:
    """Subscribe to `<prefix>/#`, run the simulator for 3 s at speed 600, return what came."""
    parts = urlsplit(mqtt_url)
    received: list[tuple[str, bytes, float]] = []
    async with aiomqtt.Client(
        parts.hostname or "127.0.0.1",
        parts.port or 1883,
        protocol=aiomqtt.ProtocolVersion.V311,
    ) as client:
        await client.subscribe(f"{prefix}/#", qos=1)

        arrived = asyncio.Event()

        async def pump() -> None:
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                received.append((str(message.topic), message.payload, time.time()))
                arrived.set()

        task = asyncio.create_task(pump())
        try:
            report = await simulate(
                mqtt_url,
                topic_prefix=prefix,
                scenario="all",
                speed=600.0,
                duration=3.0,
                seed=42,
                options=SimOptions(connect_timeout_s=3.0),
            )
            # The last messages may still be on their way from the broker.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    while len(received) < sum(report.messages.values()):
                        arrived.clear()
                        await arrived.wait()
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return received, report


async def test_simulate_publishes_every_feed(mqtt_broker: MqttBroker, topic_prefix: str) -> None:
    received, report = await _collect(mqtt_broker.url, topic_prefix)
    # MQTT 5 where the broker speaks it, else the 3.1.1 fallback.
    assert report.protocol == ("5" if mqtt_broker.supports_v5 else "3.1.1")
    # Every acknowledged message arrives, none failed.
    assert sum(report.failed.values()) == 0
    assert len(received) == sum(report.messages.values())
    per_feed = Counter[Feed]()
    readings = Counter[Feed]()
    for topic, payload, at in received:
        prefix, feed_name, station_id = topic.split("/")
        assert prefix == topic_prefix
        feed = Feed(feed_name)
        result = decode(feed, station_id, payload, at)
        # The daemon's decoders accept everything, with the receive time as reference.
        assert result.rejections == (), (topic, result.rejections)
        per_feed[feed] += 1
        readings[feed] += len(result.readings)
    assert per_feed == Counter(report.messages)
    assert readings == Counter(report.readings)
    # 3 s at speed 600 is 30 simulated minutes: ~1500 air readings, ~900 lake readings and
    # two packets per seismic station.
    assert readings[Feed.AIR] > 1000
    assert readings[Feed.LAKE] > 600
    assert readings[Feed.SEISMIC] >= 28


async def test_falls_back_to_mqtt_311() -> None:
    # amqtt 0.12 refuses an MQTT 5 CONNECT: the simulator retries with 3.1.1 and publishes.
    with private_amqtt() as broker:
        received, report = await _collect(broker.url, "fallback")
    assert report.protocol == "3.1.1"
    assert sum(report.failed.values()) == 0
    assert {topic.split("/")[1] for topic, _, _ in received} == {"air", "seismic", "lake"}
