"""Rows 1–3 wired up: the three consumers, each fed single-reading and 100-reading streams."""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.benchmarks.kuzetproc import KuzetProcess
from tests.benchmarks.measure import backend_pids
from tests.benchmarks.services import Services
from tests.benchmarks.streams import StationGroup, StreamSpec, write_stations
from tests.benchmarks.throughput import Pace, StepDriver, count_rows, row_result, run_search
from tests.benchmarks.worker import Worker

logger = logging.getLogger(__name__)

# Stations per stream: enough that per-station work (windows, rollup rows) is realistic.
STATIONS = {1: 200, 100: 50}
# Reading 0 lies this far back: the replayed minutes stay inside KUZET_MAX_AGE (30 d).
HISTORY_S = 27 * 86_400


@dataclass(frozen=True, slots=True)
class Starts:
    """First offered rate (messages/s) of each search, per batch size."""

    bare: dict[int, float]
    kuzet: dict[int, float]
    naive: dict[int, float]


STARTS = Starts(
    bare={1: 10000.0, 100: 6000.0},
    kuzet={1: 1000.0, 100: 100.0},
    naive={1: 1200.0, 100: 48.0},
)


def _spec(prefix: str, batch: int) -> StreamSpec:
    return StreamSpec(
        kind="air",
        prefix=prefix,
        stations=STATIONS[batch],
        batch=batch,
        base=float(int(time.time()) - HISTORY_S),
        id_prefix="BAIR-",
    )


class PeerConsumer:
    """The bare subscriber or the naive bridge in their helper process."""

    def __init__(self, worker: Worker, database_url: str = "") -> None:
        self._worker = worker
        self._db = database_url

    def handled(self) -> int:
        return int(self._worker.call("count")["readings"])

    def stored(self, lo: datetime, hi: datetime) -> int | None:
        if not self._db:
            return None  # the bare subscriber stores nothing: `handled` is its whole story
        return count_rows(self._db, "naive_air", lo, hi)

    def cpu_groups(self) -> dict[str, Callable[[], Iterable[int]]]:
        groups: dict[str, Callable[[], Iterable[int]]] = {"consumer": lambda: [self._worker.pid]}
        if self._db:
            groups["postgres"] = lambda: backend_pids(self._db)
        return groups


class KuzetConsumer:
    """The daemon in its own process; progress from `kuzet_readings_stored_total`."""

    def __init__(self, daemon: KuzetProcess, database_url: str) -> None:
        self._daemon = daemon
        self._db = database_url

    def handled(self) -> int:
        return self._daemon.stored("air")

    def stored(self, lo: datetime, hi: datetime) -> int:
        return count_rows(self._db, "kuzet.air_readings", lo, hi)

    def cpu_groups(self) -> dict[str, Callable[[], Iterable[int]]]:
        return {
            "consumer": lambda: [self._daemon.pid],
            "postgres": lambda: backend_pids(self._db),
        }


@contextlib.contextmanager
def _loadgen(svc: Services, workdir: Path) -> Iterator[Worker]:
    gen = Worker("tests.benchmarks.loadgen", log=workdir / "loadgen.log")
    try:
        gen.call("connect", host=svc.mqtt_host, port=svc.mqtt_port)
        yield gen
    finally:
        gen.close()


def _extra(svc: Services, gen: Worker) -> dict[str, Callable[[], Iterable[int]]]:
    groups: dict[str, Callable[[], Iterable[int]]] = {"loadgen": lambda: [gen.pid]}
    if svc.broker_pid is not None:
        pid = svc.broker_pid
        groups["broker"] = lambda: [pid]
    return groups


def peer_row(
    svc: Services, workdir: Path, pace: Pace, *, naive: bool, batch: int, start: float
) -> dict[str, Any]:
    """Row 1 (bare subscriber) or row 3 (naive bridge) for one stream."""
    prefix = f"kb{secrets.token_hex(3)}"
    spec = _spec(prefix, batch)
    mode = "naive" if naive else "bare"
    with contextlib.ExitStack() as stack:
        db = stack.enter_context(svc.database()) if naive else ""
        peer = Worker("tests.benchmarks.peers", log=workdir / f"{mode}-{batch}.log")
        stack.callback(peer.close)
        peer.call(
            "connect",
            host=svc.mqtt_host,
            port=svc.mqtt_port,
            topic=f"{prefix}/+/+",
            mode=mode,
            database_url=db,
        )
        stack.callback(peer.call, "disconnect")
        gen = stack.enter_context(_loadgen(svc, workdir))
        driver = StepDriver(gen, PeerConsumer(peer, db), spec, pace, _extra(svc, gen))
        best, steps = run_search(driver, start, pace)
    name = "naive bridge" if naive else "ceiling (bare paho)"
    return row_result(name, _stream_name(batch), best, steps)


def kuzet_row(
    svc: Services, workdir: Path, pace: Pace, *, batch: int, start: float
) -> dict[str, Any]:
    """Row 2: the daemon, end to end, for one stream."""
    prefix = f"kb{secrets.token_hex(3)}"
    spec = _spec(prefix, batch)
    stations = write_stations(
        workdir / f"stations-ingest-{batch}.toml",
        [StationGroup("BAIR-", "air", STATIONS[batch])],
        bundled=True,
    )
    with svc.database() as db:
        daemon = KuzetProcess(
            mqtt_url=svc.mqtt_url,
            database_url=db,
            prefix=prefix,
            stations=stations,
            log=workdir / f"kuzet-ingest-{batch}.log",
        )
        try:
            with _loadgen(svc, workdir) as gen:
                driver = StepDriver(gen, KuzetConsumer(daemon, db), spec, pace, _extra(svc, gen))
                best, steps = run_search(driver, start, pace)
        finally:
            status = daemon.stop()
        result = row_result("kuzet", _stream_name(batch), best, steps)
        result["daemon"] = {"exit": status, "startup_s": round(daemon.startup_s, 2)}
        warnings = daemon.warnings()
        if warnings:
            result["daemon"]["warnings"] = warnings[:10]
    return result


def _stream_name(batch: int) -> str:
    return "1 reading/msg" if batch == 1 else f"{batch} readings/msg"
