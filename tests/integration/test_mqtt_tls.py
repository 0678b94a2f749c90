"""The real daemon over MQTT with TLS, a password file and ACLs (private mosquitto from PATH)."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import shutil
import ssl
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomqtt
import pytest

from collector.daemon import Daemon
from collector.stations import load_stations
from tests.fixtures.tls_mosquitto import TlsBroker, tls_mosquitto
from tests.integration.harness import count, http_get, make_settings, running_daemon, wait_for

pytestmark = pytest.mark.integration

PREFIX = f"kt{secrets.token_hex(6)}"
# Passwords the assertions look for in the logs: none of them may ever appear there.
USERS = {
    "kuzet": f"kz-{secrets.token_hex(8)}",
    "station": f"st-{secrets.token_hex(8)}",
    "nofeeds": f"nf-{secrets.token_hex(8)}",
}
ACL = f"""
# the daemon: read the feeds, publish alert transitions (deploy/mosquitto.conf)
user kuzet
topic read {PREFIX}/air/#
topic read {PREFIX}/seismic/#
topic read {PREFIX}/lake/#
topic write {PREFIX}/alerts/#

# a station gateway: publish readings; here it also watches the alerts for the test
user station
topic write {PREFIX}/air/#
topic write {PREFIX}/lake/#
topic read {PREFIX}/alerts/#

# a consumer of alerts only: no read access to the feeds
user nofeeds
topic read {PREFIX}/alerts/#
"""


@pytest.fixture(scope="module")
def broker() -> Iterator[TlsBroker]:
    executable = shutil.which("mosquitto")
    if executable is None:
        pytest.skip("mosquitto is not on PATH: the TLS/password/ACL broker test needs it")
    with tls_mosquitto(executable, users=USERS, acl=ACL) as running:
        yield running


def _settings(database_url: str, broker: TlsBroker, user: str, password: str, **extra: Any) -> Any:
    return make_settings(
        database_url,
        broker.url(user, password),
        PREFIX,
        mqtt={
            "ca_file": str(broker.ca_file),
            "client_id": f"kuzet-tls-{secrets.token_hex(4)}",
            "reconnect_initial": "0.2s",
            "reconnect_max": "1s",
        },
        **extra,
    )


@pytest.fixture
async def station(broker: TlsBroker) -> AsyncIterator[aiomqtt.Client]:
    """The test's own publisher, over TLS with the `station` credentials."""
    context = ssl.create_default_context(cafile=str(broker.ca_file))
    async with aiomqtt.Client(
        broker.host,
        broker.port,
        username="station",
        password=USERS["station"],
        tls_context=context,
        identifier=f"station-{secrets.token_hex(4)}",
    ) as client:
        yield client


def _lake(minutes_ago: int, level: float) -> str:
    t = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago)
    return json.dumps({"ts": t.isoformat(), "level_m": level})


async def test_tls_with_password_stores_readings_and_publishes_alerts(
    database_url: str, broker: TlsBroker, station: aiomqtt.Client
) -> None:
    settings = _settings(
        database_url, broker, "kuzet", USERS["kuzet"], channels={"mqtt": {"enabled": True}}
    )
    await station.subscribe(f"{PREFIX}/alerts/#", qos=1)
    async with running_daemon(settings):
        for minute in range(10, 0, -1):
            # above LAKE-01's warning mark (3.5 m): `lake_level` fires
            await station.publish(f"{PREFIX}/lake/LAKE-01", _lake(minute, 3.8), qos=1)

        async def stored() -> bool:
            return await count(database_url, "kuzet.lake_readings") == 10

        await wait_for(stored, what="readings over TLS")
        async with asyncio.timeout(20):
            async for message in station.messages:
                alert = json.loads(message.payload)  # type: ignore[arg-type]
                break
    assert str(message.topic) == f"{PREFIX}/alerts/lake/lake_level"
    assert alert["status"] == "firing"
    assert alert["labels"]["station_id"] == "LAKE-01"


async def test_wrong_password_is_refused_and_not_logged(
    database_url: str, broker: TlsBroker, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = f"wrong-{secrets.token_hex(8)}"
    settings = _settings(database_url, broker, "kuzet", wrong)
    daemon = Daemon(settings, load_stations(settings.stations_file))
    caplog.set_level(logging.DEBUG)
    task = asyncio.create_task(daemon.run())
    try:

        async def refused() -> bool:
            return daemon.started.is_set() and "not authori" in caplog.text.lower()

        await wait_for(refused, timeout=20, what="the broker's refusal in the log")
        status, body = await http_get(daemon, "/readyz")
        assert not daemon.readiness.mqtt_connected
    finally:
        daemon.stop.set()
        await asyncio.wait_for(task, timeout=40)
    assert status == 503
    assert any("mqtt" in reason.lower() for reason in body["reasons"])
    for secret in (wrong, *USERS.values()):
        assert secret not in caplog.text


async def test_user_without_read_acl_receives_nothing(
    database_url: str, broker: TlsBroker, station: aiomqtt.Client
) -> None:
    settings = _settings(database_url, broker, "nofeeds", USERS["nofeeds"])
    # control: the same readings do reach a user allowed to read them
    context = ssl.create_default_context(cafile=str(broker.ca_file))
    async with (
        running_daemon(settings) as daemon,
        aiomqtt.Client(
            broker.host,
            broker.port,
            username="kuzet",
            password=USERS["kuzet"],
            tls_context=context,
            identifier=f"control-{secrets.token_hex(4)}",
        ) as control,
    ):
        await control.subscribe(f"{PREFIX}/lake/#", qos=1)
        await asyncio.sleep(0.2)
        for minute in range(5, 0, -1):
            await station.publish(f"{PREFIX}/lake/LAKE-02", _lake(minute, 1.0), qos=1)
        seen = 0
        async with asyncio.timeout(10):
            async for _message in control.messages:
                seen += 1
                if seen == 5:
                    break
        await asyncio.sleep(1.0)  # what the daemon would have received has arrived by now
        _, metrics = await http_get(daemon, "/metrics")
    assert await count(database_url, "kuzet.lake_readings") == 0
    assert 'kuzet_messages_received_total{feed="lake"} 0.0' in metrics
