"""The shared shape of an analytics stage: a bounded queue of readings → rule observations."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Generic, Protocol, TypeVar, cast

from alerts.model import Observation
from collector.models import Reading
from collector.stations import Station

logger = logging.getLogger(__name__)

R = TypeVar("R", bound=Reading)


class ObservationSink(Protocol):
    """The alert engine, as seen from an analytics stage."""

    async def observe(self, obs: Observation) -> None:
        """Apply one observation."""


class ReadingStage(ABC, Generic[R]):
    """Consumes one feed's readings in event time and feeds the alert engine.

    Subclasses keep per-station state (`add`) and derive rule inputs (`observations`).
    One task runs a stage; `put` waits while its bounded queue is full (backpressure up
    to the MQTT loop, like the writers), so alerts are never dropped silently.
    """

    reading_type: type[R]

    def __init__(self, sink: ObservationSink, *, queue_size: int) -> None:
        self._sink = sink
        self._queue: asyncio.Queue[tuple[tuple[R, ...], datetime]] = asyncio.Queue(
            maxsize=queue_size
        )

    @abstractmethod
    def add(self, reading: R) -> Station | None:
        """Store one reading; returns its station when it changed that station's state."""

    @abstractmethod
    def observations(self, station: Station, received_at: datetime | None) -> list[Observation]:
        """Rule inputs of one station at its newest reading."""

    def add_all(self, readings: Sequence[R]) -> dict[str, Station]:
        """Store one message's readings in order; the stations whose state they changed.

        Subclasses may store them in bulk, with the same outcome as `add` one by one.
        """
        touched: dict[str, Station] = {}
        for reading in readings:
            station = self.add(reading)
            if station is not None:
                touched[station.id] = station
        return touched

    def preload(self, readings: Sequence[R]) -> int:
        """Rebuild state from stored readings (start-up), without evaluating rules."""
        return sum(1 for r in readings if self.add(r) is not None)

    async def put(self, readings: Sequence[Reading], received_at: datetime) -> None:
        """Queue the readings of one message that belong to this stage."""
        if set(map(type, readings)) == {self.reading_type}:
            # A message of this feed: no isinstance per reading.
            mine = cast("tuple[R, ...]", tuple(readings))
        else:
            mine = tuple(r for r in readings if isinstance(r, self.reading_type))
        if mine:
            await self._queue.put((mine, received_at))

    async def run(self) -> None:
        """Evaluate until cancelled: once per station touched by each message."""
        while True:
            readings, received_at = await self._queue.get()
            for station in self.add_all(readings).values():
                for obs in self.observations(station, received_at):
                    await self._sink.observe(obs)
