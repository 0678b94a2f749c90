"""`kuzet export`: stored readings in the daemon's own export format (JSONL or CSV), streamed.

The rows come from server-side cursors (`storage.export`), one feed merged with the others by
time, and go straight to the output: memory stays flat whatever the period. A file given with
`--out` is written under a temporary name and renamed when complete, so a failed export never
leaves a truncated file that looks finished. The format is described in
`collector.export_format`; `kuzet replay` reads it back.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import psycopg

from collector.config import Settings
from collector.export_format import CSV_COLUMNS, FormatError, parse_time, to_csv_row, to_json_line
from collector.models import Feed, Reading
from storage.errors import translate
from storage.export import ExportQuery, stream_readings

EXIT_FAILURE = 1
EXIT_USAGE = 2
FORMATS = ("jsonl", "csv")


def write_jsonl(readings: Iterable[Reading], out: BinaryIO) -> Counter[Feed]:
    """Write one JSON object per line; returns the readings written per feed."""
    counts: Counter[Feed] = Counter()
    for reading in readings:
        out.write(to_json_line(reading))
        counts[reading.feed] += 1
    return counts


def write_csv(readings: Iterable[Reading], out: BinaryIO) -> Counter[Feed]:
    """Write the CSV header and one row per reading (UTF-8, RFC 4180 line ends)."""
    counts: Counter[Feed] = Counter()
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for reading in readings:
            writer.writerow(to_csv_row(reading))
            counts[reading.feed] += 1
        text.flush()
    finally:
        # Leave `out` open: it belongs to the caller (it may be stdout).
        text.detach()
    return counts


def _moment(text: str) -> datetime:
    """RFC 3339 with an offset, or Unix seconds (for argparse)."""
    value: str | float = text
    # A plain number on the command line is Unix seconds, as in payloads.
    with contextlib.suppress(ValueError):
        value = float(text)
    try:
        return parse_time(value, "time")
    except FormatError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of `kuzet export` to a (sub)parser."""
    parser.add_argument(
        "--from",
        dest="start",
        type=_moment,
        required=True,
        metavar="T",
        help="first time included (RFC 3339 with offset, or Unix seconds)",
    )
    parser.add_argument(
        "--to", dest="end", type=_moment, metavar="T", help="first time excluded (default: now)"
    )
    parser.add_argument(
        "--feed", choices=[*(f.value for f in Feed), "all"], default="all", help="default: all"
    )
    parser.add_argument(
        "--station",
        action="append",
        metavar="ID",
        help="only this station (repeat for several; default: all)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help="jsonl (one object per line) or csv (one file, a feed column); "
        "default: csv for an --out ending in .csv, else jsonl",
    )
    parser.add_argument(
        "--out", type=Path, metavar="FILE", help="output file (default: standard output)"
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="TOML file (default: $KUZET_CONFIG)"
    )


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[BinaryIO]:
    """Standard output, or a temporary file renamed to `path` only on success."""
    if path is None or str(path) == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("wb") as out:
            yield out
        partial.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def run_export(args: argparse.Namespace, settings: Settings, *, now: datetime) -> int:
    """Run `kuzet export` with parsed arguments and the loaded configuration.

    Args:
        args: from `add_export_arguments`.
        settings: the configuration (database URL).
        now: the default end of the period.

    Returns:
        0 on success, 1 when the output cannot be written, 2 for a bad period.

    Raises:
        StorageError: the database cannot be read.
    """
    feeds = tuple(Feed) if args.feed == "all" else (Feed(args.feed),)
    try:
        query = ExportQuery(
            start=args.start,
            end=args.end or now,
            feeds=feeds,
            station_ids=tuple(args.station) if args.station else None,
        )
    except ValueError as exc:
        sys.stderr.write(f"kuzet export: {exc}\n")
        return EXIT_USAGE
    out_path: Path | None = args.out
    fmt = args.format or (
        "csv" if out_path is not None and out_path.suffix.lower() == ".csv" else "jsonl"
    )
    write = write_csv if fmt == "csv" else write_jsonl
    timeout = int(settings.database.connect_timeout.total_seconds())
    try:
        with (
            psycopg.connect(settings.database.url, connect_timeout=timeout) as conn,
            _output(out_path) as out,
        ):
            counts = write(stream_readings(conn, query), out)
    except psycopg.Error as exc:
        raise translate(exc, "exporting readings") from None
    except OSError as exc:
        sys.stderr.write(f"kuzet export: cannot write {out_path}: {exc.strerror or exc}\n")
        return EXIT_FAILURE
    where = out_path if out_path is not None else "standard output"
    parts = ", ".join(f"{counts.get(feed, 0)} {feed.value}" for feed in feeds)
    sys.stderr.write(
        f"export: {parts} readings from {query.start.isoformat()} to {query.end.isoformat()} "
        f"as {fmt} to {where}\n"
    )
    return 0
