"""The `kuzet` command line: run, db migrate/status, check-config."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from alerts.cap import load_cap_settings
from alerts.config import load_alert_settings
from collector.config import ConfigError, Settings, load_settings, masked_dict
from collector.daemon import serve
from collector.demo import add_demo_arguments, run_demo
from collector.export import add_export_arguments, run_export
from collector.logs import setup_logging
from collector.models import Feed
from collector.replay import add_replay_arguments, run_replay
from collector.sdg import run_sdg_command
from collector.simulate import add_simulate_arguments, run_simulate
from collector.stations import Stations, bundled_stations_path, load_stations
from storage.errors import StorageError, translate
from storage.migrate import migrate
from storage.status import db_status

EXIT_CONFIG = 2
EXIT_FAILURE = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kuzet",
        description="Real-time environmental and emergency monitoring daemon for Almaty.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="the daemon: subscribe, store, compute, alert, serve HTTP")
    run.add_argument("--config", type=Path, help="TOML file (default: $KUZET_CONFIG)")
    db = sub.add_parser("db", help="database schema: migrate | status")
    db.add_argument("action", choices=["migrate", "status"])
    db.add_argument("--config", type=Path, help="TOML file (default: $KUZET_CONFIG)")
    db.add_argument("--json", action="store_true", help="machine-readable output (status)")
    report = sub.add_parser("report", help="reports from stored data: sdg (SDG 11.6.2)")
    report.add_argument("kind", choices=["sdg"])
    report.add_argument("--year", type=int, required=True, help="calendar year (Asia/Almaty)")
    report.add_argument("--json", action="store_true", help="JSON instead of a table")
    report.add_argument("--config", type=Path, help="TOML file (default: $KUZET_CONFIG)")
    demo = sub.add_parser(
        "demo", help="embedded broker, PostgreSQL, simulator and daemon in one command"
    )
    add_demo_arguments(demo)
    demo.add_argument("--config", type=Path, help="TOML file (default: $KUZET_CONFIG)")
    add_simulate_arguments(
        sub.add_parser("simulate", help="publish a simulated Almaty network to a broker")
    )
    add_export_arguments(
        sub.add_parser("export", help="stored readings as JSONL or CSV (kuzet replay reads them)")
    )
    add_replay_arguments(
        sub.add_parser("replay", help="publish recorded readings to a broker, live or faster")
    )
    check = sub.add_parser(
        "check-config", help="validate configuration and stations, print the effective config"
    )
    check.add_argument("--config", type=Path, help="TOML file (default: $KUZET_CONFIG)")
    return parser


def _load(path: Path | None) -> tuple[Settings, Stations]:
    settings = load_settings(path, os.environ)
    stations = load_stations(settings.stations_file)
    return settings, stations


def _check_config(path: Path | None) -> int:
    settings, stations = _load(path)
    # The sections other packages own are validated too: check-config finds every error.
    load_alert_settings(settings.alerts)
    load_cap_settings(settings.cap)
    effective = masked_dict(settings)
    effective["stations_file"] = str(settings.stations_file or bundled_stations_path())
    counts = {feed.value: len(stations.of_kind(feed)) for feed in Feed}
    print(json.dumps({"config": effective, "stations": counts}, indent=2, ensure_ascii=False))
    return 0


async def _db(action: str, settings: Settings, *, as_json: bool) -> int:
    if action == "migrate":
        report = await migrate(settings.database.url, timescaledb=settings.database.timescaledb)
        applied = ", ".join(f"{v:04d}" for v in report.applied) or "none"
        print(f"mode: {report.mode}; schema version {report.current}; applied: {applied}")
        return 0
    try:
        async with await psycopg.AsyncConnection.connect(
            settings.database.url, autocommit=True
        ) as conn:
            status = await db_status(conn)
    except psycopg.Error as exc:
        raise translate(exc, "reading database status") from None
    if as_json:
        print(json.dumps(status.as_dict(), indent=2))
        return 0
    if status.mode is None:
        print(
            f"PostgreSQL {status.server_version}: kuzet schema not created (run: kuzet db migrate)"
        )
        return 0
    mode = (
        f"TimescaleDB {status.timescaledb_version}"
        if status.timescaledb_version and status.mode.value == "timescale"
        else "plain PostgreSQL"
    )
    print(f"mode: {mode} (PostgreSQL {status.server_version})")
    print(f"schema version: {status.schema_version}; pending: {status.pending or 'none'}")
    print("tables:")
    for t in status.tables:
        print(f"  {t.name:<22} {t.kind:<18} ~{t.approx_rows} rows  {t.size_bytes // 1024} KiB")
    if status.policies:
        print("policies:")
        for p in status.policies:
            print(f"  {p['table']:<22} {p['policy']:<36} every {p['schedule']}  {p['config']}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:  # noqa: PLR0911 - one exit per command
    """Entry point of the `kuzet` console script."""
    args = _parser().parse_args(argv)
    command: str = args.command
    try:
        if command == "simulate":
            setup_logging(os.environ.get("KUZET_LOG_LEVEL", "info"))
            return asyncio.run(run_simulate(args))
        if command == "check-config":
            return _check_config(args.config)
        settings, stations = _load(args.config)
        if command == "demo":
            # The demo's own lines are the show: the daemon logs only warnings there.
            setup_logging(os.environ.get("KUZET_LOG_LEVEL", "warning"))
            return run_demo(args, settings, stations)
        setup_logging(settings.log_level)
        if command == "export":
            return run_export(args, settings, now=datetime.now(UTC))
        if command == "replay":
            return asyncio.run(run_replay(args, settings))
        if command == "db":
            return asyncio.run(_db(args.action, settings, as_json=args.json))
        if command == "report":
            try:
                text = asyncio.run(
                    run_sdg_command(
                        settings.database.url,
                        args.year,
                        as_json=args.json,
                        stations=stations,
                        now=datetime.now(UTC),
                    )
                )
            except ValueError as exc:
                print(f"kuzet: {exc}", file=sys.stderr)
                return EXIT_CONFIG
            print(text)
            return 0
        asyncio.run(serve(settings, stations))
    except ConfigError as exc:
        print(f"kuzet: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except StorageError as exc:
        print(f"kuzet: database error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
