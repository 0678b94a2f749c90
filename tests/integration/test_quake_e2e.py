"""End to end: simulated ground motion at the bundled seismic network → event, alerts, metrics.

The simulator's quake generator (`SeismicModel` with a `Quake`) makes each station's packets,
with the P and S waves at that station's travel times, and they go through the real broker to
the real daemon, which runs on the wall clock. So packets are sent as sensors send them: each
once its last sample is in the past. Each station's record starts `WARM_UP_S` before the origin
and the origin lies `ORIGIN_LAG_S` before publishing starts: the warm-up backlog (10 s of LTA)
goes out at once, in time order, and the rest in real time, `HORIZON_S` of data after the origin.
Real time matters for `station_pga`: a station's second is judged 10 s of wall time after it,
so strong motion that an event explains must not raise it, while an unexplained spike must, but
only after those 10 s.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from collector.config import Settings
from collector.models import Feed
from collector.seismic import DetectorConfig, epicentral_km
from collector.simulate.common import to_datetime
from collector.simulate.payloads import encode, seismic_item
from collector.simulate.seismic import Quake, QuakeSource, SeismicModel
from collector.stations import bundled_stations_path, load_stations
from tests.fixtures.receiver import Receiver, webhook_receiver
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

SEED = 20260110
# ~54 km from the city centre at 15 km depth: expected city intensity ≈ 4.7, above the
# critical 4.0 even from the first Pd estimates.
SOURCE = QuakeSource(magnitude=5.9)
WARM_UP_S = 14.0  # background before the origin: the LTA is full before the first P (+3.7 s)
ORIGIN_LAG_S = 2.0
# Data after the origin: P reaches ~55 km (ten stations), S the four nearest.
HORIZON_S = 9.0
NEAREST = "SEIS-17"  # 22 km from the hypocentre, the first to pick
PGA_QUIET_S = 10.0  # spec §6
SPIKE_STATION = "SEIS-07"
SPIKE_GAL = 300.0
SPIKE_AFTER_S = 1.3  # after publishing starts
SPIKE_TAIL_S = 4.0  # data sent after the spike: the pick's 3 s amplitude window completes


@dataclass(frozen=True, slots=True)
class Message:
    """One packet's MQTT message, due once its last sample is in the past (`end`)."""

    end: float
    station_id: str
    payload: bytes


def _messages(
    model: SeismicModel,
    until: float,
    *,
    dead: str | None = None,
    spike: tuple[str, float] | None = None,
) -> list[Message]:
    """Every station's packets up to `until`, in the order sensors complete them.

    `dead` sends nothing; `spike` = (station, time) adds a sharp 10 Hz knock of `SPIKE_GAL`.
    """
    out = []
    for station_id, site in model.sites.items():
        if station_id == dead:
            continue
        index = 0
        while (end := model.packet_end(station_id, index)) <= until:
            packet = model.packet(station_id, index)
            if spike is not None and spike[0] == station_id:
                tau = packet.first_time + np.arange(site.samples) / site.sr - spike[1]
                after = np.maximum(tau, 0.0)
                knock = SPIKE_GAL * np.sin(2 * np.pi * 10.0 * after) * np.exp(-after / 0.1)
                packet.samples[:] += np.round(knock, 4)
            payload = encode([seismic_item(site, packet)], batch=False)
            out.append(Message(end, station_id, payload))
            index += 1
    return sorted(out, key=lambda m: (m.end, m.station_id))


async def _publish_live(mqtt_url: str, prefix: str, messages: list[Message]) -> None:
    """Publish each message once its data is complete on the wall clock (backlog at once)."""
    async with publisher(mqtt_url) as mqtt:
        for message in messages:
            delay = message.end - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            topic = f"{prefix}/{Feed.SEISMIC.value}/{message.station_id}"
            await mqtt.publish(topic, message.payload, qos=1)


def _settings(database_url: str, mqtt_url: str, prefix: str, receiver: Receiver) -> Settings:
    settings = make_settings(
        database_url, mqtt_url, prefix, channels={"webhook": {"urls": [receiver.url]}}
    )
    return settings.model_copy(update={"stations_file": bundled_stations_path()})


def _model(epoch: float, quake: Quake | None) -> SeismicModel:
    stations = load_stations(None)
    return SeismicModel(stations, epoch=epoch, rng=np.random.default_rng(SEED), quake=quake)


def _named(receiver: Receiver, rule: str) -> list[dict[str, Any]]:
    return [a for a in receiver.alerts() if a["labels"]["alertname"] == rule]


def _metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _picks_of(metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float], station: str) -> float:
    return metrics[("kuzet_seismic_picks_total", (("station_id", station),))]


