"""Decode cost of the hot path (seismic packets), bounded far above the measured figures.

Measured on the development machine (Python 3.11, orjson 3.8.3, pydantic 2.13, numpy 2.4), JSON
parsing included: about 32 µs for a 3×100-sample packet (7 µs of it orjson), 390 µs for a
3×2000-sample packet (170 µs orjson), 9 µs for a native air reading. The bounds are about 10×
that, so the test fails on a real regression, not on a slow CI runner.
"""

from __future__ import annotations

import random
import timeit

import orjson
import pytest

from collector.feeds import decode_air, decode_seismic
from collector.models import SeismicPacket
from tests.unit.feeds._support import context


def _packet(n: int) -> bytes:
    rng = random.Random(n)
    return orjson.dumps(
        {
            "ts": "2026-01-10T03:00:29.000Z",
            "sr": 100.0,
            **{axis: [round(rng.gauss(0, 2), 3) for _ in range(n)] for axis in "xyz"},
        }
    )


def _microseconds(run: object, number: int) -> float:
    assert callable(run)
    best = min(timeit.repeat(run, number=number, repeat=3))
    return best / number * 1e6


@pytest.mark.benchmark
@pytest.mark.parametrize(
    ("n", "bound_us"),
    [
        # A one-second packet of a 100 Hz station.
        (100, 250.0),
        # The largest packet the contract allows.
        (2000, 3500.0),
    ],
)
def test_seismic_decode_cost(n: int, bound_us: float) -> None:
    payload, ctx = _packet(n), context()
    (packet,) = decode_seismic(payload, ctx).readings
    assert isinstance(packet, SeismicPacket)
    assert packet.n == n
    assert _microseconds(lambda: decode_seismic(payload, ctx), 200) < bound_us


@pytest.mark.benchmark
def test_air_decode_cost() -> None:
    # A native air reading.
    payload = orjson.dumps({"ts": "2026-01-10T03:00:00Z", "pm25": 12.3, "pm10": 20.1, "rh": 71})
    ctx = context()
    assert len(decode_air(payload, ctx).readings) == 1
    assert _microseconds(lambda: decode_air(payload, ctx), 2000) < 150.0
