"""The pydantic-free paths (native air items, shallow batches) decide exactly as the models do."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from annotated_types import Ge, Le
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic_core import PydanticCustomError

from collector.feeds.air import _NATIVE_RANGES, _AirNative, _AirValues, _model_values, _reading
from collector.feeds.air import decode_air_item as decode_fast
from collector.feeds.common import (
    MAX_NESTING,
    DecodeContext,
    DecodeError,
    load_json,
    nesting_depth,
    parse_timestamp,
    validate,
)
from collector.models import AirReading
from tests.unit.feeds._support import context

TS = "2026-01-10T03:00:00Z"


def decode_model(item: dict[str, Any], ctx: DecodeContext) -> AirReading:
    """The native path as it was: one pydantic model per item."""
    native = validate(_AirNative, item)
    return _reading(_model_values(native), native.ts, "ts", ctx)


def outcome(decode: Any, item: dict[str, Any]) -> tuple[str, object]:
    """A decoder's result in comparable form: the reading (with value types) or the refusal."""
    try:
        reading = decode(item, context())
    except DecodeError as exc:
        return "refused", (exc.reason, exc.detail)
    values = tuple((v, type(v)) for v in _model_values_of(reading))
    return "accepted", (reading.station_id, reading.time, values)


def _model_values_of(reading: AirReading) -> tuple[object, ...]:
    return tuple(getattr(reading, name) for name, _, _ in _NATIVE_RANGES)


def test_ranges_match_the_model() -> None:
    # the fast path's table must be the model's fields, in order, with the same bounds
    fields = _AirValues.model_fields
    assert [name for name, _, _ in _NATIVE_RANGES] == list(fields)
    for name, lo, hi in _NATIVE_RANGES:
        metadata = fields[name].metadata
        assert [m.ge for m in metadata if isinstance(m, Ge)] == [lo]
        assert [m.le for m in metadata if isinstance(m, Le)] == [hi]


@pytest.mark.parametrize(
    "item",
    [
        # every field, floats
        {"ts": TS, "pm25": 12.3, "pm10": 20.1, "no2": 41.0, "temp": -3.2, "rh": 71.0},
        # integers become floats
        {"ts": TS, "pm25": 12, "rh": 71},
        # inclusive bounds, both ends
        {"ts": TS, "pm25": 0, "pm10": 2000, "no2": 5000.0, "temp": -60, "rh": 100},
        # just outside a bound
        {"ts": TS, "pm25": -0.0001},
        {"ts": TS, "temp": 60.000001},
        {"ts": TS, "no2": 5001},
        # a huge integer is out of range, not a type error
        {"ts": TS, "pm25": 10**30},
        # booleans are not numbers
        {"ts": TS, "pm25": True},
        {"ts": TS, "rh": False},
        # numeric strings are not numbers
        {"ts": TS, "pm25": "12.3"},
        # null counts as absent; nothing left is a schema error
        {"ts": TS, "pm25": None, "pm10": 3.0},
        {"ts": TS, "pm25": None},
        {"ts": TS},
        # arrays and objects as values
        {"ts": TS, "pm25": [1.0]},
        {"ts": TS, "pm25": {"v": 1.0}},
        # unknown keys are ignored
        {"ts": TS, "pm25": 1.0, "rssi": -70, "firmware": "1.2"},
        # several errors: schema wins over out_of_range over bad_timestamp
        {"ts": "yesterday", "pm25": 5000, "pm10": "x"},
        {"ts": "yesterday", "pm25": 5000},
        # timestamps: missing, null, number, offsets, lower case, no offset, impossible
        {"pm25": 1.0},
        {"ts": None, "pm25": 1.0},
        {"ts": 1768014000, "pm25": 1.0},
        {"ts": 1768014000.5, "pm25": 1.0},
        {"ts": "2026-01-10T08:00:00+05:00", "pm25": 1.0},
        {"ts": "2026-01-10t03:00:00z", "pm25": 1.0},
        {"ts": "2026-01-10T03:00:00", "pm25": 1.0},
        {"ts": "2026-02-30T03:00:00Z", "pm25": 1.0},
        {"ts": "2026-01-10T03:00:00.1234567Z", "pm25": 1.0},
        # outside the time window (after validation)
        {"ts": "2025-01-10T03:00:00Z", "pm25": 1.0},
        {"ts": "2026-01-10T04:00:00Z", "pm25": 1.0},
    ],
)
def test_fast_path_agrees_with_the_model(item: dict[str, Any]) -> None:
    assert outcome(decode_fast, item) == outcome(decode_model, item)


