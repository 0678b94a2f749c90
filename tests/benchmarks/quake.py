"""A simulated earthquake on the bundled seismic network, and the packet that completes it.

The packets come from the simulator (`collector.simulate.seismic`, default M 5.5 source in
the Chilik zone) in the daemon's arrival order (by the end of each packet). The packet whose
processing makes the `earthquake` rule fire (the first event update with an expected city
intensity at or above the rule's threshold) is found by running the daemon's own pure
pipeline (`StationDetector`, `Associator`) over the same decoded payloads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from collector.feeds import DECODERS, DecodeContext
from collector.models import Feed, SeismicPacket
from collector.seismic import Associator, StationDetector
from collector.simulate.payloads import encode, seismic_item
from collector.simulate.seismic import Quake, QuakeSource, SeismicModel
from collector.stations import Stations

# Default `earthquake` threshold (spec §6): expected city intensity >= 4.
INTENSITY = 4.0
QUAKE_AFTER_S = 25.0  # origin after the first sample: the detectors' LTA (10 s) is warm
RECORD_S = 45.0


@dataclass(frozen=True, slots=True)
class QuakeRun:
    """Packets in publishing order; `completing` is the index of the one that fires the rule."""

    packets: list[tuple[str, bytes]]  # (station id, payload)
    completing: int
    epoch: float
    stations_at_fire: int


def _decode(station_id: str, payload: bytes, received: datetime) -> SeismicPacket:
    ctx = DecodeContext(station_id=station_id, received_at=received, max_age=timedelta(days=30))
    decoded = DECODERS[Feed.SEISMIC](payload, ctx)
    packet = decoded.readings[0]
    assert isinstance(packet, SeismicPacket), decoded.rejections
    return packet


def quake_run(stations: Stations, *, epoch: float, seed: int = 1) -> QuakeRun:
    """Packets of the bundled seismic stations from `epoch`, with a quake 25 s in.

    Raises:
        RuntimeError: the quake never reaches the rule's intensity (should not happen with
            the default source).
    """
    seismic = stations.of_kind(Feed.SEISMIC)
    model = SeismicModel(
        seismic,
        epoch=epoch,
        rng=np.random.default_rng(seed),
        quake=Quake(QuakeSource(), epoch + QUAKE_AFTER_S),
    )
    timed: list[tuple[float, str, bytes]] = []
    for sid, site in model.sites.items():
        for i in range(int(RECORD_S * site.sr / site.samples)):
            payload = encode([seismic_item(site, model.packet(sid, i))], batch=False)
            timed.append((model.packet_end(sid, i), sid, payload))
    timed.sort()
    received = datetime.fromtimestamp(epoch + RECORD_S, UTC)
    detectors: dict[str, StationDetector] = {}
    assoc = Associator()
    for index, (end, sid, payload) in enumerate(timed):
        station = stations.get(sid)
        assert station is not None and station.lat is not None and station.lon is not None
        packet = _decode(sid, payload, received)
        result = detectors.setdefault(sid, StationDetector(sid)).process(packet)
        now = datetime.fromtimestamp(end, UTC)
        last = packet.time + timedelta(seconds=(packet.n - 1) / packet.sr)
        elevation = station.elevation_m or 0.0
        assoc.station_seen(sid, station.lat, station.lon, last, elevation_m=elevation)
        for pick in result.picks:
            for update in assoc.add_pick(
                pick, station.lat, station.lon, now, elevation_m=elevation
            ):
                intensity = update.event.intensity_city
                if intensity is not None and intensity >= INTENSITY:
                    return QuakeRun(
                        packets=[(sid_, p) for _, sid_, p in timed],
                        completing=index,
                        epoch=epoch,
                        stations_at_fire=update.event.station_count,
                    )
        assoc.expire(now)
    raise RuntimeError("the simulated quake never reached the earthquake threshold")
