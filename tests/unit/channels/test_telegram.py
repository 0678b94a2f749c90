from __future__ import annotations

import html
import re
from typing import Any

import aiohttp
import pytest

from alerts.catalogue import Lang
from alerts.channels.base import DeliveryError
from alerts.channels.limits import RetryAfterError
from alerts.channels.telegram import MAX_TEXT, TelegramChannel, TelegramConfig, render
from alerts.model import Event
from tests.unit.channels.http_server import Reply, http_server
from tests.unit.channels.sample import DESCRIPTION, SUMMARY, element, note

TOKEN = "123456:ABC-secret-token"  # noqa: S105 - a test value
OK = Reply(200, {"ok": True, "result": {"message_id": 1}})
# An entity Telegram accepts, or a bare "&" that starts a broken one.
ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#x27);")


def channel(url: str, session: aiohttp.ClientSession, **kwargs: Any) -> TelegramChannel:
    config = TelegramConfig(
        token=TOKEN,
        chats=("-1001", "-1002", "@almaty_alerts"),
        api_base=url,
        default_lang="ru",
        langs={"-1002": "kk", "@almaty_alerts": "en"},
    )
    return TelegramChannel(config, session, **kwargs)


async def test_sends_html_message_to_the_chat() -> None:
    async with http_server() as server, aiohttp.ClientSession() as session:
        server.default = OK
        await channel(server.url, session).send(note("-1001"))
    (request,) = server.requests
    body = request.json()
    assert request.path == f"/bot{TOKEN}/sendMessage"
    assert body["chat_id"] == "-1001"
    assert body["parse_mode"] == "HTML"
    assert body["text"].startswith(f"🟠 <b>{SUMMARY['ru']}</b>")
    assert DESCRIPTION["ru"] in body["text"]
    assert '<a href="http://127.0.0.1:8321/api/v1/alerts/17">Подробнее</a>' in body["text"]
    assert body["disable_notification"] is False


@pytest.mark.parametrize(
    ("chat", "lang"),
    [
        ("-1001", "ru"),  # no language configured: the channel's default
        ("-1002", "kk"),  # the chat's own language: summary_kk
        ("@almaty_alerts", "en"),  # English uses the unsuffixed summary
        ("-1009", "ru"),  # a chat removed from the config since enqueue: the default
    ],
)
async def test_language_per_chat(chat: str, lang: Lang) -> None:
    async with http_server() as server, aiohttp.ClientSession() as session:
        server.default = OK
        await channel(server.url, session).send(note(chat))
    text = server.requests[0].json()["text"]
    assert SUMMARY[lang] in text
    assert all(SUMMARY[other] not in text for other in SUMMARY if other != lang)


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        # markup in a value is shown, never interpreted
        ("<b>bold</b> & <i>", "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;i&gt;"),
        # quotes could close an attribute
        ('say "hi"', "say &quot;hi&quot;"),
        # an entity-looking value stays literal text
        ("&amp;", "&amp;amp;"),
    ],
)
def test_every_value_is_escaped(summary: str, expected: str) -> None:
    alert = element(summary={"en": summary, "ru": summary, "kk": summary})
    assert f"<b>{expected}</b>" in render(alert, "firing", "ru")


def test_link_url_is_escaped_inside_the_attribute() -> None:
    # a quote in the URL must not end the href attribute
    alert = {**element(), "generatorURL": 'http://x/a"onclick="b'}
    assert 'href="http://x/a&quot;onclick=&quot;b"' in render(alert, "firing", "en")


@pytest.mark.parametrize(
    "description",
    [
        "x" * 10_000,  # plain text: cut to the limit
        "&" * 10_000,  # every character grows to 5 when escaped: cut before escaping
        "<" * 3000 + "a" * 3000,  # mixed growth
    ],
)
def test_message_fits_4096_without_broken_entities(description: str) -> None:
    text = render(
        element(description={"en": description, "ru": description, "kk": description}),
        "firing",
        "ru",
    )
    assert len(text) <= MAX_TEXT
    assert text.endswith("</a>")  # the link survives the cut
    body = text.split("\n\n")[1]
    assert body.endswith("…")
    assert "&" not in ENTITY.sub("", body)  # no "&am" left dangling by the cut
    assert html.unescape(body).rstrip("…") in description


