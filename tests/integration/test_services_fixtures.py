"""Proof that the service fixtures give each test a real PostgreSQL database and MQTT broker."""

from __future__ import annotations

import asyncio
import re
import ssl
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiomqtt
import psycopg
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from collector.embedded.mqtt import MqttBroker, parse_mqtt_url
from collector.embedded.postgres import temporary_database, url_for_database
from collector.embedded.processes import redact_url

pytestmark = pytest.mark.integration

TIMEOUT_S = 10.0
V311 = aiomqtt.ProtocolVersion.V311
V5 = aiomqtt.ProtocolVersion.V5

# Names handed out so far in this module: a repeat means two tests shared a database/prefix.
_seen_databases: set[str] = set()
_seen_prefixes: set[str] = set()


def _tables(conn: psycopg.Connection[Any]) -> list[str]:
    """User tables in every schema but the catalogs."""
    rows = conn.execute(
        "SELECT schemaname || '.' || tablename FROM pg_tables"
        " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
    ).fetchall()
    return [row[0] for row in rows]


@pytest.mark.parametrize(
    ("sql_type", "value"),
    [
        # Unicode text survives: stations have Russian and Kazakh names, units have µ and ³.
        ("text", "Алматы, Медеу — PM2.5 µg/m³"),
        # Floats come back exactly (readings are float8).
        ("double precision", 12.3),
        # timestamptz keeps the instant, whatever the server's time zone.
        ("timestamptz", datetime(2026, 1, 10, 8, 0, tzinfo=UTC)),
        # Arrays of real: seismic packets store x/y/z like this.
        ("real[]", [0.5, -1.25, 3.0]),
    ],
)
def test_database_round_trips_a_row(database_url: str, sql_type: str, value: object) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(f"CREATE TABLE t (id int PRIMARY KEY, v {sql_type})")
        conn.execute("INSERT INTO t VALUES (1, %s)", (value,))
        conn.commit()
    with psycopg.connect(database_url) as conn:  # a second connection: the row was committed
        row = conn.execute("SELECT v FROM t WHERE id = 1").fetchone()
    assert row is not None
    assert row[0] == value


