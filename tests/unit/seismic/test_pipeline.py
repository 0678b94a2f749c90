"""End to end: synthetic records at the bundled stations → detectors → associator → one event."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from collector.models import SeismicPacket
from collector.seismic import Associator, EventChange, EventUpdate, StationDetector, epicentral_km
from tests.unit.seismic._support import T0, arrival, at, noise, packets, sites, with_onset

DURATION_S = 60.0
ORIGIN = at(30)


def _records(source: tuple[float, float, float], ids: list[str]) -> list[SeismicPacket]:
    """Each station's record (noise, P onset at its arrival), packetised as the sensor sends it."""
    stream: list[SeismicPacket] = []
    for k, station in enumerate(ids):
        site = sites()[station]
        onset = (arrival(site, source, ORIGIN) - T0).total_seconds()
        data = with_onset(noise(DURATION_S, site.sr, seed=k), site.sr, onset, 2.0, seed=100 + k)
        # 100 Hz stations send one-second packets; 31.25 Hz (OpenEEW) ones 32 samples
        size = 100 if site.sr == 100.0 else 32
        stream += packets(data, site.sr, size, station=station)
    # the daemon sees packets in the order their last sample was taken
    return sorted(stream, key=lambda p: (p.time + timedelta(seconds=p.n / p.sr), p.station_id))


@pytest.mark.parametrize(
    ("source", "ids"),
    [
        # under the city: the city network, with its 31.25 Hz OpenEEW sensors
        (
            (43.28, 76.90, 10.0),
            ["SEIS-01", "SEIS-02", "SEIS-03", "SEIS-04", "SEIS-05", "SEIS-06", "SEIS-07"],
        ),
        # Chilik zone with the stations around it and a few farther ones
        (
            (43.25, 78.45, 15.0),
            ["SEIS-18", "SEIS-19", "SEIS-20", "SEIS-21", "SEIS-22", "SEIS-16", "SEIS-17"],
        ),
    ],
)
def test_synthetic_quake_is_detected_and_located(
    source: tuple[float, float, float], ids: list[str]
) -> None:
    detectors = {i: StationDetector(i) for i in ids}
    assoc = Associator()
    updates: list[EventUpdate] = []
    for packet in _records(source, ids):
        site = sites()[packet.station_id]
        end = packet.time + timedelta(seconds=packet.n / packet.sr)
        now = end + timedelta(seconds=0.2)  # network and processing latency
        last = end - timedelta(seconds=1 / packet.sr)
        result = detectors[packet.station_id].process(packet)
        assoc.station_seen(site.id, site.lat, site.lon, last, elevation_m=site.elevation_m)
        for p in result.picks:
            updates += assoc.add_pick(p, site.lat, site.lon, now, elevation_m=site.elevation_m)
        updates += assoc.expire(now)
    # the records end; 20 s later (no new station) the event ends
    updates += assoc.expire(now + timedelta(seconds=20))
    declared = [u for u in updates if u.change is EventChange.DECLARED]
    # exactly one event, ended after 20 s without new stations, located within 10 km and 1 s
    assert len(declared) == 1
    final = [u for u in updates if u.change is EventChange.ENDED][-1].event
    assert final.event_id == declared[0].event.event_id
    assert final.station_count == len(ids)
    assert float(epicentral_km(final.lat, final.lon, source[0], source[1])) < 10.0
    assert abs((final.origin_time - ORIGIN).total_seconds()) < 1.0
    # STA/LTA picks on impulsive onsets are good to a few samples: tiny residuals
    assert float(np.max(np.abs(final.residuals_s))) < 0.2
