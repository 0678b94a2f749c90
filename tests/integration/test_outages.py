"""Faults: the database or the broker goes away and comes back; nothing is lost."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.fixtures.proxy import tcp_proxy, via_proxy
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


async def test_database_outage_pauses_and_recovers_without_loss(
    database_url: str, mqtt_url: str, topic_prefix: str
) -> None:
    parts = urlsplit(database_url)
    async with tcp_proxy(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        settings = make_settings(via_proxy(database_url, proxy.port), mqtt_url, topic_prefix)
        async with running_daemon(settings) as daemon, publisher(mqtt_url) as mqtt:
            topic = f"{topic_prefix}/air/AIR-01"
            for i in range(50):
                await mqtt.publish(topic, numbered_reading(i), qos=1)

            async def first_half() -> bool:
                return await count(database_url, "kuzet.air_readings") == 50

            await wait_for(first_half, what="readings before the outage")
            await proxy.cut()

            async def not_ready() -> bool:
                status, body = await http_get(daemon, "/readyz")
                return status == 503 and any("database" in r for r in body["reasons"])

            await wait_for(not_ready, timeout=20, what="/readyz 503 during the outage")
            for i in range(50, 150):
                await mqtt.publish(topic, numbered_reading(i), qos=1)
            status, _ = await http_get(daemon, "/healthz")
            assert status == 200  # alive, just not ready
            await proxy.restore()

            async def caught_up() -> bool:
                return await count(database_url, "kuzet.air_readings") == 150

            await wait_for(caught_up, timeout=60, what="every reading after the outage")

            async def ready() -> bool:
                return (await http_get(daemon, "/readyz"))[0] == 200

            await wait_for(ready, timeout=20, what="/readyz 200 after the outage")
            _, text = await http_get(daemon, "/metrics")
    assert 'kuzet_db_write_errors_total{retryable="true"}' in text


async def test_broker_outage_reconnects_and_resubscribes(
    database_url: str, mqtt_url: str, topic_prefix: str
) -> None:
    parts = urlsplit(mqtt_url)
    async with tcp_proxy(parts.hostname or "127.0.0.1", parts.port or 1883) as proxy:
        via = urlunsplit(parts._replace(netloc=f"127.0.0.1:{proxy.port}"))
        settings = make_settings(
            database_url,
            via,
            topic_prefix,
            mqtt={"reconnect_initial": "0.2s", "reconnect_max": "1s"},
        )
        async with running_daemon(settings) as daemon, publisher(mqtt_url) as mqtt:
            topic = f"{topic_prefix}/air/AIR-02"
            await proxy.cut()

            async def disconnected() -> bool:
                return (await http_get(daemon, "/readyz"))[0] == 503

            await wait_for(disconnected, timeout=60, what="/readyz 503 without the broker")
            # published while the daemon is away: the persistent session keeps them
            for i in range(20):
                await mqtt.publish(topic, numbered_reading(i), qos=1)
            await proxy.restore()

            async def stored() -> bool:
                return await count(database_url, "kuzet.air_readings") == 20

            await wait_for(stored, timeout=60, what="readings after reconnecting")
            # one subscription, not two: a new message is stored once
            await mqtt.publish(topic, numbered_reading(100), qos=1)

            async def one_more() -> bool:
                return await count(database_url, "kuzet.air_readings") == 21

            await wait_for(one_more, what="message after reconnect")
            _, text = await http_get(daemon, "/metrics")
    assert 'kuzet_messages_received_total{feed="air"} 21.0' in text
