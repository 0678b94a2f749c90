"""`kuzet export` and `kuzet replay` as processes against a real daemon, broker and database."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from collector.embedded.postgres import temporary_database
from tests.integration.harness import (
    DATA,
    count,
    fetch_all,
    make_settings,
    publisher,
    running_daemon,
    wait_for,
)

pytestmark = pytest.mark.integration

TABLES = {
    "air_readings": "time, station_id, pm25, pm10, no2, temp, rh",
    "lake_readings": "time, station_id, level_m, water_temp, precip_mm, discharge_m3s",
    "seismic_packets": "time, station_id, sr, x, y, z",
}


def _kuzet(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KUZET_")}
    full_env.update(env or {}, KUZET_LOG_LEVEL="warning")
    return subprocess.run(
        [sys.executable, "-m", "collector.cli", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _ts(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _messages(base: datetime) -> list[tuple[str, dict[str, Any] | list[dict[str, Any]]]]:
    """Readings of every feed, in the forms the daemon accepts (a batch included)."""
    air = [
        {"ts": _ts(base + timedelta(minutes=i)), "pm25": 10.1 + i, "no2": 40.7, "rh": 55.0}
        for i in range(5)
    ]
    lake = {"ts": _ts(base), "level_m": 3.42, "water_temp": 4.1, "discharge_m3s": 0.3}
    seismic = [
        {
            "ts": _ts(base + timedelta(seconds=k)),
            "sr": 100.0,
            "x": [0.1 * k + 0.013 * i for i in range(100)],
            "y": [-0.2 - 0.001 * i for i in range(100)],
            "z": [980.05 + 0.5 * k] * 100,
        }
        for k in range(3)
    ]
    return [
        ("air/AIR-01", air),
        ("air/AIR-02", {"ts": _ts(base + timedelta(seconds=30)), "pm10": 77.7, "temp": -12.5}),
        ("lake/LAKE-01", lake),
        *(("seismic/SEIS-01", packet) for packet in seismic),
    ]


async def _rows(url: str, table: str) -> list[tuple[Any, ...]]:
    return await fetch_all(url, f"SELECT {TABLES[table]} FROM kuzet.{table} ORDER BY 2, 1")


async def _counts(url: str) -> dict[str, int]:
    return {table: await count(url, f"kuzet.{table}") for table in TABLES}


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
async def test_export_and_replay_round_trip(
    fmt: str,
    database_url: str,
    pg_server_url: str,
    mqtt_url: str,
    topic_prefix: str,
    tmp_path: Path,
) -> None:
    # Readings stored by one daemon, exported, and replayed into a second daemon with its own
    # database and prefix arrive there as the very same rows (float32 samples included).
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    async with running_daemon(make_settings(database_url, mqtt_url, topic_prefix)):
        async with publisher(mqtt_url) as client:
            for topic, document in _messages(base):
                await client.publish(f"{topic_prefix}/{topic}", orjson.dumps(document), qos=1)

        async def stored() -> bool:
            return await _counts(database_url) == {
                "air_readings": 6,
                "lake_readings": 1,
                "seismic_packets": 3,
            }

        await wait_for(stored, what="the published readings in the first database")

    out = tmp_path / f"export.{fmt}"
    exported = await asyncio.to_thread(
        _kuzet,
        "export",
        "--from",
        _ts(base - timedelta(minutes=1)),
        "--out",
        str(out),
        env={"KUZET_DATABASE_URL": database_url},
    )
    assert exported.returncode == 0, exported.stderr
    assert "6 air, 3 seismic, 1 lake" in exported.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == (10 if fmt == "jsonl" else 11)  # CSV: plus its header

    # Filters: one feed, one station, to standard output.
    filtered = await asyncio.to_thread(
        _kuzet,
        "export",
        "--from",
        _ts(base - timedelta(minutes=1)),
        "--feed",
        "air",
        "--station",
        "AIR-02",
        "--format",
        fmt,
        env={"KUZET_DATABASE_URL": database_url},
    )
    assert filtered.returncode == 0, filtered.stderr
    body = filtered.stdout.splitlines()[(1 if fmt == "csv" else 0) :]
    assert len(body) == 1
    assert "AIR-02" in body[0]
    assert "77.7" in body[0]

    second_prefix = f"{topic_prefix}r"
    with temporary_database(pg_server_url) as second_url:
        async with running_daemon(make_settings(second_url, mqtt_url, second_prefix)):
            replayed = await asyncio.to_thread(
                _kuzet,
                "replay",
                str(out),
                "--mqtt-url",
                mqtt_url,
                "--topic-prefix",
                second_prefix,
                "--speed",
                "0",
            )
            assert replayed.returncode == 0, replayed.stderr
            assert "published air 6, seismic 3, lake 1" in replayed.stdout

            async def arrived() -> bool:
                return await _counts(second_url) == await _counts(database_url)

            await wait_for(arrived, what="the replayed readings in the second database")
        for table in TABLES:
            assert await _rows(second_url, table) == await _rows(database_url, table), table


async def test_openeew_records_replayed_to_now(
    database_url: str, mqtt_url: str, topic_prefix: str
) -> None:
    # OpenEEW records from 2020 would be refused as too old; --shift-to-now moves them so the
    # last packet is stamped with the time it is published, and the daemon stores them all.
    async with running_daemon(make_settings(database_url, mqtt_url, topic_prefix)):
        started = datetime.now(UTC)
        replayed = await asyncio.to_thread(
            _kuzet,
            "replay",
            str(DATA / "replay" / "openeew_sample.jsonl"),
            "--mqtt-url",
            mqtt_url,
            "--topic-prefix",
            topic_prefix,
            "--speed",
            "0",
            "--shift-to-now",
            "--station-map",
            "mx.000=SEIS-01",
            "--station-map",
            "001=SEIS-02",
        )
        assert replayed.returncode == 0, replayed.stderr

        async def stored() -> bool:
            return await count(database_url, "kuzet.seismic_packets") == 3

        await wait_for(stored, what="the OpenEEW packets")
    rows = await fetch_all(
        database_url, "SELECT station_id, time, sr FROM kuzet.seismic_packets ORDER BY time"
    )
    assert [r[0] for r in rows] == ["SEIS-01", "SEIS-02", "SEIS-01"]
    assert all(r[2] == 31.25 for r in rows)
    # Stored times are first samples: the last packet's is the replay's start ("now").
    last_first_sample = rows[-1][1]
    assert started - timedelta(seconds=2) <= last_first_sample <= datetime.now(UTC)
    # The spacing of the recording is kept: 1.024 s between the two packets of device 000.
    assert rows[2][1] - rows[0][1] == timedelta(seconds=1.024)


async def test_speed_paces_publication_and_shift_stamps_it(
    mqtt_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    # --speed 2: readings 2 s apart leave 1 s apart; --shift-to-now: the (old) recording is
    # moved so that its last reading is stamped with the time it leaves.
    path = tmp_path / "three.jsonl"
    path.write_bytes(
        b"".join(
            orjson.dumps(
                {"feed": "air", "station_id": "AIR-01", "ts": 1768032000 + 2 * i, "pm25": i}
            )
            + b"\n"
            for i in range(3)
        )
    )
    received: list[tuple[float, dict[str, Any]]] = []
    async with publisher(mqtt_url) as client:
        await client.subscribe(f"{topic_prefix}/#", qos=1)

        async def pump() -> None:
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                received.append((time.time(), orjson.loads(message.payload)))
                if len(received) == 3:
                    return

        task = asyncio.create_task(pump())
        replayed = await asyncio.to_thread(
            _kuzet,
            "replay",
            str(path),
            "--mqtt-url",
            mqtt_url,
            "--topic-prefix",
            topic_prefix,
            "--speed",
            "2",
            "--shift-to-now",
        )
        assert replayed.returncode == 0, replayed.stderr
        await asyncio.wait_for(task, timeout=10)
    arrivals = [at for at, _ in received]
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert all(0.8 <= gap <= 1.3 for gap in gaps), gaps
    # Compressed 2×, the readings lie in the recent past (2 s, 1 s, 0 s before they leave):
    # only the last is stamped with its own publication time.
    for expected, (at, payload) in zip((-2.0, -1.0, 0.0), received, strict=True):
        stamped = datetime.fromisoformat(payload["ts"]).timestamp()
        assert abs(stamped - at - expected) < 0.3, (at, payload)


async def test_replay_without_a_broker_exits_1() -> None:
    # A broker that is not there: exit 1 and one line, after the files were checked.
    replayed = await asyncio.to_thread(
        _kuzet,
        "replay",
        str(DATA / "replay" / "export_sample.jsonl"),
        "--mqtt-url",
        "mqtt://127.0.0.1:1",
        "--speed",
        "0",
    )
    assert replayed.returncode == 1
    assert "cannot publish to the MQTT broker" in replayed.stderr
    assert "Traceback" not in replayed.stderr
