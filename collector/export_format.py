"""The daemon's export format: stored readings as JSONL objects or CSV rows, and back.

JSONL, one object per line: `{"feed": "air", "station_id": "AIR-01", "ts": "<RFC 3339>",
"pm25": 12.3, …}` with the feed's measurement fields (absent ones left out); seismic lines carry
`sr` and the sample arrays `x`, `y`, `z` (gal, first sample at `ts`). Without `feed` and
`station_id` the same object is the native MQTT payload of spec §3, which is what
`kuzet replay` publishes.

CSV: one file for every feed, with a `feed` column and the fixed header `CSV_COLUMNS`; a
measurement a feed does not have, or did not report, is an empty cell, and the seismic arrays
are JSON arrays in their cells. Numbers are written in their shortest round-trip form (float32
for samples, as stored), so export → replay → export gives identical values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import orjson
from pydantic_core import PydanticCustomError

from collector.feeds.common import parse_timestamp
from collector.models import (
    AIR_FIELDS,
    LAKE_FIELDS,
    AirReading,
    Feed,
    LakeReading,
    Reading,
    SeismicPacket,
)
from collector.stations import STATION_ID

SEISMIC_FIELDS: Final = ("sr", "x", "y", "z")
CSV_COLUMNS: Final = ("feed", "station_id", "ts", *AIR_FIELDS, *LAKE_FIELDS, *SEISMIC_FIELDS)
_COMPONENTS: Final = ("x", "y", "z")
# Numpy arrays serialise as lists, float32 in float32's shortest form ("0.1", not "0.100000001").
_DUMPS_OPTIONS: Final = orjson.OPT_SERIALIZE_NUMPY


class FormatError(ValueError):
    """A record that is not in the export format; the message names what is wrong."""


def format_ts(moment: datetime) -> str:
    """RFC 3339 in UTC with `Z`, fractions only as fine as needed (s, ms or µs)."""
    utc = moment.astimezone(UTC)
    micro = utc.microsecond
    spec = "seconds" if micro == 0 else "milliseconds" if micro % 1000 == 0 else "microseconds"
    return utc.isoformat(timespec=spec).replace("+00:00", "Z")


def reading_fields(reading: Reading) -> dict[str, Any]:
    """`ts` and the measurements of a reading: the native MQTT payload of its feed."""
    fields: dict[str, Any] = {"ts": format_ts(reading.time)}
    if isinstance(reading, SeismicPacket):
        fields.update(sr=reading.sr, x=reading.x, y=reading.y, z=reading.z)
        return fields
    names = AIR_FIELDS if isinstance(reading, AirReading) else LAKE_FIELDS
    for name in names:
        value = getattr(reading, name)
        if value is not None:
            fields[name] = value
    return fields


def native_payload(reading: Reading) -> bytes:
    """The MQTT message for `<prefix>/<feed>/<station_id>` (spec §3, native form)."""
    return orjson.dumps(reading_fields(reading), option=_DUMPS_OPTIONS)


def to_json_line(reading: Reading) -> bytes:
    """One JSONL line (with its newline)."""
    record = {"feed": reading.feed.value, "station_id": reading.station_id}
    record.update(reading_fields(reading))
    return orjson.dumps(record, option=_DUMPS_OPTIONS | orjson.OPT_APPEND_NEWLINE)


def to_csv_row(reading: Reading) -> list[str]:
    """One CSV row in `CSV_COLUMNS` order (empty cells for what the reading lacks)."""
    cells = dict.fromkeys(CSV_COLUMNS, "")
    for name, value in reading_fields(reading).items():
        if isinstance(value, np.ndarray):
            cells[name] = orjson.dumps(value, option=_DUMPS_OPTIONS).decode()
        elif isinstance(value, float):
            cells[name] = repr(value)
        else:
            cells[name] = str(value)
    cells["feed"] = reading.feed.value
    cells["station_id"] = reading.station_id
    return [cells[name] for name in CSV_COLUMNS]


def from_export_object(record: Mapping[str, Any]) -> Reading:
    """A reading from one export-format JSON object (unknown keys are ignored).

    Raises:
        FormatError: a missing or malformed `feed`, `station_id`, `ts` or measurement.
    """
    feed = _feed(record.get("feed"))
    station_id = check_station_id(record.get("station_id"))
    time = parse_time(record.get("ts"), "ts")
    if feed is Feed.SEISMIC:
        sr = _number(record.get("sr"), "sr")
        if sr is None:
            raise FormatError("sr: missing")
        arrays = [_samples(record.get(name), name) for name in _COMPONENTS]
        return seismic_packet(station_id, time, sr, arrays)
    names = AIR_FIELDS if feed is Feed.AIR else LAKE_FIELDS
    values = {name: _number(record.get(name), name) for name in names}
    if all(value is None for value in values.values()):
        raise FormatError(f"no measurement (one of {', '.join(names)})")
    if feed is Feed.AIR:
        return AirReading(station_id=station_id, time=time, **values)
    return LakeReading(station_id=station_id, time=time, **values)


def from_csv_row(row: Mapping[str, str | None]) -> Reading:
    """A reading from one CSV row read with `csv.DictReader` (empty cells are absent).

    Raises:
        FormatError: as `from_export_object`, or a cell that is not a number (array).
    """
    record: dict[str, Any] = {}
    for name, cell in row.items():
        if name is None or cell is None or cell.strip() == "":
            continue
        text = cell.strip()
        if name in ("feed", "station_id", "ts"):
            record[name] = text
        elif name in _COMPONENTS:
            try:
                record[name] = orjson.loads(text)
            except orjson.JSONDecodeError:
                raise FormatError(f"{name}: not a JSON array") from None
        elif name in CSV_COLUMNS:
            try:
                record[name] = float(text)
            except ValueError:
                raise FormatError(f"{name}: not a number: {text[:40]!r}") from None
    return from_export_object(record)


def seismic_packet(
    station_id: str, time: datetime, sr: float, arrays: list[npt.NDArray[np.float64]]
) -> SeismicPacket:
    """A packet from three equal-length sample arrays (stored as read-only float32).

    Raises:
        FormatError: unequal lengths or an empty array.
    """
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1 or 0 in lengths:
        sizes = ", ".join(f"{n}={len(a)}" for n, a in zip(_COMPONENTS, arrays, strict=True))
        raise FormatError(f"x, y, z must be non-empty and of equal length ({sizes})")
    stored = np.array(arrays, dtype=np.float32)
    stored.flags.writeable = False
    return SeismicPacket(
        station_id=station_id, time=time, sr=sr, x=stored[0], y=stored[1], z=stored[2]
    )


def check_station_id(value: object) -> str:
    """A station id usable as a topic level (`[A-Za-z0-9_.-]{1,64}`, spec §3).

    Raises:
        FormatError: missing or not a valid id.
    """
    if not isinstance(value, str) or STATION_ID.fullmatch(value) is None:
        raise FormatError(f"station_id: not a valid station id: {value!r}")
    return value


def parse_time(value: object, label: str) -> datetime:
    """RFC 3339 with an offset, or Unix seconds, as an aware UTC datetime (the daemon's rules).

    Raises:
        FormatError: missing or unparsable.
    """
    if value is None:
        raise FormatError(f"{label}: missing")
    try:
        return parse_timestamp(value)
    except PydanticCustomError as exc:
        raise FormatError(f"{label}: {exc.message()}") from None


def _feed(value: object) -> Feed:
    for feed in Feed:
        if value == feed.value:
            return feed
    choices = ", ".join(f.value for f in Feed)
    raise FormatError(f"feed: expected one of {choices}, got {value!r}")


def _number(value: object, label: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FormatError(f"{label}: not a number: {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise FormatError(f"{label}: not a finite number")
    return number


def _samples(value: object, label: str) -> npt.NDArray[np.float64]:
    # Checked item by item: numpy would quietly turn "1.5" or true into a number.
    if not isinstance(value, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    ):
        raise FormatError(f"{label}: expected an array of numbers")
    array = np.array(value, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise FormatError(f"{label}: expected an array of finite numbers")
    return array
