"""Recorded data for `kuzet replay`: the export format, OpenEEW records and miniSEED, as readings.

Every file becomes an iterator of readings (`collector.models`) in event-time order, and
several files are merged by time without loading them (`heapq.merge`). Which reader applies
is decided by the file name (a trailing `.gz` is opened with gzip):

- `.jsonl`, `.ndjson`, `.json`: one JSON object per line, either an export record (it has
  `feed`, see `collector.export_format`) or an OpenEEW accelerometer record as archived in the
  OpenEEW dataset (`device_id`, `x`, `y`, `z` in gal, `sr`, `device_t`/`cloud_t` = time of the
  *last* sample, `cloud_t` preferred). Both kinds may share a file.
- `.csv`: the export format's CSV.
- `.mseed`, `.miniseed`, `.msd`: miniSEED through ObsPy (optional extra `kuzet[replay]`).

Line formats need not be perfectly sorted: OpenEEW does not guarantee the order inside its
files, so a bounded reorder buffer (`reorder_window` readings) sorts what is locally out of
order; a reading that arrives after later ones were already released is an error.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gzip
import heapq
import importlib
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import IO, Any, Final

import numpy as np
import numpy.typing as npt
import orjson

from collector.export_format import (
    FormatError,
    check_station_id,
    from_csv_row,
    from_export_object,
    parse_time,
    seismic_packet,
)
from collector.models import Reading, SeismicPacket

logger = logging.getLogger(__name__)

JSON_SUFFIXES: Final = frozenset({".jsonl", ".ndjson", ".json"})
CSV_SUFFIXES: Final = frozenset({".csv"})
MSEED_SUFFIXES: Final = frozenset({".mseed", ".miniseed", ".msd"})
# The daemon's largest packet (spec §3).
MAX_PACKET_SAMPLES: Final = 2000
# SEED channel codes end in the orientation: E/2 east (x), N/1 north (y), Z/3 vertical (z).
_ORIENTATION: Final = {"E": 0, "2": 0, "N": 1, "1": 1, "Z": 2, "3": 2}


class ReplayError(Exception):
    """A file that cannot be replayed; the message names the file (and line) and the problem."""


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How recorded files become readings.

    Attributes:
        station_map: source id → station id: OpenEEW `device_id` (or `<country_code>.<id>`),
            miniSEED `NET.STA` or `STA`. Unmapped ids are used as they are.
        gain: miniSEED sensitivity in counts per gal (cm/s²); required for miniSEED, since
            samples in counts cannot be converted otherwise (1 for data already in gal).
        packet_samples: miniSEED samples per published packet (default: one second's worth).
        reorder_window: readings held back to sort locally unordered line files.
    """

    station_map: Mapping[str, str] = field(default_factory=dict)
    gain: float | None = None
    packet_samples: int | None = None
    reorder_window: int = 4096


def merged_readings(paths: Iterable[Path], options: ReadOptions) -> Iterator[Reading]:
    """The readings of all files in one stream, in event-time order (streaming).

    Raises:
        ReplayError: a file is unreadable, malformed or out of order (raised when reached).
    """
    return heapq.merge(*(read_file(path, options) for path in paths), key=_time)


def read_file(path: Path, options: ReadOptions) -> Iterator[Reading]:
    """One file's readings in event-time order.

    Raises:
        ReplayError: as `merged_readings`.
    """
    suffix = _suffix(path)
    if suffix in MSEED_SUFFIXES:
        return read_miniseed(path, options)
    if suffix in JSON_SUFFIXES:
        parse: _Parser = functools.partial(_json_lines, station_map=options.station_map)
    elif suffix in CSV_SUFFIXES:
        parse = _csv_rows
    else:
        raise ReplayError(
            f"{path}: unknown kind of file; expected .jsonl/.ndjson/.json, .csv or "
            ".mseed/.miniseed/.msd (optionally .gz)"
        )
    return in_time_order(_numbered(path, parse), options.reorder_window, str(path))


def _suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


class _LineError(Exception):
    def __init__(self, line: int, problem: FormatError) -> None:
        super().__init__(f"{line}: {problem}")


# A parser yields (line number, reading) and raises _LineError for a bad line.
_Parser = Callable[[IO[str]], Iterator[tuple[int, Reading]]]


