"""The shard exchange wire format (collector.exchange): exact round trips, strict parsing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from collector.exchange import AirFlags, ShardMessage, decode_message, encode_message
from collector.seismic import Pick

T = datetime(2026, 1, 10, 8, 0, 12, 345678, tzinfo=UTC)
PICK = Pick("SEIS-07", T, 5.2, 31.5, 0.012, 1.5, "z", final=False)


@pytest.mark.parametrize(
    "message",
    [
        # picks with the extents noted before them (microsecond times survive exactly)
        ShardMessage(1, (PICK,), {"SEIS-07": T, "SEIS-01": T}),
        # a periodic message: extents and air flags, no picks
        ShardMessage(0, (), {"SEIS-03": T}, AirFlags({"pm25_24h": {"AIR-01": True}}, T)),
        # air flags of a shard whose stations are all below their rules
        ShardMessage(2, (), {}, AirFlags({"pm25_1h": {"AIR-02": False}}, T)),
        # with the sender's send time (receivers drop a stale backlog of picks by it)
        ShardMessage(0, (PICK,), {}, None, sent_at=T),
        # the final report of a pick (its amplitude window complete)
        ShardMessage(2, (PICK, Pick("SEIS-07", T, 9.9, 80.0, 0.5, 3.0, "x", final=True))),
    ],
)
def test_round_trip(message: ShardMessage) -> None:
    assert decode_message(encode_message(message)) == message


@pytest.mark.parametrize(
    "payload",
    [
        # not JSON
        b"\xff",
        # JSON, but not an object
        b"[1, 2]",
        # another wire version: refused rather than misread
        b'{"v": 2, "shard": 0}',
        # a pick without its time
        b'{"v": 1, "shard": 0, "picks": [{"station_id": "S"}]}',
        # no sender
        b'{"v": 1}',
    ],
)
def test_malformed_is_refused(payload: bytes) -> None:
    with pytest.raises(ValueError, match="exchange message"):
        decode_message(payload)
