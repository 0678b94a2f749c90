"""The export format (JSONL, CSV) and OpenEEW records: bytes in, readings out, and back."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from collector.export import write_csv, write_jsonl
from collector.export_format import (
    CSV_COLUMNS,
    FormatError,
    format_ts,
    from_csv_row,
    from_export_object,
    native_payload,
    to_json_line,
)
from collector.feeds import DECODERS, DecodeContext
from collector.models import AirReading, Feed, Reading, SeismicPacket
from collector.replay_files import ReadOptions, ReplayError, from_openeew, read_file
from tests.unit.replay._support import DATA, SAMPLE, key, utc


@pytest.mark.parametrize(
    "name",
    [
        # The daemon's JSONL export: one object per line, all three feeds, an offset other than Z.
        "export_sample.jsonl",
        # The same readings as CSV with a feed column and JSON-array cells for the samples.
        "export_sample.csv",
    ],
)
def test_export_files_parse_to_the_same_readings(name: str) -> None:
    readings = list(read_file(DATA / name, ReadOptions()))
    assert [key(r) for r in readings] == [key(r) for r in SAMPLE]


@pytest.mark.parametrize("writer", [write_jsonl, write_csv])
def test_written_export_reads_back_identically(writer: Any, tmp_path: Path) -> None:
    # export → file → replay reader is lossless, float32 samples included.
    suffix = ".csv" if writer is write_csv else ".jsonl"
    path = tmp_path / f"out{suffix}"
    with path.open("wb") as out:
        counts = writer(SAMPLE, out)
    assert counts == {Feed.AIR: 2, Feed.LAKE: 2, Feed.SEISMIC: 1}
    assert [key(r) for r in read_file(path, ReadOptions())] == [key(r) for r in SAMPLE]


def test_csv_has_the_fixed_header_and_a_feed_column() -> None:
    # One CSV for all feeds: the header is CSV_COLUMNS, cells a feed lacks are empty.
    out = io.BytesIO()
    write_csv(SAMPLE[:2], out)
    rows = list(csv.reader(io.StringIO(out.getvalue().decode())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[1][:3] == ["lake", "GAUGE-01", "2026-01-10T03:05:00Z"]
    assert rows[1][CSV_COLUMNS.index("pm25")] == ""
    assert rows[2][CSV_COLUMNS.index("pm25")] == "41.2"


@pytest.mark.parametrize(
    ("reading", "line"),
    [
        # Absent measurements are left out, not written as null.
        (
            AirReading("AIR-02", utc("2026-01-10T08:01:00+00:00"), pm25=12.0),
            b'{"feed":"air","station_id":"AIR-02","ts":"2026-01-10T08:01:00Z","pm25":12.0}\n',
        ),
        # Samples in float32's shortest form (0.1, not 0.10000000149011612); ms kept as ms.
        (
            SAMPLE[3],
            (
                b'{"feed":"seismic","station_id":"SEIS-01","ts":"2026-01-10T08:00:00.250Z",'
                b'"sr":100.0,"x":[0.1,-0.2,0.3],"y":[1.5,1.25,-1.0],"z":[980.0,979.5,980.25]}\n'
            ),
        ),
    ],
)
def test_json_line(reading: Reading, line: bytes) -> None:
    assert to_json_line(reading) == line


@pytest.mark.parametrize(
    ("microseconds", "text"),
    [
        # Whole seconds: no fraction.
        (0, "2026-01-10T08:00:00Z"),
        # Milliseconds when they suffice.
        (250_000, "2026-01-10T08:00:00.250Z"),
        # Microseconds otherwise: the stored precision, so export → replay keeps the same key.
        (250_001, "2026-01-10T08:00:00.250001Z"),
    ],
)
def test_format_ts(microseconds: int, text: str) -> None:
    assert (
        format_ts(utc("2026-01-10T13:00:00+05:00") + timedelta(microseconds=microseconds)) == text
    )


@pytest.mark.parametrize("reading", SAMPLE)
def test_native_payload_decodes_to_the_same_reading(reading: Reading) -> None:
    # What replay publishes is what the daemon's own decoder turns back into the stored reading.
    ctx = DecodeContext(
        station_id=reading.station_id, received_at=reading.time, max_age=timedelta(days=1)
    )
    decoded = DECODERS[reading.feed](native_payload(reading), ctx)
    assert decoded.rejections == ()
    assert [key(r) for r in decoded.readings] == [key(reading)]


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        # The feed decides the fields: an unknown one is refused.
        ({"feed": "water", "station_id": "A", "ts": "2026-01-10T08:00:00Z"}, "feed"),
        # Station ids become topic levels: no slash, no wildcard.
        ({"feed": "air", "station_id": "A/1", "ts": "2026-01-10T08:00:00Z", "pm25": 1}, "station"),
        # A trailing newline passes a `$`-anchored pattern; a topic level must not hold one.
        ({"feed": "air", "station_id": "A\n", "ts": "2026-01-10T08:00:00Z", "pm25": 1}, "station"),
        # The daemon refuses offset-less times; replay says so before publishing.
        ({"feed": "air", "station_id": "A", "ts": "2026-01-10T08:00:00", "pm25": 1}, "offset"),
        # A reading without any measurement would be refused as schema by the daemon.
        ({"feed": "lake", "station_id": "L", "ts": "2026-01-10T08:00:00Z"}, "no measurement"),
        # Numbers are JSON numbers, never strings or booleans.
        ({"feed": "air", "station_id": "A", "ts": 1768032000, "pm25": "12"}, "pm25"),
        ({"feed": "air", "station_id": "A", "ts": 1768032000, "pm25": True}, "pm25"),
        # Seismic: equal-length arrays of numbers and a rate.
        (
            {
                "feed": "seismic",
                "station_id": "S",
                "ts": 1768032000,
                "sr": 100,
                "x": [1],
                "y": [1, 2],
                "z": [1],
            },
            "equal length",
        ),
        (
            {"feed": "seismic", "station_id": "S", "ts": 1768032000, "x": [1], "y": [1], "z": [1]},
            "sr",
        ),
        (
            {
                "feed": "seismic",
                "station_id": "S",
                "ts": 1768032000,
                "sr": 100,
                "x": ["1"],
                "y": [1],
                "z": [1],
            },
            "x",
        ),
    ],
)
def test_bad_export_objects(record: dict[str, Any], problem: str) -> None:
    with pytest.raises(FormatError, match=problem):
        from_export_object(record)


def test_csv_cell_that_is_not_a_number() -> None:
    # A CSV cell is parsed by its column: text in a number column names the column.
    row = dict.fromkeys(CSV_COLUMNS, "")
    row.update(feed="air", station_id="AIR-01", ts="2026-01-10T08:00:00Z", pm25="twelve")
    with pytest.raises(FormatError, match="pm25"):
        from_csv_row(row)


def test_openeew_sample_file() -> None:
    # The dataset's record format: unordered lines sorted by time, cloud_t preferred, the
    # first sample (n − 1)/sr before it, device_t when cloud_t is absent, ids mapped or kept.
    options = ReadOptions(station_map={"mx.001": "SEIS-02"})
    packets = list(read_file(DATA / "openeew_sample.jsonl", options))
    assert [(p.station_id, p.time) for p in packets] == [
        ("000", utc("2019-12-31T23:59:59.008+00:00")),
        ("SEIS-02", utc("2019-12-31T23:59:59.508+00:00")),
        ("000", utc("2020-01-01T00:00:00.032+00:00")),
    ]
    assert all(isinstance(p, SeismicPacket) and p.n == 32 and p.sr == 31.25 for p in packets)


@pytest.mark.parametrize(
    ("extra", "first"),
    [
        # cloud_t wins over device_t (the dataset's advice: device clocks drift).
        ({"cloud_t": 1768032001.0, "device_t": 1768032009.0}, "2026-01-10T08:00:00.000+00:00"),
        # device_t alone is the last sample's time too.
        ({"device_t": 1768032001.0}, "2026-01-10T08:00:00.000+00:00"),
    ],
)
def test_openeew_times(extra: dict[str, float], first: str) -> None:
    record = {"device_id": "007", "sr": 2.0, "x": [1, 2, 3], "y": [1, 2, 3], "z": [1, 2, 3]}
    assert from_openeew({**record, **extra}, {}).time == utc(first)


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        # sr is required: a default would misplace the first sample.
        ({"device_id": "1", "cloud_t": 1.0, "x": [1], "y": [1], "z": [1]}, "sr"),
        # A time is required.
        ({"device_id": "1", "sr": 31.25, "x": [1], "y": [1], "z": [1]}, "cloud_t"),
        # An id that cannot be a topic level must be mapped.
        ({"device_id": "a b", "sr": 1, "cloud_t": 1.0, "x": [1], "y": [1], "z": [1]}, "station"),
    ],
)
def test_bad_openeew_records(record: dict[str, Any], problem: str) -> None:
    with pytest.raises(FormatError, match=problem):
        from_openeew(record, {})


@pytest.mark.parametrize(
    ("content", "where"),
    [
        # The error names the file and line (blank lines counted).
        (b'{"feed":"air","station_id":"A","ts":1768032000,"pm25":1}\n\n{"feed":"air"}\n', ":3:"),
        # Not JSON at all.
        (b"pm25=12\n", ":1: not JSON"),
        # JSON, but neither kind of record.
        (b'{"ts": 1768032000, "pm25": 1}\n', ":1: neither"),
    ],
)
def test_bad_lines_name_file_and_line(content: bytes, where: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(ReplayError, match=where):
        list(read_file(path, ReadOptions()))


def test_csv_without_the_key_columns(tmp_path: Path) -> None:
    # A CSV that is not an export is refused on its header, not row by row.
    path = tmp_path / "other.csv"
    path.write_text("time,value\n2026-01-10T08:00:00Z,1\n")
    with pytest.raises(ReplayError, match="header lacks feed, station_id, ts"):
        list(read_file(path, ReadOptions()))


def test_gzip_file(tmp_path: Path) -> None:
    # FILE.jsonl.gz is read through gzip (OpenEEW and exports compress well).
    path = tmp_path / "export.jsonl.gz"
    path.write_bytes(gzip.compress((DATA / "export_sample.jsonl").read_bytes()))
    assert [key(r) for r in read_file(path, ReadOptions())] == [key(r) for r in SAMPLE]


def test_unknown_file_kind(tmp_path: Path) -> None:
    # The kind comes from the name; an unknown one is refused with the accepted ones.
    path = tmp_path / "data.txt"
    path.write_bytes(orjson.dumps({"feed": "air"}))
    with pytest.raises(ReplayError, match=r"\.jsonl"):
        read_file(path, ReadOptions())
