"""Property tests: no input makes a decoder raise, and every item is accounted for once."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.feeds import DECODERS
from collector.models import AIR_FIELDS, LAKE_FIELDS, Decoded, Feed, SeismicPacket
from tests.unit.feeds._support import context

FEEDS = st.sampled_from(sorted(Feed))

# Keys the decoders look at, so that generated objects reach the deeper code paths.
KEYS = st.sampled_from(
    [
        *AIR_FIELDS,
        *LAKE_FIELDS,
        "ts",
        "timestamp",
        "cloud_t",
        "device_t",
        "sr",
        "x",
        "y",
        "z",
        "traces",
        "sensordatavalues",
        "value_type",
        "value",
        "P1",
        "P2",
        "temperature",
        "humidity",
    ]
) | st.text(max_size=8)

TIMES = (
    st.sampled_from(
        ["2026-01-10T03:00:00Z", "2026-01-10T08:00:00+05:00", "2026-01-10 03:00:00", "", "x"]
    )
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(1.7e9, 1.8e9)
)

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | TIMES
    | st.sampled_from(["12.3", "nan", "P2", "humidity"])
)

JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(KEYS, inner, max_size=8),
    max_leaves=40,
)


def _items(document: Any) -> int:
    """How many rejections-or-readings the contract expects for a parsed message."""
    return len(document) if isinstance(document, list) and document else 1


def _check(feed: Feed, payload: bytes) -> Decoded:
    decoded = DECODERS[feed](payload, context())
    assert isinstance(decoded, Decoded)
    for rejection in decoded.rejections:
        # A detail is short and never the payload itself.
        assert len(rejection.detail) < 300
        assert isinstance(rejection.payload, bytes)
    return decoded


@settings(max_examples=300, deadline=None)
@given(feed=FEEDS, payload=st.binary(max_size=512))
def test_arbitrary_bytes_never_raise(feed: Feed, payload: bytes) -> None:
    # Any bytes at all give a Decoded, with at least one reading or rejection.
    decoded = _check(feed, payload)
    assert decoded.readings or decoded.rejections


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feed=FEEDS, document=JSON)
def test_arbitrary_json_never_raises(feed: Feed, document: Any) -> None:
    # Any JSON document gives a Decoded in which every item is counted exactly once.
    decoded = _check(feed, orjson.dumps(document))
    assert len(decoded.readings) + len(decoded.rejections) == _items(document)


@settings(max_examples=100, deadline=None)
@given(
    feed=FEEDS,
    items=st.lists(st.dictionaries(KEYS, JSON, max_size=6), min_size=1, max_size=5),
)
def test_arbitrary_batches_never_raise(feed: Feed, items: list[dict[str, Any]]) -> None:
    # Batches of objects: one outcome per item, and a refused item keeps its own JSON.
    decoded = _check(feed, orjson.dumps(items))
    assert len(decoded.readings) + len(decoded.rejections) == len(items)
    encoded = {orjson.dumps(item) for item in items}
    assert all(rejection.payload in encoded for rejection in decoded.rejections)


AIR_LIMITS = {
    "pm25": (0, 2000),
    "pm10": (0, 2000),
    "no2": (0, 5000),
    "temp": (-60, 60),
    "rh": (0, 100),
}
NEAR_LIMITS = st.floats(-6000, 6000) | st.sampled_from([-60.0, 0.0, 60.0, 100.0, 2000.0, 5000.0])


@settings(max_examples=300, deadline=None)
@given(values=st.fixed_dictionaries({}, optional=dict.fromkeys(AIR_LIMITS, NEAR_LIMITS)))
def test_air_ranges_oracle(values: dict[str, float]) -> None:
    # Accepted exactly when some field is present and every field is within its range.
    document = {"ts": "2026-01-10T03:00:00Z", **values}
    decoded = DECODERS[Feed.AIR](orjson.dumps(document), context())
    inside = all(lo <= values[k] <= hi for k, (lo, hi) in AIR_LIMITS.items() if k in values)
    if values and inside:
        (reading,) = decoded.readings
        assert all(getattr(reading, k) == v for k, v in values.items())
    else:
        (rejection,) = decoded.rejections
        assert rejection.reason == ("out_of_range" if values else "schema")


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 50),
    data=st.data(),
)
def test_seismic_amplitude_oracle(n: int, data: st.DataObject) -> None:
    # Accepted exactly when every sample of every component is within ±5000 gal.
    arrays = {
        axis: data.draw(st.lists(st.floats(-5200, 5200), min_size=n, max_size=n)) for axis in "xyz"
    }
    document = {"ts": "2026-01-10T03:00:29Z", "sr": 100, **arrays}
    decoded = DECODERS[Feed.SEISMIC](orjson.dumps(document), context())
    if all(abs(v) <= 5000 for values in arrays.values() for v in values):
        (packet,) = decoded.readings
        assert isinstance(packet, SeismicPacket)
        assert packet.n == n
    else:
        assert [r.reason for r in decoded.rejections] == ["out_of_range"]
