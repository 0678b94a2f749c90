"""Shared decoder machinery: context, JSON loading, batches, timestamps and error mapping."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Annotated, Any, Final, Protocol, TypeAlias, TypeVar

import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict, PlainValidator, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from collector.durations import format_duration
from collector.models import Decoded, Reading, Rejection, RejectReason

# Deepest accepted [ / { nesting. Our payloads need 4 levels; the limit exists because orjson
# before 3.9.15 recurses without bound and segfaults the process on ~100k levels, which fit in a
# 256 KiB message (CVE-2024-27454, https://github.com/ijl/orjson/issues/458). It also keeps every
# batch item within the nesting orjson.dumps can serialise (~255) for `Rejection.payload`.
MAX_NESTING: Final = 64

# Everything in a message except the bytes that decide nesting: quotes, backslashes, brackets.
_NOT_STRUCTURE: Final = bytes(b for b in range(256) if b not in b'"\\[]{}')
_JSON_STRING: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPEN: Final = np.frombuffer(b"[{", dtype=np.uint8)
_CLOSE: Final = np.frombuffer(b"]}", dtype=np.uint8)
_CONTAINERS: Final = frozenset({list, dict})

# RFC 3339 `date-time` (section 5.6): seconds required, offset optional here only so that its
# absence can be reported precisely. ASCII digits only: `\d` would also accept other scripts.
_RFC3339: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ZERO_DIGITS: Final = bytes.maketrans(b"0123456789", b"0" * 10)
_CANONICAL: Final = b"0000-00-00T00:00:00Z"
_CANONICAL_LEN: Final = len(_CANONICAL)

_RANGE_ERRORS: Final = frozenset(
    {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}
)
# Which reason names an item that fails several ways: its shape first, then its values, then time.
_PRECEDENCE: Final = (RejectReason.SCHEMA, RejectReason.OUT_OF_RANGE, RejectReason.BAD_TIMESTAMP)
_EXPECTED: Final = {
    "float_type": "a number",
    "int_type": "an integer",
    "string_type": "a string",
    "list_type": "an array",
    "model_type": "an object",
    "dict_type": "an object",
}

# Every decoder model: JSON types exactly (no bool-as-number, no numeric strings) and unknown keys
# ignored, since sensors add diagnostics (rssi, firmware, battery) that are not ours to refuse.
MODEL_CONFIG: Final = ConfigDict(strict=True, extra="ignore", frozen=True)

_Model = TypeVar("_Model", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class DecodeContext:
    """What a decoder needs besides the payload: the sender, the receive time, the time window.

    Attributes:
        station_id: station from the topic, copied into every reading.
        received_at: when the message arrived (timezone-aware); the reference of the window
            and the time of Sensor.Community readings that carry none.
        max_age: oldest accepted reading, relative to `received_at` (`KUZET_MAX_AGE`).
        max_future: furthest accepted reading ahead of `received_at` (sensor clock skew).
        max_batch: most items in one batch; a longer batch is refused whole as `too_large`.
            Real batches stay far below (a day of 1-minute readings is 1440 items, and 256 KiB
            hold at most ~9000 minimal readings); the cap stops 256 KiB of `[1,1,1,…]` from
            costing a second of CPU and 100k rejection rows.
    """

    station_id: str
    received_at: datetime
    max_age: timedelta
    max_future: timedelta = timedelta(minutes=5)
    max_batch: int = 10_000

    def __post_init__(self) -> None:
        if self.received_at.utcoffset() is None:
            raise ValueError("DecodeContext.received_at must be timezone-aware")

    @property
    def earliest(self) -> datetime:
        """Oldest accepted reading time (inclusive)."""
        return self.received_at - self.max_age

    @property
    def latest(self) -> datetime:
        """Newest accepted reading time (inclusive)."""
        return self.received_at + self.max_future


class Decoder(Protocol):
    """A feed decoder: pure, and never raises on bad input (bad input becomes a `Rejection`)."""

    def __call__(self, payload: bytes, ctx: DecodeContext) -> Decoded:
        """Decode one MQTT payload received as `ctx` describes."""
        ...


class DecodeError(Exception):
    """One message or batch item refused; item decoders raise it, `decode_message` records it."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


ItemDecoder: TypeAlias = Callable[[dict[str, Any], DecodeContext], Reading]


def decode_message(payload: bytes, ctx: DecodeContext, decode_item: ItemDecoder) -> Decoded:
    """Load a message and decode its object, or each object of its batch, with `decode_item`.

    Whole-message failures (bad JSON, a scalar, an empty or overlong batch, a single refused
    object) keep the raw bytes; a refused batch item keeps its own JSON, and the other items
    are still decoded.

    Args:
        payload: the MQTT payload as received.
        ctx: receive context.
        decode_item: turns one JSON object into a reading or raises `DecodeError`.

    Returns:
        The readings in message order and one rejection per refused message or item.
    """
    try:
        document = _object_or_batch(load_json(payload))
        if isinstance(document, dict):
            return Decoded(readings=(decode_item(document, ctx),))
        _check_batch_size(document, ctx)
    except DecodeError as exc:
        return Decoded(rejections=(Rejection(exc.reason, exc.detail, bytes(payload)),))

    readings: list[Reading] = []
    rejections: list[Rejection] = []
    for index, item in enumerate(document):
        try:
            readings.append(decode_item(_batch_item(item), ctx))
        except DecodeError as exc:
            detail = f"item {index}: {exc.detail}"
            rejections.append(Rejection(exc.reason, detail, orjson.dumps(item)))
    return Decoded(readings=tuple(readings), rejections=tuple(rejections))


