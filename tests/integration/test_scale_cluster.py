"""Three `kuzet run` shards on one broker and database behave as one process, also after kill -9.

The same air input goes to a single daemon (its own database and topics) and to three shard
processes; one shard is killed mid-stream and restarted after the input ends. Both databases
must then hold the same readings, hourly means, rejections and alerts, and each alert
transition is notified once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from collector.embedded.postgres import temporary_database
from collector.embedded.processes import free_port
from collector.shard import shard_of
from collector.shardlist import MISSING
from tests.fixtures.receiver import Receiver, webhook_receiver
from tests.integration.harness import fetch_all, publisher, wait_for

pytestmark = pytest.mark.integration

SHARDS = 3
# Bundled air stations (interval 60 s); the hot ones exceed pm25_1h (> 160 µg/m³) in the
# second half, six of them so that the city-wide pm25_1h_city (>= 5 stations) fires too.
STATIONS = [f"AIR-{i:02d}" for i in range(1, 16)]
HOT = ["AIR-01", "AIR-03", "AIR-05", "AIR-08", "AIR-13", "AIR-15"]
READINGS = 90  # per station, one a minute
# Halfway: what is published while the killed shard is away waits in its session, and must
# stay under Mosquitto's default max_queued_messages (1000) of a test broker; beyond it the
# broker drops messages (deploy/mosquitto.conf allows 200000).
KILL_AT = READINGS // 2


@dataclass(slots=True)
class Daemon:
    """A `kuzet run` subprocess and what it needs to be restarted."""

    env: dict[str, str]
    log: Path
    port: int
    proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start the process (appending to its log)."""
        with self.log.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "collector.cli",
                "run",
                env=self.env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
            )

    async def ready(self) -> bool:
        """Whether /readyz answers 200 (MQTT connected, database up)."""
        url = f"http://127.0.0.1:{self.port}/readyz"
        try:
            async with aiohttp.ClientSession() as s, s.get(url) as r:
                return r.status == 200
        except aiohttp.ClientError:
            return False

    async def leads(self) -> bool:
        """Whether this shard holds the lead (kuzet_shard_leader)."""
        url = f"http://127.0.0.1:{self.port}/metrics"
        async with aiohttp.ClientSession() as s, s.get(url) as r:
            return "kuzet_shard_leader 1.0" in await r.text()

    async def metric(self, name: str) -> float:
        """One unlabelled sample of the process's /metrics."""
        url = f"http://127.0.0.1:{self.port}/metrics"
        async with aiohttp.ClientSession() as s, s.get(url) as r:
            text = await r.text()
        return sum(
            float(line.split()[1]) for line in text.splitlines() if line.split(" ")[0] == name
        )

    async def get(self, path: str) -> Any:
        """GET a JSON document from the process's API."""
        url = f"http://127.0.0.1:{self.port}{path}"
        async with aiohttp.ClientSession() as s, s.get(url) as r:
            assert r.status == 200, (url, r.status, await r.text())
            return await r.json()

    async def answer(self, path: str) -> tuple[Any, dict[str, str]]:
        """GET a JSON document and the answer's headers."""
        url = f"http://127.0.0.1:{self.port}{path}"
        async with aiohttp.ClientSession() as s, s.get(url) as r:
            assert r.status == 200, (url, r.status, await r.text())
            return await r.json(), dict(r.headers)

    async def kill(self) -> None:
        """kill -9: no flush, no goodbye."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        """SIGTERM and wait for a clean exit."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.proc.wait(), 40)


@dataclass(slots=True)
class Cluster:
    """One deployment: its database, topics, webhook receiver and daemons."""

    database_url: str
    prefix: str
    receiver: Receiver
    daemons: list[Daemon] = field(default_factory=list)


