"""The soak: 10× Almaty load through `kuzet run`, kill -9, PostgreSQL and mosquitto restarts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiomqtt
import psutil

from collector.embedded.postgres import temporary_database
from collector.embedded.processes import free_port
from collector.stations import Station, load_stations
from tests.fixtures.receiver import Receiver, webhook_receiver
from tests.integration.harness import count, fetch_all
from tests.soak.services import Daemon, Mosquitto, Postgres, soak_services

logger = logging.getLogger(__name__)

PREFIX = "soak"
SEISMIC_SAMPLES = 100
ALERT_LAKE = "LAKE-01"  # outburst-hazardous, warning mark 3.6 m: drives alert transitions
WARM_UP_S = 120  # a started daemon fills its windows and catches up its backlog first
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


def _next_batch(
    load: Load, stations: list[Station], rng: random.Random, started: float
) -> list[tuple[str, str, bytes]]:
    """The messages of the simulated seconds up to now: `speed` of them per wall second."""
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
    return batch


async def _publish_load(url: str, load: Load, stop: asyncio.Event) -> None:
    """Publish the load with QoS 1, counting a message once the broker acknowledged it.

    A batch cut by a broker restart is published again whole after reconnecting: the
    daemon then gets some messages twice, which must still be stored once.
    """
    stations = list(load_stations(None))
    rng = random.Random(7)
    parts = urlsplit(url)
    quiet = logging.getLogger("soak.publisher")
    quiet.setLevel(logging.CRITICAL)  # aiomqtt warns about every queue of pending publishes
    started = time.monotonic()
    pending: list[tuple[str, str, bytes]] = []
    while not stop.is_set() or pending:
        try:
            async with aiomqtt.Client(
                parts.hostname or "",
                parts.port or 1883,
                max_queued_outgoing_messages=0,
                logger=quiet,
                timeout=30,
            ) as mqtt:
                while not stop.is_set() or pending:
                    pending = pending or _next_batch(load, stations, rng, started)
                    await asyncio.gather(
                        *(mqtt.publish(f"{PREFIX}/{f}/{i}", body, qos=1) for f, i, body in pending)
                    )
                    load.published.update(feed for feed, _, _ in pending)
                    pending = []
                    await asyncio.sleep(0.2)
        except aiomqtt.MqttError:
            await asyncio.sleep(1.0)  # the broker is restarting


def _slope_mib_per_hour(samples: list[tuple[float, int]]) -> float | None:
    """Least-squares slope of RSS (bytes) over time (s), in MiB per hour."""
    if len(samples) < 3:
        return None
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_r = sum(r for _, r in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    cov = sum((t - mean_t) * (r - mean_r) for t, r in samples)
    return cov / var * 3600 / 2**20 if var else None


def _memory(rss: list[tuple[float, int, int]], last_fault: float) -> dict[str, Any]:
    """RSS of the last daemon process: start/peak/end after warm-up, and the slopes."""
    pid = rss[-1][1]
    life = [(t, r) for t, p, r in rss if p == pid]
    steady = [(t, r) for t, r in life if t - life[0][0] >= WARM_UP_S]
    calm = [(t, r) for t, r in life if t - last_fault >= WARM_UP_S]
    mib = 2**20
    return {
        "rss_samples": len(rss),
        "rss_start_mib": round(steady[0][1] / mib, 1) if steady else None,
        "rss_peak_mib": round(max(r for _, _, r in rss) / mib, 1),
        "rss_end_mib": round(life[-1][1] / mib, 1),
        "rss_slope_mib_per_hour": _rounded(_slope_mib_per_hour(steady)),
        "rss_slope_after_faults_mib_per_hour": _rounded(_slope_mib_per_hour(calm)),
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


async def _wait(what: str, condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"soak: timed out waiting for {what}")
        await asyncio.sleep(1.0)


async def _stored(database_url: str) -> dict[str, int]:
    counts = {f: await count(database_url, t) for f, t in TABLES.items()}
    counts["seismic"] = await count(database_url, "kuzet.seismic_packets")
    return counts


async def _restart(service: Postgres | Mosquitto, down_s: float) -> None:
    await asyncio.to_thread(service.stop)
    await asyncio.sleep(down_s)
    await asyncio.to_thread(service.start)


async def soak(
    minutes: float,
    speed: float,
    services: tuple[Postgres, Mosquitto],
    database_url: str,
    log: Path,
    cycles: int = 1,
) -> dict[str, Any]:
    """Run the soak; returns the result (raises AssertionError on a failed check)."""
    receiver: Receiver
    async with webhook_receiver() as receiver:
        daemon = Daemon(
            {
                "KUZET_DATABASE_URL": database_url,
                "KUZET_MQTT_URL": services[1].url,
                "KUZET_WEBHOOK_URL": receiver.url,
                "KUZET_HTTP_LISTEN": f"127.0.0.1:{free_port()}",
                "KUZET_TOPIC_PREFIX": PREFIX,
                "KUZET_MQTT_CLIENT_ID": "kuzet-soak",
                "KUZET_LOG_LEVEL": "warning",
            },
            log,
        )
        daemon.start()
        try:
            run = await _load_with_faults(minutes, speed, services, daemon, cycles)
            await _wait_until_caught_up(database_url, run.load)
            memory = _memory(run.rss, run.last_fault)
            assert daemon.stop() == 0
        finally:
            daemon.close()
    return await _check(database_url, receiver, run, memory | {"rss_csv": str(run.samples)})


@dataclass
class Run:
    """What the load and fault phase did."""

    load: Load
    samples: Path
    events: list[str] = field(default_factory=list)
    rss: list[tuple[float, int, int]] = field(default_factory=list)  # (s into the run, pid, B)
    last_fault: float = 0.0


async def _load_with_faults(
    minutes: float,
    speed: float,
    services: tuple[Postgres, Mosquitto],
    daemon: Daemon,
    cycles: int,
) -> Run:
    postgres, mosquitto = services
    await asyncio.sleep(5)  # migrations and the subscription, before the load starts
    start = (datetime.now(UTC) - timedelta(hours=1 + minutes * speed / 60)).replace(
        second=0, microsecond=0
    )
    run, stop = Run(Load(speed, start), daemon.log.with_name("rss.csv")), asyncio.Event()
    publisher = asyncio.create_task(_publish_load(mosquitto.url, run.load, stop))
    duration, t0 = minutes * 60, time.monotonic()
    # One kill -9 early; the restarts repeat in each cycle, so the last process lives through
    # `cycles` database and broker restarts (does memory step up once, or at every outage?).
    faults: list[tuple[float, str, Postgres | Mosquitto | None, float]] = [
        (0.25 / cycles, "daemon kill -9 and restart", None, 0)
    ]
    for i in range(cycles):
        faults.append(((i + 0.5) / cycles, "PostgreSQL restart (fast, down 15 s)", postgres, 15))
        faults.append(((i + 0.7) / cycles, "mosquitto restart (down 10 s)", mosquitto, 10))
    while time.monotonic() - t0 < duration:
        elapsed = time.monotonic() - t0
        if faults and elapsed >= faults[0][0] * duration:
            _, name, service, down_s = faults.pop(0)
            rss_mib = run.rss[-1][2] / 2**20 if run.rss else 0.0
            run.events.append(f"{elapsed:.0f}s: {name} (daemon RSS before: {rss_mib:.1f} MiB)")
            if service is None:
                daemon.kill()
                daemon.start()
            else:
                await _restart(service, down_s)
            run.last_fault = time.monotonic() - t0
        with contextlib.suppress(psutil.Error):
            assert daemon.process is not None
            run.rss.append((time.monotonic() - t0, daemon.process.pid, daemon.rss()))
            with run.samples.open("a", encoding="utf-8") as out:
                out.write(",".join(f"{v:.0f}" for v in run.rss[-1]) + "\n")
        if publisher.done():
            publisher.result()
        await asyncio.sleep(5)
    stop.set()
    await publisher
    return run


async def _wait_until_caught_up(database_url: str, load: Load) -> None:
    async def stored() -> bool:
        counts = await _stored(database_url)
        return all(counts[f] >= load.published[f] for f in load.published)

    await _wait("every published reading stored", stored, timeout=600)
    # every channel's outbox rows end sent: the webhook and the MQTT alert topic
    sql = "SELECT count(*) FROM kuzet.notifications WHERE status <> 'sent'"

    async def delivered() -> bool:
        return bool((await fetch_all(database_url, sql))[0][0] == 0)

    await _wait("every notification delivered", delivered, timeout=180)


async def _check(
    database_url: str, receiver: Receiver, run: Run, memory: dict[str, Any]
) -> dict[str, Any]:
    stored_counts = await _stored(database_url)
    sql = "SELECT id FROM kuzet.notifications WHERE channel = 'webhook'"
    ids = {str(r[0]) for r in await fetch_all(database_url, sql)}
    keys = [
        r.headers.get("Idempotency-Key", "")
        for r in receiver.requests
        if r.headers.get("X-Answered") == "200"
    ]
    result = {
        "minutes": run.load.sim_seconds / 60 / run.load.speed,
        "speed": run.load.speed,
        "faults": run.events,
        "published": dict(run.load.published),
        "stored": stored_counts,
        "notifications": len(ids),
        "webhook_deliveries": len(keys),
        "redelivered": len(keys) - len(set(keys)),
        **memory,
    }
    # exactly once: every published reading is a row, and there are no others
    assert stored_counts == dict(run.load.published), result
    assert set(keys) == ids, result
    assert ids, result  # the lake cycle must have produced transitions
    return result


def run_soak(minutes: float, speed: float, log: Path, cycles: int = 1) -> dict[str, Any]:
    """Start private services (the soak restarts them), run the soak, stop everything."""
    with soak_services() as services, temporary_database(services[0].url) as database_url:
        return asyncio.run(soak(minutes, speed, services, database_url, log, cycles))
