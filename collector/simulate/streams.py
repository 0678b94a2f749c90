"""Per-station reading schedules: what each station sends by a given time, as ready MQTT payloads.

No I/O: the publisher asks `due(now)` every tick and sends what comes back. Each station
draws its noise from its own generator in fixed-size chunks, so its readings depend only on
the seed and the event times, not on how the publisher's ticks fall.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

from collector.models import Feed
from collector.simulate.air import AirBlock, AirModel, AirSite
from collector.simulate.common import FloatArray
from collector.simulate.lake import LakeBlock, LakeModel, LakeSite
from collector.simulate.payloads import air_item, encode, lake_item, seismic_item
from collector.simulate.scenario import Plan, ScenarioEvent
from collector.simulate.seismic import SeismicModel
from collector.stations import Station

CHUNK = 64


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One MQTT message to publish: the feed and station give the topic."""

    feed: Feed
    station_id: str
    payload: bytes
    readings: int


_SiteT = TypeVar("_SiteT", AirSite, LakeSite)
_BlockT = TypeVar("_BlockT", AirBlock, LakeBlock)


@dataclass(slots=True)
class _StationState(Generic[_BlockT]):
    rng: np.random.Generator
    first: float
    interval: float
    batch: int
    k: int = 0
    block: _BlockT | None = None
    block_k: int = 0
    pending: list[dict[str, Any]] = field(default_factory=list)

    def next_time(self) -> float:
        return self.first + self.k * self.interval


class ReadingStream(Generic[_SiteT, _BlockT]):
    """Each station's readings every `interval_s`, encoded in the station's form.

    Batch stations send once `batch_size` readings are collected (or at `flush`).
    """

    def __init__(
        self,
        feed: Feed,
        sites: Mapping[str, _SiteT],
        sample: Callable[
            [str, np.ndarray[Any, np.dtype[np.float64]], np.random.Generator], _BlockT
        ],
        item: Callable[[_SiteT, _BlockT, int], dict[str, Any]],
        batch_size: Callable[[_SiteT], int],
        *,
        sim_start: float,
        seed: np.random.SeedSequence,
    ) -> None:
        self.feed = feed
        self.dropouts = 0
        self._sites: Mapping[str, _SiteT] = sites
        self._sample: Callable[[str, FloatArray, np.random.Generator], _BlockT] = sample
        self._item: Callable[[_SiteT, _BlockT, int], dict[str, Any]] = item
        self._states: dict[str, _StationState[_BlockT]] = {}
        for (station_id, site), child in zip(sites.items(), seed.spawn(len(sites)), strict=True):
            rng = np.random.default_rng(child)
            interval = float(site.interval_s)
            # A random phase within the interval: stations do not all report on the same second.
            phase = float(rng.integers(0, max(int(interval), 1)))
            self._states[station_id] = _StationState(
                rng=rng,
                first=float(np.ceil(sim_start)) + phase,
                interval=interval,
                batch=batch_size(site),
            )

    @property
    def sites(self) -> Mapping[str, _SiteT]:
        """The stations of this stream, by id."""
        return self._sites

    def due(self, sim_now: float) -> list[Outgoing]:
        """Messages for every reading with event time ≤ `sim_now` not yet returned."""
        out: list[Outgoing] = []
        for station_id, state in self._states.items():
            site = self._sites[station_id]
            while state.next_time() <= sim_now:
                block = self._block(station_id, state)
                i = state.k - state.block_k
                state.k += 1
                if not bool(block.present[i]):
                    self.dropouts += 1
                    continue
                state.pending.append(self._item(site, block, i))
                if len(state.pending) >= state.batch:
                    out.append(self._message(station_id, state))
        return out

    def flush(self) -> list[Outgoing]:
        """Partial batches still held by batch stations (at the end of a run)."""
        return [
            self._message(station_id, state)
            for station_id, state in self._states.items()
            if state.pending
        ]

    def _block(self, station_id: str, state: _StationState[_BlockT]) -> _BlockT:
        block = state.block
        if block is None or state.k - state.block_k >= block.times.shape[0]:
            times = state.first + state.interval * np.arange(
                state.k, state.k + CHUNK, dtype=np.float64
            )
            block = self._sample(station_id, times, state.rng)
            state.block, state.block_k = block, state.k
        return block

    def _message(self, station_id: str, state: _StationState[_BlockT]) -> Outgoing:
        items, state.pending = state.pending, []
        payload = encode(items, batch=state.batch > 1)
        return Outgoing(self.feed, station_id, payload, len(items))


