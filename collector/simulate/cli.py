"""`kuzet simulate`: arguments and the command (the lead wires it into collector/cli.py)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import aiomqtt

from collector.config import ConfigError, MqttSettings
from collector.durations import parse_duration
from collector.simulate.publisher import SimOptions, simulate
from collector.simulate.scenario import SCENARIOS, ScenarioEvent, ScenarioOptions
from collector.simulate.seismic import QuakeSource
from collector.stations import load_stations

EXIT_FAILURE = 1
EXIT_USAGE = 2


def _seconds(text: str) -> float:
    """`300`, `300s`, `5m`, `1h30m` → seconds (for argparse)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return parse_duration(text).total_seconds()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _moment(text: str) -> datetime:
    """An RFC 3339 time with an offset (for argparse)."""
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {text!r}") from None
    if moment.utcoffset() is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset (add Z or ±hh:mm)")
    return moment


def add_simulate_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of `kuzet simulate` to a (sub)parser."""
    parser.add_argument(
        "--mqtt-url",
        help="broker, mqtt://[user:pass@]host[:port] or mqtts://… "
        "(default: $KUZET_MQTT_URL, else mqtt://127.0.0.1:1883)",
    )
    parser.add_argument("--scenario", choices=list(SCENARIOS), default="all", help="default: all")
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="simulated seconds per second for air and lake; seismic stays real time (default 1)",
    )
    parser.add_argument(
        "--duration",
        type=_seconds,
        help="run time in wall-clock seconds (or 90s, 5m, 1h); default: until interrupted",
    )
    parser.add_argument("--topic-prefix", help="first topic level (default: $KUZET_TOPIC_PREFIX)")
    parser.add_argument("--stations", type=Path, help="stations file (default: $KUZET_STATIONS)")
    parser.add_argument("--seed", type=int, help="reproduce a run (printed at the end)")
    parser.add_argument(
        "--start",
        type=_moment,
        help="simulated time of the first air/lake readings (RFC 3339; default: chosen so "
        "the simulation ends at the current time)",
    )
    parser.add_argument(
        "--quake-at", type=_seconds, default=20.0, help="quake origin after the start (20 s)"
    )
    parser.add_argument(
        "--quake-magnitude", type=float, default=QuakeSource().magnitude, help="default 5.5"
    )
    parser.add_argument(
        "--glof-lake", help="lake station that bursts (default: the one nearest its gauge)"
    )


def _print_event(event: ScenarioEvent) -> None:
    where = f" [{event.station_id}]" if event.station_id else ""
    sys.stdout.write(f"simulate: {event.time.isoformat()} {event.kind}{where}: {event.summary}\n")
    sys.stdout.flush()


async def run_simulate(args: argparse.Namespace) -> int:
    """Run `kuzet simulate` with parsed arguments.

    Returns:
        0 after a clean stop (duration reached, SIGINT or SIGTERM), 2 for bad arguments or
        stations file, 1 when the broker cannot be reached.
    """
    env = os.environ
    url = args.mqtt_url or env.get("KUZET_MQTT_URL") or MqttSettings().url
    prefix = args.topic_prefix or env.get("KUZET_TOPIC_PREFIX") or "almaty"
    stations_file = args.stations or (
        Path(env["KUZET_STATIONS"]) if env.get("KUZET_STATIONS") else None
    )
    options = SimOptions(
        scenario=ScenarioOptions(
            quake_source=replace(QuakeSource(), magnitude=args.quake_magnitude),
            quake_at_s=args.quake_at,
            glof_lake=args.glof_lake,
        )
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        stations = load_stations(stations_file)
        report = await simulate(
            url,
            topic_prefix=prefix,
            scenario=args.scenario,
            speed=args.speed,
            duration=args.duration,
            stations=stations,
            seed=args.seed,
            start=args.start,
            on_event=_print_event,
            stop=stop,
            options=options,
        )
    except (ConfigError, ValueError) as exc:
        sys.stderr.write(f"kuzet simulate: {exc}\n")
        return EXIT_USAGE
    except aiomqtt.MqttError as exc:
        sys.stderr.write(f"kuzet simulate: cannot publish to the MQTT broker: {exc}\n")
        return EXIT_FAILURE
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    sys.stdout.write(f"simulate: {report.summary()}\n")
    return 0
