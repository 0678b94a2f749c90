"""Shared decoder machinery: timestamps, time window, JSON loading, batches, error mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic_core import PydanticCustomError

from collector.feeds.common import (
    MAX_NESTING,
    DecodeContext,
    DecodeError,
    check_window,
    decode_message,
    format_location,
    format_value,
    load_json,
    nesting_depth,
    parse_timestamp,
)
from collector.feeds.lake import decode_lake
from collector.models import LakeReading, RejectReason
from tests.unit.feeds._support import RECEIVED, context, iso, only_rejection, raw

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T0 = iso("2026-01-10T03:00:00+00:00")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # RFC 3339 with Z.
        ("2026-01-10T03:00:00Z", T0),
        # A ±hh:mm offset is applied: 08:00 in Almaty (UTC+5) is 03:00 UTC.
        ("2026-01-10T08:00:00+05:00", T0),
        # Negative offsets too.
        ("2026-01-09T22:00:00-05:00", T0),
        # RFC 3339 allows lower-case t and z.
        ("2026-01-10t03:00:00z", T0),
        # RFC 3339 (5.6, note) allows a space instead of T.
        ("2026-01-10 03:00:00Z", T0),
        # -00:00 ("offset unknown") is UTC.
        ("2026-01-10T03:00:00-00:00", T0),
        # Fractions beyond microseconds are truncated, not rounded.
        ("2026-01-10T03:00:00.123456789Z", T0 + timedelta(microseconds=123456)),
        # Unix seconds as an integer.
        (1768014000, T0),
        # Unix seconds as a float keep microseconds.
        (1768014000.123456, T0 + timedelta(microseconds=123456)),
        # The epoch itself is a valid time.
        (0, EPOCH),
    ],
)
def test_parse_timestamp_accepts(value: object, expected: datetime) -> None:
    parsed = parse_timestamp(value)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "error_type"),
    [
        # The contract refuses a string without offset.
        ("2026-01-10T03:00:00", "bad_timestamp"),
        # RFC 3339 requires seconds.
        ("2026-01-10T03:00Z", "bad_timestamp"),
        # RFC 3339 offsets have a colon.
        ("2026-01-10T08:00:00+0500", "bad_timestamp"),
        # A date alone is not a date-time.
        ("2026-01-10", "bad_timestamp"),
        # Well-formed but impossible dates and times.
        ("2026-02-30T03:00:00Z", "bad_timestamp"),
        ("2026-01-10T24:00:00Z", "bad_timestamp"),
        ("2026-01-10T03:00:00+24:00", "bad_timestamp"),
        # Unix seconds must be a JSON number, not a numeric string.
        ("1768014000", "bad_timestamp"),
        # Only ASCII digits (here: full-width ones).
        ("２０２６-01-10T03:00:00Z", "bad_timestamp"),
        ("", "bad_timestamp"),
        # Numbers beyond the calendar.
        (1e300, "bad_timestamp"),
        (-1e12, "bad_timestamp"),
        (2**64 - 1, "bad_timestamp"),
        # Near datetime.min, converting +05:00 to UTC leaves the calendar.
        ("0001-01-01T00:00:00+05:00", "bad_timestamp"),
        # Wrong JSON types are a schema matter, not a time matter.
        (True, "timestamp_type"),
        (None, "timestamp_type"),
        ([1768014000], "timestamp_type"),
        ({"ts": 1}, "timestamp_type"),
    ],
)
def test_parse_timestamp_refuses(value: object, error_type: str) -> None:
    with pytest.raises(PydanticCustomError) as caught:
        parse_timestamp(value)
    assert caught.value.type == error_type


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # Sensor.Community's "timestamp" has no offset and is UTC.
        ("2026-01-10 03:00:00", T0),
        # An offset, when present, is still honoured.
        ("2026-01-10 08:00:00+05:00", T0),
    ],
)
def test_parse_timestamp_naive_is_utc(value: str, expected: datetime) -> None:
    assert parse_timestamp(value, naive_is_utc=True) == expected


def test_parse_timestamp_is_deterministic() -> None:
    # Dedup relies on the same input giving the same datetime, to the microsecond.
    for value in ("2026-01-10T08:00:00.1234567+05:00", 1768014000.0000015):
        assert len({parse_timestamp(value) for _ in range(5)}) == 1


@pytest.mark.parametrize(
    ("first", "last", "accepted"),
    [
        # Exactly max_age old is accepted...
        (RECEIVED - timedelta(days=30), RECEIVED - timedelta(days=30), True),
        # ...one microsecond older is not.
        (RECEIVED - timedelta(days=30, microseconds=1), RECEIVED, False),
        # Exactly 5 minutes ahead is accepted...
        (RECEIVED + timedelta(minutes=5), RECEIVED + timedelta(minutes=5), True),
        # ...one microsecond more is not.
        (RECEIVED, RECEIVED + timedelta(minutes=5, microseconds=1), False),
        # A span is judged by both ends: first for age, last for the future limit.
        (RECEIVED - timedelta(seconds=20), RECEIVED + timedelta(minutes=5), True),
    ],
)
def test_check_window(first: datetime, last: datetime, accepted: bool) -> None:
    ctx = context()
    if accepted:
        check_window(first, last, ctx, "ts")
    else:
        with pytest.raises(DecodeError) as caught:
            check_window(first, last, ctx, "ts")
        assert caught.value.reason is RejectReason.BAD_TIMESTAMP


def test_check_window_uses_context_limits() -> None:
    # max_future is configurable: 1 minute ahead fails a 30-second allowance.
    ctx = context(max_future=timedelta(seconds=30), max_age=timedelta(hours=1))
    with pytest.raises(DecodeError):
        check_window(RECEIVED + timedelta(minutes=1), RECEIVED + timedelta(minutes=1), ctx, "ts")
    with pytest.raises(DecodeError, match="older than max_age 1h"):
        check_window(RECEIVED - timedelta(hours=2), RECEIVED, ctx, "ts")


def test_context_requires_aware_receive_time() -> None:
    # A naive receive time would compare wrongly with every reading: a caller bug.
    with pytest.raises(ValueError, match="timezone-aware"):
        DecodeContext("ST-01", datetime(2026, 1, 10, 3, 0), timedelta(days=30))  # noqa: DTZ001


@pytest.mark.parametrize(
    "payload",
    [
        # orjson refuses the non-standard NaN/Infinity literals (RFC 8259 has none).
        b'{"pm25": NaN}',
        b'{"pm25": Infinity}',
        b'{"pm25": -Infinity}',
        # A literal that overflows a double would be Infinity.
        b'{"pm25": 1e400}',
        # Not UTF-8.
        b'{"pm25": "\xff"}',
        # A lone surrogate escape is not a Unicode string.
        b'{"note": "\\ud800"}',
        # A byte-order mark is not JSON text.
        b'\xef\xbb\xbf{"pm25": 1}',
        b"",
        b"{",
        b"{'pm25': 1}",
        # Nested one level deeper than allowed.
        b"[" * (MAX_NESTING + 1) + b"]" * (MAX_NESTING + 1),
        # Deep enough to crash orjson < 3.9.15 (CVE-2024-27454); refused before parsing.
        b"[" * 200_000 + b"]" * 200_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    ],
)
def test_load_json_refuses(payload: bytes) -> None:
    with pytest.raises(DecodeError) as caught:
        load_json(payload)
    assert caught.value.reason is RejectReason.INVALID_JSON


@pytest.mark.parametrize(
    ("payload", "depth"),
    [
        # An object holding an array is two levels deep.
        (b'{"x": [1, 2]}', 2),
        # A scalar has no nesting.
        (b"42", 0),
        # Exactly the limit is allowed.
        (b"[" * MAX_NESTING + b"]" * MAX_NESTING, MAX_NESTING),
        # Brackets inside strings do not nest.
        (raw({"note": "[" * 500}), 1),
        # Escaped quotes do not end a string early.
        (raw({"note": '"]' * 300, "x": [[[1]]]}), 4),
        # An escaped backslash before a quote does end the string.
        (b'["\\\\", ' + b"[" * 70 + b"]" * 70 + b"]", 71),
        # A long flat batch is not deep.
        (raw([{"ts": 1, "pm25": 1}] * 500), 2),
    ],
)
def test_nesting_depth(payload: bytes, depth: int) -> None:
    assert nesting_depth(payload) == depth


def test_load_json_accepts_limit_depth() -> None:
    # The deepest allowed message still parses.
    assert load_json(b"[" * MAX_NESTING + b"]" * MAX_NESTING) is not None


def _fake_item(item: dict[str, Any], ctx: DecodeContext) -> LakeReading:
    if "bad" in item:
        raise DecodeError(RejectReason.OUT_OF_RANGE, "bad value")
    return LakeReading(station_id=ctx.station_id, time=RECEIVED, level_m=1.0)


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        # A top-level scalar is neither an object nor a batch.
        (b"42", "got number"),
        (b'"pm25"', "got string"),
        (b"null", "got null"),
        (b"true", "got boolean"),
        # An empty batch is one rejection, not zero.
        (b"[]", "empty batch"),
    ],
)
def test_whole_message_schema(payload: bytes, detail: str) -> None:
    rejection = only_rejection(decode_message(payload, context(), _fake_item))
    assert rejection.reason is RejectReason.SCHEMA
    assert detail in rejection.detail
    assert rejection.payload == payload


def test_single_object_failure_keeps_raw_bytes() -> None:
    # A whole-message failure keeps the bytes as received (whitespace and all), not a re-dump.
    payload = b'{ "bad" : 1 }'
    rejection = only_rejection(decode_message(payload, context(), _fake_item))
    assert rejection.payload == payload
    assert rejection.detail == "bad value"


def test_batch_keeps_valid_items_and_counts_each_invalid_once() -> None:
    # Valid items are kept in order; each invalid item is one rejection holding its own JSON.
    batch = [{"ok": 1}, 7, {"bad": 1}, [1], {"ok": 2}, None]
    decoded = decode_message(raw(batch), context(), _fake_item)
    assert len(decoded.readings) == 2
    assert [r.reason for r in decoded.rejections] == [
        RejectReason.SCHEMA,
        RejectReason.OUT_OF_RANGE,
        RejectReason.SCHEMA,
        RejectReason.SCHEMA,
    ]
    assert [r.payload for r in decoded.rejections] == [b"7", b'{"bad":1}', b"[1]", b"null"]
    assert [r.detail.split(":")[0] for r in decoded.rejections] == [
        "item 1",
        "item 2",
        "item 3",
        "item 5",
    ]


@pytest.mark.parametrize(
    ("size", "refused"),
    [
        # A batch of exactly max_batch items is decoded item by item.
        (3, False),
        # One more item refuses the whole batch once, as too_large.
        (4, True),
    ],
)
def test_batch_item_cap(size: int, refused: bool) -> None:
    ctx = DecodeContext("ST-01", RECEIVED, timedelta(days=30), max_batch=3)
    payload = raw([1] * size)
    decoded = decode_message(payload, ctx, _fake_item)
    if refused:
        rejection = only_rejection(decoded)
        assert rejection.reason is RejectReason.TOO_LARGE
        assert rejection.payload == payload
        assert rejection.detail == "batch of 4 items (at most 3)"
    else:
        assert len(decoded.rejections) == size


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        # Schema errors win over range errors in the same item.
        ({"ts": 1768014000, "level_m": "3", "water_temp": 99}, RejectReason.SCHEMA),
        # Range errors win over an unparsable timestamp.
        ({"ts": "yesterday", "level_m": 999}, RejectReason.OUT_OF_RANGE),
        # A stale reading with a value out of range is refused for the value.
        ({"ts": 0, "level_m": 999}, RejectReason.OUT_OF_RANGE),
    ],
)
def test_reason_precedence(item: dict[str, Any], reason: RejectReason) -> None:
    assert only_rejection(decode_lake(raw(item), context())).reason is reason


@pytest.mark.parametrize(
    ("loc", "text"),
    [
        # Field names, array indices and nested objects read as a JSON path.
        (("pm25",), "pm25"),
        (("traces", "x", 3), "traces.x[3]"),
        (("sensordatavalues", 0, "value"), "sensordatavalues[0].value"),
        ((), "message"),
    ],
)
def test_format_location(loc: tuple[int | str, ...], text: str) -> None:
    assert format_location(loc) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        # Integral floats drop ".0"; other floats keep every digit that matters.
        (2000.0, "2000"),
        (5000.0001, "5000.0001"),
        (2500, "2500"),
        # Long inputs are clipped so a detail never carries a whole payload.
        ("x" * 100, "'" + "x" * 38 + "…"),
    ],
)
def test_format_value(value: object, text: str) -> None:
    assert format_value(value) == text
