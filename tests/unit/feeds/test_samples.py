"""Recorded-looking sample payloads (tests/data/payloads) through the registered decoders."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from collector.feeds import DECODERS, DecodeContext, Decoder
from collector.models import AirReading, Feed, LakeReading, RejectReason, SeismicPacket
from tests.unit.feeds._support import PAYLOADS, RECEIVED, context, iso, only_reading, sample

R = RejectReason


# Each good sample decodes fully; each bad one fails for the reason its name announces.
SAMPLES: list[tuple[str, Feed, int, list[RejectReason]]] = [
    ("air_native.json", Feed.AIR, 1, []),
    ("air_batch.json", Feed.AIR, 5, []),
    ("air_sensor_community.json", Feed.AIR, 1, []),
    ("air_sensor_community_api.json", Feed.AIR, 2, []),
    (
        "air_batch_mixed.json",
        Feed.AIR,
        2,
        [R.OUT_OF_RANGE, R.SCHEMA, R.BAD_TIMESTAMP, R.SCHEMA, R.SCHEMA],
    ),
    ("air_nan.json", Feed.AIR, 0, [R.INVALID_JSON]),
    ("lake_native.json", Feed.LAKE, 1, []),
    ("lake_no_offset.json", Feed.LAKE, 0, [R.BAD_TIMESTAMP]),
    ("seismic_native.json", Feed.SEISMIC, 1, []),
    ("seismic_openeew.json", Feed.SEISMIC, 1, []),
    ("seismic_clipped.json", Feed.SEISMIC, 0, [R.OUT_OF_RANGE]),
    ("seismic_unequal.json", Feed.SEISMIC, 0, [R.SCHEMA]),
]


@pytest.mark.parametrize(("name", "feed", "readings", "reasons"), SAMPLES)
def test_sample(name: str, feed: Feed, readings: int, reasons: list[RejectReason]) -> None:
    # The sample decodes to the expected number of readings and rejection reasons.
    decoded = DECODERS[feed](sample(name), context())
    assert len(decoded.readings) == readings
    assert [r.reason for r in decoded.rejections] == reasons


def test_every_sample_is_covered() -> None:
    # A new sample file must get a row in SAMPLES.
    assert {path.name for path in PAYLOADS.glob("*.json")} == {row[0] for row in SAMPLES}


def test_air_native_sample_values() -> None:
    # 08:00 Almaty time (+05:00) is stored as 03:00 UTC.
    reading = only_reading(DECODERS[Feed.AIR](sample("air_native.json"), context()))
    assert reading == AirReading(
        station_id="ST-01",
        time=iso("2026-01-10T03:00:00+00:00"),
        pm25=87.4,
        pm10=112.9,
        no2=61.0,
        temp=-11.6,
        rh=78.0,
    )


def test_sensor_community_sample_uses_receive_time() -> None:
    # The firmware push carries no time: the receive time is the reading's time.
    reading = only_reading(DECODERS[Feed.AIR](sample("air_sensor_community.json"), context()))
    assert isinstance(reading, AirReading)
    assert (reading.time, reading.pm25, reading.pm10, reading.temp, reading.rh) == (
        RECEIVED,
        91.2,
        118.73,
        -12.1,
        79.4,
    )


def test_lake_sample_values() -> None:
    # Unix seconds 1768013400 are 2026-01-10T02:50:00Z.
    reading = only_reading(DECODERS[Feed.LAKE](sample("lake_native.json"), context()))
    assert isinstance(reading, LakeReading)
    assert reading.time == iso("2026-01-10T02:50:00+00:00")
    assert reading.level_m == 3.42


def test_openeew_sample() -> None:
    # 32 samples at 31.25 Hz ending at cloud_t 03:00:30.057 start 0.992 s earlier.
    document = orjson.loads(sample("seismic_openeew.json"))
    packet = only_reading(DECODERS[Feed.SEISMIC](sample("seismic_openeew.json"), context()))
    assert isinstance(packet, SeismicPacket)
    assert packet.time == iso("2026-01-10T03:00:29.065+00:00")
    assert (packet.sr, packet.n) == (31.25, 32)
    np.testing.assert_allclose(packet.z, document["traces"]["z"], rtol=1e-6)


def test_seismic_native_sample() -> None:
    # 100 Hz, 100 samples, first sample at ts.
    packet = only_reading(DECODERS[Feed.SEISMIC](sample("seismic_native.json"), context()))
    assert isinstance(packet, SeismicPacket)
    assert (packet.time, packet.sr, packet.n) == (iso("2026-01-10T03:00:29+00:00"), 100.0, 100)


def test_registry_covers_every_feed() -> None:
    # One decoder per feed, each satisfying the Decoder protocol.
    assert set(DECODERS) == set(Feed)
    decoder: Decoder
    for decoder in DECODERS.values():
        ctx = DecodeContext("ST-01", RECEIVED, context().max_age)
        assert decoder(b"[]", ctx).rejections[0].reason is RejectReason.SCHEMA