def _object_or_batch(document: object) -> dict[str, Any] | list[Any]:
    if isinstance(document, dict):
        return document
    if not isinstance(document, list):
        raise DecodeError(
            RejectReason.SCHEMA,
            f"expected an object or an array of objects, got {json_type(document)}",
        )
    if not document:
        raise DecodeError(RejectReason.SCHEMA, "empty batch")
    return document


def _check_batch_size(batch: list[Any], ctx: DecodeContext) -> None:
    if len(batch) > ctx.max_batch:
        raise DecodeError(
            RejectReason.TOO_LARGE, f"batch of {len(batch)} items (at most {ctx.max_batch})"
        )


def _batch_item(item: object) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise DecodeError(RejectReason.SCHEMA, f"expected an object, got {json_type(item)}")
    return item


def load_json(payload: bytes) -> Any:
    """Parse a payload with orjson: UTF-8 JSON only, no NaN/Infinity, at most `MAX_NESTING` deep.

    Raises:
        DecodeError: `invalid_json` for anything orjson refuses or that is nested too deeply.
    """
    # A message with few brackets cannot be deep: count exactly only when it might be.
    opening = payload.count(b"[") + payload.count(b"{")
    if opening > MAX_NESTING:
        # orjson (>= 3.11.6, pinned) stops at 1024 levels instead of crashing, so parsing
        # first is safe. A parsed batch of flat objects is shown shallow in ~0.2 µs per item
        # where scanning its bytes cost 1.5 µs; for valid JSON the scan is exact, so the
        # verdict is the same, and anything else takes the scan as before.
        try:
            document = orjson.loads(payload)
        except orjson.JSONDecodeError:
            parsed = False
        else:
            if _at_most_two_deep(document):
                return document
            parsed = True
        if nesting_depth(payload) > MAX_NESTING:
            raise DecodeError(RejectReason.INVALID_JSON, f"nested deeper than {MAX_NESTING} levels")
        if parsed:
            return document
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        # orjson's messages name a position, never the input ("unexpected character: line 1 ...").
        raise DecodeError(RejectReason.INVALID_JSON, str(exc)) from None


def _at_most_two_deep(document: object) -> bool:
    """True when a parsed document is provably at most two levels deep (False: not shown)."""
    if type(document) is dict:
        return _CONTAINERS.isdisjoint(map(type, document.values()))
    if type(document) is not list:
        return True
    kinds = set(map(type, document))
    if _CONTAINERS.isdisjoint(kinds):
        return True
    # The batch case: objects only, none holding an array or object.
    return kinds == {dict} and _CONTAINERS.isdisjoint(
        map(type, chain.from_iterable(map(dict.values, document)))
    )


def nesting_depth(payload: bytes) -> int:
    """Deepest [ / { nesting outside JSON strings (exact for valid JSON, an upper bound otherwise).

    Works on the structural bytes only (about 0.6 ms for a 200 KB batch of small objects).
    """
    skeleton = bytes(payload).translate(None, _NOT_STRUCTURE)
    if b"\\" in skeleton:
        # Escaped quotes would flip the string parity below: drop whole strings first.
        skeleton = _JSON_STRING.sub(b"", skeleton)
    codes = np.frombuffer(skeleton, dtype=np.uint8)
    outside = (np.cumsum(codes == ord('"'), dtype=np.int64) & 1) == 0
    step = np.isin(codes, _OPEN).astype(np.int64) - np.isin(codes, _CLOSE)
    return int(np.cumsum(step * outside).max(initial=0))


def json_type(value: object) -> str:
    """Name the JSON type of a parsed value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def parse_timestamp(value: object, *, naive_is_utc: bool = False) -> datetime:
    """Turn an RFC 3339 string or Unix seconds into a UTC datetime of microsecond precision.

    Fractions finer than a microsecond are truncated (strings) or rounded half-even (numbers),
    so the same input always gives the same datetime, which deduplication relies on.

    Args:
        value: the JSON value.
        naive_is_utc: read a string without offset as UTC (Sensor.Community `timestamp`)
            instead of refusing it.

    Raises:
        PydanticCustomError: `timestamp_type` for a value of the wrong JSON type,
            `bad_timestamp` for an unparsable, offset-less or out-of-range time.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PydanticCustomError(
            "timestamp_type",
            "expected an RFC 3339 string or Unix seconds, got {json_type}",
            {"json_type": json_type(value)},
        )
    if isinstance(value, str):
        return _parse_rfc3339(value, naive_is_utc=naive_is_utc)
    try:
        return _EPOCH + timedelta(seconds=value)
    except (OverflowError, ValueError):
        raise PydanticCustomError(
            "bad_timestamp", "Unix seconds out of range: {value}", {"value": format_value(value)}
        ) from None


