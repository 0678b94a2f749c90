"""`kuzet simulate` arguments and exit codes (no broker needed: failures happen before it)."""

from __future__ import annotations

import argparse
import socket
from datetime import UTC, datetime

import pytest

from collector.simulate import add_simulate_arguments, run_simulate


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kuzet simulate")
    add_simulate_arguments(parser)
    return parser.parse_args(argv)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("argv", "field", "value"),
    [
        # Defaults: scenario all, real time, until interrupted.
        ((), "scenario", "all"),
        ((), "speed", 1.0),
        ((), "duration", None),
        # A duration as plain seconds or in the project's duration syntax.
        (("--duration", "90"), "duration", 90.0),
        (("--duration", "5m"), "duration", 300.0),
        (("--duration", "1h30m"), "duration", 5400.0),
        # A start time with its offset.
        (("--start", "2026-11-21T06:00:00+05:00"), "start", datetime(2026, 11, 21, 1, tzinfo=UTC)),
        (("--quake-at", "45s"), "quake_at", 45.0),
        (("--scenario", "glof", "--glof-lake", "LAKE-01"), "glof_lake", "LAKE-01"),
    ],
)
def test_arguments(argv: tuple[str, ...], field: str, value: object) -> None:
    assert getattr(_parse(*argv), field) == value


@pytest.mark.parametrize(
    "argv",
    [
        # Unknown scenario.
        ("--scenario", "flood"),
        # Not a duration.
        ("--duration", "soon"),
        # A start without an offset is ambiguous.
        ("--start", "2026-11-21T06:00:00"),
    ],
)
def test_bad_arguments_exit_2(argv: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit) as exc:
        _parse(*argv)
    assert exc.value.code == 2


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        # A URL that is not mqtt:// is a usage error, reported in one line.
        (("--mqtt-url", "http://broker"), 2, "mqtt://"),
        # A lake without a downstream gauge cannot play the outburst.
        (("--scenario", "glof", "--glof-lake", "LAKE-02"), 2, "downstream_of"),
        # A negative speed.
        (("--speed", "-3"), 2, "speed"),
        # Nobody listens on the port: exit 1, one line.
        ((), 1, "cannot publish to the MQTT broker"),
    ],
)
async def test_run_simulate_failures(
    argv: tuple[str, ...], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ("--mqtt-url", f"mqtt://127.0.0.1:{_closed_port()}")
    args = _parse(*url, "--duration", "5", *argv)
    assert await run_simulate(args) == code
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
