"""The daemon under test in its own process: `python -m collector.cli run` with KUZET_* settings."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

from collector.embedded.processes import free_port
from tests.benchmarks.worker import ROOT

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 45.0
_SAMPLE = re.compile(
    r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>[0-9.e+-]+)$", re.MULTILINE
)


class DaemonError(RuntimeError):
    """The daemon did not start or died."""


class KuzetProcess:
    """Start the daemon, wait until it is ready, read its metrics, stop it with SIGTERM."""

    def __init__(
        self,
        *,
        mqtt_url: str,
        database_url: str,
        prefix: str,
        stations: Path,
        log: Path,
        config: str = "",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.log_path = log
        env = {
            **os.environ,
            "KUZET_MQTT_URL": mqtt_url,
            "KUZET_DATABASE_URL": database_url,
            "KUZET_HTTP_LISTEN": f"127.0.0.1:{self.port}",
            "KUZET_TOPIC_PREFIX": prefix,
            "KUZET_STATIONS": str(stations),
            "KUZET_MQTT_CLIENT_ID": f"kbench-{prefix}-{secrets.token_hex(3)}",
            "KUZET_LOG_LEVEL": "info",
            **(extra_env or {}),
        }
        if config:
            path = log.with_suffix(".toml")
            path.write_text(config, encoding="utf-8")
            env["KUZET_CONFIG"] = str(path)
        self._log: IO[bytes] = log.open("wb")
        started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "collector.cli", "run"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()
        self.startup_s = time.monotonic() - started
        # Subscriptions follow the connection; give the SUBACKs a moment.
        time.sleep(0.3)

    @property
    def pid(self) -> int:
        """Process id of the daemon."""
        return self.process.pid

    def _get(self, path: str, timeout: float = 5.0) -> tuple[int, str]:
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DaemonError(
                    f"daemon exited with {self.process.returncode}; see {self.log_path}"
                )
            try:
                status, _ = self._get("/readyz", timeout=1.0)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise DaemonError(f"daemon not ready after {START_TIMEOUT_S}s; see {self.log_path}")

    def metrics(self) -> dict[str, float]:
        """Samples of the Prometheus exposition, keyed `name{labels}` (`name{}` without labels)."""
        _, text = self._get("/metrics")
        return {
            f"{m['name']}{{{m['labels'] or ''}}}": float(m["value"]) for m in _SAMPLE.finditer(text)
        }

    def stored(self, feed: str) -> int:
        """`kuzet_readings_stored_total{feed}`."""
        return int(self.metrics().get(f'kuzet_readings_stored_total{{feed="{feed}"}}', 0.0))

    def stop(self) -> int:
        """SIGTERM and wait (the daemon flushes); returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return int(self.process.returncode)

    def warnings(self) -> list[str]:
        """Warning and error lines of the daemon's log (for the report)."""
        lines = []
        for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("level") in ("warning", "error"):
                lines.append(str(record.get("message", ""))[:200])
        return lines
