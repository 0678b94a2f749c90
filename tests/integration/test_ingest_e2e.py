"""End to end: bytes published on the real broker → exact rows, rejects, metrics, dedup."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

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


def _ts(minutes_ago: float) -> datetime:
    now = datetime.now(UTC).replace(microsecond=0)
    return now - timedelta(minutes=minutes_ago)


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


async def test_every_payload_form_is_stored_exactly(
    database_url: str, mqtt_url: str, topic_prefix: str
) -> None:
    t1, t2, t3 = _ts(30), _ts(29), _ts(28)
    last = _ts(5)
    settings = make_settings(database_url, mqtt_url, topic_prefix)
    async with running_daemon(settings), publisher(mqtt_url) as mqtt:
        p = topic_prefix
        # native air, RFC 3339 with Z
        await mqtt.publish(
            f"{p}/air/AIR-01",
            json.dumps(
                {"ts": _iso(t1), "pm25": 12.3, "pm10": 20.1, "no2": 41.0, "temp": -3.2, "rh": 71}
            ),
            qos=1,
        )
        # batch of two, Unix seconds and a +05:00 offset (Almaty local time)
        await mqtt.publish(
            f"{p}/air/AIR-02",
            json.dumps(
                [
                    {"ts": t2.timestamp(), "pm25": 40.5},
                    {"ts": t3.astimezone().isoformat(), "no2": 88.0},
                ]
            ),
            qos=1,
        )
        # Sensor.Community form (string values), with ts
        await mqtt.publish(
            f"{p}/air/AIR-01",
            json.dumps(
                {
                    "ts": _iso(t2),
                    "sensordatavalues": [
                        {"value_type": "P2", "value": "15.5"},
                        {"value_type": "P1", "value": "25.0"},
                        {"value_type": "temperature", "value": "-4.0"},
                        {"value_type": "humidity", "value": "80"},
                    ],
                }
            ),
            qos=1,
        )
        # lake, a subset of fields
        await mqtt.publish(
            f"{p}/lake/LAKE-01",
            json.dumps({"ts": _iso(t1), "level_m": 3.42, "water_temp": 4.1}),
            qos=1,
        )
        # native seismic, 100 Hz, 5 samples
        await mqtt.publish(
            f"{p}/seismic/SEIS-01",
            json.dumps(
                {
                    "ts": _iso(t1),
                    "sr": 100.0,
                    "x": [0.1, 0.2, -0.1, 0.0, 0.5],
                    "y": [0.0] * 5,
                    "z": [1.0, 2.0, 3.0, 4.0, 5.0],
                }
            ),
            qos=1,
        )
        # OpenEEW: cloud_t is the time of the LAST of 32 samples at 31.25 Hz
        await mqtt.publish(
            f"{p}/seismic/SEIS-01",
            json.dumps(
                {
                    "device_t": last.timestamp() - 0.3,
                    "cloud_t": last.timestamp(),
                    "sr": 31.25,
                    "traces": {"x": [0.01] * 32, "y": [0.02] * 32, "z": [0.03] * 32},
                }
            ),
            qos=1,
        )

        async def all_stored() -> bool:
            return (
                await count(database_url, "kuzet.air_readings") == 4
                and await count(database_url, "kuzet.lake_readings") == 1
                and await count(database_url, "kuzet.seismic_packets") == 2
            )

        await wait_for(all_stored, what="all rows")

    air = await fetch_all(
        database_url,
        "SELECT station_id, time, pm25, pm10, no2, temp, rh FROM kuzet.air_readings"
        " ORDER BY station_id, time",
    )
    assert air == [
        ("AIR-01", t1, 12.3, 20.1, 41.0, -3.2, 71.0),
        ("AIR-01", t2, 15.5, 25.0, None, -4.0, 80.0),
        ("AIR-02", t2, 40.5, None, None, None, None),
        ("AIR-02", t3, None, None, 88.0, None, None),
    ]
    lake = await fetch_all(
        database_url,
        "SELECT station_id, time, level_m, water_temp, precip_mm, discharge_m3s"
        " FROM kuzet.lake_readings",
    )
    assert lake == [("LAKE-01", t1, 3.42, 4.1, None, None)]
    seismic = await fetch_all(
        database_url,
        "SELECT time, sr, array_length(x, 1), z[5], y[1] FROM kuzet.seismic_packets ORDER BY time",
    )
    assert seismic[0] == (t1, 100.0, 5, 5.0, 0.0)
    # first sample of the OpenEEW packet = last − (n − 1)/sr = last − 31/31.25 s
    assert seismic[1][0] == last - timedelta(seconds=31 / 31.25)
    assert seismic[1][1:3] == (31.25, 32)


BAD_INPUTS: list[tuple[str, str, bytes, str]] = [
    # not JSON at all
    ("air", "AIR-01", b"{not json", "invalid_json"),
    # NaN is not JSON (RFC 8259)
    ("air", "AIR-01", b'{"ts": 1, "pm25": NaN}', "invalid_json"),
    # a numeric string where a number is required
    ("air", "AIR-01", b'{"ts": "@NOW@", "pm25": "12"}', "schema"),
    # no measurement field at all
    ("lake", "LAKE-01", b'{"ts": "@NOW@"}', "schema"),
    # PM2.5 above 2000 µg/m³
    ("air", "AIR-01", b'{"ts": "@NOW@", "pm25": 2500}', "out_of_range"),
    # a timestamp without offset is ambiguous
    ("air", "AIR-01", b'{"ts": "2026-01-10T08:00:00", "pm25": 10}', "bad_timestamp"),
    # a station of another kind on this feed
    ("lake", "AIR-01", b'{"ts": "@NOW@", "level_m": 1.0}', "unknown_station"),
    # seismic arrays of unequal length
    (
        "seismic",
        "SEIS-01",
        b'{"ts": "@NOW@", "sr": 100, "x": [1], "y": [1, 2], "z": [1]}',
        "schema",
    ),
]


@pytest.mark.parametrize(("feed", "station", "payload", "reason"), BAD_INPUTS)
async def test_bad_input_is_counted_kept_and_harmless(
    database_url: str,
    mqtt_url: str,
    topic_prefix: str,
    feed: str,
    station: str,
    payload: bytes,
    reason: str,
) -> None:
    payload = payload.replace(b"@NOW@", _iso(_ts(1)).encode())
    settings = make_settings(database_url, mqtt_url, topic_prefix)
    async with running_daemon(settings) as daemon, publisher(mqtt_url) as mqtt:
        await mqtt.publish(f"{topic_prefix}/{feed}/{station}", payload, qos=1)
        # a good reading right after it still goes through
        good = json.dumps({"ts": _iso(_ts(2)), "pm25": 10.0})
        await mqtt.publish(f"{topic_prefix}/air/AIR-02", good, qos=1)

        async def settled() -> bool:
            return (
                await count(database_url, "kuzet.rejected_messages") == 1
                and await count(database_url, "kuzet.air_readings", "station_id = 'AIR-02'") == 1
            )

        await wait_for(settled, what="reject row and good row")
        status, _ = await http_get(daemon, "/readyz")
        assert status == 200
        _, text = await http_get(daemon, "/metrics")
        assert f'kuzet_messages_rejected_total{{feed="{feed}",reason="{reason}"}} 1.0' in text
    rows = await fetch_all(
        database_url, "SELECT topic, feed, reason, payload FROM kuzet.rejected_messages"
    )
    assert rows == [(f"{topic_prefix}/{feed}/{station}", feed, reason, payload)]


async def test_too_large_and_bad_topic(database_url: str, mqtt_url: str, topic_prefix: str) -> None:
    settings = make_settings(
        database_url, mqtt_url, topic_prefix, ingest={"max_message_bytes": 2048}
    )
    big = b'{"ts": 1, "pm25": 1, "pad": "' + b"x" * 4000 + b'"}'
    async with running_daemon(settings) as daemon, publisher(mqtt_url) as mqtt:
        await mqtt.publish(f"{topic_prefix}/air/AIR-01", big, qos=1)
        # a station id with a character outside [A-Za-z0-9_.-]
        await mqtt.publish(f"{topic_prefix}/air/AIR 01!", b'{"ts": 1, "pm25": 1}', qos=1)

        async def both() -> bool:
            return await count(database_url, "kuzet.rejected_messages") == 2

        await wait_for(both, what="two rejects")
        _, text = await http_get(daemon, "/metrics")
    assert 'kuzet_messages_rejected_total{feed="air",reason="too_large"} 1.0' in text
    assert 'kuzet_messages_rejected_total{feed="air",reason="bad_topic"} 1.0' in text
    rows = await fetch_all(
        database_url, "SELECT reason, length(payload) FROM kuzet.rejected_messages ORDER BY reason"
    )
    assert rows == [("bad_topic", 0), ("too_large", len(big))]


async def test_batch_keeps_valid_items_and_counts_each_invalid(
    database_url: str, mqtt_url: str, topic_prefix: str
) -> None:
    t = _ts(10)
    batch = [
        {"ts": _iso(t), "pm25": 10.0},
        {"ts": _iso(t + timedelta(minutes=1)), "pm25": 5000},
        {"ts": _iso(t + timedelta(minutes=2)), "pm25": True},
        {"ts": _iso(t + timedelta(minutes=3)), "pm25": 11.0},
    ]
    settings = make_settings(database_url, mqtt_url, topic_prefix)
    async with running_daemon(settings) as daemon, publisher(mqtt_url) as mqtt:
        await mqtt.publish(f"{topic_prefix}/air/AIR-01", json.dumps(batch), qos=1)

        async def done() -> bool:
            return (
                await count(database_url, "kuzet.air_readings") == 2
                and await count(database_url, "kuzet.rejected_messages") == 2
            )

        await wait_for(done, what="batch split")
        _, text = await http_get(daemon, "/metrics")
    assert 'kuzet_messages_rejected_total{feed="air",reason="out_of_range"} 1.0' in text
    assert 'kuzet_messages_rejected_total{feed="air",reason="schema"} 1.0' in text
    assert 'kuzet_readings_stored_total{feed="air"} 2.0' in text
    payloads = await fetch_all(
        database_url, "SELECT reason, payload FROM kuzet.rejected_messages ORDER BY reason"
    )
    # a batch item is kept as its own JSON, not the whole message
    assert json.loads(payloads[0][1]) == batch[1]
    assert json.loads(payloads[1][1]) == batch[2]


async def test_duplicate_delivery_is_stored_once(
    database_url: str, mqtt_url: str, topic_prefix: str
) -> None:
    message = json.dumps({"ts": _iso(_ts(3)), "pm25": 21.0})
    settings = make_settings(database_url, mqtt_url, topic_prefix)
    async with running_daemon(settings) as daemon, publisher(mqtt_url) as mqtt:
        for _ in range(3):
            await mqtt.publish(f"{topic_prefix}/air/AIR-01", message, qos=1)
        marker = json.dumps({"ts": _iso(_ts(2)), "pm25": 1.0})
        await mqtt.publish(f"{topic_prefix}/air/AIR-02", marker, qos=1)

        async def marker_stored() -> bool:
            return await count(database_url, "kuzet.air_readings", "station_id = 'AIR-02'") == 1

        await wait_for(marker_stored, what="marker")
        _, text = await http_get(daemon, "/metrics")
    assert await count(database_url, "kuzet.air_readings", "station_id = 'AIR-01'") == 1
    assert 'kuzet_messages_received_total{feed="air"} 4.0' in text
    assert 'kuzet_readings_stored_total{feed="air"} 2.0' in text


async def test_unknown_station_accept_and_reject(
    database_url: str, mqtt_url: str, topic_prefix: str
) -> None:
    reading = json.dumps({"ts": _iso(_ts(3)), "level_m": 2.0})
    accept = make_settings(database_url, mqtt_url, topic_prefix)
    async with running_daemon(accept) as daemon, publisher(mqtt_url) as mqtt:
        await mqtt.publish(f"{topic_prefix}/lake/NEW-LAKE", reading, qos=1)

        async def stored() -> bool:
            return await count(database_url, "kuzet.lake_readings") == 1

        await wait_for(stored, what="auto-registered reading")
        _, body = await http_get(daemon, "/api/v1/stations")
    rows = await fetch_all(
        database_url, "SELECT kind, from_file FROM kuzet.stations WHERE station_id = 'NEW-LAKE'"
    )
    assert rows == [("lake", False)]
    new = next(s for s in body["stations"] if s["station_id"] == "NEW-LAKE")
    assert new["auto_registered"] is True
    assert new["status"] == "ok"

    reject = make_settings(
        database_url, mqtt_url, topic_prefix, ingest={"unknown_stations": "reject"}
    )
    async with running_daemon(reject), publisher(mqtt_url) as mqtt:
        await mqtt.publish(f"{topic_prefix}/air/OTHER-1", reading, qos=1)

        async def rejected() -> bool:
            return (
                await count(database_url, "kuzet.rejected_messages", "reason = 'unknown_station'")
                == 1
            )

        await wait_for(rejected, what="unknown_station reject")


async def test_plain_mode_air_hourly_rollup(
    database_url: str, mqtt_url: str, topic_prefix: str
) -> None:
    hour = (datetime.now(UTC) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    readings = [
        {"ts": _iso(hour + timedelta(minutes=m)), "pm25": float(m), "no2": 10.0}
        for m in range(0, 60, 10)
    ]
    readings.append({"ts": _iso(hour + timedelta(minutes=65)), "pm25": 100.0})
    settings = make_settings(database_url, mqtt_url, topic_prefix)
    async with running_daemon(settings), publisher(mqtt_url) as mqtt:
        await mqtt.publish(f"{topic_prefix}/air/AIR-01", json.dumps(readings[:3]), qos=1)
        await mqtt.publish(f"{topic_prefix}/air/AIR-01", json.dumps(readings[3:]), qos=1)

        async def rolled() -> bool:
            return await count(database_url, "kuzet.air_hourly") == 2

        await wait_for(rolled, what="air_hourly rows")
    rows: list[Any] = await fetch_all(
        database_url,
        "SELECT bucket, pm25_avg, no2_avg, n, n_pm25, n_pm10 FROM kuzet.air_hourly ORDER BY bucket",
    )
    assert rows[0] == (hour, 25.0, 10.0, 6, 6, 0)
    assert rows[1] == (hour + timedelta(hours=1), 100.0, None, 1, 1, 0)


async def test_metrics_endpoint_lists_contract_names(
    database_url: str, mqtt_url: str, topic_prefix: str
) -> None:
    settings = make_settings(database_url, mqtt_url, topic_prefix)
    async with running_daemon(settings) as daemon:
        status, text = await http_get(daemon, "/metrics")
        health = await http_get(daemon, "/healthz")
        ready = await http_get(daemon, "/readyz")
    assert status == 200
    for name in (
        'kuzet_messages_received_total{feed="seismic"} 0.0',
        'kuzet_messages_rejected_total{feed="lake",reason="bad_timestamp"} 0.0',
        'kuzet_readings_stored_total{feed="lake"} 0.0',
        "kuzet_ingest_latency_seconds_bucket",
        "kuzet_db_write_seconds_bucket",
        'kuzet_write_queue_depth{feed="air"} 0.0',
        'kuzet_station_last_seen_timestamp_seconds{station_id="AIR-01"}',
        "kuzet_mqtt_connected 1.0",
        "kuzet_db_up 1.0",
    ):
        assert name in text, name
    assert health == (200, {"status": "ok"})
    assert ready == (200, {"status": "ready"})


async def test_persistent_session_keeps_messages_published_while_down(
    database_url: str, mqtt_url: str, topic_prefix: str
) -> None:
    # clean start off + session expiry: the broker queues QoS 1 messages while we are away
    settings = make_settings(database_url, mqtt_url, topic_prefix)
    async with running_daemon(settings):
        pass
    t = _ts(20)
    async with publisher(mqtt_url) as mqtt:
        for i in range(5):
            reading = {"ts": _iso(t + timedelta(minutes=i)), "pm25": float(i)}
            await mqtt.publish(f"{topic_prefix}/air/AIR-01", json.dumps(reading), qos=1)
    async with running_daemon(settings):

        async def caught_up() -> bool:
            return await count(database_url, "kuzet.air_readings") == 5

        await wait_for(caught_up, what="queued messages after restart")
