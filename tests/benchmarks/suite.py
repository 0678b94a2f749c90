"""The whole suite: which rows, how long each step is, and the conditions of the run."""

from __future__ import annotations

import asyncio
import os
import platform
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.benchmarks.ingest_rows import STARTS, STATIONS, kuzet_row, peer_row
from tests.benchmarks.latency import LatencyPlan, latency_row
from tests.benchmarks.memory import memory_row
from tests.benchmarks.profiling import profile_ingest
from tests.benchmarks.seismic import seismic_row
from tests.benchmarks.services import services
from tests.benchmarks.shards import shards_row
from tests.benchmarks.throughput import Pace

ROWS = ("ceiling", "kuzet", "naive", "latency", "seismic", "memory", "shards")
OPTIONAL_ROWS = ("profile",)


@dataclass(frozen=True, slots=True)
class Plan:
    """Durations and repetitions of one mode."""

    name: str
    pace: Pace
    seismic_pace: Pace
    seismic_start: float
    latency: LatencyPlan
    # About three quarters of the loss-free rates of row 2 on the reference machine.
    profile_rates: tuple[tuple[int, float], ...] = ((1, 1500.0), (100, 200.0))
    profile_s: float = 10.0


QUICK = Plan(
    name="quick",
    pace=Pace(step_s=1.5, grace_s=0.5, refine=0, factor=1.5),
    seismic_pace=Pace(step_s=2.0, grace_s=1.0, refine=0, factor=2.0),
    seismic_start=800.0,
    latency=LatencyPlan(probes=15, quakes=1),
    profile_s=6.0,
)
FULL = Plan(
    name="full",
    pace=Pace(step_s=4.0, grace_s=0.5, refine=3, factor=2.0),
    seismic_pace=Pace(step_s=4.0, grace_s=1.0, refine=2, factor=2.0),
    seismic_start=100.0,
    latency=LatencyPlan(probes=60, quakes=3),
)


@dataclass(slots=True)
class Options:
    """What to run against what."""

    plan: Plan
    rows: Iterable[str] = ROWS
    mqtt_url: str | None = None
    database_url: str | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kbench-")))


def _machine() -> dict[str, Any]:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }


def _throughput(opts: Options, svc: Any, rows: set[str]) -> list[dict[str, Any]]:
    out = []
    pace, wd = opts.plan.pace, opts.workdir
    # Same streams, same run, same load generator for every consumer: ratios are fair even
    # when absolute numbers move with the machine's other tenants.
    for batch in (1, 100):
        if "ceiling" in rows:
            out.append(peer_row(svc, wd, pace, naive=False, batch=batch, start=STARTS.bare[batch]))
        if "kuzet" in rows:
            out.append(kuzet_row(svc, wd, pace, batch=batch, start=STARTS.kuzet[batch]))
        if "naive" in rows:
            out.append(peer_row(svc, wd, pace, naive=True, batch=batch, start=STARTS.naive[batch]))
    return out


def run_suite(opts: Options) -> dict[str, Any]:
    """Run the selected rows; returns the JSON-able results."""
    rows = set(opts.rows)
    started = time.monotonic()
    results: dict[str, Any] = {
        "mode": opts.plan.name,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "workdir": str(opts.workdir),
    }
    timings: dict[str, float] = {}
    results["row_seconds"] = timings

    def timed(name: str, t0: float) -> None:
        timings[name] = round(time.monotonic() - t0, 1)

    with services(opts.mqtt_url, opts.database_url) as svc:
        results["conditions"] = {
            **svc.conditions,
            "machine": _machine(),
            "daemon": "kuzet run, default settings (receive_maximum 1000, ingest queue_size "
            "10000, batch_max_rows 5000, linger 20ms, pool_max 4, all default rules; "
            "plain PostgreSQL mode), log level info to a file",
            "stream": f"native air JSON, every field, one-minute readings replayed; "
            f"{STATIONS[1]} stations (1 reading/msg) or {STATIONS[100]} stations "
            "(100 readings/msg); QoS 1 publish and subscription",
            "step": f"{opts.plan.pace.step_s:g} s per offered rate; loss-free = every reading "
            f"stored within {opts.plan.pace.grace_s:g} s of the last publish",
        }
        if rows & {"ceiling", "kuzet", "naive"}:
            t0 = time.monotonic()
            results["throughput"] = _throughput(opts, svc, rows)
            timed("throughput", t0)
        if "latency" in rows:
            t0 = time.monotonic()
            results["latency"] = asyncio.run(latency_row(svc, opts.workdir, opts.plan.latency))
            timed("latency", t0)
        if "seismic" in rows:
            t0 = time.monotonic()
            results["seismic"] = seismic_row(
                svc, opts.workdir, opts.plan.seismic_pace, start=opts.plan.seismic_start
            )
            timed("seismic", t0)
        if "memory" in rows:
            t0 = time.monotonic()
            results["memory"] = memory_row(svc, opts.workdir, quick=opts.plan.name == "quick")
            timed("memory", t0)
        if "shards" in rows:
            t0 = time.monotonic()
            results["shards"] = shards_row(svc, opts.workdir, opts.plan.pace, start=STARTS.kuzet[1])
            timed("shards", t0)
        if "profile" in rows:
            t0 = time.monotonic()
            results["profile"] = [
                profile_ingest(svc, opts.workdir, rate=rate, seconds=opts.plan.profile_s, batch=b)
                for b, rate in opts.plan.profile_rates
            ]
            timed("profile", t0)
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    return results