def daemon_env(
    database_url: str, mqtt_url: str, prefix: str, webhook: str, shard: tuple[int, int]
) -> dict[str, str]:
    """The environment of one `kuzet run` (bundled stations)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUZET_")}
    env.update(
        {
            "KUZET_DATABASE_URL": database_url,
            "KUZET_MQTT_URL": mqtt_url,
            "KUZET_TOPIC_PREFIX": prefix,
            "KUZET_MQTT_CLIENT_ID": f"kuzet-{prefix}",
            "KUZET_LOG_LEVEL": "info",
            "KUZET_WEBHOOK_URL": webhook,
            "KUZET_SHARD_INDEX": str(shard[0]),
            "KUZET_SHARD_COUNT": str(shard[1]),
        }
    )
    return env


@contextlib.asynccontextmanager
async def cluster(
    database_url: str,
    mqtt_url: str,
    prefix: str,
    count: int,
    logs: Path,
    config: tuple[str, str] = ("", ""),
) -> AsyncIterator[Cluster]:
    """`count` shard processes of one deployment, ready; stopped with SIGTERM on exit.

    `config` is (more keys of `[shard]`, more sections) of the TOML file every process reads;
    `shard.peers` lists the processes' HTTP servers.
    """
    async with webhook_receiver() as receiver:
        group = Cluster(database_url, prefix, receiver)
        ports = [free_port() for _ in range(count)]
        peers = json.dumps([f"http://127.0.0.1:{port}" for port in ports])
        path = logs / f"{prefix}.toml"
        path.write_text(f"[shard]\npeers = {peers}\n{config[0]}{config[1]}", encoding="utf-8")
        for index, port in enumerate(ports):
            env = daemon_env(database_url, mqtt_url, prefix, receiver.url, (index, count))
            env["KUZET_HTTP_LISTEN"] = f"127.0.0.1:{port}"
            env["KUZET_CONFIG"] = str(path)
            group.daemons.append(Daemon(env, logs / f"{prefix}-{index}.log", port))
        try:
            await asyncio.gather(*(d.start() for d in group.daemons))
            for d in group.daemons:
                await wait_for(d.ready, timeout=40, what=f"{d.log.name} ready")
            # the SUBACKs follow the connection: give them a moment
            await asyncio.sleep(0.5)
            yield group
        finally:
            await asyncio.gather(*(d.stop() for d in group.daemons), return_exceptions=True)


def messages(t0: datetime) -> list[tuple[str, bytes]]:
    """(topic suffix, payload): the stations' readings in time order, then bad input."""
    out = []
    for i in range(READINGS):
        ts = (t0 + timedelta(minutes=i)).isoformat()
        for station in STATIONS:
            pm25 = 200.0 + i % 7 if station in HOT and i >= READINGS // 3 else 20.0 + i % 5
            out.append((f"air/{station}", f'{{"ts": "{ts}", "pm25": {pm25}, "no2": 30}}'.encode()))
    ts = (t0 + timedelta(minutes=READINGS)).isoformat()
    out += [
        ("air/AIR-01", b"{not json"),
        ("air/AIR-02", f'{{"ts": "{ts}", "pm25": -5}}'.encode()),
        ("air/bad id!", b"{}"),
        ("air/NEW-SENSOR-1", f'{{"ts": "{ts}", "pm25": 12}}'.encode()),
    ]
    return out


async def snapshot(database_url: str) -> dict[str, Any]:
    """What must be the same for one process and for the shards."""
    readings = await fetch_all(
        database_url,
        "SELECT station_id, time, pm25, no2 FROM kuzet.air_readings ORDER BY station_id, time",
    )
    hourly = await fetch_all(
        database_url,
        "SELECT station_id, bucket, round(pm25_avg::numeric, 6), n FROM kuzet.air_hourly"
        " ORDER BY station_id, bucket",
    )
    rejected = await fetch_all(
        database_url,
        "SELECT topic, reason FROM kuzet.rejected_messages ORDER BY topic, reason",
    )
    # The value of a station's alert is a rolling mean at the reading that fired it: the
    # same on any shard. A city-wide alert's value is a count when the leader looked.
    alerts = await fetch_all(
        database_url,
        "SELECT key, rule, severity, state, CASE WHEN station_id IS NULL THEN NULL"
        " ELSE round(value::numeric, 6) END FROM kuzet.alerts ORDER BY key, started_at",
    )
    notices = await fetch_all(
        database_url,
        "SELECT a.key, n.event, n.channel FROM kuzet.notifications n JOIN kuzet.alerts a"
        " ON a.id = n.alert_id ORDER BY a.key, n.event, n.channel",
    )
    return {
        "readings": readings,
        "hourly": hourly,
        # without the deployment's own first topic level
        "rejected": [(topic.split("/", 1)[1], reason) for topic, reason in rejected],
        "alerts": alerts,
        "notifications": notices,
    }