def air_stream(
    model: AirModel, *, sim_start: float, seed: np.random.SeedSequence
) -> ReadingStream[AirSite, AirBlock]:
    """The air network's messages."""
    return ReadingStream(
        Feed.AIR,
        model.sites,
        model.sample,
        air_item,
        lambda site: site.batch_size,
        sim_start=sim_start,
        seed=seed,
    )


def lake_stream(
    model: LakeModel, *, sim_start: float, seed: np.random.SeedSequence
) -> ReadingStream[LakeSite, LakeBlock]:
    """The lake network's messages (one reading per message)."""
    return ReadingStream(
        Feed.LAKE,
        model.sites,
        model.sample,
        lake_item,
        lambda _site: 1,
        sim_start=sim_start,
        seed=seed,
    )


class SeismicStream:
    """Each station's packets, released once their last sample is in the past (real time)."""

    def __init__(self, model: SeismicModel) -> None:
        self._model = model
        self._next = dict.fromkeys(model.sites, 0)

    def due(self, wall_now: float) -> list[Outgoing]:
        """Packets completed by `wall_now` and not yet returned."""
        out: list[Outgoing] = []
        for station_id, site in self._model.sites.items():
            while self._model.packet_end(station_id, self._next[station_id]) <= wall_now:
                packet = self._model.packet(station_id, self._next[station_id])
                self._next[station_id] += 1
                payload = encode([seismic_item(site, packet)], batch=False)
                out.append(Outgoing(Feed.SEISMIC, station_id, payload, 1))
        return out


class EventClock:
    """Releases scenario events once their clock (simulated or wall) has reached them."""

    def __init__(self, events: tuple[ScenarioEvent, ...]) -> None:
        self._pending = sorted(events, key=lambda e: e.at)

    def due(self, sim_now: float, wall_now: float) -> list[ScenarioEvent]:
        """Events whose time has come, in time order of their own clocks."""
        ready = [e for e in self._pending if e.at <= (sim_now if e.clock == "sim" else wall_now)]
        self._pending = [e for e in self._pending if e not in ready]
        return ready


@dataclass(frozen=True, slots=True)
class NetworkStreams:
    """The three feeds of a planned run, and its scenario events."""

    air: ReadingStream[AirSite, AirBlock]
    lake: ReadingStream[LakeSite, LakeBlock]
    seismic: SeismicStream
    events: EventClock

    def due(self, sim_now: float, wall_now: float) -> list[Outgoing]:
        """Every message due: air and lake on the simulated clock, seismic on the wall clock."""
        return self.air.due(sim_now) + self.lake.due(sim_now) + self.seismic.due(wall_now)

    @property
    def dropouts(self) -> int:
        """Readings the simulated sensors failed to send so far."""
        return self.air.dropouts + self.lake.dropouts


def build_streams(
    plan: Plan, stations: list[Station], seed: np.random.SeedSequence
) -> NetworkStreams:
    """Models and per-station streams for a plan; everything random comes from `seed`."""
    air_seq, lake_seq, seismic_seq, air_noise, lake_noise = seed.spawn(5)
    timeline = plan.timeline
    air = AirModel(
        stations,
        rng=np.random.default_rng(air_seq),
        smog=plan.smog,
        season_shift_days=plan.air_season_shift_days,
    )
    lake = LakeModel(
        stations,
        rng=np.random.default_rng(lake_seq),
        rain=plan.rain,
        glof=plan.glof,
        season_shift_days=plan.lake_season_shift_days,
    )
    seismic = SeismicModel(
        stations,
        # Whole seconds: native packets then start on the second.
        epoch=float(np.ceil(timeline.wall_start)),
        rng=np.random.default_rng(seismic_seq),
        quake=plan.quake,
    )
    return NetworkStreams(
        air=air_stream(air, sim_start=timeline.sim_start, seed=air_noise),
        lake=lake_stream(lake, sim_start=timeline.sim_start, seed=lake_noise),
        seismic=SeismicStream(seismic),
        events=EventClock(plan.events),
    )
