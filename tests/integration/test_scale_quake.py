"""A quake over three `kuzet run` shards is declared, alerted and resolved once, across a failover.

Each shard detects picks only for its own stations; the picks reach the other shards over the
broker, every shard associates them, and the leader raises `earthquake`. Right after the alert
the leader is killed (-9) and restarted: a standby, whose associator already holds the event,
takes the lead, continues the same event and resolves the alert when it ends. Input as in
test_quake_e2e: the simulator's ground motion, published live as sensors would.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from pathlib import Path

import pytest

from collector.seismic import epicentral_km
from collector.shard import shard_of
from collector.simulate.seismic import Quake
from tests.integration.harness import fetch_all, wait_for
from tests.integration.test_quake_e2e import (
    HORIZON_S,
    ORIGIN_LAG_S,
    PGA_QUIET_S,
    SOURCE,
    WARM_UP_S,
    _messages,
    _model,
    _publish_live,
)
from tests.integration.test_scale_cluster import cluster, delivered

pytestmark = pytest.mark.integration

SHARDS = 3
# An event ends 20 s (AssociatorConfig.event_timeout_s) after its last new station.
EVENT_END_S = 20.0


async def test_quake_over_shards_survives_a_leader_kill(
    database_url: str, mqtt_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    async with cluster(database_url, mqtt_url, topic_prefix, SHARDS, tmp_path) as many:
        origin = math.floor(time.time()) + 1.0 - ORIGIN_LAG_S
        model = _model(origin - WARM_UP_S, Quake(SOURCE, origin))
        messages = _messages(model, origin + HORIZON_S)
        publishing = asyncio.create_task(_publish_live(mqtt_url, topic_prefix, messages))

        async def alerted() -> bool:
            return ("earthquake", "", "firing") in delivered(many.receiver)

        await wait_for(alerted, timeout=15, what="the earthquake alert")
        leaders = [d for d in many.daemons if await d.leads()]
        assert len(leaders) == 1
        await leaders[0].kill()
        await leaders[0].start()
        await publishing

        async def resolved() -> bool:
            return ("earthquake", "", "resolved") in delivered(many.receiver)

        await wait_for(resolved, timeout=EVENT_END_S + 15, what="the event's end resolving it")
        # strong motion explained by the event must not raise station_pga on any shard
        await asyncio.sleep(max(origin + HORIZON_S + PGA_QUIET_S + 1.5 - time.time(), 0.0))
        await asyncio.sleep(2.0)  # a late duplicate would show now
        notices = delivered(many.receiver)
    events = await fetch_all(
        database_url,
        "SELECT lat, lon, station_count, details, intensity_city FROM kuzet.seismic_events",
    )
    alerts = await fetch_all(database_url, "SELECT rule, key, state FROM kuzet.alerts")
    picks = await fetch_all(database_url, "SELECT DISTINCT station_id FROM kuzet.seismic_picks")
    # one event, where the quake was, from picks of stations on several shards (no shard
    # could have declared it alone), stored once and ended
    assert len(events) == 1
    lat, lon, count, details, intensity = events[0]
    assert epicentral_km(lat, lon, SOURCE.lat, SOURCE.lon) < 10.0
    by_shard = Counter(shard_of(s, SHARDS) for s in details["station_ids"])
    assert count >= 4
    assert len(by_shard) >= 2, by_shard
    assert intensity >= 4.0
    assert details["ended"] is True
    assert len({shard_of(s, SHARDS) for (s,) in picks}) >= 2
    # one earthquake alert, fired once and resolved once across the failover; no station_pga
    # (the stations go quiet after the input, so each raises station_stale, once)
    quakes = [(key, state) for rule, key, state in alerts if rule == "earthquake"]
    assert [state for _, state in quakes] == ["resolved"]
    assert [r for r, _, _ in alerts if r not in ("earthquake", "station_stale")] == []
    assert len({k for _, k, _ in alerts}) == len(alerts)
    quake_notices = {k[2]: n for k, n in notices.items() if k[0] == "earthquake"}
    assert quake_notices["firing"] == quake_notices["resolved"] == 1
    # (an escalation, one per intensity level crossed, may come in between)
    assert set(quake_notices) <= {"firing", "escalated", "resolved"}
    assert not any(rule == "station_pga" for rule, _, _ in notices)