def differences(single: dict[str, Any], sharded: dict[str, Any]) -> str:
    """A readable account of how two snapshots differ (for a failing assertion)."""
    lines = []
    for name, rows in single.items():
        one, many = set(rows), set(sharded[name])
        if one != many or len(rows) != len(sharded[name]):
            lines.append(
                f"{name}: {len(rows)} vs {len(sharded[name])} rows;"
                f" only single {sorted(one - many)[:5]}; only sharded {sorted(many - one)[:5]}"
            )
    return "\n".join(lines)


def delivered(receiver: Receiver) -> Counter[tuple[str, str, str]]:
    """(rule, station, event) of each notification, once per Idempotency-Key."""
    seen: dict[str, tuple[str, str, str]] = {}
    for request in receiver.requests:
        if request.headers.get("X-Answered") != "200":
            continue
        for alert in request.body["alerts"]:
            labels = alert["labels"]
            seen[request.headers["Idempotency-Key"]] = (
                labels["alertname"],
                labels.get("station_id", ""),
                alert["annotations"]["event"],
            )
    return Counter(seen.values())


async def publish_all(
    mqtt_url: str, prefixes: Sequence[str], items: list[tuple[str, bytes]], *, on: int = -1
) -> None:
    """Publish every item to every prefix; stop after item `on` (to act) when asked."""
    async with publisher(mqtt_url) as mqtt:
        for i, (suffix, payload) in enumerate(items):
            for prefix in prefixes:
                await mqtt.publish(f"{prefix}/{suffix}", payload, qos=1)
            if i == on:
                return


# Per mode: the configuration of every process (the single one ignores `subscribe`), and the
# rejections the shards record. Per-station subscriptions receive neither a malformed topic
# nor an unknown station, which is why that mode needs `reject`.
MODES = {
    "wildcard": (("", ""), ["bad_topic", "invalid_json", "out_of_range"]),
    "stations": (
        ('subscribe = "stations"\n', '[ingest]\nunknown_stations = "reject"\n'),
        ["invalid_json", "out_of_range"],
    ),
}
# One station per shard: the per-station API must answer alike on every shard.
API_STATIONS = ["AIR-01", "AIR-03", "AIR-08"]


async def lists(daemon: Daemon) -> dict[str, Any]:
    """The list endpoints' answers, without what depends on the asking moment or process.

    `time` is the answering clock, `last_received_at` each process's own receive time.
    """
    air, air_headers = await daemon.answer("/api/v1/air")
    lakes, lake_headers = await daemon.answer("/api/v1/lakes")
    stations, station_headers = await daemon.answer("/api/v1/stations")
    for headers in (air_headers, lake_headers, station_headers):
        assert MISSING not in headers, headers
    del air["time"]
    for item in stations["stations"]:
        del item["last_received_at"]
    return {"air": air, "lakes": lakes, "stations": stations}


def check_lists(
    one: dict[str, Any], many: list[dict[str, Any]], partial: Any, headers: dict[str, str]
) -> None:
    """The lists are the single process's on every shard; without shard 1, marked partial."""
    # with the city entry over all stations, whichever shard is asked
    assert one["air"]["city"]["pm25"]["mean_1h"] is not None
    ids = [e["station_id"] for e in one["air"]["stations"]]
    # (+ the auto-registered sensor in `accept` mode)
    assert ids[: len(STATIONS)] == STATIONS
    assert many == [one] * SHARDS
    assert headers[MISSING] == "1"
    partial_ids = [e["station_id"] for e in partial["stations"]]
    assert partial_ids == [s for s in ids if shard_of(s, SHARDS) != 1]


def comparable(snap: dict[str, Any], mode: str) -> dict[str, Any]:
    """What must be equal in a mode: everything, but rejections only where both receive."""
    return {k: v for k, v in snap.items() if mode == "wildcard" or k != "rejected"}


