"""Services for the soak: a restartable mosquitto and PostgreSQL, and a killable daemon."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil

from collector.embedded import postgres as pg
from collector.embedded.mqtt import MqttEndpoint, connack_code
from collector.embedded.processes import (
    LOOPBACK,
    free_port,
    stop_process,
    wait_until_ready,
)


def _answers(port: int) -> bool:
    try:
        return connack_code(MqttEndpoint(LOOPBACK, port), protocol_level=4, timeout=2.0) is not None
    except OSError:
        return False


class Mosquitto:
    """A private mosquitto that can be restarted on its port, keeping its sessions on disk."""

    def __init__(self, base: Path) -> None:
        self._base, self.port = base, free_port()
        self._process: subprocess.Popen[bytes] | None = None
        with contextlib.suppress(KeyError):
            # Started as root, mosquitto drops to its own user: it must write its database here.
            if os.geteuid() == 0:
                user = pwd.getpwnam("mosquitto")
                os.chown(base, user.pw_uid, user.pw_gid)
        (base / "mosquitto.conf").write_text(
            f"listener {self.port} {LOOPBACK}\n"
            "allow_anonymous true\n"
            # A restart must keep the daemon's persistent session and its queued messages:
            # mosquitto writes them to disk on a clean shutdown (SIGTERM).
            "persistence true\n"
            f"persistence_location {base}/\n"
            # As deploy/mosquitto.conf: the session queue must hold an outage's backlog (the
            # default of 1000 messages would drop most of it at 10× load).
            "max_queued_messages 1000000\n"
            "max_queued_bytes 0\n"
            "max_inflight_messages 0\n"
            "log_dest stderr\n",
            encoding="utf-8",
        )

    @property
    def url(self) -> str:
        return f"mqtt://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        mosquitto = shutil.which("mosquitto")
        assert mosquitto is not None
        log = self._base / "mosquitto.log"
        with log.open("ab") as out:
            self._process = subprocess.Popen(
                [mosquitto, "-c", str(self._base / "mosquitto.conf")],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until_ready(
            lambda: _answers(self.port),
            process=self._process,
            log=log,
            what="mosquitto (soak)",
            timeout=30.0,
            port_clash_marker="Address already in use",
        )

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process, what="mosquitto (soak)")


class Postgres:
    """A private PostgreSQL cluster that can be restarted on its port (fast shutdown)."""

    def __init__(self, base: Path) -> None:
        self._base, self.port = base, free_port()
        self._account = pg._server_account()  # the embedded server's own helpers
        self._data = base / "data"
        self._data.mkdir(mode=0o700)
        if self._account is not None:
            base.chmod(0o755)  # the server account must reach its data directory
            os.chown(self._data, self._account.uid, self._account.gid)
        self._bin = pg._binaries_for(self._account, base)
        initdb = [str(self._bin / "initdb"), "-D", str(self._data), "-U", pg.SUPERUSER]
        initdb += ["--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"]
        pg._run_setup_step(initdb, self._account, base, "initdb")
        self._process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> None:
        self._process, self.url, _ = pg._launch(
            self._bin, self._data, self._account, self.port, 60.0
        )

    def stop(self) -> None:
        if self._process is not None:
            # SIGINT is PostgreSQL's "fast" shutdown: abort sessions, checkpoint, exit.
            stop_process(self._process, what="PostgreSQL (soak)", first_signal=signal.SIGINT)


@contextlib.contextmanager
def soak_services() -> Iterator[tuple[Postgres, Mosquitto]]:
    """A private PostgreSQL and mosquitto the soak restarts (never the shared ones)."""
    base = Path(tempfile.mkdtemp(prefix="kuzet-soak-"))
    base.chmod(0o755)  # PostgreSQL runs as its own account when we are root
    (base / "pg").mkdir()
    (base / "mqtt").mkdir()
    try:
        database, broker = Postgres(base / "pg"), Mosquitto(base / "mqtt")
        database.start()
        try:
            broker.start()
            try:
                yield database, broker
            finally:
                broker.stop()
        finally:
            database.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


class Daemon:
    """`kuzet run` as a subprocess that can be killed with SIGKILL and started again."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("KUZET_")} | env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "collector.cli", "run"], env=self._env, stderr=out
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def close(self) -> None:
        """Kill a daemon left running by a failed soak."""
        if self.process is not None and self.process.poll() is None:
            self.kill()

    def rss(self) -> int:
        assert self.process is not None
        return int(psutil.Process(self.process.pid).memory_info().rss)
