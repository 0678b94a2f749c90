"""`kuzet replay`: publish recorded readings to MQTT in event-time order, live or compressed.

Files (see `collector.replay_files`) are read twice, streaming: a first pass checks every
record and finds the first and last event times, so a malformed file fails before anything is
published and `--shift-to-now` knows where the recording ends; the second pass publishes each
reading in the native form of spec §3 to `<prefix>/<feed>/<station_id>` through the
simulator's publisher (MQTT 5 with 3.1.1 fallback, QoS 1, bounded in-flight window).

Timing: reading t is published `(t − first) / speed` wall seconds after the start (speed 0: as
fast as the broker acknowledges). `--shift-to-now` moves every timestamp by one offset so that
the last reading's time is the wall time at which it is published: at speed 1 each reading
arrives exactly at its own (shifted) time, as from a live sensor; faster, the readings lie in
the recent past. Without it, readings older than the daemon's max age are rejected by it.

Drills: CAP `status=Exercise` and the drill label in every message come from the daemon
(`[alerts] exercise = true`), not from the data. `--drill` therefore only publishes to a
prefix other than the production one (refusing otherwise), so drill data never reaches a
daemon that would raise real alerts from it, and reminds the operator of the daemon setting.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import secrets
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt

from collector.config import Settings
from collector.export_format import native_payload
from collector.models import Feed, Reading
from collector.replay_files import ReadOptions, ReplayError, merged_readings
from collector.simulate.publisher import MqttPublisher, PublishOptions, publisher_settings
from collector.simulate.streams import Outgoing

logger = logging.getLogger(__name__)

EXIT_FAILURE = 1
EXIT_USAGE = 2


@dataclass(frozen=True, slots=True)
class Scan:
    """What the first pass found: reading counts per feed and the event-time span."""

    counts: Mapping[Feed, int]
    first: datetime | None
    last: datetime | None

    @property
    def total(self) -> int:
        """All readings."""
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """What a replay published (`messages` counts broker-acknowledged messages)."""

    protocol: str
    topic_prefix: str
    messages: Mapping[Feed, int]
    failed: Mapping[Feed, int]
    first: datetime
    last: datetime
    shift: timedelta
    wall_seconds: float

    def summary(self) -> str:
        """One line for people."""
        parts = ", ".join(f"{feed.value} {self.messages.get(feed, 0)}" for feed in Feed)
        span = f"{self.first.isoformat()} .. {self.last.isoformat()}"
        shift = f", shifted by {self.shift}" if self.shift else ""
        return (
            f"published {parts} to {self.topic_prefix}/… (MQTT {self.protocol}), "
            f"{sum(self.failed.values())} failed; recorded {span}{shift}; "
            f"{self.wall_seconds:.1f} s"
        )


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """How to replay: speed, time shift and the publisher's tunables."""

    speed: float = 1.0
    shift_to_now: bool = False
    publish: PublishOptions = field(default_factory=PublishOptions)


def utc_now() -> datetime:
    """The wall clock, as an aware UTC datetime (the default `clock` of `replay`)."""
    return datetime.now(UTC)


def scan(readings: Iterable[Reading]) -> Scan:
    """Count the readings and find the first and last event times (one streaming pass)."""
    counts: Counter[Feed] = Counter()
    first: datetime | None = None
    last: datetime | None = None
    for reading in readings:
        counts[reading.feed] += 1
        first = reading.time if first is None else min(first, reading.time)
        last = reading.time if last is None else max(last, reading.time)
    return Scan(counts=dict(counts), first=first, last=last)


def time_shift(first: datetime, last: datetime, *, now: datetime, speed: float) -> timedelta:
    """The offset that makes the last reading's time the wall time of its publication.

    Args:
        first: event time of the first reading.
        last: event time of the last reading.
        now: wall time of the start of the replay.
        speed: 0 (as fast as possible) or at least 1.

    Raises:
        ValueError: 0 < speed < 1: in slow motion shifted readings would lie in the future
            when published, beyond what the daemon accepts.
    """
    if speed == 0:
        return now - last
    if speed < 1:
        raise ValueError(
            "--shift-to-now needs --speed 0 or at least 1 (in slow motion the shifted "
            "readings would be in the future when published)"
        )
    return now + (last - first) / speed - last