@pytest.mark.parametrize(
    ("event", "severity", "silent", "mark"),
    [
        (Event.FIRING, "critical", False, "🔴"),  # a critical alert rings
        (Event.FIRING, "info", True, "🔵"),  # info arrives silently
        (Event.RESOLVED, "critical", True, "✅"),  # a resolve notice never rings
    ],
)
async def test_sound_and_mark(event: Event, severity: str, silent: bool, mark: str) -> None:
    alert = element(severity=severity, status="resolved" if event is Event.RESOLVED else "firing")
    async with http_server() as server, aiohttp.ClientSession() as session:
        server.default = OK
        await channel(server.url, session).send(note("-1001", alert, event=event))
    body = server.requests[0].json()
    assert body["disable_notification"] is silent
    assert body["text"].startswith(mark)


@pytest.mark.parametrize(
    ("reply", "retryable"),
    [
        (Reply(500, {"ok": False, "error_code": 500}), True),  # server error: try again
        (Reply(502, b"<html>bad gateway</html>"), True),  # a proxy in between, not JSON
        (Reply(400, {"ok": False, "description": "Bad Request: chat not found"}), False),
        (Reply(403, {"ok": False, "description": "Forbidden: bot was blocked"}), False),
        (Reply(401, {"ok": False, "description": "Unauthorized"}), False),  # bad token
        (Reply(404, {"ok": False, "description": "Not Found"}), False),  # token unknown
        (Reply(200, {"ok": False}), True),  # 2xx without ok: not delivered, try again
    ],
)
async def test_failure_classification(reply: Reply, retryable: bool) -> None:
    async with http_server() as server, aiohttp.ClientSession() as session:
        server.default = reply
        with pytest.raises(DeliveryError) as info:
            await channel(server.url, session).send(note("-1001"))
    assert info.value.retryable is retryable
    assert TOKEN not in str(info.value)


async def test_429_honours_retry_after_for_the_whole_channel() -> None:
    now = [100.0]
    async with http_server() as server, aiohttp.ClientSession() as session:
        server.replies = [Reply(429, {"ok": False, "parameters": {"retry_after": 7}})]
        server.default = OK
        tg = channel(server.url, session, clock=lambda: now[0])
        with pytest.raises(RetryAfterError) as first:
            await tg.send(note("-1001"))
        # another chat within the ban: refused here, Telegram is not asked again
        now[0] = 104.0
        with pytest.raises(RetryAfterError) as second:
            await tg.send(note("-1002"))
        now[0] = 107.5
        await tg.send(note("-1002"))
    assert first.value.retry_after == 7
    assert first.value.retryable is True
    assert second.value.retry_after == pytest.approx(3.0)
    assert len(server.requests) == 2


async def test_migrated_group_names_the_new_chat_id() -> None:
    reply = Reply(
        400,
        {"ok": False, "description": "group upgraded", "parameters": {"migrate_to_chat_id": -1009}},
    )
    async with http_server() as server, aiohttp.ClientSession() as session:
        server.default = reply
        with pytest.raises(DeliveryError) as info:
            await channel(server.url, session).send(note("-1001"))
    assert info.value.retryable is False
    assert "-1009" in str(info.value)


async def test_unreachable_api_is_retryable_and_hides_the_token() -> None:
    # nothing listens on port 9: a network error is transient
    async with aiohttp.ClientSession() as session:
        tg = TelegramChannel(
            TelegramConfig(token=TOKEN, chats=("1",), api_base="http://127.0.0.1:9", timeout_s=2),
            session,
        )
        with pytest.raises(DeliveryError) as info:
            await tg.send(note("1"))
    assert info.value.retryable is True
    assert TOKEN not in str(info.value)
