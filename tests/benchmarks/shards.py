"""Row 7: loss-free throughput of one deployment as 1 and as 2 shard processes (docs/scaling.md).

The same single-reading air stream as row 2 (200 stations, spread over the shards by their
hash) goes to `kuzet run` with `shard.count` = 1, then = 2 with wildcard subscriptions (each
shard receives every message and skips the other's), then = 2 with per-station subscriptions;
one database and one broker, on the same machine and in the same run. Progress is the sum of
the processes' `kuzet_readings_stored_total`; a step passes when every reading is a row in
the database.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.benchmarks.ingest_rows import STATIONS, _extra, _loadgen, _spec
from tests.benchmarks.kuzetproc import KuzetProcess
from tests.benchmarks.measure import backend_pids
from tests.benchmarks.services import Services
from tests.benchmarks.streams import StationGroup, write_stations
from tests.benchmarks.throughput import Pace, StepDriver, count_rows, row_result, run_search

# Each variant: how many processes, and their shard.subscribe mode.
VARIANTS = ((1, "wildcard"), (2, "wildcard"), (2, "stations"))
BATCH = 1


class ShardedConsumer:
    """Several shard processes of one deployment, counted together."""

    def __init__(self, daemons: list[KuzetProcess], database_url: str) -> None:
        self._daemons = daemons
        self._db = database_url

    def handled(self) -> int:
        return sum(d.stored("air") for d in self._daemons)

    def stored(self, lo: datetime, hi: datetime) -> int:
        return count_rows(self._db, "kuzet.air_readings", lo, hi)

    def cpu_groups(self) -> dict[str, Callable[[], Iterable[int]]]:
        return {
            "consumer": lambda: [d.pid for d in self._daemons],
            "postgres": lambda: backend_pids(self._db),
        }


@contextlib.contextmanager
def _shards(
    svc: Services,
    workdir: Path,
    db: str,
    prefix: str,
    stations: Path,
    variant: tuple[int, str],
) -> Iterator[list[KuzetProcess]]:
    count, subscribe = variant
    env = {"KUZET_SHARD_COUNT": str(count)}
    if subscribe == "stations":
        env["KUZET_UNKNOWN_STATIONS"] = "reject"
    daemons: list[KuzetProcess] = []
    try:
        # one by one, so the `finally` stops those started when a later one fails
        for index in range(count):
            daemons.append(  # noqa: PERF401
                KuzetProcess(
                    mqtt_url=svc.mqtt_url,
                    database_url=db,
                    prefix=prefix,
                    stations=stations,
                    log=workdir / f"kuzet-shards-{count}-{subscribe}-{index}.log",
                    config=f'[shard]\nsubscribe = "{subscribe}"\n',
                    extra_env={**env, "KUZET_SHARD_INDEX": str(index)},
                )
            )
        yield daemons
    finally:
        for daemon in daemons:
            daemon.stop()


def shards_row(svc: Services, workdir: Path, pace: Pace, *, start: float) -> list[dict[str, Any]]:
    """One result per variant, single-reading messages."""
    stations = write_stations(
        workdir / "stations-shards.toml",
        [StationGroup("BAIR-", "air", STATIONS[BATCH])],
        bundled=True,
    )
    results = []
    for variant in VARIANTS:
        count, subscribe = variant
        prefix = f"kb{secrets.token_hex(3)}"
        spec = _spec(prefix, BATCH)
        with svc.database() as db, _shards(svc, workdir, db, prefix, stations, variant) as daemons:
            with _loadgen(svc, workdir) as gen:
                consumer = ShardedConsumer(daemons, db)
                driver = StepDriver(gen, consumer, spec, pace, _extra(svc, gen))
                best, steps = run_search(driver, start, pace)
            name = f"kuzet, {count} process(es), {subscribe} subscriptions"
            result = row_result(name, "1 reading/msg", best, steps)
            result["processes"] = count
            result["subscribe"] = subscribe
            results.append(result)
    return results