@pytest.mark.parametrize(
    "dead",
    [
        # the whole network reports
        None,
        # the station nearest the source, the one that would pick first, sends nothing at all
        NEAREST,
    ],
)
async def test_quake_is_located_alerted_and_counted(
    database_url: str, mqtt_url: str, topic_prefix: str, dead: str | None
) -> None:
    async with webhook_receiver() as receiver:
        settings = _settings(database_url, mqtt_url, topic_prefix, receiver)
        async with running_daemon(settings) as daemon:
            # Timed once the daemon runs (its start may take seconds): ~0.2 s to build.
            origin = math.floor(time.time()) + 1.0 - ORIGIN_LAG_S
            model = _model(origin - WARM_UP_S, Quake(SOURCE, origin))
            messages = _messages(model, origin + HORIZON_S, dead=dead)

            async def located() -> bool:
                rows = await fetch_all(database_url, "SELECT lat, lon FROM kuzet.seismic_events")
                return any(
                    epicentral_km(lat, lon, SOURCE.lat, SOURCE.lon) < 10.0 for lat, lon in rows
                )

            async def alerted() -> bool:
                return bool(_named(receiver, "earthquake"))

            await _publish_live(mqtt_url, topic_prefix, messages)
            await wait_for(located, timeout=10, what="an event within 10 km of the epicentre")
            await wait_for(alerted, timeout=10, what="the earthquake alert")
            # Every second of strong motion sent has now passed the quiet period unexplained
            # or explained; give the once-a-second check a moment more.
            settle = origin + HORIZON_S + PGA_QUIET_S + 1.5 - time.time()
            await asyncio.sleep(max(settle, 0.0))
            _, text = await http_get(daemon, "/metrics")
    rows = await fetch_all(
        database_url,
        "SELECT lat, lon, magnitude, intensity_city, station_count, details"
        " FROM kuzet.seismic_events",
    )
    picks = await fetch_all(
        database_url, "SELECT station_id, min(time) FROM kuzet.seismic_picks GROUP BY station_id"
    )
    # one event, where the quake was, with the magnitude and city intensity of the source
    assert len(rows) == 1
    lat, lon, magnitude, intensity, stations, details = rows[0]
    assert epicentral_km(lat, lon, SOURCE.lat, SOURCE.lon) < 10.0
    assert abs(magnitude - SOURCE.magnitude) < 0.5
    assert intensity >= 4.0
    assert stations >= 4
    assert dead not in details["station_ids"]
    # one critical earthquake alert; later notifications may only raise it
    quakes = _named(receiver, "earthquake")
    assert quakes[0]["annotations"]["event"] == "firing"
    assert quakes[0]["labels"]["severity"] == "critical"
    assert [q["annotations"]["event"] for q in quakes[1:]] == ["escalated"] * (len(quakes) - 1)
    # the strong motion of the quake is explained by the event: no station_pga
    assert _named(receiver, "station_pga") == []
    metrics = _metrics(text)
    assert metrics[("kuzet_seismic_events_total", ())] == 1
    assert metrics[("kuzet_seismic_alert_latency_seconds_count", ())] >= 1
    # a pick is counted once its 3 s amplitude window is complete: within the data sent
    window = DetectorConfig().amplitude_window_s
    data_end = {m.station_id: m.end for m in messages}  # time order: the last one stays
    complete = {s for s, t in picks if t.timestamp() + window < data_end[s] - 0.05}
    assert len(complete) >= 4
    for station in complete:
        assert _picks_of(metrics, station) > 0, station
    picked = {s for s, _ in picks}
    for station in {s.id for s in load_stations(None).of_kind(Feed.SEISMIC)} - picked:
        assert _picks_of(metrics, station) == 0, station
    if dead is not None:
        assert dead not in picked


async def test_one_station_spike_raises_station_pga_not_earthquake(
    database_url: str, mqtt_url: str, topic_prefix: str
) -> None:
    async with webhook_receiver() as receiver:
        settings = _settings(database_url, mqtt_url, topic_prefix, receiver)
        async with running_daemon(settings) as daemon:
            start = math.floor(time.time()) + 1.0
            spike_at = start + SPIKE_AFTER_S
            model = _model(start - WARM_UP_S, None)
            messages = _messages(model, spike_at + SPIKE_TAIL_S, spike=(SPIKE_STATION, spike_at))
            quiet_until = math.floor(spike_at) + PGA_QUIET_S
            await _publish_live(mqtt_url, topic_prefix, messages)
            # the spike's second is not judged before 10 s of quiet have passed
            await asyncio.sleep(max(quiet_until - 0.5 - time.time(), 0.0))
            early = _named(receiver, "station_pga")

            async def raised() -> bool:
                return bool(_named(receiver, "station_pga"))

            await wait_for(raised, timeout=10, what="station_pga after the quiet period")
            raised_at = time.time()
            _, text = await http_get(daemon, "/metrics")
    picks = await fetch_all(
        database_url, "SELECT time FROM kuzet.seismic_picks WHERE station_id = %s", (SPIKE_STATION,)
    )
    assert early == []
    assert raised_at >= quiet_until
    alerts = _named(receiver, "station_pga")
    assert [a["labels"]["station_id"] for a in alerts] == [SPIKE_STATION]
    assert alerts[0]["labels"]["severity"] == "warning"
    # one station, however strong, is no earthquake
    assert _named(receiver, "earthquake") == []
    assert await count(database_url, "kuzet.seismic_events") == 0
    metrics = _metrics(text)
    assert metrics[("kuzet_seismic_events_total", ())] == 0
    assert _picks_of(metrics, SPIKE_STATION) >= 1
    assert any(abs((t - to_datetime(spike_at)).total_seconds()) < 0.1 for (t,) in picks)
