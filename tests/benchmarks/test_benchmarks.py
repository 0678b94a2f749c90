"""The benchmark rows as tests: each runs in quick mode and checks what the row promises.

Thresholds are floors far below the measured values in docs/performance.md, so a shared,
noisy machine does not fail them; a real regression (lost readings, a stalled pipeline, an
alert that never arrives, memory blown up) does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.benchmarks.ingest_rows import STARTS, kuzet_row, peer_row
from tests.benchmarks.latency import LatencyPlan, latency_row
from tests.benchmarks.memory import memory_row
from tests.benchmarks.seismic import seismic_row
from tests.benchmarks.services import Services
from tests.benchmarks.suite import QUICK

pytestmark = pytest.mark.benchmark


def _best(row: dict[str, Any]) -> dict[str, Any]:
    passing = [s for s in row["steps"] if s["ok"]]
    assert passing, f"no loss-free step at all: {row['steps']}"
    return max(passing, key=lambda s: s["offered_msg_s"])


@pytest.mark.parametrize(
    ("consumer", "batch", "floor"),
    [
        # the bare subscriber must take single-reading messages far faster than any consumer
        ("ceiling", 1, 2000.0),
        # the bare subscriber on 100-reading messages (messages/s)
        ("ceiling", 100, 500.0),
        # Kuzet end to end, one reading per message: at least the bundled network's peak
        ("kuzet", 1, 500.0),
        # Kuzet end to end, 100-reading batches (messages/s; ×100 readings)
        ("kuzet", 100, 20.0),
        # the naive bridge, for the ratio (commit per message)
        ("naive", 1, 100.0),
    ],
)
def test_loss_free_rate(
    bench_services: Services, workdir: Path, consumer: str, batch: int, floor: float
) -> None:
    pace = QUICK.pace
    if consumer == "kuzet":
        row = kuzet_row(bench_services, workdir, pace, batch=batch, start=STARTS.kuzet[batch])
    else:
        starts = STARTS.bare if consumer == "ceiling" else STARTS.naive
        row = peer_row(
            bench_services,
            workdir,
            pace,
            naive=consumer == "naive",
            batch=batch,
            start=starts[batch] / 4,
        )
    best = _best(row)
    # zero loss at the reported rate: every reading published is counted at the consumer
    assert best["stored"] == best["readings"]
    assert best["drain_s"] is not None and best["drain_s"] <= pace.grace_s
    assert row["msg_s"] >= floor


async def test_alert_latency(bench_services: Services, workdir: Path) -> None:
    row = await latency_row(bench_services, workdir, LatencyPlan(probes=5, quakes=1))
    # every exceeding reading produced its pm25_1h webhook, promptly, under background load
    assert row["pm25_1h"]["missing"] == 0
    assert row["pm25_1h"]["n"] == 5
    assert row["pm25_1h"]["max_ms"] < 5000
    # the quake fired once its association was complete, and not before
    assert row["earthquake"]["n"] == 1
    assert not any(r.get("fired_before_completing_packet") for r in row["quake_runs"])
    assert row["earthquake"]["max_ms"] < 5000


def test_seismic_capacity(bench_services: Services, workdir: Path) -> None:
    row = seismic_row(bench_services, workdir, QUICK.seismic_pace, start=28.0)
    # one process sustains at least the bundled network's 28 stations at 100 Hz
    assert row["max_stations"] is not None and row["max_stations"] >= 28


def test_memory(bench_services: Services, workdir: Path) -> None:
    row = memory_row(bench_services, workdir, quick=True)
    many = row["stations_10k"]
    # every reading sent to the 10,000 stations was stored (the state measured is complete)
    assert many["readings_stored"] == many["readings_expected"]
    # budgets: the bundled network well under 256 MiB, 10,000 stations under 1 GiB
    assert row["bundled"]["rss_after_mib"] < 256
    assert many["rss_after_mib"] < 1024
