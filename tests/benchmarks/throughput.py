"""Rows 1–3: the highest loss-free rate of the bare subscriber, Kuzet and the naive bridge.

Every consumer gets the same stream from the same load generator. A step offers a rate for
`step_s` seconds; it passes when every reading of the step was handled (for Kuzet and the naive
bridge: is a row in the database, counted afterwards) within `grace_s` of the last publish,
i.e. nothing was lost and no backlog was left. `search` doubles the rate until a step fails and
then bisects. A failed step is drained before the next one starts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import psycopg

from tests.benchmarks.measure import CpuMeter, Step, search
from tests.benchmarks.streams import StreamSpec
from tests.benchmarks.worker import Worker

# After a failed step, wait for the backlog this long at most without progress.
STALL_S = 3.0
RECOVER_MAX_S = 90.0


@dataclass(frozen=True, slots=True)
class Pace:
    """How long steps are and how the search proceeds (quick and full mode differ)."""

    step_s: float
    grace_s: float
    refine: int
    factor: float = 2.0


class Consumer(Protocol):
    """What the step driver needs to know about a consumer."""

    def handled(self) -> int:
        """Readings handled so far (a counter that only grows)."""

    def stored(self, lo: datetime, hi: datetime) -> int | None:
        """Rows with reading time in [lo, hi) in the consumer's database (None: no database)."""

    def cpu_groups(self) -> dict[str, Callable[[], Iterable[int]]]:
        """Process groups whose CPU time the step reports."""


def count_rows(database_url: str, table: str, lo: datetime, hi: datetime) -> int:
    """Rows of `table` with `time` in [lo, hi)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            f"SELECT count(*) FROM {table} WHERE time >= %s AND time < %s", (lo, hi)
        ).fetchone()
    return int(row[0]) if row else 0


class StepDriver:
    """Runs steps of one stream against one consumer, continuing the stream between steps."""

    def __init__(
        self,
        gen: Worker,
        consumer: Consumer,
        spec: StreamSpec,
        pace: Pace,
        extra_groups: dict[str, Callable[[], Iterable[int]]],
    ) -> None:
        self._gen = gen
        self._consumer = consumer
        self._spec = spec
        self._pace = pace
        self._groups = {**consumer.cpu_groups(), **extra_groups}
        self._next = 0
        self._expected = consumer.handled()

    def step(self, rate: float) -> Step:
        """Offer `rate` messages/s for `step_s` seconds and judge the outcome."""
        s = self._spec.stations
        n = max(s, round(rate * self._pace.step_s / s) * s)
        first = self._next
        self._next += n
        self._gen.call("prepare", spec=self._spec.as_dict(), first=first, count=n)
        readings = n * self._spec.batch
        self._expected += readings
        before = self._consumer.handled()
        meter = CpuMeter(self._groups)
        meter.start()
        sent = self._gen.call("run", rate=rate)
        t_first, t_last = float(sent["t_first"]), float(sent["t_last"])
        done_at = self._wait(t_last + self._pace.grace_s)
        ok = done_at is not None and done_at - t_last <= self._pace.grace_s
        if done_at is None:
            done_at = self._recover()
        cpu = meter.stop()
        lo, hi = self._spec.time_range(first, first + n)
        rows = self._consumer.stored(lo, hi)
        # Without a database, what the consumer counted for this step is what it stored.
        stored = rows if rows is not None else self._consumer.handled() - before
        drain = done_at - t_last if done_at is not None else math.inf
        return Step(
            offered=rate,
            published=float(sent["rate"]),
            messages=n,
            readings=readings,
            stored=stored,
            drain_s=drain,
            ok=ok and stored == readings and int(sent["acked"]) == n,
            cpu=cpu,
            elapsed_s=(done_at if done_at is not None else time.monotonic()) - t_first,
        )

    def _wait(self, deadline: float) -> float | None:
        """Poll until everything expected is handled; None if not by `deadline`."""
        while True:
            if self._consumer.handled() >= self._expected:
                return time.monotonic()
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def _recover(self) -> float | None:
        """Let a backlog drain (or give up after a stall); returns when it had drained."""
        seen, moved = self._consumer.handled(), time.monotonic()
        limit = time.monotonic() + RECOVER_MAX_S
        while time.monotonic() < limit:
            now_handled = self._consumer.handled()
            if now_handled >= self._expected:
                return time.monotonic()
            if now_handled != seen:
                seen, moved = now_handled, time.monotonic()
            elif time.monotonic() - moved > STALL_S:
                break
            time.sleep(0.05)
        # Lost for good: continue counting from what was handled.
        self._expected = self._consumer.handled()
        return None


def row_result(name: str, stream: str, best: Step | None, steps: list[Step]) -> dict[str, Any]:
    """One table row from a search (JSON-able)."""
    out: dict[str, Any] = {"row": name, "stream": stream, "steps": [s.as_dict() for s in steps]}
    if best is None:
        out.update(msg_s=None, readings_s=None)
        return out
    per_k = 1000 / max(best.readings, 1)
    out.update(
        msg_s=round(best.published, 1),
        readings_s=round(best.readings_per_s, 1),
        cpu_s_per_1000={k: round(v * per_k, 4) for k, v in best.cpu.items()},
        # The load generator could not offer more: the consumer's limit is higher still.
        publisher_bound=best.published < 0.95 * best.offered,
    )
    return out


def run_search(driver: StepDriver, start: float, pace: Pace) -> tuple[Step | None, list[Step]]:
    """The search of `measure.search` with the driver's steps."""
    return search(driver.step, start, refine=pace.refine, factor=pace.factor)
