"""Where the daemon's CPU goes: py-spy samples of one ingest run, folded into top-cost tables.

`py-spy record --pid … --format raw` (sampling, non-blocking) on the daemon while the load
generator offers single-reading air messages at a fixed rate. Each sample is a stack; a
function's *self* share counts the samples where it is the innermost frame, its *inclusive*
share the samples where it appears anywhere. Frames are also grouped by component (our
packages, psycopg, paho/aiomqtt, asyncio, …) on their innermost frame.
"""

from __future__ import annotations

import collections
import re
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.benchmarks.ingest_rows import HISTORY_S, STATIONS
from tests.benchmarks.kuzetproc import KuzetProcess
from tests.benchmarks.measure import cpu_seconds
from tests.benchmarks.services import Services
from tests.benchmarks.streams import StationGroup, StreamSpec, write_stations
from tests.benchmarks.worker import Worker

_FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^:()]+)(?::\d+)?\)$")
_COMPONENTS = (
    ("collector/", "kuzet collector"),
    ("storage/", "kuzet storage"),
    ("alerts/", "kuzet alerts"),
    ("psycopg", "psycopg"),
    ("paho", "paho-mqtt"),
    ("aiomqtt", "aiomqtt"),
    ("prometheus_client", "prometheus_client"),
    ("pydantic", "pydantic"),
    ("numpy", "numpy"),
    ("tenacity", "tenacity"),
    ("asyncio", "asyncio"),
    ("logging", "logging"),
    ("datetime", "datetime"),
)


def _frames(stack: str) -> list[tuple[str, str]]:
    out = []
    for part in stack.split(";"):
        m = _FRAME.match(part.strip())
        if m:
            out.append((m["func"], m["file"]))
    return out


def _short(file: str) -> str:
    for marker in ("site-packages/", "python3.11/", "/work/main/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def _component(file: str) -> str:
    for needle, name in _COMPONENTS:
        if needle in file:
            return name
    return "other (stdlib, C)"


def fold(raw: str, top: int = 25) -> dict[str, Any]:
    """Self and inclusive shares per function, and self shares per component."""
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    comp: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = _frames(stack)
        if not frames:
            continue
        total += n
        func, file = frames[-1]
        own[f"{func} ({_short(file)})"] += n
        comp[_component(file)] += n
        for name in {f"{f} ({_short(p)})" for f, p in frames}:
            incl[name] += n

    def shares(c: collections.Counter[str], k: int) -> list[tuple[str, float]]:
        return [(name, round(100 * v / max(total, 1), 1)) for name, v in c.most_common(k)]

    ours = collections.Counter(
        {k: v for k, v in incl.items() if re.search(r"\((collector|storage|alerts)/", k)}
    )
    return {
        "samples": total,
        "self_pct": shares(own, top),
        "inclusive_pct_kuzet": shares(ours, top),
        "component_self_pct": shares(comp, len(comp)),
    }


def profile_ingest(
    svc: Services, workdir: Path, *, rate: float, seconds: float, batch: int = 1
) -> dict[str, Any]:
    """Profile the daemon while it takes `rate` messages/s of `batch` readings for `seconds`."""
    spy = shutil.which("py-spy")
    if spy is None:
        return {"skipped": "py-spy is not installed (pip install py-spy)"}
    prefix = f"kb{secrets.token_hex(3)}"
    stations = STATIONS[batch]
    spec = StreamSpec("air", prefix, stations, batch, float(int(time.time()) - HISTORY_S), "BAIR-")
    stations_file = write_stations(
        workdir / f"stations-profile-{batch}.toml",
        [StationGroup("BAIR-", "air", stations)],
        bundled=True,
    )
    raw_path = workdir / f"profile-{batch}.raw"
    with svc.database() as db:
        daemon = KuzetProcess(
            mqtt_url=svc.mqtt_url,
            database_url=db,
            prefix=prefix,
            stations=stations_file,
            log=workdir / f"kuzet-profile-{batch}.log",
        )
        gen = Worker("tests.benchmarks.loadgen", log=workdir / f"loadgen-profile-{batch}.log")
        try:
            gen.call("connect", host=svc.mqtt_host, port=svc.mqtt_port)
            count = int(rate * (seconds + 2))
            gen.call("background", spec=spec.as_dict(), first=0, count=count, rate=rate)
            time.sleep(1.0)
            before_cpu, before_stored = cpu_seconds(daemon.pid), daemon.stored("air")
            subprocess.run(
                [
                    spy,
                    "record",
                    "--pid",
                    str(daemon.pid),
                    "--duration",
                    f"{seconds:g}",
                    "--rate",
                    "250",
                    "--nonblocking",
                    "--format",
                    "raw",
                    "--output",
                    str(raw_path),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
                timeout=seconds + 30,
            )
            used = cpu_seconds(daemon.pid) - before_cpu
            stored = daemon.stored("air") - before_stored
            gen.call("stop")
        finally:
            gen.close()
            daemon.stop()
    folded = fold(raw_path.read_text(encoding="utf-8"))
    return {
        "batch": batch,
        "rate_msg_s": rate,
        "seconds": seconds,
        "daemon_cpu_s": round(used, 2),
        "readings_stored": stored,
        "raw": str(raw_path),
        **folded,
    }
