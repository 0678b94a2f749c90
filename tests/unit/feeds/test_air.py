"""Air decoder: native and Sensor.Community forms, ranges, types, timestamps, batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from collector.feeds.air import decode_air
from collector.models import AirReading, RejectReason
from tests.unit.feeds._support import (
    RECEIVED,
    context,
    iso,
    only_reading,
    only_rejection,
    raw,
    sample,
)

TS = "2026-01-10T03:00:00Z"
T0 = iso("2026-01-10T03:00:00+00:00")


def _air(document: Any) -> AirReading:
    reading = only_reading(decode_air(raw(document), context()))
    assert isinstance(reading, AirReading)
    return reading


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        # Every measurement field at once; integers are numbers too.
        (
            {"ts": TS, "pm25": 12.3, "pm10": 20.1, "no2": 41.0, "temp": -3.2, "rh": 71},
            {"pm25": 12.3, "pm10": 20.1, "no2": 41.0, "temp": -3.2, "rh": 71.0},
        ),
        # Any non-empty subset: the rest stays None.
        ({"ts": TS, "no2": 41.0}, {"no2": 41.0, "pm25": None}),
        # JSON null counts as absent.
        ({"ts": TS, "pm25": None, "pm10": 20.1}, {"pm25": None, "pm10": 20.1}),
        # Unknown extra fields (sensor diagnostics) are ignored.
        ({"ts": TS, "pm25": 5, "rssi": -71, "fw": {"v": "2.3.1"}}, {"pm25": 5.0}),
        # Lower limits are inclusive.
        ({"ts": TS, "pm25": 0, "pm10": 0, "no2": 0, "temp": -60, "rh": 0}, {"temp": -60.0}),
        # Upper limits are inclusive.
        (
            {"ts": TS, "pm25": 2000, "pm10": 2000, "no2": 5000, "temp": 60, "rh": 100},
            {"pm25": 2000.0, "no2": 5000.0, "rh": 100.0},
        ),
    ],
)
def test_native_accepted(document: dict[str, Any], expected: dict[str, Any]) -> None:
    reading = _air(document)
    assert reading.station_id == "ST-01"
    assert reading.time == T0
    for name, value in expected.items():
        assert getattr(reading, name) == value


@pytest.mark.parametrize(
    ("document", "reason", "detail"),
    [
        # Just past each range limit is out_of_range, and the detail says by how much.
        ({"ts": TS, "pm25": 2000.01}, RejectReason.OUT_OF_RANGE, "pm25: 2000.01 > 2000"),
        ({"ts": TS, "pm25": -0.1}, RejectReason.OUT_OF_RANGE, "pm25: -0.1 < 0"),
        ({"ts": TS, "pm10": 2000.01}, RejectReason.OUT_OF_RANGE, "pm10: 2000.01 > 2000"),
        ({"ts": TS, "pm10": -0.1}, RejectReason.OUT_OF_RANGE, "pm10"),
        ({"ts": TS, "no2": 5000.01}, RejectReason.OUT_OF_RANGE, "no2: 5000.01 > 5000"),
        ({"ts": TS, "no2": -0.1}, RejectReason.OUT_OF_RANGE, "no2"),
        ({"ts": TS, "temp": 60.1}, RejectReason.OUT_OF_RANGE, "temp: 60.1 > 60"),
        ({"ts": TS, "temp": -60.1}, RejectReason.OUT_OF_RANGE, "temp: -60.1 < -60"),
        ({"ts": TS, "rh": 100.1}, RejectReason.OUT_OF_RANGE, "rh: 100.1 > 100"),
        ({"ts": TS, "rh": -0.1}, RejectReason.OUT_OF_RANGE, "rh"),
        # A huge integer is a number, just out of range.
        ({"ts": TS, "pm25": 2**63}, RejectReason.OUT_OF_RANGE, "pm25"),
        # A boolean is not a number.
        ({"ts": TS, "pm25": True}, RejectReason.SCHEMA, "pm25: expected a number, got boolean"),
        # A numeric string is not a number in the native form.
        ({"ts": TS, "pm25": "12.3"}, RejectReason.SCHEMA, "pm25: expected a number, got string"),
        ({"ts": TS, "pm25": [12.3]}, RejectReason.SCHEMA, "got array"),
        ({"ts": TS, "pm25": {"v": 1}}, RejectReason.SCHEMA, "got object"),
        # ts is required in the native form.
        ({"pm25": 12.3}, RejectReason.SCHEMA, "ts: missing"),
        ({"ts": None, "pm25": 12.3}, RejectReason.SCHEMA, "ts: expected"),
        ({"ts": True, "pm25": 12.3}, RejectReason.SCHEMA, "got boolean"),
        # A reading with no measurement at all is malformed.
        ({"ts": TS}, RejectReason.SCHEMA, "no measurement"),
        ({"ts": TS, "pm25": None}, RejectReason.SCHEMA, "no measurement"),
        # A misspelt field is ignored as an extra, leaving nothing.
        ({"ts": TS, "pm2_5": 12.3}, RejectReason.SCHEMA, "no measurement"),
        # Timestamps: no offset, unparsable, or a numeric string.
        ({"ts": "2026-01-10T08:00:00", "pm25": 1}, RejectReason.BAD_TIMESTAMP, "no UTC offset"),
        ({"ts": "10.01.2026 08:00", "pm25": 1}, RejectReason.BAD_TIMESTAMP, "not an RFC 3339"),
        ({"ts": "1768014000", "pm25": 1}, RejectReason.BAD_TIMESTAMP, "not an RFC 3339"),
    ],
)
def test_native_refused(document: dict[str, Any], reason: RejectReason, detail: str) -> None:
    payload = raw(document)
    rejection = only_rejection(decode_air(payload, context()))
    assert rejection.reason is reason
    assert detail in rejection.detail
    # A single-object message is a whole-message failure: the raw bytes are kept.
    assert rejection.payload == payload


@pytest.mark.parametrize(
    ("ts", "accepted"),
    [
        # Exactly max_age (30 days) before the receive time is accepted.
        (RECEIVED - timedelta(days=30), True),
        # One second older is not.
        (RECEIVED - timedelta(days=30, seconds=1), False),
        # Exactly 5 minutes in the future is accepted (sensor clock skew).
        (RECEIVED + timedelta(minutes=5), True),
        # One millisecond more is not.
        (RECEIVED + timedelta(minutes=5, milliseconds=1), False),
    ],
)
def test_native_time_window(ts: datetime, accepted: bool) -> None:
    decoded = decode_air(raw({"ts": ts.isoformat(), "pm25": 10}), context())
    if accepted:
        assert only_reading(decoded).time == ts
    else:
        assert only_rejection(decoded).reason is RejectReason.BAD_TIMESTAMP


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        # +05:00 (Almaty local time) is converted to UTC.
        ("2026-01-10T08:00:00.250+05:00", T0 + timedelta(milliseconds=250)),
        # Unix seconds, integer and float.
        (1768014000, T0),
        (1768014000.25, T0 + timedelta(milliseconds=250)),
    ],
)
def test_native_timestamp_forms(ts: object, expected: datetime) -> None:
    reading = _air({"ts": ts, "pm25": 1})
    assert reading.time == expected
    assert reading.time.tzinfo is UTC


def _sc(values: Any, **extra: Any) -> dict[str, Any]:
    return {"sensordatavalues": values, **extra}


def _v(value_type: str, value: Any) -> dict[str, Any]:
    return {"value_type": value_type, "value": value}


@pytest.mark.parametrize(
    ("document", "expected", "time"),
    [
        # P2/P1/temperature/humidity map to pm25/pm10/temp/rh; no time -> receive time.
        (
            _sc(
                [
                    _v("P2", "12.30"),
                    _v("P1", "20.10"),
                    _v("temperature", "-3.20"),
                    _v("humidity", "71.00"),
                ]
            ),
            {"pm25": 12.3, "pm10": 20.1, "temp": -3.2, "rh": 71.0, "no2": None},
            RECEIVED,
        ),
        # Other value types are ignored, whatever their value holds.
        (
            _sc(
                [
                    _v("P2", "8.1"),
                    _v("samples", "880812"),
                    _v("signal", None),
                    _v("BME280_pressure", {"x": 1}),
                    _v("P0", "oops"),
                ]
            ),
            {"pm25": 8.1, "pm10": None},
            RECEIVED,
        ),
        # The API's own timestamp has no offset and is UTC.
        (_sc([_v("P1", "5")], timestamp="2026-01-10 03:00:00"), {"pm10": 5.0}, T0),
        # ts, when present, wins over timestamp.
        (
            _sc([_v("P1", "5")], ts="2026-01-10T08:00:00+05:00", timestamp="2026-01-10 01:00:00"),
            {"pm10": 5.0},
            T0,
        ),
        # Unix seconds in ts work as in the native form.
        (_sc([_v("P1", "5")], ts=1768014000), {"pm10": 5.0}, T0),
        # JSON numbers are accepted as values too; ints become floats.
        (_sc([_v("P2", 12.5), _v("humidity", 70)]), {"pm25": 12.5, "rh": 70.0}, RECEIVED),
        # Range limits hold for the mapped values: 2000 is accepted.
        (_sc([_v("P2", "2000")]), {"pm25": 2000.0}, RECEIVED),
        # Firmware identifiers and other extras are ignored.
        (
            _sc([_v("P2", "1")], esp8266id="15188802", software_version="NRZ-2020-133"),
            {"pm25": 1.0},
            RECEIVED,
        ),
    ],
)
def test_sensor_community_accepted(
    document: dict[str, Any], expected: dict[str, Any], time: datetime
) -> None:
    reading = _air(document)
    assert reading.time == time
    for name, value in expected.items():
        assert getattr(reading, name) == value


@pytest.mark.parametrize(
    ("document", "reason", "detail"),
    [
        # A non-numeric string is schema.
        (_sc([_v("P2", "abc")]), RejectReason.SCHEMA, "sensordatavalues[0].value: not a number"),
        # "nan"/"inf" strings are not numbers either.
        (_sc([_v("P1", "1"), _v("P2", "nan")]), RejectReason.SCHEMA, "sensordatavalues[1]"),
        (_sc([_v("P2", "Infinity")]), RejectReason.SCHEMA, "not a number"),
        (_sc([_v("P2", "")]), RejectReason.SCHEMA, "not a number"),
        # Booleans and nulls are not numbers for the value types we store.
        (_sc([_v("P2", True)]), RejectReason.SCHEMA, "got boolean"),
        (_sc([_v("P2", None)]), RejectReason.SCHEMA, "got null"),
        # Just past the range, as a string.
        (_sc([_v("P2", "2000.01")]), RejectReason.OUT_OF_RANGE, "pm25: 2000.01 > 2000"),
        (_sc([_v("humidity", "100.5")]), RejectReason.OUT_OF_RANGE, "rh: 100.5 > 100"),
        (_sc([_v("temperature", "-60.5")]), RejectReason.OUT_OF_RANGE, "temp"),
        # Only ignored value types, or none at all: no measurement.
        (_sc([_v("samples", "880812")]), RejectReason.SCHEMA, "no measurement"),
        (_sc([]), RejectReason.SCHEMA, "no measurement"),
        # Malformed structure.
        (_sc("P2=12"), RejectReason.SCHEMA, "sensordatavalues: expected an array"),
        (_sc(["P2"]), RejectReason.SCHEMA, "sensordatavalues[0]: expected an object"),
        (_sc([{"value": "1"}]), RejectReason.SCHEMA, "sensordatavalues[0].value_type: missing"),
        (_sc([_v("P2", "1"), _v("P2", "2")]), RejectReason.SCHEMA, "duplicate value_type"),
        # Two sources for the same value: refused rather than guessed.
        (_sc([_v("P2", "1")], pm25=1.0), RejectReason.SCHEMA, "together with native field"),
        # ts keeps the contract's rule: no offset is refused, even here.
        (_sc([_v("P2", "1")], ts="2026-01-10 03:00:00"), RejectReason.BAD_TIMESTAMP, "ts"),
        # An unparsable API timestamp is refused, not replaced by the receive time.
        (_sc([_v("P2", "1")], timestamp="yesterday"), RejectReason.BAD_TIMESTAMP, "timestamp"),
        # The API timestamp must be in the window like any other.
        (
            _sc([_v("P2", "1")], timestamp="2025-01-01 00:00:00"),
            RejectReason.BAD_TIMESTAMP,
            "older than max_age 30d",
        ),
    ],
)
def test_sensor_community_refused(
    document: dict[str, Any], reason: RejectReason, detail: str
) -> None:
    rejection = only_rejection(decode_air(raw(document), context()))
    assert rejection.reason is reason
    assert detail in rejection.detail


def test_mixed_batch_keeps_valid_items() -> None:
    # One valid item and one of each fault: each fault counted once, with the item's JSON.
    payload = sample("air_batch_mixed.json")
    items = orjson.loads(payload)
    decoded = decode_air(payload, context())
    assert [r.time for r in decoded.readings] == [
        iso("2026-01-10T02:55:00+00:00"),
        iso("2026-01-10T03:00:00+00:00"),
    ]
    assert [r.reason for r in decoded.rejections] == [
        RejectReason.OUT_OF_RANGE,
        RejectReason.SCHEMA,
        RejectReason.BAD_TIMESTAMP,
        RejectReason.SCHEMA,
        RejectReason.SCHEMA,
    ]
    assert [r.payload for r in decoded.rejections] == [orjson.dumps(i) for i in items[1:6]]
    assert decoded.rejections[0].detail == "item 1: pm25: 2500 > 2000"


def test_sensor_community_batch() -> None:
    # Batches work in the Sensor.Community form too (one API record per sensor).
    decoded = decode_air(sample("air_sensor_community_api.json"), context())
    assert decoded.rejections == ()
    readings = [r for r in decoded.readings if isinstance(r, AirReading)]
    assert [(r.pm10, r.temp) for r in readings] == [(121.45, None), (None, -12.3)]


@pytest.mark.parametrize(
    "payload",
    [
        # NaN and Infinity are invalid JSON, not out of range.
        b'{"ts": "2026-01-10T03:00:00Z", "pm25": NaN}',
        b'{"ts": "2026-01-10T03:00:00Z", "pm25": Infinity}',
        b'[{"ts": "2026-01-10T03:00:00Z", "pm25": 1}, {"ts": 1, "pm25": -Infinity}]',
    ],
)
def test_nan_and_infinity_are_invalid_json(payload: bytes) -> None:
    # The whole message fails (it cannot be split into items), keeping its raw bytes.
    rejection = only_rejection(decode_air(payload, context()))
    assert rejection.reason is RejectReason.INVALID_JSON
    assert rejection.payload == payload
