"""Replay timing (speed, --shift-to-now), the first pass, and the command's refusals."""

from __future__ import annotations

import argparse
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collector.config import Settings
from collector.export import add_export_arguments
from collector.replay import (
    ReplayOptions,
    add_replay_arguments,
    due_after,
    plan_replay,
    run_replay,
    scan,
    time_shift,
)
from collector.replay_files import ReadOptions, ReplayError
from tests.unit.replay._support import DATA, SAMPLE, utc

FIRST = utc("2026-01-10T08:00:00+00:00")
LAST = FIRST + timedelta(hours=2)
NOW = utc("2026-11-22T10:00:00+00:00")


@pytest.mark.parametrize(
    ("speed", "shift"),
    [
        # As fast as possible: everything lands in the past, the last reading at now.
        (0.0, NOW - LAST),
        # Real time: the last reading is published 2 h from now and stamped with that time.
        (1.0, NOW + timedelta(hours=2) - LAST),
        # 60×: published in 2 min, stamped 2 min from now.
        (60.0, NOW + timedelta(minutes=2) - LAST),
    ],
)
def test_time_shift_lands_the_last_reading_at_its_publication(
    speed: float, shift: timedelta
) -> None:
    assert time_shift(FIRST, LAST, now=NOW, speed=speed) == shift
    published = NOW + timedelta(seconds=due_after(LAST, FIRST, speed))
    assert LAST + shift == published


@pytest.mark.parametrize("speed", [1.0, 3.0, 60.0])
def test_shifted_readings_are_never_in_the_future(speed: float) -> None:
    # From speed 1 up, every reading's shifted time is at or before its publication time
    # (the daemon refuses readings more than 5 min ahead).
    shift = time_shift(FIRST, LAST, now=NOW, speed=speed)
    for minutes in range(0, 121, 10):
        t = FIRST + timedelta(minutes=minutes)
        published = NOW + timedelta(seconds=due_after(t, FIRST, speed))
        assert t + shift <= published + timedelta(microseconds=1)


def test_slow_motion_cannot_be_shifted() -> None:
    # Below speed 1 the shifted readings would be in the future when published: refused.
    with pytest.raises(ValueError, match="--speed 0 or at least 1"):
        time_shift(FIRST, LAST, now=NOW, speed=0.5)


@pytest.mark.parametrize(
    ("speed", "seconds"),
    [
        # Real time: an hour after the first reading is an hour after the start.
        (1.0, 3600.0),
        # Compressed: 60× makes it a minute.
        (60.0, 60.0),
        # 0: no waiting at all.
        (0.0, 0.0),
    ],
)
def test_due_after(speed: float, seconds: float) -> None:
    assert due_after(FIRST + timedelta(hours=1), FIRST, speed) == seconds


def test_scan_counts_and_span() -> None:
    # The first pass: per-feed counts and the event-time span, in any order.
    found = scan(reversed(SAMPLE))
    assert found.total == len(SAMPLE)
    assert (found.first, found.last) == (SAMPLE[0].time, SAMPLE[-1].time)


def test_plan_shift_and_empty_input(tmp_path: Path) -> None:
    # The plan shifts only with --shift-to-now; a file without readings is refused early.
    files = [DATA / "export_sample.jsonl"]
    plan = plan_replay(files, ReadOptions(), ReplayOptions(speed=0), now=NOW)
    assert plan.shift == timedelta(0)
    shifted = plan_replay(files, ReadOptions(), ReplayOptions(speed=0, shift_to_now=True), now=NOW)
    assert SAMPLE[-1].time + shifted.shift == NOW
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"\n")
    with pytest.raises(ReplayError, match="nothing to replay"):
        plan_replay([empty], ReadOptions(), ReplayOptions(), now=NOW)


