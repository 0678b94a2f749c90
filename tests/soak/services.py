"""Services for the soak: a mosquitto that queues a long outage's backlog, a TCP-proxied daemon."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil

from collector.embedded.mqtt import MqttEndpoint, connack_code
from collector.embedded.processes import (
    LOOPBACK,
    start_on_free_port,
    stop_process,
    wait_until_ready,
)


def _answers(port: int) -> bool:
    try:
        return connack_code(MqttEndpoint(LOOPBACK, port), protocol_level=4, timeout=2.0) is not None
    except OSError:
        return False


def _launch(base: Path, port: int) -> tuple[subprocess.Popen[bytes], int]:
    config, log = base / "mosquitto.conf", base / "mosquitto.log"
    config.write_text(
        f"listener {port} {LOOPBACK}\n"
        "allow_anonymous true\n"
        "persistence false\n"
        # As deploy/mosquitto.conf: the session queue must hold an outage's backlog (the
        # default of 1000 messages would drop most of it at 10× load).
        "max_queued_messages 1000000\n"
        "max_queued_bytes 0\n"
        "max_inflight_messages 0\n"
        "log_dest stderr\n",
        encoding="utf-8",
    )
    mosquitto = shutil.which("mosquitto")
    assert mosquitto is not None
    with log.open("wb") as out:
        process = subprocess.Popen(
            [mosquitto, "-c", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_until_ready(
        lambda: _answers(port),
        process=process,
        log=log,
        what="mosquitto (soak)",
        timeout=30.0,
        port_clash_marker="Address already in use",
    )
    return process, port


@contextlib.contextmanager
def soak_mosquitto() -> Iterator[str]:
    """``mqtt://127.0.0.1:<port>`` of a private mosquitto with a deep session queue."""
    base = Path(tempfile.mkdtemp(prefix="kuzet-soak-mqtt-"))
    try:
        process, port = start_on_free_port(lambda p: _launch(base, p), what="mosquitto (soak)")
        try:
            yield f"mqtt://{LOOPBACK}:{port}"
        finally:
            stop_process(process, what="mosquitto (soak)")
    finally:
        shutil.rmtree(base, ignore_errors=True)


class Daemon:
    """`kuzet run` as a subprocess that can be killed with SIGKILL and started again."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("KUZET_")} | env
        self._log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self._log.open("ab") as out:
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

    def rss(self) -> int:
        assert self.process is not None
        return int(psutil.Process(self.process.pid).memory_info().rss)
