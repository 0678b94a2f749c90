"""Row 6: resident memory of the daemon with the bundled network and with 10,000 stations.

Bundled: `kuzet simulate --scenario calm` feeds the 111 stations (air and lake accelerated,
seismic in real time) for a few seconds; RSS is read idle after start-up, at its peak, and
after the load. 10,000 stations: a generated stations file in the bundled network's mix
(52 : 31 : 28 air : lake : seismic); every air and lake station sends one batch of 5 one-minute
readings and every seismic station one 1 s packet at 100 Hz, so each station has its
analytics state (windows, detector). Air windows are preallocated for 25 h at the first
reading, so this is close to the steady state of a full day.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.benchmarks.kuzetproc import KuzetProcess
from tests.benchmarks.measure import cpu_seconds, rss_bytes, wait_until
from tests.benchmarks.seismic import _idle
from tests.benchmarks.services import Services
from tests.benchmarks.streams import StationGroup, StreamSpec, write_stations
from tests.benchmarks.worker import ROOT, Worker

MIB = 1024 * 1024
MIX = {"air": 52, "lake": 31, "seismic": 28}
BATCH = 5
SEISMIC_PACKETS = 1
# Below the daemon's capacity for these payloads (see rows 2 and 5), so nothing backs up.
PUBLISH_RATE = {"air": 800.0, "lake": 800.0, "seismic": 800.0}
IDLE_CPU_S = 2.0


class PeakRss:
    """Samples a process's RSS every 50 ms in a thread; `peak` is the largest seen."""

    def __init__(self, pid: int) -> None:
        self.peak = rss_bytes(pid)
        self._pid = pid
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self.peak = max(self.peak, rss_bytes(self._pid))
            except Exception:  # noqa: BLE001 - the process may be gone at the end
                return

    def stop(self) -> int:
        """Stop sampling; returns the peak in bytes."""
        self._stop.set()
        self._thread.join()
        return self.peak


def _mib(n: int) -> float:
    return round(n / MIB, 1)


def _settle(daemon: KuzetProcess, timeout: float = 30.0) -> None:
    wait_until(lambda: _idle(daemon.pid), timeout=timeout, interval=0.0)


def bundled_rss(svc: Services, workdir: Path, *, seconds: float, speed: float) -> dict[str, Any]:
    """The bundled network under `kuzet simulate --scenario calm`."""
    prefix = f"kb{secrets.token_hex(3)}"
    with svc.database() as db:
        daemon = KuzetProcess(
            mqtt_url=svc.mqtt_url,
            database_url=db,
            prefix=prefix,
            stations=ROOT / "collector" / "data" / "stations.toml",
            log=workdir / "kuzet-memory-bundled.log",
        )
        try:
            _settle(daemon)
            idle = rss_bytes(daemon.pid)
            idle_cpu = _idle_cpu(daemon.pid)
            peak = PeakRss(daemon.pid)
            with (workdir / "simulate.log").open("wb") as log:
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "collector.cli",
                        "simulate",
                        "--mqtt-url",
                        svc.mqtt_url,
                        "--topic-prefix",
                        prefix,
                        "--scenario",
                        "calm",
                        "--speed",
                        f"{speed:g}",
                        "--duration",
                        f"{seconds:g}",
                        "--seed",
                        "1",
                    ],
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    check=True,
                    timeout=seconds + 60,
                )
            _settle(daemon)
            loaded = rss_bytes(daemon.pid)
            top = peak.stop()
            stored = {f: daemon.stored(f) for f in MIX}
        finally:
            daemon.stop()
    return {
        "stations": 111,
        "load": f"kuzet simulate --scenario calm --speed {speed:g} --duration {seconds:g}",
        "readings_stored": stored,
        "rss_idle_mib": _mib(idle),
        "rss_peak_mib": _mib(top),
        "rss_after_mib": _mib(loaded),
        "startup_s": round(daemon.startup_s, 2),
        "idle_cpu_share": idle_cpu,
    }


