"""Lake decoder (moraine lakes, mudflow stations, river gauges): the native object."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from collector.feeds.common import (
    MODEL_CONFIG,
    DecodeContext,
    DecodeError,
    Timestamp,
    check_window,
    decode_message,
    validate,
)
from collector.models import LAKE_FIELDS, Decoded, LakeReading, RejectReason


class _LakeNative(BaseModel):
    """A lake reading and the accepted ranges (interfaces.md §3)."""

    model_config = MODEL_CONFIG

    ts: Timestamp
    level_m: float | None = Field(default=None, ge=-50, le=500)
    water_temp: float | None = Field(default=None, ge=-5, le=40)
    precip_mm: float | None = Field(default=None, ge=0, le=500)
    discharge_m3s: float | None = Field(default=None, ge=0, le=10000)


def decode_lake(payload: bytes, ctx: DecodeContext) -> Decoded:
    """Decode a lake message (single object or batch) into `LakeReading`s.

    `{"ts": …, "level_m": 3.42, "water_temp": 4.1, "precip_mm": 0.4, "discharge_m3s": 1.2}` with
    any non-empty subset of the measurements (JSON `null` counts as absent); `level_m` is the
    water level above the gauge zero, so it may be negative.

    Args:
        payload: the MQTT payload as received.
        ctx: receive context.

    Returns:
        The valid readings and one rejection per refused message or batch item.
    """
    return decode_message(payload, ctx, decode_lake_item)


def decode_lake_item(item: dict[str, Any], ctx: DecodeContext) -> LakeReading:
    """Decode one lake object.

    Raises:
        DecodeError: the object is refused.
    """
    reading = validate(_LakeNative, item)
    if all(getattr(reading, name) is None for name in LAKE_FIELDS):
        raise DecodeError(
            RejectReason.SCHEMA, f"no measurement (expected any of {', '.join(LAKE_FIELDS)})"
        )
    check_window(reading.ts, reading.ts, ctx, "ts")
    return LakeReading(
        station_id=ctx.station_id,
        time=reading.ts,
        level_m=reading.level_m,
        water_temp=reading.water_temp,
        precip_mm=reading.precip_mm,
        discharge_m3s=reading.discharge_m3s,
    )
