from __future__ import annotations

import aiohttp
import pytest

from alerts.channels.base import DeliveryError, Notification
from alerts.channels.webhook import WebhookChannel, WebhookConfig
from alerts.model import Event
from tests.fixtures.receiver import webhook_receiver

ELEMENT = {
    "status": "firing",
    "labels": {
        "alertname": "pm25_24h",
        "severity": "warning",
        "kind": "air",
        "station_id": "AIR-07",
        "area": "Almaly",
    },
    "annotations": {"summary": "PM2.5 high", "value": "41.2", "threshold": "35", "unit": "µg/m³"},
    "startsAt": "2026-01-10T08:00:00Z",
    "endsAt": "0001-01-01T00:00:00Z",
    "generatorURL": "http://127.0.0.1:8321/api/v1/alerts/17",
    "fingerprint": "0123456789abcdef",
}


def note(url: str) -> Notification:
    return Notification(
        id=42,
        alert_id=17,
        channel="webhook",
        target=url,
        event=Event.FIRING,
        key="pm25_24h:AIR-07",
        alert=ELEMENT,
        attempts=0,
    )


async def test_posts_alertmanager_v4_with_idempotency_key() -> None:
    async with webhook_receiver() as receiver, aiohttp.ClientSession() as session:
        channel = WebhookChannel(WebhookConfig((receiver.url,), "http://127.0.0.1:8321"), session)
        await channel.send(note(receiver.url))
    (request,) = receiver.requests
    assert request.headers["Idempotency-Key"] == "42"
    assert request.headers["Content-Type"] == "application/json"
    assert request.body == {
        "version": "4",
        "status": "firing",
        "receiver": "webhook",
        "groupKey": "pm25_24h:AIR-07",
        "truncatedAlerts": 0,
        "groupLabels": {"alertname": "pm25_24h"},
        "commonLabels": ELEMENT["labels"],
        "commonAnnotations": ELEMENT["annotations"],
        "externalURL": "http://127.0.0.1:8321",
        "alerts": [ELEMENT],
    }


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (500, True),  # server error: try again
        (503, True),  # unavailable: try again
        (429, True),  # rate limited: try again later
        (408, True),  # request timeout
        (400, False),  # our request is wrong: retrying cannot help
        (404, False),  # no such endpoint
    ],
)
async def test_failure_classification(status: int, retryable: bool) -> None:
    async with webhook_receiver() as receiver, aiohttp.ClientSession() as session:
        receiver.statuses = [status]
        channel = WebhookChannel(WebhookConfig((receiver.url,), "x"), session)
        with pytest.raises(DeliveryError) as info:
            await channel.send(note(receiver.url))
    assert info.value.retryable is retryable


async def test_unreachable_receiver_is_retryable() -> None:
    # nothing listens on port 9 of localhost: a network error is transient
    async with aiohttp.ClientSession() as session:
        channel = WebhookChannel(
            WebhookConfig(("http://127.0.0.1:9/x",), "x", timeout_s=2), session
        )
        with pytest.raises(DeliveryError) as info:
            await channel.send(note("http://127.0.0.1:9/x"))
    assert info.value.retryable is True
