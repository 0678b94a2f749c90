"""Row 7 as a test: a deployment of 2 shard processes loses nothing and keeps up (quick mode).

Floors only: on a small shared machine the broker, PostgreSQL, the load generator and both
shards share the cores, and measured ratios swing between runs (docs/performance.md, row 7), so
the test does not demand a speed-up; it demands that sharding loses no reading and keeps up
with the bundled network's peak.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.benchmarks.ingest_rows import STARTS
from tests.benchmarks.services import Services
from tests.benchmarks.shards import shards_row
from tests.benchmarks.suite import QUICK

pytestmark = pytest.mark.benchmark


def test_two_shards_lose_nothing_and_keep_up(bench_services: Services, workdir: Path) -> None:
    rows = shards_row(bench_services, workdir, QUICK.pace, start=STARTS.kuzet[1] / 2)
    by_variant = {(r["processes"], r["subscribe"]): r for r in rows}
    for variant, row in by_variant.items():
        passing = [s for s in row["steps"] if s["ok"]]
        # zero loss at the reported rate, with one process and with two
        assert passing, (variant, row["steps"])
        best = max(passing, key=lambda s: s["offered_msg_s"])
        assert best["stored"] == best["readings"]
    # two shards sustain at least the bundled network's peak, in either subscription mode
    for subscribe in ("wildcard", "stations"):
        assert by_variant[2, subscribe]["msg_s"] >= 500.0