def _idle_cpu(pid: int) -> float:
    """Share of a core the daemon uses with no input (timers, probes, stale checks)."""
    before = cpu_seconds(pid)
    time.sleep(IDLE_CPU_S)
    return round((cpu_seconds(pid) - before) / IDLE_CPU_S, 4)


def _counts(total: int) -> dict[str, int]:
    weight = sum(MIX.values())
    counts = {k: total * v // weight for k, v in MIX.items()}
    counts["air"] += total - sum(counts.values())
    return counts


def many_rss(svc: Services, workdir: Path, *, total: int = 10_000) -> dict[str, Any]:
    """`total` generated stations, each with its analytics state."""
    prefix = f"kb{secrets.token_hex(3)}"
    counts = _counts(total)
    ids = {"air": "MAIR-", "lake": "MLAKE-", "seismic": "MSEIS-"}
    stations = write_stations(
        workdir / "stations-memory.toml",
        [
            StationGroup(ids["air"], "air", counts["air"]),
            StationGroup(ids["lake"], "lake", counts["lake"], interval_s=600),
            # Seismic interval 1 h: nothing goes stale while the others are being fed.
            StationGroup(ids["seismic"], "seismic", counts["seismic"], interval_s=3600),
        ],
        bundled=False,
    )
    base = float(int(time.time()) - 3600)
    with svc.database() as db:
        daemon = KuzetProcess(
            mqtt_url=svc.mqtt_url,
            database_url=db,
            prefix=prefix,
            stations=stations,
            log=workdir / "kuzet-memory-many.log",
        )
        gen = Worker("tests.benchmarks.loadgen", log=workdir / "loadgen-memory.log")
        try:
            _settle(daemon)
            idle = rss_bytes(daemon.pid)
            peak = PeakRss(daemon.pid)
            gen.call("connect", host=svc.mqtt_host, port=svc.mqtt_port)
            expected = {
                "air": counts["air"] * BATCH,
                "lake": counts["lake"] * BATCH,
                "seismic": counts["seismic"] * SEISMIC_PACKETS,
            }
            for kind in ("air", "lake"):
                spec = StreamSpec(kind, prefix, counts[kind], BATCH, base, ids[kind])
                gen.call("prepare", spec=spec.as_dict(), first=0, count=counts[kind])
                gen.call("run", rate=PUBLISH_RATE[kind])
            spec = StreamSpec("seismic", prefix, counts["seismic"], 1, base, ids["seismic"])
            gen.call(
                "prepare_seismic",
                spec=spec.as_dict(),
                stations=counts["seismic"],
                seconds=SEISMIC_PACKETS,
            )
            gen.call("run", rate=PUBLISH_RATE["seismic"])
            wait_until(lambda: all(daemon.stored(k) >= n for k, n in expected.items()), timeout=120)
            _settle(daemon)
            loaded = rss_bytes(daemon.pid)
            top = peak.stop()
            stored = {k: daemon.stored(k) for k in expected}
        finally:
            gen.close()
            daemon.stop()
    return {
        "stations": counts,
        "load": f"one batch of {BATCH} one-minute readings per air/lake station, "
        f"{SEISMIC_PACKETS} 1 s packet(s) per seismic station",
        "readings_expected": expected,
        "readings_stored": stored,
        "rss_idle_mib": _mib(idle),
        "rss_peak_mib": _mib(top),
        "rss_after_mib": _mib(loaded),
        "startup_s": round(daemon.startup_s, 2),
    }


def memory_row(svc: Services, workdir: Path, *, quick: bool) -> dict[str, Any]:
    """Row 6."""
    bundled = bundled_rss(svc, workdir, seconds=4 if quick else 20, speed=900)
    many = many_rss(svc, workdir)
    per_station = (many["rss_after_mib"] - bundled["rss_after_mib"]) * 1024 / (10_000 - 111)
    return {
        "row": "memory",
        "bundled": bundled,
        "stations_10k": many,
        "kib_per_extra_station": round(per_station, 1),
    }
