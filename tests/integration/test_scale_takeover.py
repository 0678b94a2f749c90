"""A killed shard's index is adopted by a live one within the grace, and handed back on return.

Three `kuzet run` shards with `shard.takeover_after = 3s` and one single process get the same
air input. One shard is killed (-9) a third of the way in; while it is down the input goes
on, and its stations' readings must be stored (by the adopter, from the dead shard's own
persistent session) within the grace plus a few seconds, and its hot stations' alerts fire.
Restarted, it waits for its lease, the adopter hands the index back, and the shard consumes
again. At the end both databases hold the same readings, means and alerts, each alert and
notification once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from collector.embedded.postgres import temporary_database
from collector.shard import shard_of
from collector.shardlist import MISSING
from tests.integration.harness import fetch_all, wait_for
from tests.integration.test_scale_cluster import (
    HOT,
    MODES,
    READINGS,
    SHARDS,
    STATIONS,
    Cluster,
    Daemon,
    cluster,
    comparable,
    converge,
    delivered,
    differences,
    messages,
    publish_all,
    snapshot,
)

pytestmark = pytest.mark.integration

GRACE_S = 3
VICTIM = 1
TAKEOVER = f'takeover_after = "{GRACE_S}s"\n'
# the victim's stations, and its hot ones (their pm25_1h fires while it is down)
THEIRS = [s for s in STATIONS if shard_of(s, SHARDS) == VICTIM]
# The hot stations' 1 h mean passes 160 µg/m³ at step 75 (46 of 60 readings hot): the victim
# is back only after that, so its hot stations' alerts fire on the adopter.
KILL_STEP = READINGS // 3
BACK_STEP = 80
# Published while nobody consumes the victim's session: queued by the broker. Kept under
# Mosquitto's default max_queued_messages (1000; deploy/mosquitto.conf raises it), since in
# wildcard mode that session receives every station's messages.
QUEUED_STEPS = 10


async def stored(database_url: str, stations: list[str]) -> int:
    """Readings stored for these stations."""
    rows = await fetch_all(
        database_url,
        "SELECT count(*) FROM kuzet.air_readings WHERE station_id = ANY(%s)",
        (stations,),
    )
    return int(rows[0][0])


async def takeovers(daemon: Daemon) -> float:
    """kuzet_shard_takeovers_total of a shard, both events."""
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{daemon.port}/metrics") as r:
        text = await r.text()
    head = "kuzet_shard_takeovers_total{"
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(head))


async def adopted_by(daemons: list[Daemon]) -> list[float]:
    """kuzet_shard_adopted of each live shard."""
    return [
        await d.metric("kuzet_shard_adopted")
        for d in daemons
        if d.proc is not None and d.proc.returncode is None
    ]


def stored_up_to(database_url: str, step: int) -> Callable[[], Awaitable[bool]]:
    """Whether the victim's stations are stored up to `step` (a condition for wait_for)."""

    async def check() -> bool:
        return await stored(database_url, THEIRS) >= len(THEIRS) * step

    return check


async def while_down(
    many: Cluster,
    mqtt_url: str,
    prefixes: list[str],
    items: list[tuple[str, bytes]],
) -> dict[str, Any]:
    """Publish on while the victim is dead; what the deployment says then."""
    database_url = many.database_url
    loop = asyncio.get_running_loop()
    kill_at, queued_at = KILL_STEP * len(STATIONS), (KILL_STEP + QUEUED_STEPS) * len(STATIONS)
    started = loop.time()
    await publish_all(mqtt_url, prefixes, items[kill_at:queued_at])

    # what waited in the dead shard's session is stored by the adopter after the grace
    await wait_for(
        stored_up_to(database_url, KILL_STEP + QUEUED_STEPS),
        timeout=GRACE_S + 20,
        what="the adopter to store the readings",
    )
    took = loop.time() - started
    await publish_all(mqtt_url, prefixes, items[queued_at : BACK_STEP * len(STATIONS)])
    await wait_for(stored_up_to(database_url, BACK_STEP), timeout=30, what="the adopter to keep up")
    hot = [f"pm25_1h:{s}" for s in THEIRS if s in HOT]

    async def fired() -> bool:
        rows = await fetch_all(
            database_url, "SELECT key FROM kuzet.alerts WHERE key = ANY(%s)", (hot,)
        )
        return sorted(k for (k,) in rows) == sorted(hot)

    await wait_for(fired, timeout=20, what="the adopter to fire the victim's alerts")
    asker = many.daemons[(VICTIM + 1) % SHARDS]
    air, headers = await asker.answer("/api/v1/air")
    live = [d for i, d in enumerate(many.daemons) if i != VICTIM]
    adopted = await adopted_by(live)
    # a per-station request through the other live shard: the owner is down, its adopter
    # answers (the fallback of collector.shardapi), as the adopter itself would
    path = f"/api/v1/air/{THEIRS[0]}"
    station = [await d.get(path) for d in live]
    return {
        "took": took,
        "adopted": adopted,
        "station_alike": station[0] == station[1] and station[0]["time"] is not None,
        "missing": headers.get(MISSING),
        "listed": [e["station_id"] for e in air["stations"]],
    }


