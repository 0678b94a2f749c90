"""Row 5: seismic CPU per station-second at 100 Hz, and how many 100 Hz stations one process takes.

N generated 100 Hz stations each send one native 1 s packet (3 × 100 samples, noise of a
quiet site) per second of wall-clock time, data time = wall time ("live"). A step of N
stations passes when every packet of the step is stored within `grace_s` of the last publish
*and* the daemon is idle again by then (its seismic stage, which works behind the writer from
a deep queue, has caught up). The station count is searched like a rate.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tests.benchmarks.kuzetproc import KuzetProcess
from tests.benchmarks.measure import CpuMeter, Step, backend_pids, cpu_seconds, search
from tests.benchmarks.services import Services
from tests.benchmarks.streams import StationGroup, StreamSpec, write_stations
from tests.benchmarks.throughput import Pace
from tests.benchmarks.worker import Worker

MAX_STATIONS = 3200
# The daemon counts as idle when it uses less than this share of a core over IDLE_WINDOW_S.
IDLE_SHARE = 0.3
IDLE_WINDOW_S = 0.25
# A failed step's backlog gets this long to drain before the next step.
RECOVER_S = 15.0


def _idle(pid: int) -> bool:
    before = cpu_seconds(pid)
    time.sleep(IDLE_WINDOW_S)
    return cpu_seconds(pid) - before < IDLE_SHARE * IDLE_WINDOW_S


class SeismicSteps:
    """Steps of N live 100 Hz stations against one daemon."""

    def __init__(
        self, svc: Services, gen: Worker, daemon: KuzetProcess, db: str, prefix: str, pace: Pace
    ) -> None:
        self._svc, self._gen, self._daemon, self._db = svc, gen, daemon, db
        self._prefix, self._pace = prefix, pace

    def step(self, stations: float) -> Step:
        """Run `stations` stations (rounded) for `step_s` seconds."""
        n = max(1, round(stations))
        seconds = max(1, round(self._pace.step_s))
        spec = StreamSpec(
            kind="seismic",
            prefix=self._prefix,
            stations=n,
            base=float(math.ceil(time.time())) + 1.0,
            id_prefix="BSEIS-",
        )
        self._gen.call("prepare_seismic", spec=spec.as_dict(), stations=n, seconds=seconds)
        before = self._daemon.stored("seismic")
        shed_before = self._shed()
        groups: dict[str, Callable[[], Iterable[int]]] = {
            "consumer": lambda: [self._daemon.pid],
            "postgres": lambda: backend_pids(self._db),
            "loadgen": lambda: [self._gen.pid],
        }
        if self._svc.broker_pid is not None:
            broker = self._svc.broker_pid
            groups["broker"] = lambda: [broker]
        # Start on the data second's boundary, as a live network would.
        time.sleep(max(0.0, spec.base - time.time()))
        meter = CpuMeter(groups)
        meter.start()
        sent = self._gen.call("run", rate=float(n))
        t_first, t_last = float(sent["t_first"]), float(sent["t_last"])
        expected = before + n * seconds
        deadline = t_last + self._pace.grace_s
        done_at: float | None = None
        complete = False
        while time.monotonic() < deadline + RECOVER_S:
            complete = complete or self._daemon.stored("seismic") >= expected
            if complete or time.monotonic() > deadline:
                # Stored is not enough: the seismic stage works from its own deep queue.
                if _idle(self._daemon.pid):
                    done_at = time.monotonic() - IDLE_WINDOW_S if complete else None
                    break
            else:
                time.sleep(0.02)
        cpu = meter.stop()
        stored = self._daemon.stored("seismic") - before
        # A step whose packets were shed (not analysed, seismicstage.MAX_LAG_S) did not keep
        # up: shedding lets an overloaded daemon turn idle sooner, so idleness alone would pass.
        ok = done_at is not None and done_at - t_last <= self._pace.grace_s
        ok = ok and self._shed() == shed_before
        return Step(
            offered=float(n),
            published=float(sent["rate"]),
            messages=n * seconds,
            readings=n * seconds,
            stored=stored,
            drain_s=done_at - t_last if done_at is not None else math.inf,
            ok=ok and stored == n * seconds,
            cpu=cpu,
            elapsed_s=(done_at if done_at is not None else time.monotonic()) - t_first,
        )

    def _shed(self) -> float:
        return self._daemon.metrics().get("kuzet_seismic_packets_shed_total{}", 0.0)


def cpu_per_station_second(steps: list[Step]) -> dict[str, float | None]:
    """CPU ms per station-second: averages at the lightest and largest passing steps, marginal.

    The average at a light load includes per-transaction costs that batching spreads thinner
    at higher loads; the marginal cost (between the two largest passing steps) is what one more
    station costs near capacity, and extends to the one-core estimate (one event loop).
    """
    good = sorted((s for s in steps if s.ok), key=lambda s: s.offered)
    if not good:
        return {}

    def per(step: Step, group: str) -> float:
        return round(step.cpu.get(group, 0.0) * 1000 / max(step.readings, 1), 3)

    def cores(step: Step) -> float:
        return step.cpu.get("consumer", 0.0) / step.elapsed_s

    low, high = good[0], good[-1]
    out: dict[str, float | None] = {
        "light_stations": low.offered,
        "light_daemon_ms": per(low, "consumer"),
        "light_postgres_ms": per(low, "postgres"),
        "top_stations": high.offered,
        "top_daemon_ms": per(high, "consumer"),
        "top_postgres_ms": per(high, "postgres"),
        "top_daemon_cores": round(cores(high), 3),
    }
    if len(good) >= 2:
        prev = good[-2]
        slope = (cores(high) - cores(prev)) / (high.offered - prev.offered)
        out["marginal_daemon_ms"] = round(slope * 1000, 3)
        if slope > 0:
            out["one_core_estimate_stations"] = round(high.offered + (1 - cores(high)) / slope)
    return out


def seismic_row(svc: Services, workdir: Path, pace: Pace, *, start: float = 25.0) -> dict[str, Any]:
    """Row 5."""
    prefix = f"kb{secrets.token_hex(3)}"
    stations = write_stations(
        workdir / "stations-seismic.toml",
        # interval_s only drives `station_stale` (not the detector): an hour keeps the stations
        # from going stale between steps, which would fire and resolve N alerts per step.
        [StationGroup("BSEIS-", "seismic", MAX_STATIONS, interval_s=3600)],
        bundled=False,
    )
    with svc.database() as db:
        daemon = KuzetProcess(
            mqtt_url=svc.mqtt_url,
            database_url=db,
            prefix=prefix,
            stations=stations,
            log=workdir / "kuzet-seismic.log",
        )
        gen = Worker("tests.benchmarks.loadgen", log=workdir / "loadgen-seismic.log")
        try:
            gen.call("connect", host=svc.mqtt_host, port=svc.mqtt_port)
            runner = SeismicSteps(svc, gen, daemon, db, prefix, pace)
            best, steps = search(
                runner.step, start, refine=pace.refine, factor=pace.factor, ceiling=MAX_STATIONS
            )
        finally:
            gen.close()
            daemon.stop()
    return {
        "row": "seismic 100 Hz",
        "cpu_ms_per_station_s": cpu_per_station_second(steps),
        "max_stations": best.offered if best is not None else None,
        "steps": [s.as_dict() for s in steps],
        "warnings": daemon.warnings()[:10],
    }
