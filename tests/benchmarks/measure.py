"""CPU and memory of the processes involved, percentiles, and the offered-rate search."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import psutil
import psycopg

_BACKENDS = """
SELECT pid FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
"""


def backend_pids(database_url: str) -> list[int]:
    """PostgreSQL backends connected to the database (other than this query's own)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        return [int(r[0]) for r in conn.execute(_BACKENDS).fetchall()]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (0 if it is gone)."""
    try:
        t = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(t.user + t.system)


def rss_bytes(pid: int) -> int:
    """Resident set size of a process."""
    return int(psutil.Process(pid).memory_info().rss)


@dataclass(slots=True)
class CpuMeter:
    """CPU seconds used by groups of processes between `start` and `stop`.

    Groups are given as functions returning pids, evaluated at both ends, so that processes
    appearing meanwhile (a pool opening a connection) count from zero.
    """

    groups: dict[str, Callable[[], Iterable[int]]]
    _start: dict[str, dict[int, float]] | None = None

    def _read(self) -> dict[str, dict[int, float]]:
        return {name: {p: cpu_seconds(p) for p in pids()} for name, pids in self.groups.items()}

    def start(self) -> None:
        """Take the first reading."""
        self._start = self._read()

    def stop(self) -> dict[str, float]:
        """CPU seconds per group since `start`."""
        assert self._start is not None
        end = self._read()
        return {
            name: round(sum(t - self._start[name].get(p, 0.0) for p, t in now.items()), 3)
            for name, now in end.items()
        }


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll until `condition` holds or `timeout` passes; returns whether it held."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


@dataclass(frozen=True, slots=True)
class Step:
    """One offered rate, held for a few seconds."""

    offered: float  # messages/s asked of the load generator
    published: float  # messages/s it achieved
    messages: int
    readings: int
    stored: int  # readings counted at the consumer (database rows where there is one)
    drain_s: float  # last publish → last reading handled (inf: not within the wait)
    ok: bool  # every reading handled within the grace period after the last publish
    cpu: dict[str, float]  # CPU seconds per process group over publish start → drained
    elapsed_s: float  # publish start → drained

    @property
    def readings_per_s(self) -> float:
        """Offered readings per second."""
        return self.published * self.readings / max(self.messages, 1)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "offered_msg_s": round(self.offered, 1),
            "published_msg_s": round(self.published, 1),
            "messages": self.messages,
            "readings": self.readings,
            "stored": self.stored,
            "drain_s": None if math.isinf(self.drain_s) else round(self.drain_s, 3),
            "ok": self.ok,
            "cpu_s": self.cpu,
            "elapsed_s": round(self.elapsed_s, 3),
        }


def search(
    step: Callable[[float], Step],
    start: float,
    *,
    refine: int,
    factor: float = 2.0,
    ceiling: float = math.inf,
) -> tuple[Step | None, list[Step]]:
    """Highest offered rate that passes: climb by `factor` until a step fails, then bisect.

    Bisection is geometric (the unknown spans one `factor`), `refine` times. A step whose
    load generator fell short of the offer (>5 %) ends the climb: above it the generator is
    the limit.
    """
    steps: list[Step] = []
    best: Step | None = None
    rate, failed = start, math.inf
    while rate <= ceiling:
        result = step(rate)
        steps.append(result)
        if not result.ok:
            failed = rate
            break
        best = result
        if result.published < 0.95 * rate:
            return best, steps
        rate *= factor
    if best is None:
        # Even the first rate failed: halve until one passes (at most a few times).
        rate = start
        for _ in range(4):
            rate /= factor
            result = step(rate)
            steps.append(result)
            if result.ok:
                best, lo = result, rate
                break
        else:
            return None, steps
        failed = rate * factor
    lo = best.offered
    for _ in range(refine):
        if not math.isfinite(failed):
            break
        mid = math.sqrt(lo * failed)
        result = step(mid)
        steps.append(result)
        if result.ok:
            best, lo = result, mid
        else:
            failed = mid
    return best, steps