def _numbered(path: Path, parse: _Parser) -> Iterator[tuple[int, Reading]]:
    with contextlib.ExitStack() as stack:
        try:
            if path.suffix.lower() == ".gz":
                text = stack.enter_context(gzip.open(path, "rt", encoding="utf-8", newline=""))
            else:
                text = stack.enter_context(path.open(encoding="utf-8", newline=""))
        except OSError as exc:
            raise ReplayError(f"{path}: cannot open: {exc.strerror or exc}") from None
        try:
            yield from parse(text)
        except _LineError as exc:
            raise ReplayError(f"{path}:{exc}") from None
        except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
            raise ReplayError(f"{path}: cannot read: {exc}") from None


def _json_lines(text: IO[str], station_map: Mapping[str, str]) -> Iterator[tuple[int, Reading]]:
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            yield number, _json_record(line, station_map)
        except FormatError as exc:
            raise _LineError(number, exc) from None


def _json_record(line: str, station_map: Mapping[str, str]) -> Reading:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise FormatError(f"not JSON: {exc}") from None
    if not isinstance(record, dict):
        raise FormatError("not a JSON object")
    if "feed" in record:
        return from_export_object(record)
    if "device_id" in record:
        return from_openeew(record, station_map)
    raise FormatError("neither an export record (feed) nor an OpenEEW record (device_id)")


def _csv_rows(text: IO[str]) -> Iterator[tuple[int, Reading]]:
    reader = csv.DictReader(text)
    missing = {"feed", "station_id", "ts"} - set(reader.fieldnames or ())
    if missing:
        raise _LineError(1, FormatError(f"CSV header lacks {', '.join(sorted(missing))}"))
    for row in reader:
        try:
            yield reader.line_num, from_csv_row(row)
        except FormatError as exc:
            raise _LineError(reader.line_num, exc) from None


def from_openeew(record: Mapping[str, Any], station_map: Mapping[str, str]) -> SeismicPacket:
    """A packet from one OpenEEW record; the first sample is at t − (n − 1)/sr.

    `t` is `cloud_t` when present, else `device_t` (the OpenEEW dataset recommends `cloud_t`:
    device clocks drift). Samples are top-level `x`, `y`, `z` or in `traces`.

    Raises:
        FormatError: a missing or malformed field.
    """
    device = record.get("device_id")
    if not isinstance(device, str | int) or isinstance(device, bool):
        raise FormatError(f"device_id: expected a string, got {device!r}")
    country = record.get("country_code")
    keys = [f"{country}.{device}", str(device)] if isinstance(country, str) else [str(device)]
    station_id = check_station_id(
        next((station_map[k] for k in keys if k in station_map), keys[-1])
    )
    sr = record.get("sr")
    if isinstance(sr, bool) or not isinstance(sr, int | float) or not sr > 0:
        raise FormatError(f"sr: expected a positive number, got {sr!r}")
    traces = record.get("traces")
    source = traces if isinstance(traces, dict) else record
    arrays = [_openeew_samples(source.get(name), name) for name in ("x", "y", "z")]
    label = "cloud_t" if record.get("cloud_t") is not None else "device_t"
    last = parse_time(record.get(label), "cloud_t/device_t" if label == "device_t" else label)
    first = last - timedelta(seconds=(len(arrays[0]) - 1) / float(sr))
    return seismic_packet(station_id, first, float(sr), arrays)


def _openeew_samples(value: object, label: str) -> npt.NDArray[np.float64]:
    if not isinstance(value, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    ):
        raise FormatError(f"{label}: expected an array of numbers")
    return np.array(value, dtype=np.float64)


def in_time_order(
    numbered: Iterable[tuple[int, Reading]], window: int, name: str
) -> Iterator[Reading]:
    """Sort a nearly ordered stream with a buffer of `window` readings.

    Raises:
        ReplayError: a reading is older than one already released (the file is out of order
            by more than the window).
    """
    heap: list[tuple[datetime, int, Reading]] = []
    released: datetime | None = None
    for seq, (line, reading) in enumerate(numbered):
        if released is not None and reading.time < released:
            raise ReplayError(
                f"{name}:{line}: {reading.time.isoformat()} comes after {released.isoformat()}, "
                f"further out of time order than {window} readings: sort the file first"
            )
        heapq.heappush(heap, (reading.time, seq, reading))
        if len(heap) > window:
            released, _, first = heapq.heappop(heap)
            yield first
    while heap:
        yield heapq.heappop(heap)[2]


def _time(reading: Reading) -> datetime:
    return reading.time


def import_obspy() -> ModuleType:
    """ObsPy, or a ReplayError saying how to install it (it is an optional extra)."""
    try:
        return importlib.import_module("obspy")
    except ImportError:
        raise ReplayError(
            "miniSEED needs ObsPy, an optional extra: pip install 'kuzet[replay]'"
        ) from None