def _parse_rfc3339(text: str, *, naive_is_utc: bool) -> datetime:
    # The form sensors send, "2026-01-10T03:00:00Z", checked by one byte translation instead
    # of the regex (a third of the cost per batch item); anything else takes the full path.
    if (
        len(text) == _CANONICAL_LEN
        and text.isascii()
        and text.encode().translate(_ZERO_DIGITS) == _CANONICAL
    ):
        try:
            return datetime.fromisoformat(text)  # "Z": already UTC
        except ValueError:
            pass  # an impossible date: worded below
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise PydanticCustomError(
            "bad_timestamp", "not an RFC 3339 date-time: {value}", {"value": format_value(text)}
        )
    # fromisoformat (3.11) wants the upper-case T/Z that RFC 3339 also allows in lower case.
    normalised = text.upper()
    if match["offset"] is None:
        if not naive_is_utc:
            raise PydanticCustomError(
                "bad_timestamp",
                "no UTC offset in {value} (add Z or ±hh:mm)",
                {"value": format_value(text)},
            )
        normalised += "Z"
    try:
        return datetime.fromisoformat(normalised).astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise PydanticCustomError(
            "bad_timestamp",
            "impossible date-time {value}: {why}",
            {"value": format_value(text), "why": str(exc)},
        ) from None


def _strict_timestamp(value: object) -> datetime:
    return parse_timestamp(value)


def _utc_default_timestamp(value: object) -> datetime:
    return parse_timestamp(value, naive_is_utc=True)


# Model field types: `ts` as the contract defines it, and a variant for the Sensor.Community API's
# own `timestamp`, which that API documents as UTC without an offset ("2024-01-10 08:00:00").
Timestamp: TypeAlias = Annotated[datetime, PlainValidator(_strict_timestamp)]
UtcDefaultTimestamp: TypeAlias = Annotated[datetime, PlainValidator(_utc_default_timestamp)]


def check_window(first: datetime, last: datetime, ctx: DecodeContext, label: str) -> None:
    """Refuse a reading (or packet spanning first..last) outside the accepted time window.

    Both limits are inclusive: exactly `max_age` old or exactly `max_future` ahead is accepted.

    Raises:
        DecodeError: `bad_timestamp`.
    """
    if first < ctx.earliest:
        raise DecodeError(
            RejectReason.BAD_TIMESTAMP,
            f"{label} {first.isoformat()} is older than max_age {format_duration(ctx.max_age)}",
        )
    if last > ctx.latest:
        raise DecodeError(
            RejectReason.BAD_TIMESTAMP,
            f"{label} {last.isoformat()} is more than {format_duration(ctx.max_future)}"
            f" ahead of the receive time {ctx.received_at.isoformat()}",
        )


def validate(model: type[_Model], data: dict[str, Any]) -> _Model:
    """Validate `data` with a decoder model, translating the failure into one `DecodeError`.

    Raises:
        DecodeError: `schema`, `out_of_range` or `bad_timestamp`, whichever comes first in
            that order among the model's errors; the detail names the field and the problem.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        worst = min(errors, key=lambda error: _PRECEDENCE.index(_reason(error["type"])))
        raise DecodeError(_reason(worst["type"]), _describe(worst)) from None


def _reason(error_type: str) -> RejectReason:
    if error_type in _RANGE_ERRORS:
        return RejectReason.OUT_OF_RANGE
    if error_type == "bad_timestamp":
        return RejectReason.BAD_TIMESTAMP
    return RejectReason.SCHEMA


def _describe(error: ErrorDetails) -> str:
    where = format_location(error["loc"])
    kind, value, ctx = error["type"], error["input"], error.get("ctx", {})
    if kind in ("less_than_equal", "less_than"):
        limit = ctx.get("le", ctx.get("lt"))
        return f"{where}: {format_value(value)} > {format_value(limit)}"
    if kind in ("greater_than_equal", "greater_than"):
        limit = ctx.get("ge", ctx.get("gt"))
        return f"{where}: {format_value(value)} < {format_value(limit)}"
    if kind == "missing":
        return f"{where}: missing"
    if kind in _EXPECTED:
        return f"{where}: expected {_EXPECTED[kind]}, got {json_type(value)}"
    return f"{where}: {error['msg']}"


def format_location(loc: tuple[int | str, ...]) -> str:
    """Render a validation location as a JSON path: `traces.x[3]`, `sensordatavalues[0].value`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "message"


def format_value(value: object, limit: int = 40) -> str:
    """Render an input value for a message: numbers compactly, anything else clipped."""
    if isinstance(value, float):
        text = repr(value)
        return text.removesuffix(".0")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"
