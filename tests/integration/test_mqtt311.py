"""A broker without MQTT 5 (amqtt): the daemon falls back to 3.1.1 with a persistent session."""

from __future__ import annotations

import pytest

from collector.embedded.amqtt import private_amqtt
from tests.integration.harness import (
    count,
    http_get,
    make_settings,
    numbered_reading,
    publisher,
    running_daemon,
    wait_for,
)

pytestmark = pytest.mark.integration


async def test_falls_back_to_311_and_keeps_messages_published_while_down(
    database_url: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}/air/AIR-01"
    with private_amqtt() as broker:
        settings = make_settings(database_url, broker.url, topic_prefix)

        async def stored(n: int) -> None:
            async def done() -> bool:
                return await count(database_url, "kuzet.air_readings") == n

            await wait_for(done, timeout=30, what=f"{n} readings")

        async with running_daemon(settings) as daemon, publisher(broker.url) as mqtt:
            await mqtt.publish(topic, numbered_reading(0), qos=1)
            await stored(1)
            _, text = await http_get(daemon, "/metrics")
            assert "kuzet_mqtt_connected 1.0" in text
        # the daemon is away: clean session off, so the broker queues for it
        async with publisher(broker.url) as mqtt:
            for i in range(1, 6):
                await mqtt.publish(topic, numbered_reading(i), qos=1)
        async with running_daemon(settings):
            await stored(6)
