from __future__ import annotations

import aiohttp
import pytest

from alerts.channels.base import DeliveryError
from alerts.channels.limits import RetryAfterError
from alerts.channels.ntfy import MAX_MESSAGE_BYTES, NtfyChannel, NtfyConfig, message
from alerts.model import Event
from tests.unit.channels.http_server import Reply, http_server
from tests.unit.channels.sample import DESCRIPTION, SUMMARY, element, note


def channel(server: str, session: aiohttp.ClientSession, token: str | None = None) -> NtfyChannel:
    config = NtfyConfig(
        server=server,
        topics=("almaty-air", "almaty-kk"),
        token=token,
        default_lang="ru",
        langs={"almaty-kk": "kk"},
    )
    return NtfyChannel(config, session)


async def test_publishes_json_to_the_root_url_with_kazakh_text() -> None:
    async with http_server() as server, aiohttp.ClientSession() as session:
        await channel(server.url + "/", session).send(note("almaty-kk"))
    (request,) = server.requests
    assert request.method == "POST"
    assert request.path == "/"  # JSON publishing goes to the root, not /<topic>
    assert request.json() == {
        "topic": "almaty-kk",
        "title": SUMMARY["kk"],
        "message": DESCRIPTION["kk"],
        "priority": 4,
        "tags": ["warning", "air", "pm25_24h"],
        "click": "http://127.0.0.1:8321/api/v1/alerts/17",
    }
    # no text in headers: every header value is latin-1 (HTTP/1.1 field values)
    for name, value in request.headers.items():
        (name + value).encode("latin-1")
    assert "Authorization" not in request.headers


async def test_bearer_token() -> None:
    async with http_server() as server, aiohttp.ClientSession() as session:
        await channel(server.url, session, token="tk_abc").send(note("almaty-air"))  # noqa: S106 - a test value
    assert server.requests[0].headers["Authorization"] == "Bearer tk_abc"


@pytest.mark.parametrize(
    ("severity", "event", "priority", "emoji"),
    [
        ("critical", Event.FIRING, 5, "rotating_light"),  # critical → 5 (max/urgent)
        ("warning", Event.FIRING, 4, "warning"),  # warning → 4 (high)
        ("info", Event.FIRING, 3, "information_source"),  # info → 3 (default)
        ("critical", Event.ESCALATED, 5, "rotating_light"),  # escalation keeps its severity
        ("critical", Event.RESOLVED, 3, "white_check_mark"),  # a resolve is never urgent
    ],
)
def test_priority_and_tags(severity: str, event: Event, priority: int, emoji: str) -> None:
    status = "resolved" if event is Event.RESOLVED else "firing"
    body = message(element(severity=severity, status=status), event.value, topic="t", lang="en")
    assert body["priority"] == priority
    assert body["tags"][0] == emoji


def test_long_description_stays_below_the_attachment_limit() -> None:
    # ntfy turns a body above 4096 bytes into an attachment; Cyrillic is 2 bytes a letter
    long = "ж" * 5000
    body = message(
        element(description={"en": long, "ru": long, "kk": long}), "firing", topic="t", lang="ru"
    )
    assert len(body["message"].encode()) <= MAX_MESSAGE_BYTES
    assert body["message"].endswith("…")


def test_no_click_for_a_non_http_link() -> None:
    # a javascript: or empty generatorURL must not become a click action
    body = message(
        {**element(), "generatorURL": "javascript:alert(1)"}, "firing", topic="t", lang="en"
    )
    assert "click" not in body


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (500, True),  # server error: try again
        (503, True),  # unavailable: try again
        (400, False),  # malformed request: retrying cannot help
        (401, False),  # token missing or wrong
        (403, False),  # token lacks write access to the topic
        (413, False),  # too large
    ],
)
async def test_failure_classification(status: int, retryable: bool) -> None:
    async with http_server() as server, aiohttp.ClientSession() as session:
        server.default = Reply(status, {"code": status})
        with pytest.raises(DeliveryError) as info:
            await channel(server.url, session).send(note("almaty-air"))
    assert info.value.retryable is retryable


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        ({"Retry-After": "30"}, 30.0),  # the server says when
        ({}, 1.0),  # ntfy's visitor limit without a hint: a second
    ],
)
async def test_429_is_retried_after_the_hint(headers: dict[str, str], retry_after: float) -> None:
    async with http_server() as server, aiohttp.ClientSession() as session:
        server.default = Reply(429, {"code": 42901}, headers)
        with pytest.raises(RetryAfterError) as info:
            await channel(server.url, session).send(note("almaty-air"))
    assert info.value.retryable is True
    assert info.value.retry_after == retry_after