@pytest.mark.parametrize(
    "turn",
    [
        # The first test gets an empty database and leaves a table behind in it.
        "first",
        # The second gets another, still empty database: the first one's table is not there.
        "second",
    ],
)
def test_each_test_gets_its_own_empty_database(database_url: str, turn: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        name = conn.execute("SELECT current_database()").fetchone()
        assert name is not None
        assert re.fullmatch(r"kuzet_t_[0-9a-f]{16}", name[0]), name
        assert name[0] not in _seen_databases
        assert _tables(conn) == []
        conn.execute(f"CREATE TABLE left_by_{turn} (x int)")
    _seen_databases.add(name[0])


@pytest.mark.parametrize(
    "keep_session_open",
    [
        # Plain case: the database is gone after the block.
        False,
        # A session still connected (a pool the test forgot to close) does not stop the drop.
        True,
    ],
)
def test_temporary_database_is_dropped_on_exit(pg_server_url: str, keep_session_open: bool) -> None:
    exists = "SELECT count(*) FROM pg_database WHERE datname = %s"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        with temporary_database(pg_server_url) as url:
            dbname = urlsplit(url).path.lstrip("/")
            lingering = psycopg.connect(url) if keep_session_open else None
            assert admin.execute(exists, (dbname,)).fetchone() == (1,)
        assert admin.execute(exists, (dbname,)).fetchone() == (0,)
    if lingering is not None:
        with pytest.raises(psycopg.OperationalError):  # FORCE terminated that session
            lingering.execute("SELECT 1")
        lingering.close()


@pytest.mark.parametrize(
    ("server_url", "expected"),
    [
        # The database name replaces the path, user and host stay.
        ("postgresql://root@127.0.0.1:5432/postgres", "postgresql://root@127.0.0.1:5432/x"),
        # A URL without a path gains one.
        ("postgres://u:p@db", "postgres://u:p@db/x"),
        # Query options (socket directory, sslmode) are kept as written, empty host too.
        (
            "postgresql:///postgres?host=/run/pg&sslmode=disable",
            "postgresql:///x?host=/run/pg&sslmode=disable",
        ),
        # A dbname option would override the path for libpq, so it is removed.
        ("postgresql://h/postgres?dbname=postgres", "postgresql://h/x"),
        # Credentials with URL escapes pass through untouched.
        ("postgresql://u:p%40ss@h:5433/postgres", "postgresql://u:p%40ss@h:5433/x"),
    ],
)
def test_database_url_points_at_the_named_database(server_url: str, expected: str) -> None:
    assert url_for_database(server_url, "x") == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # A password is masked before a URL reaches an error message or a CI log.
        ("postgresql://kuzet:s3cret@db:5432/kuzet", "postgresql://kuzet:***@db:5432/kuzet"),
        # Only the password: the user name helps debugging and stays.
        ("mqtt://sensor:p%40ss@broker:1883", "mqtt://sensor:***@broker:1883"),
        # Nothing to hide: the URL is returned as is.
        ("mqtt://127.0.0.1:1883", "mqtt://127.0.0.1:1883"),
    ],
)
def test_redact_url_hides_passwords(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def _client(url: str, protocol: aiomqtt.ProtocolVersion, **kwargs: Any) -> aiomqtt.Client:
    """An aiomqtt client for the broker at ``url`` (as the daemon will build it from a URL)."""
    endpoint = parse_mqtt_url(url)
    return aiomqtt.Client(
        endpoint.host,
        endpoint.port,
        username=endpoint.username,
        password=endpoint.password,
        tls_context=ssl.create_default_context() if endpoint.tls else None,
        protocol=protocol,
        timeout=TIMEOUT_S,
        **kwargs,
    )


def _require(protocol: aiomqtt.ProtocolVersion, broker: MqttBroker) -> None:
    if protocol == V5 and not broker.supports_v5:
        pytest.skip(f"the {broker.kind} broker does not speak MQTT 5 (amqtt 0.12 is 3.1.1 only)")


async def _first_message(client: aiomqtt.Client) -> aiomqtt.Message:
    async with asyncio.timeout(TIMEOUT_S):
        async for message in client.messages:
            return message
    raise AssertionError("client disconnected before any message")


@pytest.mark.parametrize(
    "protocol",
    [
        # MQTT 3.1.1: every broker the fixture can give must carry QoS 1 both ways.
        pytest.param(V311, id="mqtt311"),
        # MQTT 5, what the daemon speaks.
        pytest.param(V5, id="mqtt5"),
    ],
)
async def test_mqtt_qos1_round_trip(
    mqtt_url: str, mqtt_broker: MqttBroker, topic_prefix: str, protocol: aiomqtt.ProtocolVersion
) -> None:
    _require(protocol, mqtt_broker)
    topic = f"{topic_prefix}/x"
    async with _client(mqtt_url, protocol) as client:
        await client.subscribe(topic, qos=1)
        await client.publish(topic, b'{"pm25": 12.3}', qos=1)
        message = await _first_message(client)
    assert message.topic.value == topic
    assert message.payload == b'{"pm25": 12.3}'
    assert message.qos == 1


@pytest.mark.parametrize(
    "protocol",
    [
        # MQTT 3.1.1 persistent session: clean_session off keeps subscription and queue.
        pytest.param(V311, id="mqtt311"),
        # MQTT 5, as the daemon connects: clean_start off plus a session expiry interval.
        pytest.param(V5, id="mqtt5"),
    ],
)
async def test_mqtt_persistent_session_queues_qos1_while_offline(
    mqtt_url: str, mqtt_broker: MqttBroker, topic_prefix: str, protocol: aiomqtt.ProtocolVersion
) -> None:
    _require(protocol, mqtt_broker)
    topic = f"{topic_prefix}/x"
    session: dict[str, Any] = {"identifier": f"{topic_prefix}-daemon"}
    if protocol == V5:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho
        properties.SessionExpiryInterval = 60  # outlives the test, not the broker
        session |= {"clean_start": False, "properties": properties}
    else:
        session |= {"clean_session": False}
    async with _client(mqtt_url, protocol, **session) as daemon:
        await daemon.subscribe(topic, qos=1)
    async with _client(mqtt_url, protocol) as sensor:
        await sensor.publish(topic, b"while you were away", qos=1)
    async with _client(mqtt_url, protocol, **session) as daemon:
        message = await _first_message(daemon)
    assert message.payload == b"while you were away"
    assert message.qos == 1
    # Leave no session behind on a shared broker: a clean connect discards it.
    clean = {"clean_start": True} if protocol == V5 else {"clean_session": True}
    async with _client(mqtt_url, protocol, identifier=session["identifier"], **clean):
        pass


async def test_mqtt_v5_flag_matches_the_broker(mqtt_broker: MqttBroker) -> None:
    if mqtt_broker.supports_v5:
        async with _client(mqtt_broker.url, V5):
            pass
    else:
        with pytest.raises(aiomqtt.MqttCodeError) as refused:
            async with _client(mqtt_broker.url, V5):
                pass
        assert "protocol version" in str(refused.value).lower()


def test_mqtt_url_names_the_session_broker(mqtt_url: str, mqtt_broker: MqttBroker) -> None:
    endpoint = parse_mqtt_url(mqtt_url)
    assert endpoint == mqtt_broker.endpoint
    if mqtt_broker.kind != "external":  # private brokers listen on loopback only
        assert mqtt_url == f"mqtt://127.0.0.1:{endpoint.port}"


@pytest.mark.parametrize(
    "turn",
    [
        # Prefixes are one topic level of letters and hex digits...
        "first",
        # ...and a second test gets a different one.
        "second",
    ],
)
def test_topic_prefix_is_unique_per_test(topic_prefix: str, turn: str) -> None:
    assert re.fullmatch(r"kt[0-9a-f]{12}", topic_prefix)
    assert topic_prefix not in _seen_prefixes
    _seen_prefixes.add(topic_prefix)
