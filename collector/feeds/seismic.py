"""Seismic decoder: native and OpenEEW three-component acceleration packets (gal = cm/s²)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Final

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

from collector.feeds.common import (
    MODEL_CONFIG,
    DecodeContext,
    DecodeError,
    Timestamp,
    check_window,
    decode_message,
    format_value,
    validate,
)
from collector.models import Decoded, RejectReason, SeismicPacket

# Largest accepted |acceleration| (interfaces.md §3): about 5 g, beyond any strong-motion record
# in the region and a sure sign of a clipped or mis-scaled sensor.
MAX_ABS_GAL: Final = 5000.0
MAX_SAMPLES: Final = 2000
_COMPONENTS: Final = ("x", "y", "z")

# fail_fast: a 2000-element array of strings fails on its first element, not with 2000 errors.
_Samples = Annotated[list[float], Field(min_length=1, max_length=MAX_SAMPLES, fail_fast=True)]


class _Traces(BaseModel):
    model_config = MODEL_CONFIG

    x: _Samples
    y: _Samples
    z: _Samples


class _SeismicPacket(BaseModel):
    model_config = MODEL_CONFIG

    sr: float = Field(ge=1, le=1000)
    ts: Timestamp | None = None
    cloud_t: Timestamp | None = None
    device_t: Timestamp | None = None
    x: _Samples | None = None
    y: _Samples | None = None
    z: _Samples | None = None
    traces: _Traces | None = None


def decode_seismic(payload: bytes, ctx: DecodeContext) -> Decoded:
    """Decode a seismic message (native or OpenEEW, single or batch) into `SeismicPacket`s.

    Native: `{"ts": <first sample>, "sr": 100.0, "x": […], "y": […], "z": […]}`. OpenEEW:
    `device_t` / `cloud_t` (time of the *last* sample; `cloud_t` wins) instead of `ts`, so the
    first sample is at t − (n−1)/sr; arrays at the top level (OpenEEW's archived records) or in
    `"traces": {"x": …, "y": …, "z": …}`. When `ts` and an OpenEEW time are both present, `ts`
    wins: it is the time we store.

    `sr` is required in both forms. Every archived OpenEEW record carries it (`"sr": 31.25`) and
    OpenEEW's own tools read it from the record, while the sensor firmware runs at 31.25 or
    125 Hz, so a default would silently misplace the first sample and stretch detector windows.

    Arrays: equal lengths, 1 to 2000 JSON numbers each (else `schema`); |a| ≤ 5000 gal and
    1 ≤ sr ≤ 1000 Hz (else `out_of_range`). The whole packet must lie in the time window: first
    sample no older than `max_age`, last sample no more than `max_future` ahead. Samples are
    stored as read-only float32 arrays.

    Args:
        payload: the MQTT payload as received.
        ctx: receive context.

    Returns:
        The valid packets and one rejection per refused message or batch item.
    """
    return decode_message(payload, ctx, decode_seismic_item)


def decode_seismic_item(item: dict[str, Any], ctx: DecodeContext) -> SeismicPacket:
    """Decode one seismic object in either form.

    Raises:
        DecodeError: the object is refused.
    """
    packet = validate(_SeismicPacket, item)
    samples = _samples(packet)
    n = samples.shape[1]
    first, label = _first_sample_time(packet, n)
    # Checked in float64, before the float32 cast could round 5000.0001 down to 5000.
    peaks = np.abs(samples).max(axis=1)
    if peaks.max() > MAX_ABS_GAL:
        worst = int(np.argmax(peaks))
        raise DecodeError(
            RejectReason.OUT_OF_RANGE,
            f"{_COMPONENTS[worst]}: |a| {format_value(float(peaks[worst]))}"
            f" > {format_value(MAX_ABS_GAL)} gal",
        )
    check_window(first, _shift(first, n - 1, packet.sr, label), ctx, label)
    stored = samples.astype(np.float32)
    # The packet is a frozen value: make its arrays immutable too.
    stored.flags.writeable = False
    return SeismicPacket(
        station_id=ctx.station_id,
        time=first,
        sr=packet.sr,
        x=stored[0],
        y=stored[1],
        z=stored[2],
    )


def _samples(packet: _SeismicPacket) -> npt.NDArray[np.float64]:
    if packet.traces is not None:
        if packet.x is not None or packet.y is not None or packet.z is not None:
            raise DecodeError(RejectReason.SCHEMA, "x/y/z both at the top level and in traces")
        arrays = (packet.traces.x, packet.traces.y, packet.traces.z)
    elif packet.x is not None and packet.y is not None and packet.z is not None:
        arrays = (packet.x, packet.y, packet.z)
    else:
        missing = next(name for name in _COMPONENTS if getattr(packet, name) is None)
        raise DecodeError(RejectReason.SCHEMA, f"{missing}: missing (and no traces)")
    lengths = [len(array) for array in arrays]
    if len(set(lengths)) > 1:
        sizes = ", ".join(f"{name}={size}" for name, size in zip(_COMPONENTS, lengths, strict=True))
        raise DecodeError(RejectReason.SCHEMA, f"unequal array lengths: {sizes}")
    return np.array(arrays, dtype=np.float64)


def _first_sample_time(packet: _SeismicPacket, n: int) -> tuple[datetime, str]:
    if packet.ts is not None:
        return packet.ts, "ts"
    for label, last in (("cloud_t", packet.cloud_t), ("device_t", packet.device_t)):
        if last is not None:
            return _shift(last, -(n - 1), packet.sr, label), label
    raise DecodeError(RejectReason.SCHEMA, "ts: missing (or OpenEEW cloud_t/device_t)")


def _shift(time: datetime, samples: int, sr: float, label: str) -> datetime:
    """Move `time` by a number of sample intervals, rounded to the microsecond."""
    try:
        return time + timedelta(seconds=samples / sr)
    except OverflowError:
        raise DecodeError(
            RejectReason.BAD_TIMESTAMP, f"{label} {time.isoformat()}: packet leaves the calendar"
        ) from None