@pytest.mark.parametrize("mode", list(MODES))
async def test_a_killed_shard_is_adopted_and_handed_back(
    pg_server_url: str,
    database_url: str,
    mqtt_url: str,
    topic_prefix: str,
    tmp_path: Path,
    mode: str,
) -> None:
    # per-station subscriptions: the adopter subscribes to the dead shard's stations
    (shard_keys, sections), _ = MODES[mode]
    config = (TAKEOVER + shard_keys, sections)
    assert THEIRS
    assert any(s in HOT for s in THEIRS)
    t0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
    items = messages(t0)
    per_step = len(STATIONS)
    kill_at, back_at = KILL_STEP * per_step, BACK_STEP * per_step
    one_prefix, many_prefix = f"{topic_prefix}o", f"{topic_prefix}m"
    with temporary_database(pg_server_url) as one_url:
        async with (
            cluster(one_url, mqtt_url, one_prefix, 1, tmp_path, config) as one,
            cluster(database_url, mqtt_url, many_prefix, SHARDS, tmp_path, config) as many,
        ):
            prefixes = [one_prefix, many_prefix]
            await publish_all(mqtt_url, prefixes, items[:kill_at])
            victim = many.daemons[VICTIM]
            await victim.kill()
            down = await while_down(many, mqtt_url, prefixes, items)
            # back: it waits for its lease until the adopter has handed the index back
            await victim.start()
            await wait_for(victim.ready, timeout=40, what="the returning shard ready")
            await publish_all(mqtt_url, prefixes, items[back_at:])

            # + the auto-registered sensor in `accept` mode
            rows = READINGS * len(STATIONS) + (1 if mode == "wildcard" else 0)

            await converge(one_url, database_url, mode, rows)
            single = comparable(await snapshot(one_url), mode)
            sharded = comparable(await snapshot(database_url), mode)
            await wait_for(
                lambda: _same_notices(one, many), timeout=20, what="the same notifications"
            )
            after = await adopted_by(many.daemons)
            handed = [await takeovers(d) for d in many.daemons]
    # the victim's stations were stored during its absence, within the grace and a little
    assert down["took"] < GRACE_S + 20, down
    assert sorted(down["adopted"]) == [0.0, 1.0], down
    assert down["station_alike"], down
    # the adopter answers for the dead shard in the lists: nothing is missing
    assert down["missing"] is None, down
    assert set(THEIRS) <= set(down["listed"]), down
    # the index went back: nobody runs another's index any more; one adoption, one return
    assert after == [0.0] * SHARDS
    assert sum(handed) == 2, handed
    assert sharded == single, differences(single, sharded)
    keys = [key for key, *_ in sharded["alerts"]]
    assert {f"pm25_1h:{s}" for s in HOT} <= set(keys)
    assert len(keys) == len(set(keys))
    assert len(sharded["notifications"]) == len(set(sharded["notifications"]))
    counts = delivered(many.receiver)
    assert all(n == 1 for n in counts.values()), counts


async def _same_notices(one: Cluster, many: Cluster) -> bool:
    return delivered(one.receiver) == delivered(many.receiver) and bool(delivered(one.receiver))
