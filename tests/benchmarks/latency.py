"""Row 4: alert latency under background load, publish → webhook received.

Background: the load generator publishes single-reading air messages at `background` msg/s
(default 1,000) on 200 air stations for the whole row. Air probes: each probe station
(interval_s = 3600, so one reading makes a valid 1 h mean) gets one reading of 500 µg/m³,
which fires `pm25_1h`; latency is from just before the PUBLISH to the webhook request
arriving at a local receiver, both on this process's monotonic clock. Earthquake: the
simulated quake's packets up to the one before the completing packet are published and
processed first (no alert yet), then the completing packet is published and timed. Each
quake repetition runs on a fresh daemon (detectors and associator start empty), after the
seismic tables are emptied.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
import psycopg
from aiohttp import web

from collector.stations import load_stations
from tests.benchmarks.kuzetproc import KuzetProcess
from tests.benchmarks.measure import percentile
from tests.benchmarks.quake import quake_run
from tests.benchmarks.services import Services
from tests.benchmarks.streams import StationGroup, StreamSpec, write_stations
from tests.benchmarks.worker import Worker

PROBE_VALUE = 500.0
PROBE_GAP_S = 0.2
ALERT_TIMEOUT_S = 20.0
SETTLE_S = 1.5
BACKGROUND_STATIONS = 200


@dataclass(slots=True)
class Hooks:
    """Webhook requests as they arrive: (monotonic receive time, alert element)."""

    received: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    event: asyncio.Event = field(default_factory=asyncio.Event)

    def find(self, rule: str, station_id: str | None = None, since: float = 0.0) -> float | None:
        """Receive time of the first firing `rule` alert (for `station_id`) after `since`."""
        for t, alert in self.received:
            if t < since:
                continue
            labels = alert.get("labels", {})
            if alert.get("status") != "firing" or labels.get("alertname") != rule:
                continue
            if station_id is None or labels.get("station_id") == station_id:
                return t
        return None

    async def wait(
        self, rule: str, station_id: str | None, timeout: float, since: float = 0.0
    ) -> float | None:
        """Wait for `find` to succeed."""
        deadline = time.monotonic() + timeout
        while (found := self.find(rule, station_id, since)) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.event.wait(), timeout=left)
        return found


@contextlib.asynccontextmanager
async def receiver() -> AsyncIterator[tuple[str, Hooks]]:
    """A webhook endpoint on a free port that timestamps every request on arrival."""
    hooks = Hooks()

    async def handle(request: web.Request) -> web.Response:
        arrived = time.monotonic()
        body = await request.json()
        for alert in body.get("alerts", []):
            hooks.received.append((arrived, alert))
        hooks.event.set()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/hook", hooks
    finally:
        await runner.cleanup()


def _summary(values: list[float]) -> dict[str, Any]:
    ms = [v * 1000 for v in values]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 1) if ms else None,
        "p99_ms": round(percentile(ms, 99), 1) if ms else None,
        "max_ms": round(max(ms), 1) if ms else None,
    }


@dataclass(frozen=True, slots=True)
class LatencyPlan:
    """How many probes and quakes, and the background rate."""

    probes: int
    quakes: int
    background: float = 1000.0


async def _air_probes(
    mqtt: aiomqtt.Client, hooks: Hooks, prefix: str, probes: int
) -> tuple[list[float], int]:
    sent: list[tuple[str, float]] = []
    for k in range(probes):
        sid = f"PROBE-{k:05d}"
        ts = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        payload = orjson.dumps({"ts": ts, "pm25": PROBE_VALUE})
        t0 = time.monotonic()
        await mqtt.publish(f"{prefix}/air/{sid}", payload, qos=1)
        sent.append((sid, t0))
        await asyncio.sleep(PROBE_GAP_S)
    latencies, missing = [], 0
    for sid, t0 in sent:
        got = await hooks.wait("pm25_1h", sid, ALERT_TIMEOUT_S)
        if got is None:
            missing += 1
        else:
            latencies.append(got - t0)
    return latencies, missing


async def _quake(
    mqtt: aiomqtt.Client, hooks: Hooks, prefix: str, daemon: KuzetProcess, seed: int
) -> tuple[float | None, dict[str, Any]]:
    run = await asyncio.to_thread(
        quake_run, load_stations(None), epoch=float(int(time.time())) - 30.0, seed=seed
    )
    started = time.monotonic()
    for sid, payload in run.packets[: run.completing]:
        await mqtt.publish(f"{prefix}/seismic/{sid}", payload, qos=1)

    async def stored() -> int:
        return await asyncio.to_thread(daemon.stored, "seismic")

    deadline = time.monotonic() + 30
    # Polling another process's counter: there is no event to wait on.
    while await stored() < run.completing and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    await asyncio.sleep(SETTLE_S)  # the seismic stage works behind the writer
    early = hooks.find("earthquake", since=started) is not None
    sid, payload = run.packets[run.completing]
    t0 = time.monotonic()
    await mqtt.publish(f"{prefix}/seismic/{sid}", payload, qos=1)
    got = await hooks.wait("earthquake", None, ALERT_TIMEOUT_S, since=started)
    info = {"completing_packet": run.completing, "stations": run.stations_at_fire}
    if early:
        info["fired_before_completing_packet"] = True
        return None, info
    return (got - t0 if got is not None else None), info


def _clear_seismic(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE kuzet.seismic_packets, kuzet.seismic_picks, kuzet.seismic_events")


async def latency_row(svc: Services, workdir: Path, plan: LatencyPlan) -> dict[str, Any]:
    """Row 4."""
    prefix = f"kb{secrets.token_hex(3)}"
    stations = write_stations(
        workdir / "stations-latency.toml",
        [
            StationGroup("BGAIR-", "air", BACKGROUND_STATIONS),
            StationGroup("PROBE-", "air", plan.probes, interval_s=3600),
        ],
        bundled=True,
    )
    spec = StreamSpec(
        kind="air",
        prefix=prefix,
        stations=BACKGROUND_STATIONS,
        base=float(int(time.time()) - 20 * 86_400),
        id_prefix="BGAIR-",
    )
    gen = Worker("tests.benchmarks.loadgen", log=workdir / "loadgen-latency.log")
    air: list[float] = []
    quakes: list[float] = []
    notes: dict[str, Any] = {"quake_runs": []}
    missing = 0
    first = 0
    try:
        gen.call("connect", host=svc.mqtt_host, port=svc.mqtt_port)
        async with receiver() as (url, hooks), contextlib.AsyncExitStack() as stack:
            db = stack.enter_context(svc.database())
            for rep in range(max(plan.quakes, 1)):
                daemon = await asyncio.to_thread(
                    KuzetProcess,
                    mqtt_url=svc.mqtt_url,
                    database_url=db,
                    prefix=prefix,
                    stations=stations,
                    log=workdir / f"kuzet-latency-{rep}.log",
                    extra_env={"KUZET_WEBHOOK_URL": url},
                )
                count = int(plan.background * 120)
                gen.call(
                    "background",
                    spec=spec.as_dict(),
                    first=first,
                    count=count,
                    rate=plan.background,
                )
                first += count
                try:
                    await asyncio.sleep(1.0)  # background reaches steady state
                    async with aiomqtt.Client(svc.mqtt_host, svc.mqtt_port) as mqtt:
                        if rep == 0:
                            air, missing = await _air_probes(mqtt, hooks, prefix, plan.probes)
                        if plan.quakes:
                            latency, info = await _quake(mqtt, hooks, prefix, daemon, seed=rep + 1)
                            notes["quake_runs"].append(info)
                            if latency is not None:
                                quakes.append(latency)
                finally:
                    sent = gen.call("stop")
                    await asyncio.to_thread(daemon.stop)
                notes.setdefault("background_sent", []).append(sent.get("sent_total"))
                await asyncio.to_thread(_clear_seismic, db)
    finally:
        gen.close()
    return {
        "row": "alert latency",
        "background_msg_s": plan.background,
        "pm25_1h": {**_summary(air), "missing": missing},
        "earthquake": _summary(quakes),
        **notes,
    }
