"""A quake whose stations are spread over three `kuzet run` shards is declared and alerted once.

Each shard detects picks only for its own stations; the picks reach the other shards over the
broker, the leader associates them and raises `earthquake`. Input as in test_quake_e2e: the
simulator's ground motion, published live as sensors would.
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


async def test_quake_over_three_shards_is_declared_and_alerted_once(
    database_url: str, mqtt_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    async with cluster(database_url, mqtt_url, topic_prefix, SHARDS, tmp_path) as many:
        origin = math.floor(time.time()) + 1.0 - ORIGIN_LAG_S
        model = _model(origin - WARM_UP_S, Quake(SOURCE, origin))
        messages = _messages(model, origin + HORIZON_S)

        async def located() -> bool:
            rows = await fetch_all(database_url, "SELECT lat, lon FROM kuzet.seismic_events")
            return any(epicentral_km(lat, lon, SOURCE.lat, SOURCE.lon) < 10.0 for lat, lon in rows)

        async def alerted() -> bool:
            return any(rule == "earthquake" for rule, _, _ in delivered(many.receiver))

        await _publish_live(mqtt_url, topic_prefix, messages)
        await wait_for(located, timeout=15, what="an event within 10 km of the epicentre")
        await wait_for(alerted, timeout=10, what="the earthquake alert")
        # strong motion explained by the event must not raise station_pga on any shard
        await asyncio.sleep(max(origin + HORIZON_S + PGA_QUIET_S + 1.5 - time.time(), 0.0))
        notices = delivered(many.receiver)
    events = await fetch_all(
        database_url, "SELECT station_count, details, intensity_city FROM kuzet.seismic_events"
    )
    alerts = await fetch_all(database_url, "SELECT rule, key FROM kuzet.alerts")
    picks = await fetch_all(database_url, "SELECT DISTINCT station_id FROM kuzet.seismic_picks")
    # one event, from picks of stations on several shards: no shard could have declared it alone
    assert len(events) == 1
    count, details, intensity = events[0]
    by_shard = Counter(shard_of(s, SHARDS) for s in details["station_ids"])
    assert count >= 4
    assert len(by_shard) >= 2, by_shard
    assert intensity >= 4.0
    # each shard stored the picks of its own stations only once (unique station, time)
    assert len({shard_of(s, SHARDS) for (s,) in picks}) >= 2
    # one earthquake alert, notified once per transition; no station_pga (the stations go
    # quiet after the input, so each raises station_stale, once, on its own shard)
    assert [r for r, _ in alerts if r != "station_stale"] == ["earthquake"]
    assert len({k for _, k in alerts}) == len(alerts)
    quakes = {k: n for k, n in notices.items() if k[0] == "earthquake"}
    assert quakes.get(("earthquake", "", "firing")) == 1
    assert all(n == 1 for n in quakes.values())
    assert not any(rule == "station_pga" for rule, _, _ in notices)