async def converge(one_url: str, database_url: str, mode: str, rows: int) -> None:
    """Wait until the sharded database holds what the single process's does, then a bit more."""
    last: list[dict[str, Any]] = []

    async def alike() -> bool:
        last[:] = [
            comparable(await snapshot(one_url), mode),
            comparable(await snapshot(database_url), mode),
        ]
        return len(last[0]["readings"]) == rows and last[0] == last[1]

    # a restarted shard works through its session's backlog: slow on a loaded 2-core machine
    with contextlib.suppress(AssertionError):
        await wait_for(alike, timeout=120, what="the shards' database to match")
    assert last[0] == last[1], differences(*last)
    await asyncio.sleep(3.0)  # late duplicates would show now


@pytest.mark.parametrize("mode", list(MODES))
async def test_three_shards_with_a_kill_store_and_alert_as_one_process(
    pg_server_url: str,
    database_url: str,
    mqtt_url: str,
    topic_prefix: str,
    tmp_path: Path,
    mode: str,
) -> None:
    config, shard_rejections = MODES[mode]
    # the input really is spread: every shard owns air stations, and hot ones
    assert {shard_of(s, SHARDS) for s in HOT} == set(range(SHARDS))
    t0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
    items = messages(t0)
    kill_after = KILL_AT * len(STATIONS)
    one_prefix, many_prefix = f"{topic_prefix}o", f"{topic_prefix}m"
    with temporary_database(pg_server_url) as one_url:
        async with (
            cluster(one_url, mqtt_url, one_prefix, 1, tmp_path, config) as one,
            cluster(database_url, mqtt_url, many_prefix, SHARDS, tmp_path, config) as many,
        ):
            await publish_all(mqtt_url, [one_prefix, many_prefix], items, on=kill_after)
            # the leader: its stations, its session and the city-wide rules must survive
            leader = [d for d in many.daemons if await d.leads()]
            assert len(leader) == 1
            await leader[0].kill()
            await publish_all(mqtt_url, [one_prefix, many_prefix], items[kill_after + 1 :])
            # the killed shard's messages wait in its persistent session meanwhile
            await leader[0].start()
            # + the auto-registered sensor in `accept` mode
            expected_rows = READINGS * len(STATIONS) + (1 if mode == "wildcard" else 0)

            await converge(one_url, database_url, mode, expected_rows)
            single, sharded = await snapshot(one_url), await snapshot(database_url)

            async def notified() -> bool:
                return delivered(one.receiver) == delivered(many.receiver) and bool(
                    delivered(one.receiver)
                )

            await wait_for(notified, timeout=20, what="the same notifications")
            skipped = [await d.metric("kuzet_shard_skipped_messages_total") for d in many.daemons]
            api_one = [await one.daemons[0].get(f"/api/v1/air/{s}") for s in API_STATIONS]
            api_many = [
                [await d.get(f"/api/v1/air/{s}") for s in API_STATIONS] for d in many.daemons
            ]
            lists_one = await lists(one.daemons[0])
            lists_many = [await lists(d) for d in many.daemons]
            # a dead shard's stations are left out of the lists, and the answer says so
            await many.daemons[1].kill()
            partial, headers = await many.daemons[0].answer("/api/v1/air")
    assert comparable(sharded, mode) == comparable(single, mode)
    # wildcard shards receive the others' messages and skip them; per-station ones never see them
    assert (sum(skipped) > 0) if mode == "wildcard" else (sum(skipped) == 0), skipped
    # a station's means and AQI are the same whichever shard is asked (its owner answers)
    assert {shard_of(s, SHARDS) for s in API_STATIONS} == set(range(SHARDS))
    assert all(a["pm25"]["mean_1h"] is not None for a in api_one)
    assert api_many == [api_one] * SHARDS
    check_lists(lists_one, lists_many, partial, headers)
    # nothing vacuous: the hot stations and the city fired, once each
    keys = [key for key, *_ in sharded["alerts"]]
    assert {f"pm25_1h:{s}" for s in HOT} <= set(keys)
    assert any(k.startswith("pm25_1h_city") for k in keys)
    assert len(keys) == len(set(keys))
    assert len(sharded["notifications"]) == len(set(sharded["notifications"]))
    assert sorted(r for _, r in sharded["rejected"]) == shard_rejections
    assert set(sharded["rejected"]) <= set(single["rejected"])
    counts = delivered(many.receiver)
    assert all(n == 1 for n in counts.values())
    assert counts == delivered(one.receiver)
