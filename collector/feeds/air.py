"""Air-quality decoder: the native object and the Sensor.Community `sensordatavalues` form."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from collector.feeds.common import (
    MODEL_CONFIG,
    DecodeContext,
    DecodeError,
    Timestamp,
    UtcDefaultTimestamp,
    check_window,
    decode_message,
    format_value,
    json_type,
    validate,
)
from collector.models import AIR_FIELDS, AirReading, Decoded, RejectReason

# Sensor.Community value types we store, and the native field each one fills.
SENSOR_COMMUNITY_FIELDS: Final = {
    "P2": "pm25",
    "P1": "pm10",
    "temperature": "temp",
    "humidity": "rh",
}

# Lax float parsing for the numeric strings of Sensor.Community ("12.30", "-3.2", "1e1"); it
# refuses "nan"/"inf" and anything that is not a number.
_NUMERIC_STRING: Final[TypeAdapter[float]] = TypeAdapter(
    Annotated[float, Field(allow_inf_nan=False)]
)


class _AirValues(BaseModel):
    """The measurements and their accepted ranges (interfaces.md §3)."""

    model_config = MODEL_CONFIG

    pm25: float | None = Field(default=None, ge=0, le=2000)
    pm10: float | None = Field(default=None, ge=0, le=2000)
    no2: float | None = Field(default=None, ge=0, le=5000)
    temp: float | None = Field(default=None, ge=-60, le=60)
    rh: float | None = Field(default=None, ge=0, le=100)


class _AirNative(_AirValues):
    ts: Timestamp


class _SensorDataValue(BaseModel):
    model_config = MODEL_CONFIG

    value_type: str
    # Checked only for the value types we store: the others may hold anything.
    value: Any = None


class _SensorCommunity(BaseModel):
    model_config = MODEL_CONFIG

    sensordatavalues: list[_SensorDataValue]
    ts: Timestamp | None = None
    timestamp: UtcDefaultTimestamp | None = None


def decode_air(payload: bytes, ctx: DecodeContext) -> Decoded:
    """Decode an air message (native or Sensor.Community, single or batch) into `AirReading`s.

    Native: `{"ts": …, "pm25": 12.3, "pm10": 20.1, "no2": 41.0, "temp": -3.2, "rh": 71}` with
    any non-empty subset of the measurements (JSON `null` counts as absent).

    Sensor.Community: `{"sensordatavalues": [{"value_type": "P2", "value": "12.3"}, …]}` where P2
    is PM2.5, P1 is PM10, `temperature` and `humidity` are °C and %RH; other value types
    (`samples`, `signal`, `BME280_pressure`, …) are ignored whatever they hold. Values are
    numeric strings (JSON numbers are accepted too); a non-numeric string, "nan" included, is
    `schema`. The time is `ts` when present (with the contract's rules), else the API's own
    `timestamp` (`"2024-01-10 08:00:00"`, UTC by that API's convention, so an offset-less value
    is read as UTC), else the receive time. Native fields next to `sensordatavalues` are
    `schema`: two sources for one value.

    Args:
        payload: the MQTT payload as received.
        ctx: receive context.

    Returns:
        The valid readings and one rejection per refused message or batch item.
    """
    return decode_message(payload, ctx, decode_air_item)


def decode_air_item(item: dict[str, Any], ctx: DecodeContext) -> AirReading:
    """Decode one air object in either form.

    Raises:
        DecodeError: the object is refused.
    """
    if "sensordatavalues" not in item:
        native = validate(_AirNative, item)
        return _reading(native, native.ts, "ts", ctx)
    mixed = [name for name in AIR_FIELDS if name in item]
    if mixed:
        # Two sources for one value: refuse rather than silently pick one.
        raise DecodeError(
            RejectReason.SCHEMA, f"sensordatavalues together with native field {mixed[0]}"
        )
    message = validate(_SensorCommunity, item)
    values = validate(_AirValues, _sensor_community_values(message))
    if message.ts is not None:
        return _reading(values, message.ts, "ts", ctx)
    if message.timestamp is not None:
        return _reading(values, message.timestamp, "timestamp", ctx)
    return _reading(values, ctx.received_at.astimezone(UTC), "receive time", ctx)


def _sensor_community_values(message: _SensorCommunity) -> dict[str, float]:
    values: dict[str, float] = {}
    for index, entry in enumerate(message.sensordatavalues):
        name = SENSOR_COMMUNITY_FIELDS.get(entry.value_type)
        if name is None:
            continue
        where = f"sensordatavalues[{index}]"
        if name in values:
            raise DecodeError(
                RejectReason.SCHEMA, f"{where}: duplicate value_type {entry.value_type!r}"
            )
        values[name] = _number(entry.value, f"{where}.value")
    return values


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise DecodeError(
            RejectReason.SCHEMA, f"{where}: expected a numeric string, got {json_type(value)}"
        )
    if not isinstance(value, str):
        return float(value)
    try:
        return _NUMERIC_STRING.validate_python(value)
    except ValidationError:
        raise DecodeError(
            RejectReason.SCHEMA, f"{where}: not a number: {format_value(value)}"
        ) from None


def _reading(values: _AirValues, time: datetime, label: str, ctx: DecodeContext) -> AirReading:
    if all(getattr(values, name) is None for name in AIR_FIELDS):
        raise DecodeError(
            RejectReason.SCHEMA, f"no measurement (expected any of {', '.join(AIR_FIELDS)})"
        )
    check_window(time, time, ctx, label)
    return AirReading(
        station_id=ctx.station_id,
        time=time,
        pm25=values.pm25,
        pm10=values.pm10,
        no2=values.no2,
        temp=values.temp,
        rh=values.rh,
    )
