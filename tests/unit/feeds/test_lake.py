"""Lake decoder: native form, ranges, types, timestamps, batches."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest

from collector.feeds.lake import decode_lake
from collector.models import LakeReading, RejectReason
from tests.unit.feeds._support import RECEIVED, context, iso, only_reading, only_rejection, raw

TS = "2026-01-10T02:50:00Z"


def _lake(document: Any) -> LakeReading:
    reading = only_reading(decode_lake(raw(document), context()))
    assert isinstance(reading, LakeReading)
    return reading


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        # Every measurement at once.
        (
            {"ts": TS, "level_m": 3.42, "water_temp": 4.1, "precip_mm": 0.4, "discharge_m3s": 1.2},
            {"level_m": 3.42, "water_temp": 4.1, "precip_mm": 0.4, "discharge_m3s": 1.2},
        ),
        # Any non-empty subset; the rest stays None.
        ({"ts": TS, "discharge_m3s": 14}, {"discharge_m3s": 14.0, "level_m": None}),
        # A level below the gauge zero is legitimate.
        ({"ts": TS, "level_m": -2.5}, {"level_m": -2.5}),
        # Lower limits are inclusive.
        (
            {"ts": TS, "level_m": -50, "water_temp": -5, "precip_mm": 0, "discharge_m3s": 0},
            {"level_m": -50.0, "water_temp": -5.0},
        ),
        # Upper limits are inclusive.
        (
            {"ts": TS, "level_m": 500, "water_temp": 40, "precip_mm": 500, "discharge_m3s": 10000},
            {"level_m": 500.0, "precip_mm": 500.0, "discharge_m3s": 10000.0},
        ),
        # Station diagnostics are ignored; null counts as absent.
        ({"ts": TS, "level_m": 3.4, "battery_v": 12.6, "precip_mm": None}, {"precip_mm": None}),
    ],
)
def test_accepted(document: dict[str, Any], expected: dict[str, Any]) -> None:
    reading = _lake(document)
    assert reading.time == iso("2026-01-10T02:50:00+00:00")
    for name, value in expected.items():
        assert getattr(reading, name) == value


@pytest.mark.parametrize(
    ("document", "reason", "detail"),
    [
        # Just past each limit.
        ({"ts": TS, "level_m": -50.01}, RejectReason.OUT_OF_RANGE, "level_m: -50.01 < -50"),
        ({"ts": TS, "level_m": 500.01}, RejectReason.OUT_OF_RANGE, "level_m: 500.01 > 500"),
        ({"ts": TS, "water_temp": -5.01}, RejectReason.OUT_OF_RANGE, "water_temp"),
        ({"ts": TS, "water_temp": 40.01}, RejectReason.OUT_OF_RANGE, "water_temp"),
        ({"ts": TS, "precip_mm": -0.01}, RejectReason.OUT_OF_RANGE, "precip_mm: -0.01 < 0"),
        ({"ts": TS, "precip_mm": 500.01}, RejectReason.OUT_OF_RANGE, "precip_mm"),
        ({"ts": TS, "discharge_m3s": -0.01}, RejectReason.OUT_OF_RANGE, "discharge_m3s"),
        ({"ts": TS, "discharge_m3s": 10000.01}, RejectReason.OUT_OF_RANGE, "discharge_m3s"),
        # Booleans and numeric strings are not numbers.
        ({"ts": TS, "level_m": False}, RejectReason.SCHEMA, "level_m: expected a number"),
        ({"ts": TS, "level_m": "3.42"}, RejectReason.SCHEMA, "got string"),
        # ts is required; no measurement at all is malformed.
        ({"level_m": 3.42}, RejectReason.SCHEMA, "ts: missing"),
        ({"ts": TS, "battery_v": 12.6}, RejectReason.SCHEMA, "no measurement"),
        # Timestamps without offset or outside the window.
        ({"ts": "2026-01-10T07:50:00", "level_m": 3}, RejectReason.BAD_TIMESTAMP, "no UTC offset"),
        ({"ts": 1, "level_m": 3}, RejectReason.BAD_TIMESTAMP, "older than max_age"),
    ],
)
def test_refused(document: dict[str, Any], reason: RejectReason, detail: str) -> None:
    rejection = only_rejection(decode_lake(raw(document), context()))
    assert rejection.reason is reason
    assert detail in rejection.detail


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        # Exactly max_age old is accepted; a second more is not.
        (-timedelta(days=30), True),
        (-timedelta(days=30, seconds=1), False),
        # Exactly 5 minutes ahead is accepted; a second more is not.
        (timedelta(minutes=5), True),
        (timedelta(minutes=5, seconds=1), False),
    ],
)
def test_time_window(offset: timedelta, accepted: bool) -> None:
    ts = (RECEIVED + offset).timestamp()
    decoded = decode_lake(raw({"ts": ts, "level_m": 3.0}), context())
    if accepted:
        assert only_reading(decoded).time == RECEIVED + offset
    else:
        assert only_rejection(decoded).reason is RejectReason.BAD_TIMESTAMP


def test_batch_with_invalid_item() -> None:
    # A gauge uploading its buffer: the bad item is refused alone, with its own JSON.
    batch = [
        {"ts": "2026-01-10T02:40:00Z", "level_m": 3.40},
        {"ts": "2026-01-10T02:45:00Z", "level_m": 3.41, "discharge_m3s": -1},
        {"ts": "2026-01-10T02:50:00Z", "level_m": 3.42},
    ]
    decoded = decode_lake(raw(batch), context())
    assert [r.level_m for r in decoded.readings if isinstance(r, LakeReading)] == [3.40, 3.42]
    rejection = decoded.rejections[0]
    assert len(decoded.rejections) == 1
    assert rejection.reason is RejectReason.OUT_OF_RANGE
    assert rejection.payload == orjson.dumps(batch[1])
    assert rejection.detail == "item 1: discharge_m3s: -1 < 0"
