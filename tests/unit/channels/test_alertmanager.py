from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from alerts.channels.alertmanager import (
    AlertmanagerChannel,
    AlertmanagerConfig,
    postable_alerts,
)
from alerts.channels.base import DeliveryError
from alerts.channels.limits import RetryAfterError
from alerts.model import Event
from tests.unit.channels.http_server import Reply, http_server
from tests.unit.channels.sample import element, note

NOW = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
TTL = timedelta(hours=5)


def channel(
    urls: tuple[str, ...], session: aiohttp.ClientSession, token: str | None = None
) -> AlertmanagerChannel:
    return AlertmanagerChannel(
        AlertmanagerConfig(urls=urls, token=token, firing_ttl=TTL), session, clock=lambda: NOW
    )


async def test_posts_postable_alerts_to_every_instance() -> None:
    async with (
        http_server() as a,
        http_server() as b,
        aiohttp.ClientSession() as session,
    ):
        am = channel((a.url, b.url + "/"), session)
        # HA peers each get the alert: one outbox row per instance
        for target in am.targets():
            await am.send(note(target))
    for server in (a, b):
        (request,) = server.requests
        assert request.path == "/api/v2/alerts"
        assert request.headers["Content-Type"] == "application/json"
        (posted,) = request.json()
        alert = element()
        # exactly the postableAlert fields (status and fingerprint are Alertmanager's own)
        assert posted == {
            "labels": alert["labels"],
            "annotations": alert["annotations"],
            "startsAt": "2026-01-10T08:00:00Z",
            "endsAt": "2026-01-10T14:00:00Z",
            "generatorURL": alert["generatorURL"],
        }


async def test_bearer_token() -> None:
    async with http_server() as server, aiohttp.ClientSession() as session:
        await channel((server.url,), session, token="s3cret").send(note(server.url))  # noqa: S106 - a test value
    assert server.requests[0].headers["Authorization"] == "Bearer s3cret"


@pytest.mark.parametrize(
    ("alert", "event", "ends_at"),
    [
        # firing: kept alive until the next repeat, then expires by itself
        (element(), Event.FIRING, "2026-01-10T14:00:00Z"),
        (element(), Event.REPEAT, "2026-01-10T14:00:00Z"),
        # resolved: ends at the resolve time carried by the payload
        (
            element(status="resolved", ends_at="2026-01-10T08:40:00Z"),
            Event.RESOLVED,
            "2026-01-10T08:40:00Z",
        ),
        # resolved without an end time in the payload: ends now
        (element(status="resolved"), Event.RESOLVED, "2026-01-10T09:00:00Z"),
    ],
)
def test_ends_at(alert: dict[str, object], event: Event, ends_at: str) -> None:
    (posted,) = postable_alerts(alert, event.value, now=NOW, firing_ttl=TTL)
    assert posted["endsAt"] == ends_at


@pytest.mark.parametrize(
    ("severity", "ended"),
    [
        ("critical", ["info", "warning"]),  # both lower identities end
        ("warning", ["info"]),
        ("info", []),  # nothing below info
    ],
)
def test_escalation_ends_the_lower_severity_copies(severity: str, ended: list[str]) -> None:
    body = postable_alerts(element(severity=severity), "escalated", now=NOW, firing_ttl=TTL)
    assert body[0]["labels"]["severity"] == severity
    assert body[0]["endsAt"] == "2026-01-10T14:00:00Z"
    assert [a["labels"]["severity"] for a in body[1:]] == ended
    assert all(a["endsAt"] == "2026-01-10T09:00:00Z" for a in body[1:])
    # the copies differ from the alert only in severity
    assert all({**a["labels"], "severity": severity} == body[0]["labels"] for a in body[1:])


@pytest.mark.parametrize(
    ("reply", "retryable"),
    [
        (Reply(500), True),  # server error: try again
        (Reply(503), True),  # unavailable: try again
        (Reply(400, {"message": "bad alert"}), False),  # rejected alert: retrying cannot help
        (Reply(401), False),  # credentials
        (Reply(404), False),  # not an Alertmanager v2 URL
    ],
)
async def test_failure_classification(reply: Reply, retryable: bool) -> None:
    async with http_server() as server, aiohttp.ClientSession() as session:
        server.default = reply
        with pytest.raises(DeliveryError) as info:
            await channel((server.url,), session).send(note(server.url))
    assert info.value.retryable is retryable


async def test_retry_after_is_passed_on() -> None:
    # a 503 with Retry-After tells the outbox when to come back
    async with http_server() as server, aiohttp.ClientSession() as session:
        server.default = Reply(503, None, {"Retry-After": "120"})
        with pytest.raises(RetryAfterError) as info:
            await channel((server.url,), session).send(note(server.url))
    assert info.value.retry_after == 120.0


async def test_unreachable_instance_is_retryable() -> None:
    # nothing listens on port 9: a network error is transient
    async with aiohttp.ClientSession() as session:
        with pytest.raises(DeliveryError) as info:
            await channel(("http://127.0.0.1:9",), session).send(note("http://127.0.0.1:9"))
    assert info.value.retryable is True