VALUES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(-100.0, 6000.0)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4)
)
TIMES = st.sampled_from(
    [TS, "2026-01-10T08:00:00+05:00", "2026-01-10 03:00:00", "x", "2026-01-10T03:00:00"]
) | st.integers(min_value=1_760_000_000, max_value=1_770_000_000)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([name for name, _, _ in _NATIVE_RANGES] + ["ts", "other"]),
        VALUES | TIMES,
    )
)
def test_fast_path_agrees_on_any_object(item: dict[str, Any]) -> None:
    assert outcome(decode_fast, item) == outcome(decode_model, item)


def _flat_batch(n: int) -> bytes:
    return orjson.dumps([{"ts": TS, "pm25": float(i), "note": "[{"} for i in range(n)])


@pytest.mark.parametrize(
    ("payload", "refused"),
    [
        # a batch of flat objects with many brackets (the fast verdict)
        (_flat_batch(100), False),
        # arrays of scalars, no objects
        (orjson.dumps([[1, 2]] * 70), False),
        # three levels: not shown shallow, the byte scan accepts it
        (orjson.dumps([{"a": [1]}] * 70), False),
        # an object whose values are arrays: two levels
        (orjson.dumps({f"k{i}": [i] for i in range(70)}), False),
        # a string full of brackets is no nesting at all
        (orjson.dumps("[" * 100), False),
        # exactly the limit, and one level more (valid JSON)
        (b"[" * MAX_NESTING + b"]" * MAX_NESTING, False),
        (b"[" * (MAX_NESTING + 1) + b"]" * (MAX_NESTING + 1), True),
        # deeper than orjson's own limit: still our message
        (b"[" * 2000 + b"]" * 2000, True),
        # invalid JSON, deep: the nesting message; shallow: orjson's message
        (b"[" * (MAX_NESTING + 1), True),
        (_flat_batch(100)[:-1], True),
    ],
)
def test_load_json_verdict_matches_the_byte_scan(payload: bytes, refused: bool) -> None:
    deep = nesting_depth(payload) > MAX_NESTING
    if not refused:
        load_json(payload)
        assert not deep
        return
    with pytest.raises(DecodeError) as caught:
        load_json(payload)
    assert ("nested deeper" in caught.value.detail) == deep


@pytest.mark.parametrize(
    "text",
    [
        # the canonical form, ordinary and extreme dates
        "2026-01-10T03:00:00Z",
        "1970-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        # a leap day
        "2028-02-29T12:00:00Z",
    ],
)
def test_canonical_timestamps_parse_as_the_full_path(text: str) -> None:
    # lower-case "z" takes the regex path: the same instant, the same tzinfo
    fast, full = parse_timestamp(text), parse_timestamp(text[:-1] + "z")
    assert (fast, fast.tzinfo) == (full, full.tzinfo)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        # impossible dates in the canonical shape: the full path words the refusal
        ("2026-02-30T03:00:00Z", "day is out of range"),
        ("0000-01-01T00:00:00Z", "year 0 is out of range"),
        ("2026-01-10T24:00:00Z", "hour must be in"),
        # non-ASCII digits of the same length are not digits to RFC 3339
        ("２026-01-10T03:00:00Z", "not an RFC 3339 date-time"),
    ],
)
def test_canonical_shape_refusals(text: str, why: str) -> None:
    with pytest.raises(PydanticCustomError) as caught:
        parse_timestamp(text)
    assert caught.value.type == "bad_timestamp"
    assert why in str(caught.value)
