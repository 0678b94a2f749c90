"""Web Push: encryption and VAPID against a local stand-in push service, fan-out outcomes."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import http_ece  # type: ignore[import-untyped]
import orjson
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool
from py_vapid import Vapid02  # type: ignore[import-untyped]

from alerts.channels.base import DeliveryError
from alerts.channels.metrics import ChannelMetrics
from alerts.channels.webpush import (
    MAX_PAYLOAD_BYTES,
    InvalidSubscriptionError,
    PushPolicy,
    WebPushChannel,
    WebPushConfig,
    load_vapid,
    parse_subscription,
    public_key_of,
    push_payload,
)
from alerts.model import Event
from storage.migrate import migrate
from storage.push import list_subscriptions, save_subscription
from tests.unit.channels.http_server import Reply, http_server
from tests.unit.channels.push_keys import Browser, b64url, vapid_pem
from tests.unit.channels.sample import SUMMARY, element, note

Pool = AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]
VAPID = vapid_pem()
SUBJECT = "mailto:ops@kuzet.example.kz"
LOCAL = PushPolicy(endpoint_hosts=("127.0.0.1",), allow_http=True)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Pool]:
    await migrate(database_url, timescaledb="off")
    async with AsyncConnectionPool(database_url, kwargs={"autocommit": True}, open=False) as p:
        yield p


def push_channel(
    session: aiohttp.ClientSession, pool: Pool, metrics: ChannelMetrics | None = None
) -> WebPushChannel:
    config = WebPushConfig(vapid_private_key=VAPID, subject=SUBJECT, ttl_s=3600, policy=LOCAL)
    return WebPushChannel(config, session, pool, metrics=metrics)


async def store(pool: Pool, *subscriptions: Any) -> None:
    async with pool.connection() as conn:
        for subscription in subscriptions:
            await save_subscription(conn, subscription, cap=100)


async def endpoints(pool: Pool) -> list[str]:
    async with pool.connection() as conn:
        return [s.endpoint for s in await list_subscriptions(conn)]


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = orjson.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


@pytest.mark.integration
async def test_encrypted_push_with_vapid(pool: Pool) -> None:
    browser = Browser.new()
    async with http_server() as server, aiohttp.ClientSession() as session:
        server.default = Reply(201, b"")
        await store(pool, browser.subscription(f"{server.url}/push/one", lang="kk"))
        await push_channel(session, pool).send(note("all"))
    (request,) = server.requests
    assert request.method == "POST"
    assert request.path == "/push/one"
    # RFC 8292: vapid t=<JWT>,k=<our public key>, and the JWT verifies with that key
    authorization = request.headers["Authorization"]
    match = re.fullmatch(r"vapid t=([\w-]+\.[\w-]+\.[\w-]+),k=([\w-]+)", authorization)
    assert match is not None
    assert match.group(2) == public_key_of(load_vapid(VAPID))
    assert Vapid02.verify(authorization) is True
    claims = jwt_claims(match.group(1))
    assert claims["aud"] == server.url
    assert claims["sub"] == SUBJECT
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    # RFC 8030/8291 headers
    assert request.headers["Content-Encoding"] == "aes128gcm"
    assert request.headers["TTL"] == "3600"
    assert request.headers["Urgency"] == "normal"
    assert request.headers["Topic"] == "0123456789abcdef"
    # only the subscriber's private key opens it
    plaintext = http_ece.decrypt(
        request.body,
        private_key=browser.private_key,
        auth_secret=browser.auth_secret,
        version="aes128gcm",
    )
    payload = orjson.loads(plaintext)
    assert payload["title"] == SUMMARY["kk"]
    assert payload["tag"] == "0123456789abcdef"
    assert payload["url"] == "http://127.0.0.1:8321/api/v1/alerts/17"
    assert payload["event"] == "firing"
    with pytest.raises(Exception):  # noqa: B017, PT011 - any decryption failure will do
        http_ece.decrypt(
            request.body,
            private_key=Browser.new().private_key,
            auth_secret=browser.auth_secret,
            version="aes128gcm",
        )


@pytest.mark.integration
@pytest.mark.parametrize(
    ("statuses", "retryable", "kept"),
    [
        ((201, 201), None, 2),  # every subscription reached
        ((201, 500), None, 2),  # partly: counts as sent; the failed one is not retried
        ((500, 503), True, 2),  # nobody reached, transiently: the outbox retries
        ((429, 410), True, 1),  # rate limited and gone: retried, the gone one deleted
        ((400, 413), False, 2),  # every one failed permanently: the notification fails
        ((410, 201), None, 1),  # gone: deleted; the other delivered
        ((404, 410), None, 0),  # all gone: deleted, nothing left to deliver to
    ],
)
async def test_fan_out_outcomes(
    pool: Pool, statuses: tuple[int, ...], retryable: bool | None, kept: int
) -> None:
    metrics = ChannelMetrics()
    async with http_server() as server, aiohttp.ClientSession() as session:
        server.by_path = lambda path: Reply(statuses[int(path.rsplit("/", 1)[1])], b"")
        await store(
            pool,
            *(Browser.new().subscription(f"{server.url}/push/{i}") for i in range(len(statuses))),
        )
        channel = push_channel(session, pool, metrics)
        if retryable is None:
            await channel.send(note("all"))
        else:
            with pytest.raises(DeliveryError) as info:
                await channel.send(note("all"))
            assert info.value.retryable is retryable
    assert len(await endpoints(pool)) == kept
    gone = sum(s in (404, 410) for s in statuses)
    assert metrics.push_deliveries.labels("gone")._value.get() == gone
    assert metrics.push_subscriptions._value.get() == len(statuses)


@pytest.mark.integration
async def test_no_subscriptions_is_nothing_to_do(pool: Pool) -> None:
    async with http_server() as server, aiohttp.ClientSession() as session:
        await push_channel(session, pool).send(note("all"))
    assert server.requests == []


@pytest.mark.integration
async def test_unreachable_push_service_is_retryable(pool: Pool) -> None:
    # nothing listens on port 9: the only subscription fails transiently
    await store(pool, Browser.new().subscription("http://127.0.0.1:9/push/x"))
    async with aiohttp.ClientSession() as session:
        with pytest.raises(DeliveryError) as info:
            await push_channel(session, pool).send(note("all"))
    assert info.value.retryable is True


async def test_database_unavailable_is_retryable() -> None:
    # the subscriptions cannot be read: the outbox keeps the notification for later
    closed: Pool = AsyncConnectionPool("postgresql://127.0.0.1:9/none", open=False)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(DeliveryError) as info:
            await push_channel(session, closed).send(note("all"))
    assert info.value.retryable is True


@pytest.mark.parametrize(
    ("severity", "event", "urgency"),
    [
        ("critical", Event.FIRING, "high"),  # RFC 8030 Urgency follows severity
        ("warning", Event.ESCALATED, "normal"),
        ("info", Event.FIRING, "low"),
        ("critical", Event.RESOLVED, "low"),  # a resolve notice may wait
    ],
)
@pytest.mark.integration
async def test_urgency(pool: Pool, severity: str, event: Event, urgency: str) -> None:
    status = "resolved" if event is Event.RESOLVED else "firing"
    async with http_server() as server, aiohttp.ClientSession() as session:
        server.default = Reply(201, b"")
        await store(pool, Browser.new().subscription(f"{server.url}/push/a"))
        alert = element(severity=severity, status=status)
        await push_channel(session, pool).send(note("all", alert, event=event))
    assert server.requests[0].headers["Urgency"] == urgency


@pytest.mark.parametrize(
    "text",
    [
        "ж" * 5000,  # two bytes a letter
        '"' * 5000,  # each quote grows to \" in JSON: cut until the JSON fits
        "a\n" * 2500,  # each newline grows to \n
    ],
)
def test_payload_fits_a_push_message(text: str) -> None:
    data = push_payload(element(description={"en": text, "ru": text, "kk": text}), "firing", "ru")
    assert len(data) <= MAX_PAYLOAD_BYTES
    assert orjson.loads(data)["body"].endswith("…")


ENDPOINT = "https://fcm.googleapis.com/fcm/send/abc"
GOOD = Browser.new()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([], "JSON object"),  # not an object
        ({**GOOD.json(ENDPOINT), "endpoint": "http://fcm.googleapis.com/x"}, "https"),  # plain http
        ({**GOOD.json(ENDPOINT), "endpoint": "https://evil.example/x"}, "push service"),  # SSRF
        (
            {**GOOD.json(ENDPOINT), "endpoint": "https://fcm.googleapis.com.evil.example/x"},
            "push service",
        ),
        ({**GOOD.json(ENDPOINT), "endpoint": "https://u:p@fcm.googleapis.com/x"}, "credentials"),
        ({**GOOD.json(ENDPOINT), "endpoint": "https://fcm.googleapis.com/" + "a" * 2100}, "2048"),
        ({"endpoint": ENDPOINT}, "keys"),  # keys missing
        ({**GOOD.json(ENDPOINT), "keys": {"p256dh": "AAAA", "auth": GOOD.auth}}, "p256dh"),
        (
            {
                **GOOD.json(ENDPOINT),
                "keys": {"p256dh": b64url(b"\x04" + b"\x01" * 64), "auth": GOOD.auth},
            },
            "p256dh",
        ),  # not on the curve
        (
            {**GOOD.json(ENDPOINT), "keys": {"p256dh": GOOD.p256dh, "auth": b64url(b"x" * 8)}},
            "auth",
        ),
        ({**GOOD.json(ENDPOINT), "lang": "de"}, "lang"),  # not one of kk/ru/en
    ],
)
def test_subscription_validation(body: Any, problem: str) -> None:
    with pytest.raises(InvalidSubscriptionError, match=problem):
        parse_subscription(body, PushPolicy())


@pytest.mark.parametrize(
    ("endpoint", "lang", "expected_lang"),
    [
        ("https://fcm.googleapis.com/fcm/send/abc", None, "ru"),  # Chrome; default language
        ("https://updates.push.services.mozilla.com/wpush/v2/x", "kk", "kk"),  # Firefox
        ("https://web.push.apple.com/QGx", "en", "en"),  # Safari
        ("https://wns2-par02p.notify.windows.com/w/?token=x", None, "ru"),  # Edge (WNS)
    ],
)
def test_valid_subscriptions(endpoint: str, lang: str | None, expected_lang: str) -> None:
    extra = {"lang": lang} if lang else {}
    subscription = parse_subscription(GOOD.json(endpoint, **extra), PushPolicy())
    assert subscription.endpoint == endpoint
    assert subscription.lang == expected_lang
    assert subscription.p256dh == GOOD.p256dh


def _raw_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return b64url(key.private_numbers().private_value.to_bytes(32, "big"))


def _der_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return b64url(der)


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        (vapid_pem(), True),  # PEM, as openssl ecparam writes it
        (_raw_key(), True),  # raw 32-byte scalar, base64url (web-push generate-vapid-keys)
        (_der_key(), True),  # DER, base64url (vapid --gen)
        ("not a key", False),
        (vapid_pem(ec.SECP384R1()), False),  # VAPID is P-256 only (RFC 8292)
    ],
)
def test_load_vapid(key: str, ok: bool) -> None:
    if ok:
        assert len(base64.urlsafe_b64decode(public_key_of(load_vapid(key)) + "=")) == 65
    else:
        with pytest.raises(ValueError, match=r"VAPID|P-256"):
            load_vapid(key)
