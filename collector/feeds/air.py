"""Air-quality decoder: the native object and the Sensor.Community `sensordatavalues` form."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final

from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

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
    parse_timestamp,
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


# The native fields and their ranges, as `_AirValues` declares them (a test checks they agree):
# the fast path below accepts exactly what the model accepts, and hands everything else to it.
_NATIVE_RANGES: Final = tuple(
    (name, float(lo), float(hi))
    for name, lo, hi in (
        ("pm25", 0, 2000),
        ("pm10", 0, 2000),
        ("no2", 0, 5000),
        ("temp", -60, 60),
        ("rh", 0, 100),
    )
)


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
        fast = _native_fast(item)
        if fast is not None:
            return _reading(fast[1], fast[0], "ts", ctx)
        native = validate(_AirNative, item)
        return _reading(_model_values(native), native.ts, "ts", ctx)
    mixed = [name for name in AIR_FIELDS if name in item]
    if mixed:
        # Two sources for one value: refuse rather than silently pick one.
        raise DecodeError(
            RejectReason.SCHEMA, f"sensordatavalues together with native field {mixed[0]}"
        )
    message = validate(_SensorCommunity, item)
    values = _model_values(validate(_AirValues, _sensor_community_values(message)))
    if message.ts is not None:
        return _reading(values, message.ts, "ts", ctx)
    if message.timestamp is not None:
        return _reading(values, message.timestamp, "timestamp", ctx)
    return _reading(values, ctx.received_at.astimezone(UTC), "receive time", ctx)


def _native_fast(item: dict[str, Any]) -> tuple[datetime, tuple[float | None, ...]] | None:
    """A valid native object's time and values without a pydantic model, else None.

    A pydantic model per batch item was a fifth of the batch path's CPU. This accepts only
    what `_AirNative` accepts (strict JSON numbers in range, `ts` as `parse_timestamp` reads
    it) and gives the same values (an integer becomes its float); None means "let the model
    decide", so every refusal, its reason and its wording still come from the model.
    """
    ts = item.get("ts")
    if type(ts) is not str:
        return None
    values: list[float | None] = []
    for name, lo, hi in _NATIVE_RANGES:
        value = item.get(name)
        if value is None:
            values.append(None)
            continue
        kind = type(value)
        # bool is a subclass of int that strict mode refuses: compare exact types.
        if kind is not float and kind is not int:
            return None
        if not lo <= value <= hi:
            return None
        values.append(float(value))
    try:
        time = parse_timestamp(ts)
    except PydanticCustomError:
        return None
    return time, tuple(values)


def _model_values(values: _AirValues) -> tuple[float | None, ...]:
    return tuple(getattr(values, name) for name, _, _ in _NATIVE_RANGES)


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


def _reading(
    values: tuple[float | None, ...], time: datetime, label: str, ctx: DecodeContext
) -> AirReading:
    """The reading of `values` (`_NATIVE_RANGES` order) if it has one and fits the window."""
    if values.count(None) == len(values):
        raise DecodeError(
            RejectReason.SCHEMA, f"no measurement (expected any of {', '.join(AIR_FIELDS)})"
        )
    check_window(time, time, ctx, label)
    pm25, pm10, no2, temp, rh = values
    return AirReading(
        station_id=ctx.station_id, time=time, pm25=pm25, pm10=pm10, no2=no2, temp=temp, rh=rh
    )
