"""`kuzet demo`: broker, PostgreSQL, simulator and daemon in one command, nothing to install."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TextIO

import psycopg

from alerts.model import Alert, Event
from collector.config import Settings
from collector.daemon import Daemon, install_signal_handlers
from collector.durations import parse_duration
from collector.embedded.amqtt import private_amqtt
from collector.embedded.mqtt import MqttBroker, private_mosquitto
from collector.embedded.postgres import private_postgres, url_for_database
from collector.simulate import simulate
from collector.simulate.publisher import SimOptions
from collector.simulate.scenario import ScenarioEvent, ScenarioOptions
from collector.simulate.seismic import QuakeSource
from collector.stations import Stations

# Air and lakes run 288× faster (a day in five minutes); the quake is strong enough for the
# city intensity to pass 4 whatever the seed.
DEMO_SPEED = 288.0
DEMO_QUAKE_MAGNITUDE = 5.9
# After the simulator stops, alerts raised by its last readings still get delivered.
SETTLE_S = 3.0


def _duration(text: str) -> timedelta:
    """A command-line duration: seconds (`90`) or with units (`5m`)."""
    try:
        return parse_duration(float(text))
    except ValueError:
        return parse_duration(text)


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `kuzet demo`."""
    parser.add_argument(
        "--duration",
        type=_duration,
        default=None,
        help="stop after this long (90, 5m); default: until Ctrl-C",
    )
    parser.add_argument(
        "--scenario", default="all", choices=["calm", "smog", "quake", "glof", "all"]
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=DEMO_SPEED,
        help=f"simulated seconds per second for air and lakes ({DEMO_SPEED:g})",
    )
    parser.add_argument("--seed", type=int, default=None, help="make the run reproducible")
    parser.add_argument(
        "--drill",
        action="store_true",
        help="mark every alert as an exercise (CAP status Exercise, a drill prefix in texts)",
    )


@contextlib.contextmanager
def _broker() -> Iterator[MqttBroker]:
    executable = shutil.which("mosquitto")
    if executable:
        with private_mosquitto(executable) as broker:
            yield broker
    else:
        with private_amqtt() as broker:
            yield broker


class AlertPrinter:
    """One readable line per alert transition, and the tally for the summary."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self.by_kind: Counter[str] = Counter()

    def __call__(self, alert: Alert, event: Event) -> None:
        """Print one transition (the daemon's `on_alert` hook)."""
        if event is Event.FIRING:
            self.by_kind[alert.kind] += 1
        where = alert.station_id or alert.area
        value = "" if alert.value is None else f"{alert.value:.4g}"
        threshold = "" if alert.threshold is None else f"{alert.threshold:g}"
        stamp = datetime.now(UTC).strftime("%H:%M:%S")
        extra = ""
        if alert.kind == "seismic" and "lat" in alert.details:
            d = alert.details
            extra = (
                f"  epicentre {d['lat']:.3f}N {d['lon']:.3f}E depth {d.get('depth_km', 0):.0f} km,"
                f" M{d.get('magnitude') or 0:.1f}, {d.get('station_count')} stations"
            )
        print(
            f"{stamp}  ALERT {event.value.upper():9} {alert.severity.value:8} {alert.rule:15}"
            f" {where:10} value {value} {alert.unit} (threshold {threshold}){extra}",
            file=self._out,
            flush=True,
        )

    def scenario(self, event: ScenarioEvent) -> None:
        """A line when the simulator makes something happen."""
        stamp = datetime.now(UTC).strftime("%H:%M:%S")
        print(f"{stamp}  SIMULATOR  {event.summary}", file=self._out, flush=True)


async def _run(
    settings: Settings, stations: Stations, args: argparse.Namespace, printer: AlertPrinter
) -> int:
    daemon = Daemon(settings, stations, on_alert=printer)
    remove = install_signal_handlers(daemon.stop)
    runner = asyncio.create_task(daemon.run())
    try:
        while not (daemon.started.is_set() and daemon.readiness.mqtt_connected):
            if runner.done():
                runner.result()
                return 1
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # subscriptions acknowledged before the first publish
        print(
            f"Kuzet demo: HTTP API on http://{settings.http.host}:{daemon.http_port}"
            f"  (try /api/v1/air, /api/v1/lakes, /api/v1/alerts?state=all, /metrics)",
            flush=True,
        )
        options = SimOptions(
            scenario=ScenarioOptions(quake_source=QuakeSource(magnitude=DEMO_QUAKE_MAGNITUDE)),
            client_id=f"{settings.mqtt.client_id}-simulator",
        )
        duration = args.duration.total_seconds() if args.duration else None
        report = await simulate(
            settings.mqtt.url,
            topic_prefix=settings.topic_prefix,
            scenario=args.scenario,
            speed=args.speed,
            duration=duration,
            stations=stations,
            seed=args.seed,
            on_event=printer.scenario,
            stop=daemon.stop,
            options=options,
        )
        print(f"simulator: {report.summary()}", flush=True)
        if not daemon.stop.is_set():
            await asyncio.sleep(SETTLE_S)
    finally:
        daemon.stop.set()
        await runner
        remove()
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(printer.by_kind.items())) or "none"
    print(f"alerts fired: {kinds}", flush=True)
    return 0


def run_demo(args: argparse.Namespace, settings: Settings, stations: Stations) -> int:
    """Start the embedded services, run the demo, stop everything it started."""
    printer = AlertPrinter(sys.stdout)
    print("Starting an MQTT broker and PostgreSQL for the demo…", flush=True)
    with _broker() as broker, private_postgres() as server:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute("CREATE DATABASE kuzet")
        alerts = {**settings.alerts, "exercise": True} if args.drill else settings.alerts
        demo = settings.model_copy(
            update={
                "alerts": alerts,
                "mqtt": settings.mqtt.model_copy(
                    update={"url": broker.url, "client_id": "kuzet-demo"}
                ),
                "database": settings.database.model_copy(
                    update={"url": url_for_database(server, "kuzet")}
                ),
            }
        )
        return asyncio.run(_run(demo, stations, args, printer))
