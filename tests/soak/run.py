"""The soak: 10× Almaty load through `kuzet run`, kill -9, database and broker cuts; then check."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiomqtt

from collector.embedded.postgres import private_postgres, temporary_database
from collector.embedded.processes import free_port
from collector.stations import load_stations
from tests.fixtures.proxy import TcpProxy, via_proxy
from tests.fixtures.receiver import Receiver, webhook_receiver
from tests.integration.harness import count, fetch_all
from tests.soak.services import Daemon, soak_mosquitto

logger = logging.getLogger(__name__)

PREFIX = "soak"
SEISMIC_SAMPLES = 100
ALERT_LAKE = "LAKE-01"  # outburst-hazardous, warning mark 3.6 m: drives alert transitions
TABLES = {"air": "kuzet.air_readings", "lake": "kuzet.lake_readings"}


@dataclass
class Load:
    """What was published (and acknowledged by the broker), per feed."""

    speed: float
    start: datetime
    published: Counter[str] = field(default_factory=Counter)
    sim_seconds: int = 0


def _seismic(ts: datetime, rng: random.Random) -> bytes:
    axes = {a: [round(rng.gauss(0, 0.05), 3) for _ in range(SEISMIC_SAMPLES)] for a in "xyz"}
    return json.dumps({"ts": ts.isoformat(), "sr": 100.0, **axes}).encode()


def _level(sim_minute: int) -> float:
    # 5 simulated minutes above the warning mark, 5 far below: fire, resolve, outburst…
    return 3.9 if (sim_minute // 5) % 2 == 0 else 2.0


async def _publish_load(url: str, load: Load, stop: asyncio.Event) -> None:
    """Each wall second publishes `speed` simulated seconds of the bundled network."""
    stations = list(load_stations(None))
    rng = random.Random(7)
    parts = urlsplit(url)
    quiet = logging.getLogger("soak.publisher")
    quiet.setLevel(logging.ERROR)  # aiomqtt warns about every queue of pending publishes
    async with aiomqtt.Client(
        parts.hostname or "", parts.port or 1883, max_queued_outgoing_messages=0, logger=quiet
    ) as mqtt:
        started = time.monotonic()
        while not stop.is_set():
            target = int((time.monotonic() - started) * load.speed)
            batch: list[tuple[str, str, bytes]] = []
            for second in range(load.sim_seconds, target):
                ts = load.start + timedelta(seconds=second)
                for s in stations:
                    if s.kind.value == "seismic":
                        batch.append(("seismic", s.id, _seismic(ts, rng)))
                    elif second % 60 == 0 and s.kind.value == "air":
                        body = {"ts": ts.isoformat(), "pm25": round(rng.uniform(5, 30), 1)}
                        batch.append(("air", s.id, json.dumps(body).encode()))
                    elif second % 60 == 0:
                        level = _level(second // 60) if s.id == ALERT_LAKE else 2.0
                        body = {"ts": ts.isoformat(), "level_m": level}
                        batch.append(("lake", s.id, json.dumps(body).encode()))
            load.sim_seconds = max(load.sim_seconds, target)
            await asyncio.gather(
                *(mqtt.publish(f"{PREFIX}/{feed}/{sid}", body, qos=1) for feed, sid, body in batch)
            )
            load.published.update(feed for feed, _, _ in batch)
            await asyncio.sleep(0.2)


def _slope_mib_per_hour(samples: list[tuple[float, int]]) -> float | None:
    if len(samples) < 3:
        return None
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_r = sum(r for _, r in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    cov = sum((t - mean_t) * (r - mean_r) for t, r in samples)
    return cov / var * 3600 / 2**20 if var else None


async def _wait(what: str, condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"soak: timed out waiting for {what}")
        await asyncio.sleep(1.0)


async def soak(  # noqa: PLR0915 - one linear script: load, faults, checks
    minutes: float, speed: float, database_url: str, mqtt_url: str, log: Path
) -> dict[str, Any]:
    """Run the soak; returns the result (raises AssertionError on a failed check)."""
    db, broker = urlsplit(database_url), urlsplit(mqtt_url)
    db_proxy = TcpProxy(db.hostname or "127.0.0.1", db.port or 5432)
    mqtt_proxy = TcpProxy(broker.hostname or "127.0.0.1", broker.port or 1883)
    await db_proxy.start()
    await mqtt_proxy.start()
    receiver: Receiver
    async with webhook_receiver() as receiver:
        daemon = Daemon(
            {
                "KUZET_DATABASE_URL": via_proxy(database_url, db_proxy.port),
                "KUZET_MQTT_URL": via_proxy(mqtt_url, mqtt_proxy.port),
                "KUZET_WEBHOOK_URL": receiver.url,
                "KUZET_HTTP_LISTEN": f"127.0.0.1:{free_port()}",
                "KUZET_TOPIC_PREFIX": PREFIX,
                "KUZET_MQTT_CLIENT_ID": "kuzet-soak",
                "KUZET_LOG_LEVEL": "warning",
            },
            log,
        )
        daemon.start()
        await asyncio.sleep(5)  # migrations and the subscription, before the load starts
        start = (datetime.now(UTC) - timedelta(hours=1 + minutes * speed / 60)).replace(
            second=0, microsecond=0
        )
        load, stop = Load(speed, start), asyncio.Event()
        publisher = asyncio.create_task(_publish_load(mqtt_url, load, stop))
        duration, t0 = minutes * 60, time.monotonic()
        faults = [
            (0.25, "kill -9 and restart", None),
            (0.5, "database cut 15 s", db_proxy),
            (0.7, "broker cut 10 s", mqtt_proxy),
        ]
        rss: list[tuple[float, int]] = []
        events = []
        while time.monotonic() - t0 < duration:
            elapsed = time.monotonic() - t0
            if faults and elapsed >= faults[0][0] * duration:
                _, name, proxy = faults.pop(0)
                events.append(f"{elapsed:.0f}s: {name}")
                if proxy is None:
                    daemon.kill()
                    rss.clear()  # a new process: the slope is of the last one
                    daemon.start()
                else:
                    await proxy.cut()
                    await asyncio.sleep(15 if proxy is db_proxy else 10)
                    await proxy.restore()
            with contextlib.suppress(Exception):
                rss.append((time.monotonic(), daemon.rss()))
            if publisher.done():
                publisher.result()
            await asyncio.sleep(5)
        stop.set()
        await publisher

        async def stored() -> bool:
            counts = {f: await count(database_url, t) for f, t in TABLES.items()}
            counts["seismic"] = await count(database_url, "kuzet.seismic_packets")
            return all(counts[f] >= load.published[f] for f in load.published)

        await _wait("every published reading stored", stored, timeout=300)
        sql = (
            "SELECT count(*) FROM kuzet.notifications"
            " WHERE channel = 'webhook' AND status <> 'sent'"
        )

        async def delivered() -> bool:
            return (await fetch_all(database_url, sql))[0][0] == 0

        await _wait("every notification delivered", delivered, timeout=120)
        steady = [s for s in rss if s[0] - rss[0][0] > 30] if rss else []
        slope = _slope_mib_per_hour(steady)
        peak = max((r for _, r in rss), default=0)
        assert daemon.stop() == 0
    await db_proxy.cut()
    await mqtt_proxy.cut()
    stored_counts = {f: await count(database_url, t) for f, t in TABLES.items()}
    stored_counts["seismic"] = await count(database_url, "kuzet.seismic_packets")
    ids = {
        str(r[0])
        for r in await fetch_all(
            database_url, "SELECT id FROM kuzet.notifications WHERE channel = 'webhook'"
        )
    }
    keys = [
        r.headers.get("Idempotency-Key", "")
        for r in receiver.requests
        if r.headers.get("X-Answered") == "200"
    ]
    result = {
        "minutes": minutes,
        "speed": speed,
        "faults": events,
        "published": dict(load.published),
        "stored": stored_counts,
        "notifications": len(ids),
        "webhook_deliveries": len(keys),
        "redelivered": len(keys) - len(set(keys)),
        "rss_peak_mib": round(peak / 2**20, 1),
        "rss_slope_mib_per_hour": None if slope is None else round(slope, 1),
    }
    # exactly once: every published reading is a row, and there are no others
    assert stored_counts == dict(load.published), result
    assert set(keys) == ids, result
    assert ids, result  # the lake cycle must have produced transitions
    return result


@contextlib.contextmanager
def database() -> Iterator[str]:
    """A new database on KUZET_TEST_DATABASE_URL's server, or on a private server."""
    given = os.environ.get("KUZET_TEST_DATABASE_URL", "").strip()
    with contextlib.ExitStack() as stack:
        server = given or stack.enter_context(private_postgres())
        yield stack.enter_context(temporary_database(server))


def run_soak(minutes: float, speed: float, log: Path) -> dict[str, Any]:
    """Start the services, run the soak, stop everything."""
    with database() as database_url, soak_mosquitto() as mqtt_url:
        return asyncio.run(soak(minutes, speed, database_url, mqtt_url, log))
