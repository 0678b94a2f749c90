"""Seismic decoder: native and OpenEEW forms, arrays, ranges, OpenEEW time arithmetic."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest

from collector.feeds.seismic import decode_seismic
from collector.models import RejectReason, SeismicPacket
from tests.unit.feeds._support import RECEIVED, context, iso, only_reading, only_rejection, raw

TS = "2026-01-10T03:00:29Z"
T29 = iso("2026-01-10T03:00:29+00:00")
CLOUD_T = 1768014030.057  # 2026-01-10T03:00:30.057Z
DEVICE_T = 1768014030.154


def _xyz(n: int = 3, value: float = 0.1) -> dict[str, list[float]]:
    return {"x": [value] * n, "y": [-value] * n, "z": [value / 2] * n}


def _packet(document: Any) -> SeismicPacket:
    packet = only_reading(decode_seismic(raw(document), context()))
    assert isinstance(packet, SeismicPacket)
    return packet


def _reason(document: Any) -> tuple[RejectReason, str]:
    rejection = only_rejection(decode_seismic(raw(document), context()))
    return rejection.reason, rejection.detail


def test_native_packet() -> None:
    # Native form: ts is the first sample; arrays become read-only float32 of equal length.
    x = [0.011, -0.034, 2.5, -4999.5]
    packet = _packet({"ts": TS, "sr": 100, "x": x, "y": x[::-1], "z": [0, 0, 0, 1]})
    assert packet.time == T29
    assert packet.sr == 100.0
    assert packet.station_id == "ST-01"
    assert packet.n == 4
    for array in (packet.x, packet.y, packet.z):
        assert array.dtype == np.float32
        assert not array.flags.writeable
    np.testing.assert_array_equal(packet.x, np.array(x, dtype=np.float32))
    np.testing.assert_array_equal(packet.z, [0, 0, 0, 1])


@pytest.mark.parametrize(
    ("times", "n", "sr", "expected"),
    [
        # cloud_t is the last sample: 32 samples at 31.25 Hz start 31/31.25 = 0.992 s earlier.
        ({"cloud_t": CLOUD_T}, 32, 31.25, iso("2026-01-10T03:00:29.065+00:00")),
        # device_t alone is used the same way.
        ({"device_t": DEVICE_T}, 32, 31.25, iso("2026-01-10T03:00:29.162+00:00")),
        # cloud_t wins over device_t.
        (
            {"device_t": DEVICE_T, "cloud_t": CLOUD_T},
            32,
            31.25,
            iso("2026-01-10T03:00:29.065+00:00"),
        ),
        # One sample: first == last.
        ({"cloud_t": CLOUD_T}, 1, 31.25, iso("2026-01-10T03:00:30.057+00:00")),
        # 100 samples at 100 Hz span 0.99 s.
        ({"cloud_t": CLOUD_T}, 100, 100.0, iso("2026-01-10T03:00:29.067+00:00")),
        # 125 Hz (the firmware's other rate): 124/125 = 0.992 s as well.
        ({"cloud_t": CLOUD_T}, 125, 125.0, iso("2026-01-10T03:00:29.065+00:00")),
        # Non-terminating span: (n-1)/sr rounded to the microsecond, 2/3 s -> 0.666667 s.
        ({"cloud_t": 1768014030}, 3, 3.0, iso("2026-01-10T03:00:29.333333+00:00")),
        # An RFC 3339 cloud_t is accepted like ts.
        (
            {"cloud_t": "2026-01-10T08:00:30.057+05:00"},
            32,
            31.25,
            iso("2026-01-10T03:00:29.065+00:00"),
        ),
        # ts (first sample) wins over the OpenEEW times.
        ({"ts": TS, "cloud_t": CLOUD_T}, 32, 31.25, T29),
        # A null ts counts as absent.
        ({"ts": None, "cloud_t": CLOUD_T}, 1, 31.25, iso("2026-01-10T03:00:30.057+00:00")),
    ],
)
def test_openeew_time(times: dict[str, Any], n: int, sr: float, expected: datetime) -> None:
    document = {**times, "sr": sr, "traces": _xyz(n)}
    assert _packet(document).time == expected


def test_openeew_time_is_deterministic() -> None:
    # Dedup relies on a redelivered packet getting exactly the same first-sample time.
    document = {"cloud_t": CLOUD_T, "sr": 31.25, **_xyz(32)}
    assert len({_packet(document).time for _ in range(5)}) == 1


@pytest.mark.parametrize(
    "document",
    [
        # Top-level arrays (OpenEEW archived records).
        {"cloud_t": CLOUD_T, "sr": 31.25, **_xyz(32)},
        # Arrays inside traces.
        {"cloud_t": CLOUD_T, "sr": 31.25, "traces": _xyz(32)},
        # Native time with traces.
        {"ts": TS, "sr": 31.25, "traces": _xyz(32)},
        # The array limits are inclusive: 1 and 2000 samples.
        {"ts": TS, "sr": 100, **_xyz(1)},
        {"ts": TS, "sr": 1000, **_xyz(2000)},
        # The amplitude limit is inclusive, both signs.
        {"ts": TS, "sr": 100, "x": [5000.0], "y": [-5000.0], "z": [0]},
        # The sr limits are inclusive.
        {"ts": TS, "sr": 1, **_xyz(1)},
        {"ts": TS, "sr": 1000.0, **_xyz(1)},
    ],
)
def test_accepted_forms(document: dict[str, Any]) -> None:
    _packet(document)


@pytest.mark.parametrize(
    ("document", "reason", "detail"),
    [
        # sr is required in both forms (no default: a wrong rate misplaces every sample).
        ({"ts": TS, **_xyz()}, RejectReason.SCHEMA, "sr: missing"),
        ({"cloud_t": CLOUD_T, **_xyz()}, RejectReason.SCHEMA, "sr: missing"),
        ({"ts": TS, "sr": True, **_xyz()}, RejectReason.SCHEMA, "sr: expected a number"),
        ({"ts": TS, "sr": "100", **_xyz()}, RejectReason.SCHEMA, "sr: expected a number"),
        # sr just outside 1..1000 Hz.
        ({"ts": TS, "sr": 0.999, **_xyz()}, RejectReason.OUT_OF_RANGE, "sr: 0.999 < 1"),
        ({"ts": TS, "sr": 1000.001, **_xyz()}, RejectReason.OUT_OF_RANGE, "sr: 1000.001 > 1000"),
        # No time at all.
        ({"sr": 100, **_xyz()}, RejectReason.SCHEMA, "ts: missing"),
        # Arrays: missing, empty, too long, unequal.
        ({"ts": TS, "sr": 100, "x": [1], "y": [1]}, RejectReason.SCHEMA, "z: missing"),
        ({"ts": TS, "sr": 100, "x": [], "y": [], "z": []}, RejectReason.SCHEMA, "x:"),
        ({"ts": TS, "sr": 100, **_xyz(2001)}, RejectReason.SCHEMA, "x:"),
        (
            {"ts": TS, "sr": 100, "x": [1, 2], "y": [1, 2], "z": [1]},
            RejectReason.SCHEMA,
            "unequal array lengths: x=2, y=2, z=1",
        ),
        # Not numbers inside the arrays.
        (
            {"ts": TS, "sr": 100, "x": [1, True], "y": [1, 2], "z": [1, 2]},
            RejectReason.SCHEMA,
            "x[1]: expected a number, got boolean",
        ),
        (
            {"ts": TS, "sr": 100, "x": [1, 2], "y": [1, "2"], "z": [1, 2]},
            RejectReason.SCHEMA,
            "y[1]: expected a number, got string",
        ),
        ({"ts": TS, "sr": 100, "x": [1], "y": [1], "z": [None]}, RejectReason.SCHEMA, "z[0]"),
        ({"ts": TS, "sr": 100, "x": [[1]], "y": [1], "z": [1]}, RejectReason.SCHEMA, "x[0]"),
        ({"ts": TS, "sr": 100, "x": "1,2", "y": [1], "z": [1]}, RejectReason.SCHEMA, "x:"),
        # Inside traces, the path says so.
        (
            {"ts": TS, "sr": 100, "traces": {"x": [1], "y": [False], "z": [1]}},
            RejectReason.SCHEMA,
            "traces.y[0]",
        ),
        (
            {"ts": TS, "sr": 100, "traces": {"x": [1], "y": [1]}},
            RejectReason.SCHEMA,
            "traces.z: missing",
        ),
        # The firmware's list-of-objects traces is not the contract's object form.
        ({"ts": TS, "sr": 100, "traces": [_xyz()]}, RejectReason.SCHEMA, "traces: expected an"),
        # Arrays in both places are ambiguous.
        ({"ts": TS, "sr": 100, "x": [1], "traces": _xyz(1)}, RejectReason.SCHEMA, "both"),
        # Amplitude just past 5000 gal on each component, either sign.
        (
            {"ts": TS, "sr": 100, "x": [5000.0001], "y": [0], "z": [0]},
            RejectReason.OUT_OF_RANGE,
            "x: |a| 5000.0001 > 5000 gal",
        ),
        (
            {"ts": TS, "sr": 100, "x": [0], "y": [-5000.0001], "z": [0]},
            RejectReason.OUT_OF_RANGE,
            "y: |a| 5000.0001",
        ),
        ({"ts": TS, "sr": 100, "x": [0], "y": [0], "z": [1e300]}, RejectReason.OUT_OF_RANGE, "z:"),
        # Timestamps: no offset; a boolean cloud_t is schema.
        ({"ts": "2026-01-10T03:00:29", "sr": 100, **_xyz()}, RejectReason.BAD_TIMESTAMP, "ts"),
        ({"cloud_t": True, "sr": 100, **_xyz()}, RejectReason.SCHEMA, "cloud_t"),
        # A last-sample time at the start of the calendar cannot be moved back.
        ({"cloud_t": -62135596800, "sr": 1, **_xyz(2)}, RejectReason.BAD_TIMESTAMP, "cloud_t"),
    ],
)
def test_refused(document: dict[str, Any], reason: RejectReason, detail: str) -> None:
    assert _reason(document)[0] is reason
    assert detail in _reason(document)[1]


@pytest.mark.parametrize(
    ("first", "n", "sr", "accepted"),
    [
        # First sample exactly max_age old: accepted.
        (RECEIVED - timedelta(days=30), 100, 100.0, True),
        # First sample a millisecond older: refused, though later samples are in the window.
        (RECEIVED - timedelta(days=30, milliseconds=1), 100, 100.0, False),
        # Last sample exactly 5 minutes ahead: accepted.
        (RECEIVED + timedelta(minutes=5) - timedelta(seconds=0.99), 100, 100.0, True),
        # Last sample 10 ms past the limit, first sample within it: refused.
        (RECEIVED + timedelta(minutes=5) - timedelta(seconds=0.98), 100, 100.0, False),
    ],
)
def test_time_window(first: datetime, n: int, sr: float, accepted: bool) -> None:
    decoded = decode_seismic(raw({"ts": first.isoformat(), "sr": sr, **_xyz(n)}), context())
    if accepted:
        assert only_reading(decoded).time == first
    else:
        assert only_rejection(decoded).reason is RejectReason.BAD_TIMESTAMP


def test_bad_array_fails_fast() -> None:
    # 2000 strings give one short detail, not 2000 errors.
    reason, detail = _reason({"ts": TS, "sr": 100, "x": ["1"] * 2000, "y": [1], "z": [1]})
    assert reason is RejectReason.SCHEMA
    assert detail == "x[0]: expected a number, got string"


def test_batch_of_packets() -> None:
    # A batch of packets: each decoded on its own.
    batch = [
        {"ts": "2026-01-10T03:00:28Z", "sr": 100, **_xyz(100)},
        {"ts": "2026-01-10T03:00:29Z", "sr": 100, **_xyz(100, value=6000)},
        {"cloud_t": CLOUD_T, "sr": 100, **_xyz(100)},
    ]
    decoded = decode_seismic(raw(batch), context())
    assert len(decoded.readings) == 2
    assert [r.reason for r in decoded.rejections] == [RejectReason.OUT_OF_RANGE]
