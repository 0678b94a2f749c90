"""End to end: air readings on the real broker → alerts in the database → webhook and MQTT."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.fixtures.receiver import Receiver, webhook_receiver
from tests.integration.harness import (
    count,
    fetch_all,
    http_get,
    make_settings,
    publisher,
    running_daemon,
    wait_for,
)

pytestmark = pytest.mark.integration

# Only pm25_1h (critical above 160 µg/m³) is on, so every notification is attributable.
ONLY_PM25_1H: dict[str, Any] = {
    "rules": {name: {"enabled": False} for name in ("pm25_24h", "no2_1h", "no2_24h", "aqi")},
    "city": [],
}


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _start() -> datetime:
    # three hours ago on a whole hour: inside max_age, never in the future
    return (datetime.now(UTC) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)


async def _publish_minutes(
    mqtt: Any, topic: str, start: datetime, minutes: range, pm25: float
) -> None:
    for m in minutes:
        reading = {"ts": _iso(start + timedelta(minutes=m)), "pm25": pm25}
        await mqtt.publish(topic, json.dumps(reading), qos=1)


def _settings(database_url: str, mqtt_url: str, prefix: str, receiver: Receiver) -> Any:
    return make_settings(
        database_url,
        mqtt_url,
        prefix,
        alerts=ONLY_PM25_1H,
        channels={"webhook": {"urls": [receiver.url]}},
    )


async def _posts(receiver: Receiver, n: int) -> None:
    async def enough() -> bool:
        return len(receiver.alerts()) >= n

    await wait_for(enough, timeout=20, what=f"{n} webhook posts")


async def test_sustained_exceedance_fires_once_and_resolves_once(
    database_url: str, mqtt_url: str, topic_prefix: str
) -> None:
    start = _start()
    topic = f"{topic_prefix}/air/AIR-01"
    async with webhook_receiver() as receiver:
        settings = _settings(database_url, mqtt_url, topic_prefix, receiver)
        async with running_daemon(settings) as daemon, publisher(mqtt_url) as mqtt:
            await mqtt.subscribe(f"{topic_prefix}/alerts/#", qos=1)
            # hour 1: 200 µg/m³ every minute; the 1 h mean becomes valid at 45 readings
            await _publish_minutes(mqtt, topic, start, range(60), 200.0)
            await _posts(receiver, 1)
            # hour 2: clean air; the mean slides below 90 % of 160 and the alert resolves
            await _publish_minutes(mqtt, topic, start, range(60, 120), 10.0)
            await _posts(receiver, 2)
            published = []
            async with asyncio.timeout(10):
                async for message in mqtt.messages:
                    published.append(json.loads(message.payload))  # type: ignore[arg-type]
                    if len(published) == 2:
                        break
            _, body = await http_get(daemon, "/api/v1/alerts?state=all")
            await asyncio.sleep(1.0)  # nothing more may arrive
    alerts = receiver.alerts()
    assert [a["status"] for a in alerts] == ["firing", "resolved"]
    firing, resolved = alerts
    assert firing["labels"] == {
        "alertname": "pm25_1h",
        "severity": "critical",
        "kind": "air",
        "station_id": "AIR-01",
        "area": "Almaly",
    }
    for lang in ("summary", "summary_ru", "summary_kk", "description_kk"):
        assert firing["annotations"][lang], lang
    assert firing["annotations"]["threshold"] == "160.0"
    assert firing["annotations"]["unit"] == "µg/m³"
    assert firing["endsAt"] == "0001-01-01T00:00:00Z"
    assert resolved["endsAt"] != "0001-01-01T00:00:00Z"
    assert firing["fingerprint"] == resolved["fingerprint"]
    # the webhook envelope of the spec, one alert per request, with an idempotency key
    first = receiver.requests[0]
    assert first.body["version"] == "4"
    assert first.body["groupKey"] == "pm25_1h:AIR-01"
    assert first.body["groupLabels"] == {"alertname": "pm25_1h"}
    assert len(first.body["alerts"]) == 1
    keys = {r.headers["Idempotency-Key"] for r in receiver.requests}
    assert len(keys) == 2
    # every transition is also published on MQTT
    assert [p["status"] for p in published] == ["firing", "resolved"]
    assert body["count"] == 1
    assert body["alerts"][0]["state"] == "resolved"
    rows = await fetch_all(
        database_url, "SELECT channel, event, status FROM kuzet.notifications ORDER BY id"
    )
    assert sorted(rows) == sorted(
        [
            ("webhook", "firing", "sent"),
            ("mqtt", "firing", "sent"),
            ("webhook", "resolved", "sent"),
            ("mqtt", "resolved", "sent"),
        ]
    )


async def test_sparse_data_fires_nothing(
    database_url: str, mqtt_url: str, topic_prefix: str
) -> None:
    # 44 readings in an hour are below the 75 % completeness needed for a valid mean
    start = _start()
    async with webhook_receiver() as receiver:
        settings = _settings(database_url, mqtt_url, topic_prefix, receiver)
        async with running_daemon(settings), publisher(mqtt_url) as mqtt:
            await _publish_minutes(
                mqtt, f"{topic_prefix}/air/AIR-01", start, range(0, 88, 2), 900.0
            )

            async def stored() -> bool:
                return await count(database_url, "kuzet.air_readings") == 44

            await wait_for(stored, what="sparse readings stored")
            await asyncio.sleep(1.0)
    assert receiver.requests == []
    assert await count(database_url, "kuzet.alerts") == 0


async def test_restart_in_the_middle_changes_nothing(
    database_url: str, mqtt_url: str, topic_prefix: str
) -> None:
    start = _start()
    topic = f"{topic_prefix}/air/AIR-01"
    async with webhook_receiver() as receiver:
        settings = _settings(database_url, mqtt_url, topic_prefix, receiver)
        async with running_daemon(settings), publisher(mqtt_url) as mqtt:
            await _publish_minutes(mqtt, topic, start, range(50), 200.0)
            await _posts(receiver, 1)
        # restarted: windows and the firing alert come back from the database
        async with running_daemon(settings) as daemon, publisher(mqtt_url) as mqtt:
            _, air = await http_get(daemon, "/api/v1/air/AIR-01")
            assert air["pm25"]["mean_1h"] == 200.0
            await _publish_minutes(mqtt, topic, start, range(50, 60), 200.0)
            await _publish_minutes(mqtt, topic, start, range(60, 120), 10.0)
            await _posts(receiver, 2)
            await asyncio.sleep(1.0)
    assert [a["status"] for a in receiver.alerts()] == ["firing", "resolved"]
    assert await count(database_url, "kuzet.alerts") == 1


async def test_failed_delivery_is_retried_with_the_same_idempotency_key(
    database_url: str, mqtt_url: str, topic_prefix: str
) -> None:
    start = _start()
    async with webhook_receiver() as receiver:
        receiver.statuses = [503, 500]
        settings = _settings(database_url, mqtt_url, topic_prefix, receiver)
        async with running_daemon(settings) as daemon, publisher(mqtt_url) as mqtt:
            await _publish_minutes(mqtt, f"{topic_prefix}/air/AIR-01", start, range(50), 200.0)
            await _posts(receiver, 1)
            sent = 'kuzet_notifications_total{channel="webhook",outcome="sent"} 1.0'
            text = ""

            async def counted() -> bool:
                # the receiver answers before the daemon reads the answer and counts it
                nonlocal text
                _, text = await http_get(daemon, "/metrics")
                return sent in text

            await wait_for(counted, what="the delivery to be counted")
    statuses = [r.headers["X-Answered"] for r in receiver.requests]
    assert statuses == ["503", "500", "200"]
    assert len({r.headers["Idempotency-Key"] for r in receiver.requests}) == 1
    assert 'kuzet_notifications_total{channel="webhook",outcome="retry"} 2.0' in text
    assert 'kuzet_notifications_total{channel="webhook",outcome="sent"} 1.0' in text
    rows = await fetch_all(
        database_url, "SELECT status, attempts FROM kuzet.notifications WHERE channel = 'webhook'"
    )
    assert rows == [("sent", 3)]


async def test_air_api(database_url: str, mqtt_url: str, topic_prefix: str) -> None:
    start = _start()
    settings = make_settings(database_url, mqtt_url, topic_prefix)
    async with running_daemon(settings) as daemon, publisher(mqtt_url) as mqtt:
        for m in range(120):
            reading = {"ts": _iso(start + timedelta(minutes=m)), "pm25": 40.0, "no2": 80.0}
            await mqtt.publish(f"{topic_prefix}/air/AIR-02", json.dumps(reading), qos=1)

        async def evaluated() -> bool:
            _, body = await http_get(daemon, "/api/v1/air/AIR-02")
            return body["time"] is not None and body["time"].startswith(
                _iso(start + timedelta(minutes=119))[:16]
            )

        await wait_for(evaluated, what="air API up to date")
        status, one = await http_get(daemon, "/api/v1/air/AIR-02")
        _, every = await http_get(daemon, "/api/v1/air")
        missing = await http_get(daemon, "/api/v1/air/NOPE")
        _, daily = await http_get(daemon, "/api/v1/air/AIR-02/daily?days=2")
        bad_days = await http_get(daemon, "/api/v1/air/AIR-02/daily?days=0")
    assert status == 200
    assert one["pm25"]["mean_1h"] == 40.0
    assert one["pm25"]["mean_24h"] is None  # 2 h of data is not 75 % of a day
    assert one["no2"]["mean_1h"] == 80.0
    assert one["pm25"]["limit_multiple"]["kz_one_time"] == 0.25  # 40 / 160
    assert [s["station_id"] for s in every["stations"]] == ["AIR-02"]
    assert every["city"]["pm25"]["mean_1h"] == 40.0
    assert missing[0] == 404
    assert "error" in missing[1]
    # 120 readings in a day are far below 75 % of 1440: the daily mean is null, never a guess
    day = daily["days"][-1]
    assert day["pm25"]["mean"] is None
    assert day["pm25"]["n"] >= 1
    assert bad_days[0] == 400
