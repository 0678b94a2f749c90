"""Operator API against a real database: token rules, acks, CAP and feed, silences, dispatch."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
import pytest
import xmlschema
from aiohttp.test_utils import TestClient, TestServer
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr

from alerts.cap import CapBuilder, CapSettings
from alerts.channels.base import Notification
from alerts.dispatch import Dispatcher
from alerts.model import Alert, Severity
from alerts.payload import PayloadBuilder
from alerts.silences import SilenceCache
from collector.api_operator import OperatorConfig, operator_routes
from collector.http import ApiContext, Readiness, build_app
from collector.metrics import Metrics
from collector.stations import Stations, load_stations
from collector.tracker import LastSeenTracker
from storage import alerts as store
from storage.migrate import migrate
from tests.integration.harness import fetch_all

pytestmark = pytest.mark.integration

Pool = AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]
Client = TestClient[Any, Any]
TOKEN = "s3cret-token"  # noqa: S105 - a test token
BASE = "http://127.0.0.1:8321"
XSD = Path(__file__).resolve().parents[1] / "data" / "cap" / "CAP-v1.2.xsd"
NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
ATOM = {"a": "http://www.w3.org/2005/Atom"}
T0 = datetime(2026, 1, 10, 8, tzinfo=UTC)
_FIXED = [store.Target("webhook", "http://receiver")]
TARGETS = lambda _labels, _event: _FIXED  # noqa: E731 - the routing function of storage.alerts


@cache
def stations() -> Stations:
    return load_stations(None)


@cache
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD))


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Pool]:
    await migrate(database_url, timescaledb="off")
    async with AsyncConnectionPool(database_url, kwargs={"autocommit": True}, open=False) as p:
        yield p


@asynccontextmanager
async def api(
    pool: Pool, *, token: str | None = TOKEN, cache: SilenceCache | None = None
) -> AsyncIterator[Client]:
    ctx = ApiContext(Metrics(), stations(), LastSeenTracker(), Readiness(), services={"pool": pool})
    cap = CapBuilder(stations(), CapSettings(), base_url=BASE)
    config = OperatorConfig(
        api_token=SecretStr(token) if token is not None else None, cap=cap, silences=cache
    )
    async with TestClient(TestServer(build_app(ctx, [operator_routes(config)]))) as client:
        yield client


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


PAYLOAD = PayloadBuilder(stations(), base_url=BASE)


async def fire(pool: Pool, rule: str = "pm25_24h", station: str = "AIR-07") -> Alert:
    fields = {
        "key": f"{rule}:{station}",
        "rule": rule,
        "kind": "air",
        "severity": "warning",
        "station_id": station,
        "area": "Almaly",
        "value": 41.2,
        "threshold": 35.0,
        "unit": "µg/m³",
        "started_at": T0,
    }
    async with pool.connection() as conn:
        alert, created = await store.fire(
            conn, fields, targets=TARGETS, payload=PAYLOAD, received_at=None
        )
    assert created
    return alert


async def escalate(pool: Pool, alert: Alert) -> None:
    async with pool.connection() as conn:
        done = await store.escalate(
            conn,
            alert.id,
            severity=Severity.CRITICAL,
            value=90.0,
            threshold=75.0,
            details={},
            targets=TARGETS,
            payload=PAYLOAD,
            received_at=None,
        )
    assert done is not None


async def resolve(pool: Pool, alert: Alert) -> None:
    async with pool.connection() as conn:
        done = await store.resolve(
            conn,
            alert.id,
            value=10.0,
            at=T0 + timedelta(hours=3),
            targets=TARGETS,
            payload=PAYLOAD,
            received_at=None,
        )
    assert done is not None


def silence_body(**changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "matchers": [
            {"name": "alertname", "value": "pm25_.*", "isRegex": True, "isEqual": True},
            {"name": "area", "value": "Almaly", "isRegex": False},
        ],
        "startsAt": (now - timedelta(minutes=1)).isoformat(),
        "endsAt": (now + timedelta(hours=2)).isoformat(),
        "createdBy": "operator",
        "comment": "sensor maintenance",
    }
    body.update(changes)
    return body


Write = Callable[[Client, dict[str, str]], Awaitable[Any]]
WRITES: dict[str, Write] = {
    "ack": lambda c, h: c.post("/api/v1/alerts/1/ack", json={"by": "ops"}, headers=h),
    "silence": lambda c, h: c.post("/api/v1/silences", json=silence_body(), headers=h),
    "expire": lambda c, h: c.delete("/api/v1/silences/1", headers=h),
}


@pytest.mark.parametrize("write", sorted(WRITES))
@pytest.mark.parametrize(
    ("configured", "headers", "status"),
    [
        (None, {"Authorization": f"Bearer {TOKEN}"}, 403),  # no token configured: writes refused
        (None, {}, 403),  # ... whatever the request carries
        ("", {"Authorization": "Bearer "}, 403),  # an empty configured token counts as none
        (TOKEN, {}, 401),  # no Authorization header
        (TOKEN, {"Authorization": "Bearer wrong"}, 401),  # a wrong token
        (TOKEN, {"Authorization": f"Bearer {TOKEN}x"}, 401),  # a longer token is wrong too
        (TOKEN, {"Authorization": f"Basic {TOKEN}"}, 401),  # another scheme
        (TOKEN, {"Authorization": TOKEN}, 401),  # no scheme at all
    ],
)
async def test_write_token_rules(
    pool: Pool, write: str, configured: str | None, headers: dict[str, str], status: int
) -> None:
    async with api(pool, token=configured) as client:
        response = await WRITES[write](client, headers)
        assert response.status == status
        assert "error" in await response.json()
        if status == 401:
            assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("write", sorted(WRITES))
async def test_right_token_passes(pool: Pool, write: str) -> None:
    # with the token, the request reaches the handler (lowercase scheme accepted)
    await fire(pool)
    async with api(pool) as client:
        response = await WRITES[write](client, {"Authorization": f"bearer {TOKEN}"})
        assert response.status in {200, 404}


async def test_ack(pool: Pool, database_url: str) -> None:
    alert = await fire(pool)
    async with api(pool) as client:
        # the first acknowledgement is stored
        first = await client.post(
            f"/api/v1/alerts/{alert.id}/ack", json={"by": " ops "}, headers=auth()
        )
        assert first.status == 200
        body = await first.json()
        assert body["acked_by"] == "ops"
        assert body["acked_at"] is not None
        # a second one (another operator, or a retry) keeps the first
        second = await client.post(
            f"/api/v1/alerts/{alert.id}/ack", json={"by": "other"}, headers=auth()
        )
        assert second.status == 200
        assert (await second.json())["acked_by"] == "ops"
    rows = await fetch_all(
        database_url, "SELECT acked_by FROM kuzet.alerts WHERE id = %s", (alert.id,)
    )
    assert rows == [("ops",)]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/v1/alerts/999/ack", {"by": "ops"}, 404),  # unknown alert
        ("/api/v1/alerts/x/ack", {"by": "ops"}, 400),  # not an id
        ("/api/v1/alerts/{id}/ack", {}, 400),  # `by` missing
        ("/api/v1/alerts/{id}/ack", {"by": "  "}, 400),  # `by` blank
        ("/api/v1/alerts/{id}/ack", {"by": "x" * 201}, 400),  # `by` too long
        ("/api/v1/alerts/{id}/ack", ["ops"], 400),  # not an object
        ("/api/v1/alerts/{resolved}/ack", {"by": "ops"}, 409),  # resolved: nothing to ack
    ],
)
async def test_ack_refused(pool: Pool, path: str, body: Any, status: int) -> None:
    firing = await fire(pool)
    resolved = await fire(pool, station="AIR-08")
    await resolve(pool, resolved)
    url = path.format(id=firing.id, resolved=resolved.id)
    async with api(pool) as client:
        response = await client.post(url, json=body, headers=auth())
        assert response.status == status
        assert "error" in await response.json()


async def test_ack_body_must_be_json(pool: Pool) -> None:
    alert = await fire(pool)
    async with api(pool) as client:
        response = await client.post(f"/api/v1/alerts/{alert.id}/ack", data=b"{by", headers=auth())
        assert response.status == 400
        assert (await response.json()) == {"error": "body must be JSON"}


async def get_cap(client: Client, alert_id: int) -> Any:
    response = await client.get(f"/api/v1/alerts/{alert_id}/cap")
    assert response.status == 200
    assert response.content_type == "application/cap+xml"
    text = await response.text()
    schema().validate(text)  # the served message is valid CAP 1.2
    return xmlschema.XMLResource(text).root


async def test_cap_follows_the_transitions(pool: Pool) -> None:
    alert = await fire(pool)
    async with api(pool) as client:
        # firing: Alert, no references
        root = await get_cap(client, alert.id)
        assert root.findtext("cap:msgType", namespaces=NS) == "Alert"
        assert root.find("cap:references", NS) is None
        # escalated: Update, referencing the Alert, at the new severity
        await escalate(pool, alert)
        root = await get_cap(client, alert.id)
        assert root.findtext("cap:msgType", namespaces=NS) == "Update"
        assert root.findtext("cap:identifier", namespaces=NS).endswith(":escalated:critical")
        assert root.findtext("cap:info/cap:severity", namespaces=NS) == "Severe"
        refs = root.findtext("cap:references", namespaces=NS).split()
        assert [r.split(",")[1] for r in refs] == [f"urn:kuzet:almaty:alert:{alert.id}:firing"]
        # resolved: Cancel, referencing the Alert and the Update
        await resolve(pool, alert)
        root = await get_cap(client, alert.id)
        assert root.findtext("cap:msgType", namespaces=NS) == "Cancel"
        refs = root.findtext("cap:references", namespaces=NS).split()
        assert [r.split(",")[1].rsplit(":", 2)[-2:] for r in refs] == [
            [str(alert.id), "firing"],
            ["escalated", "critical"],
        ]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/alerts/999/cap", 404),  # unknown alert
        ("/api/v1/alerts/abc/cap", 400),  # not an id
    ],
)
async def test_cap_errors(pool: Pool, path: str, status: int) -> None:
    async with api(pool) as client:
        response = await client.get(path)
        assert response.status == status
        assert "error" in await response.json()


async def test_feed_lists_firing_alerts(pool: Pool) -> None:
    # one entry per firing alert, linking to its CAP; resolved alerts are left out
    first = await fire(pool)
    second = await fire(pool, rule="no2_24h")
    gone = await fire(pool, station="AIR-08")
    await resolve(pool, gone)
    async with api(pool) as client:
        response = await client.get("/api/v1/cap/feed")
        assert response.status == 200
        assert response.content_type == "application/atom+xml"
        feed = xmlschema.XMLResource(await response.text()).root
    hrefs = {link.get("href") for link in feed.iterfind("a:entry/a:link", ATOM)}
    assert hrefs == {f"{BASE}/api/v1/alerts/{a.id}/cap" for a in (first, second)}


async def test_silence_lifecycle(pool: Pool) -> None:
    cache = SilenceCache()
    labels = {"labels": {"alertname": "pm25_24h", "area": "Almaly"}}
    now = datetime.now(UTC)
    async with api(pool, cache=cache) as client:
        # created: listed as active, and this replica's cache knows it at once
        created = await client.post("/api/v1/silences", json=silence_body(), headers=auth())
        assert created.status == 200
        silence_id = (await created.json())["silenceID"]
        assert cache.silenced(labels, now)
        listed = await (await client.get("/api/v1/silences")).json()
        assert [(s["id"], s["status"]["state"]) for s in listed] == [(silence_id, "active")]
        assert listed[0]["matchers"][1]["isEqual"] is True  # the v2 default was stored
        # replaced by id: the new matchers count
        body = silence_body(
            id=silence_id, matchers=[{"name": "area", "value": "Medeu", "isRegex": False}]
        )
        replaced = await client.post("/api/v1/silences", json=body, headers=auth())
        assert (await replaced.json()) == {"silenceID": silence_id}
        assert not cache.silenced(labels, now)
        one = await (await client.get(f"/api/v1/silences/{silence_id}")).json()
        assert one["matchers"] == [
            {"name": "area", "value": "Medeu", "isRegex": False, "isEqual": True}
        ]
        # expired: kept for the record, state expired, gone from the cache; again: no change
        for _ in range(2):
            expired = await client.delete(f"/api/v1/silences/{silence_id}", headers=auth())
            assert expired.status == 200
            assert (await expired.json())["status"]["state"] == "expired"
        assert cache.silences == ()
        active = await (await client.get("/api/v1/silences?state=active")).json()
        assert active == []
        gone = await (await client.get("/api/v1/silences?state=expired")).json()
        assert [s["id"] for s in gone] == [silence_id]
        # an expired silence cannot be replaced
        again = await client.post(
            "/api/v1/silences", json=silence_body(id=silence_id), headers=auth()
        )
        assert again.status == 404


async def test_pending_silence_is_cached_but_mutes_later(pool: Pool) -> None:
    # the refresh loads pending silences too, so they take effect on time without a reload
    start = datetime.now(UTC) + timedelta(hours=1)
    body = silence_body(startsAt=start.isoformat(), endsAt=(start + timedelta(hours=1)).isoformat())
    async with api(pool) as client:
        assert (await client.post("/api/v1/silences", json=body, headers=auth())).status == 200
    cache = SilenceCache()
    assert await cache.refresh(pool) == 1
    labels = {"labels": {"alertname": "pm25_24h", "area": "Almaly"}}
    assert not cache.silenced(labels, start - timedelta(minutes=1))
    assert cache.silenced(labels, start + timedelta(minutes=1))


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({"matchers": []}, 400, "matchers"),  # at least one matcher
        # a silence that would mute every alert without an area (or every alert)
        ({"matchers": [{"name": "area", "value": ".*", "isRegex": True}]}, 400, "empty string"),
        ({"matchers": [{"name": "area", "value": "("}]}, 400, "isRegex"),  # isRegex is required
        (
            {"matchers": [{"name": "area", "value": "(", "isRegex": True}]},
            400,
            "regular expression",
        ),
        # a silence that is over before it is stored
        ({"endsAt": "2020-01-01T00:00:00Z", "startsAt": "2019-01-01T00:00:00Z"}, 400, "future"),
        ({"endsAt": "2020-01-01T00:00:00Z"}, 400, "after startsAt"),  # ends before it starts
        ({"startsAt": "2026-01-10T08:00:00"}, 400, "timezone"),  # a time needs an offset
        ({"createdBy": ""}, 400, "createdBy"),  # who silenced it
        ({"comment": " "}, 400, "comment"),  # and why
        ({"id": "999"}, 404, "no silence"),  # replacing an unknown silence
        ({"id": "abc"}, 404, "no silence"),  # ids are numbers here: no such silence
    ],
)
async def test_silence_refused(
    pool: Pool, changes: dict[str, Any], status: int, message: str
) -> None:
    async with api(pool) as client:
        response = await client.post(
            "/api/v1/silences", json=silence_body(**changes), headers=auth()
        )
        assert response.status == status
        assert message in (await response.json())["error"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/v1/silences/999", 404),  # unknown silence
        ("delete", "/api/v1/silences/999", 404),
        ("get", "/api/v1/silences/x", 400),  # not an id
        ("get", "/api/v1/silences?state=sleeping", 400),  # not a state
        ("get", "/api/v1/silences?limit=0", 400),  # not a limit
    ],
)
async def test_silence_lookups(pool: Pool, method: str, path: str, status: int) -> None:
    async with api(pool) as client:
        response = await client.request(method, path, headers=auth())
        assert response.status == status
        assert "error" in await response.json()


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    async def send(self, notification: Notification) -> None:
        self.sent.append(notification)


async def test_dispatcher_records_silenced_notifications(pool: Pool, database_url: str) -> None:
    # wired as the lead will: Dispatcher(silenced=cache.silenced) marks muted rows `silenced`
    cache = SilenceCache()
    async with api(pool, cache=cache) as client:
        response = await client.post("/api/v1/silences", json=silence_body(), headers=auth())
        assert response.status == 200
    muted = await fire(pool)  # pm25_24h in Almaly: matches
    heard = await fire(pool, rule="no2_1h", station="AIR-20")  # another rule and district
    channel = Recorder()
    dispatcher = Dispatcher(
        pool,
        {"webhook": channel},
        Metrics(),
        dead_after=timedelta(hours=1),
        retry_initial=1.0,
        retry_max=60.0,
        silenced=cache.silenced,
    )
    assert await dispatcher.run_once() == 2
    rows = await fetch_all(
        database_url, "SELECT alert_id, status FROM kuzet.notifications ORDER BY alert_id"
    )
    assert rows == [(muted.id, "silenced"), (heard.id, "sent")]
    assert [n.alert_id for n in channel.sent] == [heard.id]