def due_after(reading_time: datetime, first: datetime, speed: float) -> float:
    """Wall seconds after the start at which a reading is published (0 at speed 0)."""
    if speed == 0:
        return 0.0
    return (reading_time - first).total_seconds() / speed


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    """The checked input of a replay: what the files hold and the shift to apply."""

    scan: Scan
    shift: timedelta = timedelta(0)


def plan_replay(
    paths: list[Path], read: ReadOptions, options: ReplayOptions, *, now: datetime
) -> ReplayPlan:
    """First pass: check every file, count its readings, compute the shift.

    Raises:
        ReplayError: a file cannot be replayed, or none holds a reading.
        ValueError: a bad speed (or one that cannot be combined with the shift).
    """
    if options.speed < 0:
        raise ValueError("--speed must be 0 (as fast as possible) or positive")
    found = scan(merged_readings(paths, read))
    if found.first is None or found.last is None:
        raise ReplayError("nothing to replay: the files hold no readings")
    shift = timedelta(0)
    if options.shift_to_now:
        shift = time_shift(found.first, found.last, now=now, speed=options.speed)
    return ReplayPlan(scan=found, shift=shift)


async def replay(
    paths: list[Path],
    settings: Settings,
    *,
    plan: ReplayPlan,
    read: ReadOptions,
    options: ReplayOptions,
    stop: asyncio.Event | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> ReplayReport:
    """Second pass: publish the readings of `paths` to the broker and prefix of `settings`.

    Args:
        paths: recorded files, merged by event time.
        settings: broker URL, client id and topic prefix (see `publisher_settings`).
        plan: from `plan_replay` on the same files.
        read: how files become readings.
        options: speed, publisher tunables.
        stop: set it to end early (acknowledgements are still awaited).
        clock: wall time; with `shift_to_now` the shift is computed anew once connected, so
            the time spent connecting does not push the readings into the future.

    Raises:
        ReplayError: no readings, or a file changed since it was planned and cannot be
            read any more.
        aiomqtt.MqttError: the broker cannot be reached at the start.
    """
    stop = stop or asyncio.Event()
    first, last, shift = plan.scan.first, plan.scan.last, plan.shift
    if first is None or last is None:
        raise ReplayError("nothing to replay: the files hold no readings")
    publisher = MqttPublisher(settings, options.publish, role="replay")
    await publisher.connect()
    start = time.monotonic()
    if options.shift_to_now:
        shift = time_shift(first, last, now=clock(), speed=options.speed)
    try:
        for reading in merged_readings(paths, read):
            delay = start + due_after(reading.time, first, options.speed) - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                break
            if publisher.broken:
                await publisher.drain()
                if not await publisher.reconnect(stop, None):
                    break
            shifted = replace(reading, time=reading.time + shift) if shift else reading
            payload = native_payload(shifted)
            await publisher.send(Outgoing(reading.feed, reading.station_id, payload, 1))
        await publisher.drain()
    finally:
        await publisher.close()
    return ReplayReport(
        protocol=publisher.protocol,
        topic_prefix=settings.topic_prefix,
        messages=publisher.messages,
        failed=publisher.failed,
        first=first + shift,
        last=last + shift,
        shift=shift,
        wall_seconds=time.monotonic() - start,
    )


def _station_pair(text: str) -> tuple[str, str]:
    key, sep, station_id = text.partition("=")
    if not sep or not key or not station_id:
        raise argparse.ArgumentTypeError(f"expected SOURCE=STATION_ID, got {text!r}")
    return key, station_id


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError("0 (as fast as possible) or a positive factor")
    return value


def add_replay_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of `kuzet replay` to a (sub)parser."""
    parser.add_argument(
        "files",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="kuzet export JSONL/CSV, OpenEEW records (.jsonl) or miniSEED (needs kuzet[replay]);"
        " several files are merged by time; .gz is read as gzip",
    )
    parser.add_argument(
        "--mqtt-url",
        metavar="URL",
        help="broker (default: $KUZET_MQTT_URL or the configuration's mqtt.url)",
    )
    parser.add_argument(
        "--topic-prefix",
        metavar="PREFIX",
        help="first topic level (default: the configuration's topic_prefix); must differ from "
        "it with --drill",
    )
    parser.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        metavar="X",
        help="1 = real time, 60 = a minute per second, 0 = as fast as possible (default 1)",
    )
    parser.add_argument(
        "--shift-to-now",
        action="store_true",
        help="move all timestamps so the last reading is stamped with the time it is "
        "published; without it, readings older than the daemon's max age (KUZET_MAX_AGE, "
        "30d by default) are rejected as bad_timestamp",
    )
    parser.add_argument(
        "--drill",
        action="store_true",
        help="an exercise: requires a --topic-prefix other than the production one; the "
        "daemon listening there must run with [alerts] exercise = true (CAP status Exercise, "
        "a drill label in every message)",
    )
    parser.add_argument(
        "--station-map",
        type=_station_pair,
        action="append",
        default=[],
        metavar="SOURCE=STATION_ID",
        help="rename a source: OpenEEW device_id (or cc.device_id), miniSEED NET.STA or STA",
    )
    parser.add_argument(
        "--gain",
        type=float,
        metavar="COUNTS_PER_GAL",
        help="miniSEED: counts per gal (cm/s²); required for miniSEED, 1 if already in gal",
    )
    parser.add_argument(
        "--packet-samples",
        type=int,
        metavar="N",
        help="miniSEED: samples per published packet (default: one second, at most 2000)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="the production configuration (default: $KUZET_CONFIG): broker, prefix, max age",
    )


def _drill_check(args: argparse.Namespace, production: str, prefix: str) -> str | None:
    """The refusal for a drill aimed at production, else None (and the reminder is printed)."""
    if not args.drill:
        if args.shift_to_now and prefix == production:
            sys.stderr.write(
                f"kuzet replay: warning: publishing to the production prefix {prefix!r} with "
                "--shift-to-now: the daemon takes these readings as live (Actual alerts)\n"
            )
        return None
    if args.topic_prefix is None or prefix == production:
        return (
            f"--drill needs --topic-prefix other than the production prefix {production!r}, "
            "so that drill data never reaches a daemon that raises real alerts"
        )
    sys.stderr.write(
        f"kuzet replay: DRILL to {prefix}/…: only a daemon subscribed to {prefix!r} with "
        "[alerts] exercise = true marks its alerts as an exercise\n"
    )
    return None


async def run_replay(args: argparse.Namespace, settings: Settings) -> int:
    """Run `kuzet replay` with parsed arguments and the loaded configuration.

    Returns:
        0 when everything was published, 1 when the broker cannot be reached or messages
        failed, 2 for bad arguments or files.
    """
    prefix = args.topic_prefix or settings.topic_prefix
    refusal = _drill_check(args, settings.topic_prefix, prefix)
    if refusal is not None:
        sys.stderr.write(f"kuzet replay: {refusal}\n")
        return EXIT_USAGE
    read = ReadOptions(
        station_map=dict(args.station_map), gain=args.gain, packet_samples=args.packet_samples
    )
    now = utc_now()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        target = publisher_settings(
            args.mqtt_url or settings.mqtt.url, prefix, f"kuzet-replay-{secrets.token_hex(4)}"
        )
        options = ReplayOptions(speed=args.speed, shift_to_now=args.shift_to_now)
        plan = plan_replay(args.files, read, options, now=now)
        _warn_if_too_old(plan, now - settings.ingest.max_age)
        report = await replay(args.files, target, plan=plan, read=read, options=options, stop=stop)
    except (ReplayError, ValueError) as exc:
        sys.stderr.write(f"kuzet replay: {exc}\n")
        return EXIT_USAGE
    except aiomqtt.MqttError as exc:
        sys.stderr.write(f"kuzet replay: cannot publish to the MQTT broker: {exc}\n")
        return EXIT_FAILURE
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    sys.stdout.write(f"replay: {report.summary()}\n")
    return EXIT_FAILURE if sum(report.failed.values()) else 0


def _warn_if_too_old(plan: ReplayPlan, oldest: datetime) -> None:
    first = plan.scan.first
    if first is not None and first + plan.shift < oldest:
        sys.stderr.write(
            f"kuzet replay: warning: readings before {oldest.isoformat(timespec='seconds')} "
            "are older than the daemon's max age and will be rejected (see --shift-to-now)\n"
        )
