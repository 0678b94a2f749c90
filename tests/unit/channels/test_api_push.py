"""The public Web Push routes against a real database: key, subscribe, unsubscribe, limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from alerts.channels.webpush import PushPolicy, PushSubscriptions, load_vapid, public_key_of
from collector.api_push import PUBLIC_KEY, PUSH_SERVICE, SUBSCRIPTIONS, add_push_routes
from collector.http import ApiContext, Readiness, build_app
from collector.metrics import Metrics
from collector.stations import Stations
from collector.tracker import LastSeenTracker
from storage.migrate import migrate
from storage.push import list_subscriptions
from tests.unit.channels.push_keys import Browser, vapid_pem

pytestmark = pytest.mark.integration

Pool = AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]
Client = TestClient[Any, Any]
ENDPOINT = "https://fcm.googleapis.com/fcm/send/abc"
ORIGIN = "https://alerts.almaty.kz"
PUBLIC = public_key_of(load_vapid(vapid_pem()))


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Pool]:
    await migrate(database_url, timescaledb="off")
    async with AsyncConnectionPool(database_url, kwargs={"autocommit": True}, open=False) as p:
        yield p


@asynccontextmanager
async def api(services: dict[str, Any]) -> AsyncIterator[Client]:
    ctx = ApiContext(Metrics(), Stations([]), LastSeenTracker(), Readiness(), services=services)
    async with TestClient(TestServer(build_app(ctx, [add_push_routes]))) as client:
        yield client


def push(**policy: Any) -> PushSubscriptions:
    return PushSubscriptions(PUBLIC, PushPolicy(allowed_origins=(ORIGIN,), **policy))


async def stored(pool: Pool) -> list[tuple[str, str]]:
    async with pool.connection() as conn:
        return [(s.endpoint, s.lang) for s in await list_subscriptions(conn)]


async def test_public_key(pool: Pool) -> None:
    async with api({"pool": pool, PUSH_SERVICE: push()}) as client:
        response = await client.get(PUBLIC_KEY)
        assert response.status == 200
        assert await response.json() == {"publicKey": PUBLIC}


@pytest.mark.parametrize(
    ("services", "status"),
    [
        ({}, 503),  # still starting: the channels are not built yet
        ({PUSH_SERVICE: None}, 404),  # Web Push is not enabled
    ],
)
async def test_public_key_unavailable(services: dict[str, Any], status: int) -> None:
    async with api(services) as client:
        response = await client.get(PUBLIC_KEY)
        assert response.status == status
        assert "error" in await response.json()


async def test_subscribe_then_update_then_unsubscribe(pool: Pool) -> None:
    browser = Browser.new()
    async with api({"pool": pool, PUSH_SERVICE: push()}) as client:
        first = await client.post(SUBSCRIPTIONS, json=browser.json(ENDPOINT, lang="kk"))
        assert first.status == 201
        assert await first.json() == {"endpoint": ENDPOINT, "lang": "kk", "status": "created"}
        # the same browser again (e.g. keys rotated, language changed): updated, not doubled
        again = await client.post(SUBSCRIPTIONS, json=Browser.new().json(ENDPOINT, lang="en"))
        assert again.status == 200
        assert await stored(pool) == [(ENDPOINT, "en")]
        gone = await client.delete(SUBSCRIPTIONS, json={"endpoint": ENDPOINT})
        assert gone.status == 204
        assert await stored(pool) == []
        unknown = await client.delete(SUBSCRIPTIONS, json={"endpoint": ENDPOINT})
        assert unknown.status == 404


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not json", "JSON"),  # unreadable body
        (b'{"endpoint": "https://evil.example/x", "keys": {}}', "push service"),  # SSRF guard
        (b'{"endpoint": "https://fcm.googleapis.com/x"}', "keys"),  # no keys
    ],
)
async def test_invalid_subscription_is_400(pool: Pool, body: bytes, problem: str) -> None:
    async with api({"pool": pool, PUSH_SERVICE: push()}) as client:
        response = await client.post(
            SUBSCRIPTIONS, data=body, headers={"Content-Type": "application/json"}
        )
        assert response.status == 400
        assert problem in (await response.json())["error"]
    assert await stored(pool) == []


async def test_rate_limited_per_client(pool: Pool) -> None:
    # the third request within a minute from one address is refused with Retry-After
    async with api({"pool": pool, PUSH_SERVICE: push(subscribe_rate=2)}) as client:
        statuses = []
        for i in range(3):
            response = await client.post(SUBSCRIPTIONS, json=Browser.new().json(f"{ENDPOINT}{i}"))
            statuses.append(response.status)
        assert statuses == [201, 201, 429]
        assert 0 < int(response.headers["Retry-After"]) <= 60
    assert len(await stored(pool)) == 2


async def test_table_cap(pool: Pool) -> None:
    # at the cap new endpoints are refused; a known endpoint may still update
    async with api({"pool": pool, PUSH_SERVICE: push(max_subscriptions=1)}) as client:
        assert (await client.post(SUBSCRIPTIONS, json=Browser.new().json(ENDPOINT))).status == 201
        full = await client.post(SUBSCRIPTIONS, json=Browser.new().json(ENDPOINT + "2"))
        assert full.status == 503
        update = await client.post(SUBSCRIPTIONS, json=Browser.new().json(ENDPOINT, lang="kk"))
        assert update.status == 200
    assert await stored(pool) == [(ENDPOINT, "kk")]


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (ORIGIN, True),  # the configured page may call from the browser
        ("https://evil.example", False),  # any other origin may not
    ],
)
async def test_cors(pool: Pool, origin: str, allowed: bool) -> None:
    async with api({"pool": pool, PUSH_SERVICE: push()}) as client:
        preflight = await client.options(
            SUBSCRIPTIONS,
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
        post = await client.post(
            SUBSCRIPTIONS, json=Browser.new().json(ENDPOINT), headers={"Origin": origin}
        )
    if allowed:
        assert preflight.status == 204
        assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
        assert post.headers["Access-Control-Allow-Origin"] == origin
    else:
        assert preflight.status == 403
        assert "Access-Control-Allow-Origin" not in post.headers