def read_miniseed(path: Path, options: ReadOptions) -> Iterator[SeismicPacket]:
    """Three-component packets from a miniSEED file, converted from counts with `gain`.

    Channels are grouped by network, station, location and band/instrument code, and their
    orientation letter picks the component (E/2 → x, N/1 → y, Z/3 → z); the three traces are
    cut to their common time span and split into packets of `packet_samples`. Packets that
    fall into a gap of the recording are left out.

    Raises:
        ReplayError: no gain, ObsPy missing, an unreadable file, incomplete or ambiguous
            channel sets.
    """
    if options.gain is None or not options.gain > 0:
        raise ReplayError(
            f"{path}: miniSEED samples are raw counts; give --gain COUNTS_PER_GAL (the "
            "sensitivity in counts per cm/s², or 1 for data already in gal) to convert them"
        )
    obspy = import_obspy()
    try:
        stream = obspy.read(str(path), format="MSEED")
        # One trace per channel; gaps become masked samples.
        stream.merge(method=1, fill_value=None)
    except Exception as exc:  # noqa: BLE001 - ObsPy raises anything from its C readers
        raise ReplayError(f"{path}: not readable as miniSEED: {exc}") from None
    groups: dict[tuple[str, str, str, str], dict[int, Any]] = {}
    for trace in stream:
        stats = trace.stats
        component = _ORIENTATION.get(stats.channel[-1:].upper())
        if component is None:
            logger.info("%s: channel %s skipped (not E/N/Z/1/2/3)", path, trace.id)
            continue
        key = (stats.network, stats.station, stats.location, stats.channel[:-1])
        groups.setdefault(key, {})[component] = trace
    stations: dict[str, tuple[str, ...]] = {}
    packets = []
    for key, traces in sorted(groups.items()):
        where = f"{path}: {'.'.join(key)}?"
        if len(traces) != len(_ORIENTATION) // 2:
            raise ReplayError(f"{where}: needs three components (E/N/Z), has {len(traces)}")
        network, station = key[0], key[1]
        mapped = options.station_map.get(f"{network}.{station}") or options.station_map.get(
            station, station
        )
        station_id = _mapped_id(mapped, where)
        if station_id in stations:
            raise ReplayError(
                f"{where}: station {station_id} also has channels {'.'.join(stations[station_id])}"
                "?; keep one channel set per station in the file"
            )
        stations[station_id] = key
        packets.append(_packets(station_id, [traces[i] for i in range(3)], options, where))
    return heapq.merge(*packets, key=_time)


def _mapped_id(value: str, where: str) -> str:
    try:
        return check_station_id(value)
    except FormatError as exc:
        raise ReplayError(f"{where}: {exc} (map it with --station-map)") from None


def _packets(
    station_id: str, traces: list[Any], options: ReadOptions, where: str
) -> Iterator[SeismicPacket]:
    rates = {float(t.stats.sampling_rate) for t in traces}
    if len(rates) != 1:
        raise ReplayError(f"{where}: components have different sampling rates {sorted(rates)}")
    sr = rates.pop()
    start = max(t.stats.starttime for t in traces)
    offsets = [round((start - t.stats.starttime) * sr) for t in traces]
    n = min(len(t.data) - k for t, k in zip(traces, offsets, strict=True))
    if n <= 0:
        raise ReplayError(f"{where}: the three components do not overlap in time")
    counts = np.ma.array(
        [np.ma.asarray(t.data)[k : k + n] for t, k in zip(traces, offsets, strict=True)],
        dtype=np.float64,
    )
    gap = np.asarray(np.ma.getmaskarray(counts).any(axis=0), dtype=np.bool_)
    gal = np.asarray(counts.filled(0.0), dtype=np.float64) / float(options.gain or 1.0)
    size = max(1, min(options.packet_samples or round(sr), MAX_PACKET_SAMPLES))
    first = start.datetime.replace(tzinfo=UTC)
    return _split(station_id, first, sr, gal, gap=gap, size=size)


def _split(
    station_id: str,
    first: datetime,
    sr: float,
    gal: npt.NDArray[np.float64],
    *,
    gap: npt.NDArray[np.bool_],
    size: int,
) -> Iterator[SeismicPacket]:
    for j in range(0, gal.shape[1], size):
        if gap[j : j + size].any():
            continue
        chunk = gal[:, j : j + size]
        time = first + timedelta(seconds=j / sr)
        yield seismic_packet(station_id, time, sr, [chunk[0], chunk[1], chunk[2]])
