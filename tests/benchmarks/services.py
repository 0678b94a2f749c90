"""The broker and database the benchmarks run against, and how they are configured.

By default a private mosquitto is started with the settings of `deploy/mosquitto.conf` that
matter for throughput (queue limits, in-flight window), in memory; `--mqtt-url` uses an
existing broker instead (its CPU is then not measured). PostgreSQL is an existing server
(`--database-url`, default the local one); every row gets a fresh database, dropped after.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from collector.embedded.mqtt import connack_code, parse_mqtt_url
from collector.embedded.postgres import check_server, temporary_database
from collector.embedded.processes import (
    LOOPBACK,
    ServiceStartError,
    start_on_free_port,
    stop_process,
    wait_until_ready,
)

DEFAULT_DATABASE_URL = "postgresql://root@127.0.0.1:5432/postgres"
# deploy/mosquitto.conf, minus persistence (a benchmark broker lives for one run).
BROKER_SETTINGS = {
    "max_queued_messages": "200000",
    "max_queued_bytes": "0",
    "max_inflight_messages": "0",
    "message_size_limit": "1048576",
    "set_tcp_nodelay": "true",
    "persistence": "false",
}
_PG_SETTINGS = (
    "server_version",
    "shared_buffers",
    "synchronous_commit",
    "fsync",
    "wal_level",
    "max_wal_size",
    "checkpoint_timeout",
)


@dataclass(slots=True)
class Services:
    """Where the broker and the database server are, and what they are."""

    mqtt_host: str
    mqtt_port: int
    server_url: str
    broker_pid: int | None
    conditions: dict[str, Any] = field(default_factory=dict)

    @property
    def mqtt_url(self) -> str:
        """`mqtt://host:port` of the broker."""
        return f"mqtt://{self.mqtt_host}:{self.mqtt_port}"

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        """A fresh empty database for one row, dropped afterwards."""
        with temporary_database(self.server_url, prefix="kbench_") as url:
            yield url


def _answers(host: str, port: int) -> bool:
    try:
        return connack_code(parse_mqtt_url(f"mqtt://{host}:{port}"), 4, timeout=2.0) is not None
    except OSError:
        return False


def _launch(executable: str, base: Path, port: int) -> subprocess.Popen[bytes]:
    config = base / "mosquitto.conf"
    lines = [f"listener {port} {LOOPBACK}", "allow_anonymous true", "log_dest stderr"]
    lines += [f"{k} {v}" for k, v in BROKER_SETTINGS.items()]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    log = base / "mosquitto.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [executable, "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_until_ready(
        lambda: _answers(LOOPBACK, port),
        process=process,
        log=log,
        what="mosquitto",
        timeout=20,
        port_clash_marker="Address already in use",
    )
    return process


def _pg_conditions(server_url: str) -> dict[str, Any]:
    with psycopg.connect(server_url, autocommit=True) as conn:
        settings = {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in _PG_SETTINGS}  # type: ignore[index]
        row = conn.execute(
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'"
        ).fetchone()
    settings["timescaledb_available"] = bool(row and row[0])
    return settings


def _mosquitto_version(executable: str) -> str:
    out = subprocess.run(
        [executable, "-h"], capture_output=True, text=True, check=False, timeout=10
    )
    return (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else "?"


@contextlib.contextmanager
def services(mqtt_url: str | None, database_url: str | None) -> Iterator[Services]:
    """The broker (private unless `mqtt_url`) and the PostgreSQL server for a run."""
    server_url = database_url or DEFAULT_DATABASE_URL
    check_server(server_url)
    pg = _pg_conditions(server_url)
    if mqtt_url:
        endpoint = parse_mqtt_url(mqtt_url)
        yield Services(
            endpoint.host,
            endpoint.port,
            server_url,
            None,
            {"broker": f"external {mqtt_url}", "postgresql": pg},
        )
        return
    executable = shutil.which("mosquitto")
    if executable is None:
        raise ServiceStartError("mosquitto is not on PATH (or pass --mqtt-url)")
    base = Path(tempfile.mkdtemp(prefix="kbench-mqtt-"))
    try:
        port_box: list[int] = []

        def launch(port: int) -> subprocess.Popen[bytes]:
            port_box.append(port)
            return _launch(executable, base, port)

        process = start_on_free_port(launch, what="mosquitto")
        try:
            broker = {"broker": _mosquitto_version(executable), **BROKER_SETTINGS}
            yield Services(
                LOOPBACK,
                port_box[-1],
                server_url,
                process.pid,
                {"broker": broker, "postgresql": pg},
            )
        finally:
            stop_process(process, what="mosquitto")
    finally:
        shutil.rmtree(base, ignore_errors=True)