def _replay_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kuzet replay")
    add_replay_arguments(parser)
    return parser.parse_args(argv)


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"mqtt://127.0.0.1:{port}"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        # A drill needs its own prefix: without --topic-prefix it would go to production.
        (("--drill",), "--drill needs --topic-prefix"),
        # Naming the production prefix explicitly is refused as well.
        (("--drill", "--topic-prefix", "almaty"), "production prefix 'almaty'"),
        # A file problem is found before the broker is contacted.
        (("--topic-prefix", "x", "--speed", "0"), "unknown kind of file"),
        # Slow motion cannot be shifted to now.
        (("--speed", "0.5", "--shift-to-now"), "--speed 0 or at least 1"),
    ],
)
async def test_refusals_exit_2(
    argv: tuple[str, ...], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = (
        [str(tmp_path / "data.txt")]
        if "unknown" in message
        else [str(DATA / "export_sample.jsonl")]
    )
    (tmp_path / "data.txt").write_text("x")
    args = _replay_args(*files, "--mqtt-url", _closed_port_url(), *argv)
    assert await run_replay(args, Settings()) == 2
    assert message in capsys.readouterr().err


async def test_drill_reminds_of_the_daemon_setting(capsys: pytest.CaptureFixture[str]) -> None:
    # An accepted drill says which daemon setting makes it an exercise; no broker: exit 1.
    args = _replay_args(
        str(DATA / "export_sample.jsonl"),
        "--drill",
        "--topic-prefix",
        "almaty-drill",
        "--mqtt-url",
        _closed_port_url(),
    )
    assert await run_replay(args, Settings()) == 1
    err = capsys.readouterr().err
    assert "exercise = true" in err
    assert "cannot publish to the MQTT broker" in err


@pytest.mark.parametrize(
    ("argv", "field", "value"),
    [
        # Defaults: real time, no shift, not a drill.
        ((), "speed", 1.0),
        ((), "shift_to_now", False),
        ((), "drill", False),
        # Source ids renamed to station ids, repeatable.
        (
            ("--station-map", "KZ.TLG=SEIS-01", "--station-map", "000=SEIS-02"),
            "station_map",
            [("KZ.TLG", "SEIS-01"), ("000", "SEIS-02")],
        ),
    ],
)
def test_replay_arguments(argv: tuple[str, ...], field: str, value: object) -> None:
    assert getattr(_replay_args("f.jsonl", *argv), field) == value


@pytest.mark.parametrize(
    "argv",
    [
        # A negative speed means nothing.
        ("--speed", "-1"),
        # A station map entry needs both sides.
        ("--station-map", "KZ.TLG"),
    ],
)
def test_bad_replay_arguments(argv: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit):
        _replay_args("f.jsonl", *argv)


@pytest.mark.parametrize(
    ("argv", "field", "value"),
    [
        # RFC 3339 with an offset, converted to UTC.
        (("--from", "2026-01-10T13:00:00+05:00"), "start", utc("2026-01-10T08:00:00+00:00")),
        # Unix seconds are accepted like in payloads.
        (("--from", "1768032000"), "start", datetime(2026, 1, 10, 8, tzinfo=UTC)),
        # Defaults: every feed, every station, the end is now (None here).
        (("--from", "1768032000"), "feed", "all"),
        (("--from", "1768032000"), "end", None),
        (("--from", "1768032000", "--station", "A", "--station", "B"), "station", ["A", "B"]),
    ],
)
def test_export_arguments(argv: tuple[str, ...], field: str, value: object) -> None:
    parser = argparse.ArgumentParser(prog="kuzet export")
    add_export_arguments(parser)
    assert getattr(parser.parse_args(argv), field) == value


@pytest.mark.parametrize(
    "argv",
    [
        # --from is required.
        (),
        # A time without an offset is ambiguous.
        ("--from", "2026-01-10T08:00:00"),
        # Only the three feeds and all.
        ("--from", "1768032000", "--feed", "water"),
    ],
)
def test_bad_export_arguments(argv: tuple[str, ...]) -> None:
    parser = argparse.ArgumentParser(prog="kuzet export")
    add_export_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(argv)
