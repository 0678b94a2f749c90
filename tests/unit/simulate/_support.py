"""Shared helpers for the simulator tests: the bundled network, local days, real decoding."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

import numpy as np

from collector.feeds import DECODERS, DecodeContext
from collector.models import Decoded, Feed
from collector.simulate.common import ALMATY_TZ, DAY_S, FloatArray
from collector.stations import Station, load_stations

# A winter Wednesday and Saturday, and a summer Wednesday (local midnight, Unix seconds).
WINTER_WEDNESDAY = datetime(2026, 1, 14, tzinfo=ALMATY_TZ).timestamp()
WINTER_SATURDAY = datetime(2026, 1, 17, tzinfo=ALMATY_TZ).timestamp()
SUMMER_WEDNESDAY = datetime(2026, 7, 15, tzinfo=ALMATY_TZ).timestamp()


@functools.cache
def network() -> tuple[Station, ...]:
    """The bundled Almaty network."""
    return tuple(load_stations(None))


def station(station_id: str) -> Station:
    """One station of the bundled network."""
    return next(s for s in network() if s.id == station_id)


def of_kind(feed: Feed) -> list[Station]:
    """The bundled stations of one feed."""
    return [s for s in network() if s.kind is feed]


def minutes(day_start: float, days: float = 1.0, step_s: float = 60.0) -> FloatArray:
    """Event times every `step_s` from `day_start` for `days` days."""
    return day_start + np.arange(0.0, days * DAY_S, step_s)


def decode(feed: Feed, station_id: str, payload: bytes, received_at: float) -> Decoded:
    """Decode a payload with the daemon's own decoder, as received at `received_at`."""
    ctx = DecodeContext(
        station_id=station_id,
        received_at=datetime.fromtimestamp(received_at, ALMATY_TZ),
        max_age=timedelta(days=30),
    )
    return DECODERS[feed](payload, ctx)
