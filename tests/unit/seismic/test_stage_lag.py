"""The seismic stage's overflow policy: packets that waited longer than max_lag_s are shed."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any, cast

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from alerts.config import load_alert_settings
from alerts.model import Observation
from collector.metrics import Metrics
from collector.models import Feed, SeismicPacket
from collector.seismicstage import Pool, SeismicStage
from collector.stations import Station, Stations
from tests.unit.seismic._support import T0

IDS = ("SEIS-A", "SEIS-B", "SEIS-C")


class _Sink:
    def __init__(self) -> None:
        self.seen: list[Observation] = []

    async def observe(self, obs: Observation) -> None:
        self.seen.append(obs)


def _stage(max_lag_s: float) -> SeismicStage:
    stations = Stations(
        [Station(id=i, kind=Feed.SEISMIC, lat=43.2, lon=76.9, sr=100.0) for i in IDS]
    )
    # Noise makes no picks, so the pool is never used.
    return SeismicStage(
        stations,
        load_alert_settings({}),
        _Sink(),
        cast(Pool, cast(Any, None)),
        Metrics(CollectorRegistry()),
        max_lag_s=max_lag_s,
    )


def _packet(station_id: str) -> SeismicPacket:
    noise = np.random.default_rng(1).normal(0, 0.01, (3, 100)).astype(np.float32)
    return SeismicPacket(station_id, T0, 100.0, noise[0], noise[1], noise[2])


@pytest.mark.parametrize(
    ("max_lag_s", "waited_s", "shed"),
    [
        # packets taken up within the bound are analysed: every station gets a detector
        (60.0, 0.0, 0),
        # packets that waited longer than the bound are shed, none analysed
        (0.02, 0.2, 3),
    ],
)
async def test_packets_waiting_longer_than_the_bound_are_not_analysed(
    max_lag_s: float, waited_s: float, shed: int
) -> None:
    stage = _stage(max_lag_s)
    await stage.put([_packet(i) for i in IDS], T0 + timedelta(seconds=1))
    await asyncio.sleep(waited_s)  # the stage is busy elsewhere: the packets wait
    task = asyncio.create_task(stage.run())
    for _ in range(100):
        await asyncio.sleep(0.01)
        if stage.shed + len(stage._detectors) == len(IDS):
            break
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

    assert stage.shed == shed
    assert len(stage._detectors) == len(IDS) - shed
